#!/bin/bash
# A throw-away Debian 12 VM with the real systemd as PID 1, the real system D-Bus and cgroup v2
# accounting, booted by qemu with software emulation (no KVM needed).
#
#   tests/vm/vm.sh build   debootstrap + kernel + initramfs + ext4 image   (~1.5-2 min, network)
#   tests/vm/vm.sh run     boot, run $SHARE/ci.sh as root inside, power off  (~20 s + ci.sh)
#
# Inside the VM the host folder $SHARE is mounted at /mnt/share (9p); a unit runs
# /mnt/share/ci.sh as root once the system is up, writes its output to ci.log and its exit
# status to ci.rc there, then powers the VM off. `run` prints ci.log and exits with that status.
# The disk is opened with snapshot=on: every run starts from the freshly built image.
#
# Environment:
#   TWOINE_VM_DIR      build directory (default <repo>/target/vm)
#   TWOINE_VM_SHARE    shared folder (default $TWOINE_VM_DIR/share)
#   TWOINE_VM_REUSE=1  `build` keeps an existing image made by this same script; otherwise rebuild
#   TWOINE_VM_MIRROR   Debian mirror (default: the one in the host's apt sources)
#   TWOINE_VM_TIMEOUT  seconds before a hung VM is killed (default 900)
#   TWOINE_VM_MEM      MiB of RAM (default 2048);  TWOINE_VM_CPUS (default: host CPUs)
# Needs root (debootstrap, chroot); installs debootstrap, qemu-system-x86 and e2fsprogs with apt
# when they are missing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=${TWOINE_VM_DIR:-$REPO/target/vm}
SHARE=${TWOINE_VM_SHARE:-$W/share}
IMG=$W/root.img KERNEL=$W/vmlinuz INITRD=$W/initrd.img STAMP=$W/image.stamp
SUITE=bookworm
PACKAGES=systemd,systemd-sysv,dbus,libpam-systemd,procps,kmod,udev,initramfs-tools,linux-image-amd64

log() { echo "[vm $(date +%T)] $*" >&2; }
die() { log "error: $*"; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, apt)"; }

ensure_tools() {
  local missing=()
  command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  command -v mkfs.ext4 >/dev/null || [ -x /usr/sbin/mkfs.ext4 ] || missing+=(e2fsprogs)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
}

# The Debian mirror the host itself uses (deb822 or one-line sources), so that a machine with a
# local mirror or a proxy-only network builds the same way.
mirror() {
  if [ -n "${TWOINE_VM_MIRROR:-}" ]; then echo "$TWOINE_VM_MIRROR"; return; fi
  local m=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  if [ -z "$m" ]; then
    echo "no Debian mirror in this host's apt sources: set TWOINE_VM_MIRROR" >&2
    return 1
  fi
  echo "$m"
}

# What the image depends on: the suite, the packages and the build functions of this script.
# An image built by another recipe is rebuilt even with TWOINE_VM_REUSE=1.
recipe_hash() {
  { echo "$SUITE $PACKAGES"; declare -f configure_rootfs build; } | sha256sum | cut -d' ' -f1
}

image_is_current() {
  [ -s "$IMG" ] && [ -s "$KERNEL" ] && [ -s "$INITRD" ] && [ -f "$STAMP" ] &&
    [ "$(cat "$STAMP")" = "$(recipe_hash)" ]
}

configure_rootfs() {
  local root=$1
  echo twoine-vm > "$root/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 twoine-vm\n' > "$root/etc/hosts"
  # The 9p share must be mountable early, before the root's modules are reachable.
  printf '9p\n9pnet_virtio\n' > "$root/etc/initramfs-tools/modules"
  chroot "$root" update-initramfs -u >/dev/null 2>&1
  cat > "$root/etc/fstab" <<'FSTAB'
/dev/vda / ext4 rw,errors=remount-ro 0 1
share /mnt/share 9p trans=virtio,version=9p2000.L,msize=262144,nofail,x-systemd.automount 0 0
FSTAB
  mkdir -p "$root/mnt/share"
  # A getty on the serial console would vhangup it and eat our output.
  ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
  # Nothing periodic may wake up during a test run.
  for t in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
    ln -sf /dev/null "$root/etc/systemd/system/$t"
  done
  cat > "$root/etc/systemd/system/vm-ci.service" <<'UNIT'
[Unit]
Description=Run /mnt/share/ci.sh, then power off
After=multi-user.target
RequiresMountsFor=/mnt/share
[Service]
# Type=simple, not oneshot: is-system-running --wait would otherwise wait for this very unit.
Type=simple
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
ExecStart=/bin/sh -c 'systemctl is-system-running --wait >/dev/null; echo "=== ci.sh starts, uptime $(cut -d" " -f1 /proc/uptime) s"; /mnt/share/ci.sh > /mnt/share/ci.log 2>&1; rc=$?; echo $rc > /mnt/share/ci.rc; echo "=== ci.sh rc=$rc, uptime $(cut -d" " -f1 /proc/uptime) s"'
ExecStopPost=/bin/systemctl --no-block poweroff
[Install]
WantedBy=multi-user.target
UNIT
  ln -sf /etc/systemd/system/vm-ci.service \
    "$root/etc/systemd/system/multi-user.target.wants/vm-ci.service"
}

build() {
  need_root
  if [ "${TWOINE_VM_REUSE:-0}" = 1 ] && image_is_current; then
    log "reusing $IMG (TWOINE_VM_REUSE=1)"
    return 0
  fi
  ensure_tools
  mkdir -p "$W" "$SHARE"
  local root=$W/rootfs m t0=$SECONDS
  m=$(mirror)
  rm -rf "$root" "$STAMP"
  log "debootstrap $SUITE from $m (log: $W/debootstrap.log)"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$m" >"$W/debootstrap.log" 2>&1 ||
    { tail -20 "$W/debootstrap.log" >&2; die "debootstrap failed"; }
  log "configure rootfs"
  configure_rootfs "$root"
  cp "$(find "$root/boot" -name 'vmlinuz-*' | sort -V | tail -1)" "$KERNEL.tmp"
  cp "$(find "$root/boot" -name 'initrd.img-*' | sort -V | tail -1)" "$INITRD.tmp"
  log "mkfs.ext4"
  rm -f "$IMG.tmp"
  truncate -s 4G "$IMG.tmp"
  mkfs.ext4 -q -F -L root -d "$root" "$IMG.tmp"
  mv "$KERNEL.tmp" "$KERNEL"
  mv "$INITRD.tmp" "$INITRD"
  mv "$IMG.tmp" "$IMG"
  recipe_hash > "$STAMP"
  rm -rf "$root"
  log "image ready: $IMG (built in $((SECONDS - t0)) s)"
}

run() {
  if [ ! -s "$IMG" ] || [ ! -s "$KERNEL" ] || [ ! -s "$INITRD" ]; then
    die "no image in $W: run '$0 build' first"
  fi
  [ -x "$SHARE/ci.sh" ] || die "$SHARE/ci.sh is missing or not executable"
  command -v qemu-system-x86_64 >/dev/null || { need_root; ensure_tools; }
  rm -f "$SHARE/ci.log" "$SHARE/ci.rc"
  local t0=$SECONDS status=0
  log "boot (qemu TCG, ${TWOINE_VM_CPUS:-$(nproc)} CPUs, ${TWOINE_VM_MEM:-2048} MiB; console: $W/console.log)"
  timeout "${TWOINE_VM_TIMEOUT:-900}" qemu-system-x86_64 \
    -accel tcg,thread=multi -cpu max -smp "${TWOINE_VM_CPUS:-$(nproc)}" -m "${TWOINE_VM_MEM:-2048}" \
    -nodefaults -display none -monitor none -serial "file:$W/console.log" -no-reboot -nic none \
    -kernel "$KERNEL" -initrd "$INITRD" -append "root=/dev/vda rw console=ttyS0 quiet" \
    -drive "file=$IMG,format=raw,if=virtio,snapshot=on" \
    -virtfs "local,path=$SHARE,mount_tag=share,security_model=passthrough,id=share" \
    </dev/null || status=$?
  [ "$status" -eq 124 ] && log "the VM was killed after ${TWOINE_VM_TIMEOUT:-900} s"
  grep '^=== ci.sh' "$W/console.log" >&2 || true
  log "VM ran $((SECONDS - t0)) s"
  if [ -f "$SHARE/ci.log" ]; then cat "$SHARE/ci.log"; fi
  if [ ! -f "$SHARE/ci.rc" ]; then
    log "ci.sh did not finish; end of the console:"
    tail -40 "$W/console.log" >&2
    return 1
  fi
  return "$(cat "$SHARE/ci.rc")"
}

case "${1:-}" in
  build) build ;;
  run) run ;;
  *) echo "usage: $0 build|run   (see the comment at the top)" >&2; exit 2 ;;
esac
