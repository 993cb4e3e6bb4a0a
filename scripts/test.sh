#!/usr/bin/env bash
# The whole test suite: formatting, lints, every host test, the real-systemd VM tier and a
# smoke run of the set-up-and-run command. Installs what it needs (Debian/Ubuntu, as root).
# Usage: scripts/test.sh            everything
#        SKIP_VM=1 scripts/test.sh  everything but the VM tier (a quick local loop)
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n=== %s (%s)\n' "$*" "$(date +%T)"; }
start=$(date +%s)

step "prerequisites"
scripts/install-deps.sh test

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (host)"
cargo test --workspace --locked --no-fail-fast 2>&1 | tee target/host-tests.log
grep -E '^test result:' target/host-tests.log | awk '{p+=$4; f+=$6; i+=$8} END {printf "host tests: %d passed, %d failed, %d ignored (run in the VM tier)\n", p, f, i}'

if [ "${SKIP_VM:-0}" != 1 ]; then
  step "real systemd tier (qemu VM)"
  tests/vm/run-agent-tests.sh
fi

step "set-up-and-run smoke (scripts/run.sh --check)"
scripts/run.sh --check

step "all green in $(( $(date +%s) - start )) s"
