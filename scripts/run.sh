#!/usr/bin/env bash
# Set up and run Twoine Supervision on this machine, from a fresh clone.
# Today: builds twoine-agent, starts it on a sample SITES_DIR and shows what it measures.
# (apid and the web panels join this command as their issues land.)
# Usage: scripts/run.sh            build (release), start, show, keep running until Ctrl-C
#        scripts/run.sh --check    the same on the debug build, then stop: a smoke test
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
check=0; [ "${1:-}" = --check ] && check=1

scripts/install-deps.sh run
if [ $check = 1 ]; then
  cargo build --locked -p twoine-agent --bins
  bin=$repo/target/debug/twoine-agent
else
  cargo build --locked --release -p twoine-agent --bins
  bin=$repo/target/release/twoine-agent
fi

state=$repo/.run
umask 022
mkdir -p "$state/sites/demo/public/img" "$state/sites/demo/logs" "$state/sites/blog/content"
echo '<h1>demo</h1>' > "$state/sites/demo/public/index.html"
head -c 200000 /dev/zero > "$state/sites/demo/public/img/big.bin"
echo 'GET / 200' > "$state/sites/demo/logs/access.log"
for i in $(seq 1 50); do echo "post $i" > "$state/sites/blog/content/post-$i.md"; done
mkdir -p "$state/agent"; chmod 0750 "$state/agent"
uid=$(id -u)
cat > "$state/agent.toml" <<TOML
# Sample configuration written by scripts/run.sh (the packaged one is /etc/twoine/agent.toml).
sites_dir = "$state/sites"
socket = "$state/agent/agent.sock"
socket_group = $(id -g)
socket_mode = 0o660

[access]
read_users = [$uid]
read_groups = []
control_users = [$uid]
control_groups = []
TOML
chmod 0644 "$state/agent.toml"

"$bin" validate --config "$state/agent.toml" >/dev/null
log=$state/agent.log
"$bin" run --config "$state/agent.toml" >"$log" 2>&1 &
agent=$!
trap 'kill $agent 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -S "$state/agent/agent.sock" ] && break; sleep 0.1; done
[ -S "$state/agent/agent.sock" ] || { cat "$log"; echo "the agent did not start" >&2; exit 1; }

ctl() { "$bin" ctl --socket "$state/agent/agent.sock" "$@"; }
echo "--- twoine-agent is running (pid $agent), socket $state/agent/agent.sock"
echo "--- host snapshot:"
ctl snapshot | tee "$state/snapshot.json" | head -60
echo "--- site directories:"
ctl scan "$state/sites/demo" "$state/sites/blog" | tee "$state/scan.json"
echo "--- site units (needs systemd on the system bus):"
ctl units || echo "(no systemd on this machine's system bus: units are unavailable here)"

if [ $check = 1 ]; then
  grep -q '"hostname"' "$state/snapshot.json"
  grep -q '"total_bytes"' "$state/snapshot.json"
  grep -q '"files": 3' "$state/scan.json"       # demo: index.html, big.bin, access.log
  grep -q '"files": 50' "$state/scan.json"
  kill -TERM $agent; wait $agent
  [ ! -e "$state/agent/agent.sock" ] || { echo "socket left behind" >&2; exit 1; }
  trap - EXIT
  echo "run.sh --check: OK"
  exit 0
fi
echo "--- try: $bin ctl --socket $state/agent/agent.sock usage $uid"
echo "--- logs: $log; Ctrl-C to stop"
wait $agent
