#!/usr/bin/env bash
# Set up and run Twoine Supervision on this machine, from a fresh clone.
# Builds twoine-agent and twoine-apid, starts the agent on a sample SITES_DIR in .run/, shows
# what it measures, then starts twoine-apid (standalone, embedded store in .run/) on
# 127.0.0.1:${TWOINE_APID_PORT:-3001}, registers the sample sites, creates the first admin once
# and prints its credentials.
# Usage: scripts/run.sh            build (release), start, show, keep running until Ctrl-C
#        scripts/run.sh --check    the same on the debug build, then a smoke test of the API
#                                  (health, login, server stats after the first poll), then stop
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
check=0; [ "${1:-}" = --check ] && check=1

scripts/install-deps.sh run
if [ $check = 1 ]; then
  cargo build --locked -p twoine-agent -p twoine-apid --bins
  bin=$repo/target/debug/twoine-agent
  apid_bin=$repo/target/debug/twoine-apid
else
  cargo build --locked --release -p twoine-agent -p twoine-apid --bins
  bin=$repo/target/release/twoine-agent
  apid_bin=$repo/target/release/twoine-apid
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
apid=
trap 'kill $agent $apid 2>/dev/null || true' EXIT
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
fi

# --- twoine-apid: standalone, embedded store, its configuration and secret in .run/
port=${TWOINE_APID_PORT:-3001}
base=http://127.0.0.1:$port
if [ ! -s "$state/jwt_secret" ]; then
  (umask 077; "$apid_bin" gen-secret > "$state/jwt_secret")
fi
cat > "$state/apid.toml" <<TOML
# Sample configuration written by scripts/run.sh (the packaged one is /etc/twoine/apid.toml).
listen = "127.0.0.1:$port"
sites_dir = "$state/sites"

[store]
kind = "embedded"
path = "$state/apid.db"

[agent]
socket = "$state/agent/agent.sock"

[auth]
jwt_secret_file = "$state/jwt_secret"
TOML
# The environment must not redirect this sample (MONGODB_URI would select MongoDB).
apid_cmd=(env -u MONGODB_URI -u JWT_SECRET -u SITES_DIR -u TWOINE_APID_LISTEN -u JWT_EXPIRES_IN
  -u JWT_REFRESH_EXPIRES_IN "$apid_bin" --config "$state/apid.toml")
apidc() { "${apid_cmd[@]}" "$@"; }
apidc validate >/dev/null

# The first admin, once: its credentials are kept in .run/admin-credentials (mode 0600).
creds=$state/admin-credentials
if [ ! -s "$creds" ] || [ ! -s "$state/apid.db" ]; then
  if apidc user add admin --email admin@twoine.local --admin > "$state/user-add.out"; then :
  else apidc user passwd admin > "$state/user-add.out"   # the store kept an admin: new password
  fi
  password=$(sed -n 's/^password: //p' "$state/user-add.out"); rm -f "$state/user-add.out"
  (umask 077; printf 'username: admin\npassword: %s\n' "$password" > "$creds")
fi
password=$(sed -n 's/^password: //p' "$creds")

# The sample sites: demo measured as this user's processes (its Linux user does not exist
# here), blog found by discovery; one registered service (no unit: its state shows unknown).
if ! apidc site list | grep -q '^demo '; then
  apidc site add demo --owner admin --display-name "Demo site" --uid "$uid" --gid "$(id -g)"
  apidc service add demo web --port 8080 --type static --desired stopped
fi
apidc discover

"${apid_cmd[@]}" serve >"$state/apid.log" 2>&1 &   # env execs apid: $! is apid's pid
apid=$!
# A tiny HTTP client (curl when present, else bash's /dev/tcp): http METHOD PATH [BODY] [TOKEN]
http() {
  local method=$1 path=$2 body=${3:-} token=${4:-} cr=$'\r' headers=
  if command -v curl >/dev/null; then
    local args=(-sS -X "$method")
    [ -z "$token" ] || args+=(-H "Authorization: Bearer $token")
    [ -z "$body" ] || args+=(-H 'Content-Type: application/json' --data "$body")
    curl "${args[@]}" "$base$path"
    return
  fi
  [ -z "$token" ] || headers+="Authorization: Bearer $token$cr"$'\n'
  [ -z "$body" ] || headers+="Content-Type: application/json$cr"$'\n'
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%sContent-Length: %s\r\n\r\n%s' \
    "$method" "$path" "$headers" "${#body}" "$body" >&3
  sed '1,/^\r$/d' <&3
  exec 3<&-
}
for _ in $(seq 1 100); do http GET /api/health 2>/dev/null | grep -q '"status":"ok"' && break; sleep 0.2; done
http GET /api/health 2>/dev/null | grep -q '"status":"ok"' \
  || { cat "$state/apid.log"; echo "twoine-apid did not start" >&2; exit 1; }

echo "--- twoine-apid is running (pid $apid): $base/"
echo "--- admin login: username admin, password $password   (kept in $creds)"

if [ $check = 1 ]; then
  login=$(http POST /api/auth/login "{\"username\":\"admin\",\"password\":\"$password\"}")
  token=$(printf '%s' "$login" | sed -n 's/.*"accessToken":"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || { echo "login failed: $login" >&2; exit 1; }
  for _ in $(seq 1 100); do
    stats=$(http GET /api/stats/server "" "$token")
    printf '%s' "$stats" | grep -q '"hostname"' && break
    sleep 0.2
  done
  printf '%s' "$stats" | grep -q '"success":true' || { echo "no server stats: $stats" >&2; exit 1; }
  printf '%s' "$stats" | grep -q '"hostname"' || { echo "no server stats: $stats" >&2; exit 1; }
  echo "--- GET /api/stats/server: $(printf '%s' "$stats" | head -c 300)..."
  kill -TERM $apid; wait $apid || { echo "twoine-apid did not exit cleanly" >&2; exit 1; }
  kill -TERM $agent; wait $agent
  [ ! -e "$state/agent/agent.sock" ] || { echo "socket left behind" >&2; exit 1; }
  trap - EXIT
  echo "run.sh --check: OK"
  exit 0
fi
echo "--- try: $bin ctl --socket $state/agent/agent.sock usage $uid"
echo "--- logs: $log, $state/apid.log; Ctrl-C to stop"
wait $apid
