//! Generates the gRPC code and the reflection descriptor set from `proto/`.
//!
//! `protox` parses the protos in pure Rust, so building Rift needs no system `protoc`.

use std::{env, fs, path::PathBuf};

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(["rift/v1/rift.proto"], ["proto"])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    // Served by gRPC reflection, so grpcurl can list and describe without the .proto files.
    fs::write(
        out_dir.join("rift_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    // Messages and the client, as generated.
    tonic_prost_build::configure()
        .build_server(false)
        .compile_fds(descriptors.clone())?;
    // The server, in a file of its own: it refers to the messages above, except that the
    // Subscribe stream sends notifications already encoded (`src/grpc/encoded.rs`), one
    // encoding per event for all subscribers, and Analyze requests keep their data encoded
    // until it is counted (`src/grpc/bounded.rs`). No message is generated twice: prost skips
    // types with an extern path.
    let server_dir = out_dir.join("server");
    fs::create_dir_all(&server_dir)?;
    tonic_prost_build::configure()
        .build_client(false)
        .out_dir(&server_dir)
        .extern_path(".rift.v1", "crate::pb")
        .extern_path(".rift.v1.Notification", "crate::grpc::EncodedNotification")
        // Analyze's data is counted before it is built (`src/grpc/bounded.rs`).
        .extern_path(
            ".rift.v1.AnalyzeRequest",
            "crate::grpc::BoundedAnalyzeRequest",
        )
        .compile_fds(descriptors)?;
    Ok(())
}
