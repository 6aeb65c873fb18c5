//! The AsyncAPI document of `/ws`, as `rift asyncapi` prints it, is a valid AsyncAPI 3 document
//! for the AsyncAPI project's own parser (`@asyncapi/parser` from npm, in `scripts/tools`). That
//! the adapter keeps to it is checked by every WebSocket test (`tests/it/support/ws.rs`).

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// `scripts/tools`, with its npm packages installed, or a failure saying how to install them.
fn tools() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tools");
    assert!(
        dir.join("node_modules/@asyncapi/parser").is_dir(),
        "@asyncapi/parser is not installed: run `npm ci --prefix scripts/tools` (bash \
         scripts/test.sh does), with Node.js and npm on PATH (apt-get install nodejs npm)"
    );
    dir
}

#[test]
fn rift_asyncapi_prints_a_document_the_asyncapi_parser_accepts() {
    let tools = tools();
    let printed = Command::new(env!("CARGO_BIN_EXE_rift"))
        .arg("asyncapi")
        .output()
        .expect("run rift asyncapi");
    assert!(
        printed.status.success(),
        "rift asyncapi: {}",
        printed.status
    );
    let document: serde_json::Value =
        serde_json::from_slice(&printed.stdout).expect("rift asyncapi prints JSON");
    assert_eq!(document["asyncapi"], "3.0.0");
    assert_eq!(
        document,
        rift::ws::asyncapi(),
        "the binary prints the library's document"
    );

    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), &printed.stdout).expect("write the document");
    let validated = Command::new("node")
        .arg(tools.join("validate-asyncapi.mjs"))
        .arg(file.path())
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run node ({error}): install Node.js (apt-get install nodejs npm)")
        });
    let report = String::from_utf8_lossy(&validated.stdout);
    assert!(
        validated.status.success(),
        "@asyncapi/parser refused the document:\n{report}{}",
        String::from_utf8_lossy(&validated.stderr)
    );
    assert!(report.contains("valid AsyncAPI 3.0.0"), "{report}");
}
