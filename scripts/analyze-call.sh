#!/usr/bin/env bash
# Rift's Analyze script call (script, KEYS, ARGV) as a revision makes it, from the crate itself
# (`cargo run --example analyze_call`), so the shell tools that run it against Redis cannot
# drift from Rift's call. Sourced by scripts/script-cost.sh, scripts/script-instructions.sh,
# scripts/replay-cost.sh and benchmarks/cluster/script-cost.sh.
#
#   analyze_call REV TASK MAXLEN > call.json   # REV: a git revision, or "tree" (the working tree)
#   analyze_argv call.json                     # numkeys KEYS... ARGV..., each NUL-terminated
#   analyze_source call.json                   # the script's text
#
# A revision other than the working tree is exported (git archive) to a temporary directory and
# its example built there, in this worktree's target directory (the dependencies are shared).
analyze_call() {
  local rev=$1 task=$2 maxlen=$3 root
  root=$(git rev-parse --show-toplevel)
  if [[ $rev == tree ]]; then
    (cd "$root" && cargo run -q --locked --example analyze_call -- "$task" "$maxlen")
    return
  fi
  local src
  src=$(mktemp -d)
  git -C "$root" archive "$rev" | tar -x -C "$src"
  [[ -f "$src/examples/analyze_call.rs" ]] || {
    echo "$rev has no examples/analyze_call.rs" >&2
    rm -rf "$src"
    return 1
  }
  (cd "$src" && CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target} \
    cargo run -q --locked --example analyze_call -- "$task" "$maxlen")
  rm -rf "$src"
}

analyze_argv() {
  python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
sys.stdout.write("".join(a + "\0" for a in [str(len(c["keys"]))] + c["keys"] + c["args"]))' "$1"
}

analyze_source() {
  python3 -c 'import json, sys; sys.stdout.write(json.load(open(sys.argv[1]))["source"])' "$1"
}
