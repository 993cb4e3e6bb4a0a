#!/bin/bash
# The agent against the real systemd 252 over the real system bus, in a throw-away VM.
#
#   tests/vm/run-agent-tests.sh [LIBTEST ARGS...]     e.g.  tests/vm/run-agent-tests.sh watch
#
# 1. builds twoine-agent and the test executable of tests/tests/vm_agent.rs on this host (the
#    image is Debian 12 like the build host, so the binaries run inside unchanged), while
#    tests/vm/vm.sh builds the VM image (or reuses it with TWOINE_VM_REUSE=1);
# 2. copies both into the share with tests/vm/agent-ci.sh as ci.sh;
# 3. boots the VM, where ci.sh sets up a Twoine-like server, starts the agent under systemd and
#    runs the tests; prints their output and exits with their status.
# Environment: those of vm.sh (TWOINE_VM_DIR, TWOINE_VM_REUSE, ...), CARGO (default cargo).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export TWOINE_VM_DIR=${TWOINE_VM_DIR:-$REPO/target/vm}
export TWOINE_VM_SHARE=${TWOINE_VM_SHARE:-$TWOINE_VM_DIR/share}
SHARE=$TWOINE_VM_SHARE
CARGO=${CARGO:-cargo}
T0=$SECONDS
TIMINGS=()
log() { echo "[vm-agent $(date +%T)] $*" >&2; }
timed() { TIMINGS+=("$(printf '%-34s %4d s' "$1" "$2")"); log "$1: $2 s"; }
summary() {
  echo "=== timings"
  printf '  %s\n' "${TIMINGS[@]}"
  printf '  %-34s %4d s\n' "total (wall)" $((SECONDS - T0))
}

# The executable a cargo JSON message stream announces for target NAME.
executable_of() {
  grep '"reason":"compiler-artifact"' | grep -F "\"name\":\"$1\"" |
    grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4
}

mkdir -p "$TWOINE_VM_DIR"

# The image is built by debootstrap (network and dpkg) while cargo compiles (CPU).
# (own process group, so that a failed cargo build stops debootstrap too)
setsid "$HERE/vm.sh" build >"$TWOINE_VM_DIR/build.log" 2>&1 &
image_pid=$!
trap 'kill -- "-$image_pid" 2>/dev/null || true' EXIT

cd "$REPO"
t=$SECONDS
log "cargo build -p twoine-agent --bins"
agent=$("$CARGO" build -p twoine-agent --bins --message-format=json-render-diagnostics |
  executable_of twoine-agent) || { log "cargo build failed"; exit 1; }
log "cargo test -p twoine-system-tests --test vm_agent --no-run"
tests=$("$CARGO" test -p twoine-system-tests --test vm_agent --no-run \
  --message-format=json-render-diagnostics | executable_of vm_agent) ||
  { log "cargo test --no-run failed"; exit 1; }
[ -x "$agent" ] || { log "no twoine-agent executable in cargo's output"; exit 1; }
[ -x "$tests" ] || { log "no vm_agent test executable in cargo's output"; exit 1; }
timed "host build (agent + test executable)" $((SECONDS - t))

if ! wait "$image_pid"; then
  cat "$TWOINE_VM_DIR/build.log" >&2
  log "VM image build failed"
  exit 1
fi
trap - EXIT
grep -h '^\[vm ' "$TWOINE_VM_DIR/build.log" >&2 || true
built=$(sed -n 's/.*image ready: .* (built in \([0-9]*\) s)$/\1/p' "$TWOINE_VM_DIR/build.log")
timed "VM image (beside the build)" "${built:-0}"

mkdir -p "$SHARE"
rm -f "$SHARE"/{ci.sh,ci.log,ci.rc,twoine-agent,vm_agent,test-args}
cp "$agent" "$SHARE/twoine-agent"
cp "$tests" "$SHARE/vm_agent"
install -m 0755 "$HERE/agent-ci.sh" "$SHARE/ci.sh"
printf '%s\n' "$@" > "$SHARE/test-args"

t=$SECONDS
rc=0
"$HERE/vm.sh" run || rc=$?
timed "VM boot + setup + tests" $((SECONDS - t))
# The in-VM split, from ci.sh's own marks.
if [ -f "$SHARE/ci.log" ]; then
  grep -E '^--- \[vm uptime' "$SHARE/ci.log" | sed 's/^--- /  in VM: /' || true
fi
summary
if [ "$rc" -eq 0 ]; then log "PASS"; else log "FAIL (status $rc)"; fi
exit "$rc"
