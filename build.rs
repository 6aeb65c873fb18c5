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
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
