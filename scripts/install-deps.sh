#!/usr/bin/env bash
# Install the Debian/Ubuntu packages the project needs, only those missing.
# Usage: scripts/install-deps.sh run|test
set -euo pipefail
need=(gcc pkg-config)
case "${1:-run}" in
  run) ;;
  # wrk: HTTP load for `cargo bench -p twoine-apid --bench api` (about 0.4 MB with luajit).
  test) need+=(debootstrap qemu-system-x86 e2fsprogs util-linux findutils coreutils python3-venv wrk) ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac
missing=()
# dbus-daemon: a private bus for the systemd collector's tests (package dbus-daemon on Debian 12,
# inside dbus on Ubuntu 22.04).
if [ "${1:-run}" = test ] && ! command -v dbus-daemon >/dev/null; then need+=(dbus); fi
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null; then
  echo "cargo is missing: install Rust >= 1.88 (rustup), then run this again" >&2
  exit 1
fi
# SecantusDB: a MongoDB-wire server the apid Mongo tests start themselves (GPL: a separate
# process, never linked). Pinned exactly: it is a pre-release.
if [ "${1:-run}" = test ]; then
  root="$(cd "$(dirname "$0")/.." && pwd)"
  if [ ! -x "$root/.test-tools/venv/bin/secantusd-py" ]; then
    echo "installing SecantusDB into $root/.test-tools/venv"
    python3 -m venv "$root/.test-tools/venv"
    "$root/.test-tools/venv/bin/pip" install -q 'SecantusDB==0.7.0b3'
  fi
fi
