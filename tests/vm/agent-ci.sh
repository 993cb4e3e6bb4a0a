#!/bin/bash
# Runs INSIDE the VM as root (copied to /mnt/share/ci.sh by run-agent-tests.sh).
# Sets up what a Twoine server has, starts the real agent under systemd (Type=notify, so its
# READY=1 is exercised), then runs the vm_agent test executable against it.
set -euo pipefail
S=/mnt/share
SITES=/var/www/twoine
up() { cut -d' ' -f1 /proc/uptime; }
step() { echo "--- [vm uptime $(up) s] $*"; }

step "setup: users, site tree, units"
groupadd --system twoine
useradd --system --gid twoine --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin twoine
# A caller allowed to read but not to act: its primary group is its own; it reaches the socket
# through the supplementary group twoine.
useradd --system --user-group --groups twoine --home-dir /nonexistent --no-create-home \
  --shell /usr/sbin/nologin twoine-viewer
useradd --user-group --home-dir "$SITES/demo" --no-create-home --shell /usr/sbin/nologin site_demo

install -d -m 0755 "$SITES"
install -d -m 0750 -o site_demo -g site_demo "$SITES/demo"
(
  cd "$SITES/demo"
  mkdir -p public/assets logs data tmp
  printf '<!doctype html><h1>demo</h1>\n' > public/index.html
  head -c 150000 /dev/urandom > public/assets/app.js
  head -c 4096 /dev/zero > data/blob.bin
  : > logs/access.log
  ln public/index.html public/index-copy.html   # a hard link: du counts it once, find twice
  ln -s public/index.html current                # a symlink inside the site
  ln -s /etc escape                              # a symlink leading out of SITES_DIR
  chown -R -h site_demo:site_demo .
)

cat > /etc/systemd/system/twoine-demo-web.service <<'UNIT'
[Unit]
Description=Twoine site demo: web
[Service]
User=site_demo
Group=site_demo
WorkingDirectory=/var/www/twoine/demo
RuntimeDirectory=twoine-demo-web
Restart=on-failure
RestartSec=1
# Two long-lived processes (no fork per second, so a process count is stable), ~8 MB held in a
# variable, and a little CPU every second. `read -t` on a FIFO nobody writes is a fork-free sleep.
# ($$ is a literal $ for systemd, \\ a literal backslash.)
ExecStart=/bin/bash -c 'mkfifo "$$RUNTIME_DIRECTORY/idle"; exec 9<>"$$RUNTIME_DIRECTORY/idle"; \
  (while :; do read -t 5 -u 9 || :; done) & \
  blob=$$(head -c 8000000 /dev/zero | tr "\\0" x); \
  while :; do for ((i = 0; i < 3000; i++)); do :; done; read -t 1 -u 9 || :; done'
UNIT
cat > /etc/systemd/system/twoine-api.service <<'UNIT'
[Unit]
Description=Twoine platform API (stand-in)
[Service]
ExecStart=/bin/sleep infinity
UNIT

install -d -m 0755 /etc/twoine
cat > /etc/twoine/agent.toml <<'TOML'
sites_dir = "/var/www/twoine"
socket = "/run/twoine/agent.sock"
socket_group = "twoine"
socket_mode = 0o660

[access]
read_users = [0, "twoine-viewer"]
read_groups = ["twoine"]
control_users = [0]
control_groups = ["twoine"]
TOML
chmod 0644 /etc/twoine/agent.toml

cat > /etc/systemd/system/twoine-agent.service <<'UNIT'
[Unit]
Description=Twoine Supervision agent (under test)
[Service]
Type=notify
ExecStart=/mnt/share/twoine-agent run --config /etc/twoine/agent.toml
Environment=RUST_LOG=info
TimeoutStartSec=60
UNIT
# The socket directory a packaged install gets from systemd: 0750 root:twoine.
install -d -m 0750 -o root -g twoine /run/twoine

systemctl daemon-reload
systemctl start twoine-demo-web.service twoine-api.service
step "setup done"

step "start twoine-agent (Type=notify: returns once READY=1 is sent)"
if ! systemctl start twoine-agent.service; then
  journalctl -u twoine-agent --no-pager -n 50 || true
  exit 1
fi
ls -l /run/twoine/
step "agent ready"

cd /tmp
set +e
# shellcheck disable=SC2046 # test-args holds libtest arguments, one per word
TWOINE_AGENT_BIN=$S/twoine-agent TWOINE_AGENT_SOCKET=/run/twoine/agent.sock \
  TWOINE_SITES_DIR=$SITES RUST_BACKTRACE=1 \
  "$S/vm_agent" --include-ignored --test-threads=1 $(cat "$S/test-args" 2>/dev/null)
rc=$?
set -e
step "tests finished (rc=$rc)"

# The agent must have survived the whole suite, started once.
agent_state=$(systemctl is-active twoine-agent.service || true)
agent_restarts=$(systemctl show -p NRestarts --value twoine-agent.service)
echo "twoine-agent after the tests: $agent_state, NRestarts=$agent_restarts"
if [ "$rc" -ne 0 ] || [ "$agent_state" != active ]; then
  echo "--- agent journal"
  journalctl -u twoine-agent --no-pager -n 80 || true
  [ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
