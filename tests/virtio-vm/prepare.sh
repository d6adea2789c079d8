#!/bin/bash
# Builds the virtio-VM bench outside the repository, in AMPCAN_VVM_CACHE (default /var/tmp/ampcan-virtio-vm): a Debian
# 13 (trixie) root holding QEMU and Debian's kernel from trixie-backports, Linux's rpmsg drivers (and virtio_can) built
# out of tree from that kernel's own source package, the guest's initramfs and the guest's test programs (rpmsg_echo, rpmsg_dev, rpmsg_char_cases).
# run-guest.sh boots guests from it. Why a root of its own: the host's QEMU (bookworm: 7.2) has no generic vhost-user
# device (8.2 added one) and QEMU 11 needs trixie's libc; it runs chrooted in the root, and the guest's / is the root.
# Why modules built here: Debian's kernel config leaves CONFIG_RPMSG* and CONFIG_CAN_VIRTIO_CAN out.
#
# Idempotent: each step is skipped when its result is there (a few seconds then); two runs at once wait for each other.
# The first run downloads ~450 MB from the Debian mirror and takes a few minutes (2.7 min here); ~1.1 GB on disk.
# stdout: KEY=VALUE lines when ready; otherwise one line saying why, with exit 3 when the machine lacks something
# (root, debootstrap, the mirror, disk space) and 1 when a step failed (its log is named). Progress goes to stderr.
# Env: AMPCAN_VVM_CACHE; AMPCAN_VVM_MIRROR (default http://deb.debian.org/debian); AMPCAN_VVM_KVER pins the kernel ABI
# (e.g. 7.3.4+deb13-amd64; default: the one trixie-backports offers when the root is made, kept from then on: to move
# to a newer kernel, remove the cache directory).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
C=${AMPCAN_VVM_CACHE:-/var/tmp/ampcan-virtio-vm}
MIRROR=${AMPCAN_VVM_MIRROR:-http://deb.debian.org/debian}
R=$C/trixie            # the root; inside it everything of ours lives below /opt/ampcan-vm
O=$R/opt/ampcan-vm
LOG=$C/log
export LC_ALL=C
unavailable() { echo "$*"; exit 3; }
failed() { echo "$*"; exit 1; }
say() { echo "prepare: $*" >&2; }

[ "$(id -u)" = 0 ] || unavailable "needs root (debootstrap, chroot and mount namespaces for QEMU's root)"
[ "$(uname -m)" = x86_64 ] || unavailable "needs an x86-64 host (the root and kernel are Debian amd64)"
missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v wget >/dev/null || missing+=(wget)
{ command -v unshare && command -v flock && command -v findmnt; } >/dev/null || missing+=(util-linux)
[ ${#missing[@]} -eq 0 ] || unavailable "missing: ${missing[*]} (tests/run.sh installs them, or apt-get install ${missing[*]})"
mkdir -p "$C/cache/debootstrap" "$LOG" || failed "cannot create $C"
exec 9>"$C/.lock"
flock -w 1800 9 || failed "another prepare.sh has held $C/.lock for 30 minutes"

# Run a command inside the root, in a private mount namespace: /proc, /dev and /sys mounted for it, gone when it exits.
inroot() {
  unshare -m --propagation private -- /bin/sh -c '
    R=$1; shift
    mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" && mount -t sysfs sys "$R/sys" || exit 125
    exec chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
      DEBIAN_FRONTEND=noninteractive "$@"' sh "$R" "$@"
}
# A step that needed the mirror failed: say whether the mirror was the reason.
mirror_step_failed() { # WHAT LOGFILE
  wget -q -T 20 -t 1 -O /dev/null "$MIRROR/dists/trixie/Release" ||
    unavailable "cannot reach $MIRROR (no network?); $1 needs it"
  failed "$1 failed: $(tail -n 3 "$2" | tr '\n' ' ')(log: $2)"
}

# ---- the root: Debian trixie, minbase ----------------------------------------------------------------------------------
if [ ! -e "$R/.ampcan-debootstrap-done" ]; then
  avail=$(df -Pk "$C" | awk 'NR == 2 { print $4 }')
  [ "${avail:-0}" -ge $((3 * 1024 * 1024)) ] || unavailable "needs 3 GB free in $C (has $((${avail:-0} / 1024)) MB)"
  if [ -e "$R" ]; then
    findmnt -rn -o TARGET | grep -q "^$R/" && failed "something is mounted below $R (a guest still running?)"
    say "removing the incomplete root $R"
    rm -rf --one-file-system "$R"
  fi
  say "debootstrap: Debian trixie (minbase) into $R (about a minute)"
  timeout 1800 debootstrap --variant=minbase --cache-dir="$C/cache/debootstrap" trixie "$R" "$MIRROR" \
    >"$LOG/debootstrap.log" 2>&1 || mirror_step_failed "debootstrap" "$LOG/debootstrap.log"
  touch "$R/.ampcan-debootstrap-done"
fi
mkdir -p "$O/boot" "$O/bin" "$O/src" "$O/build" "$R/mnt/guestroot" "$R/var/tmp"
printf 'deb %s trixie main\ndeb %s trixie-updates main\ndeb %s trixie-backports main\n' "$MIRROR" "$MIRROR" "$MIRROR" >"$R/etc/apt/sources.list.tmp" &&
  { cmp -s "$R/etc/apt/sources.list.tmp" "$R/etc/apt/sources.list" && rm "$R/etc/apt/sources.list.tmp" || mv "$R/etc/apt/sources.list.tmp" "$R/etc/apt/sources.list"; }
# No documentation, no services started by package scripts, no recommends: smaller and faster.
printf 'path-exclude=/usr/share/doc/*\npath-exclude=/usr/share/man/*\npath-exclude=/usr/share/locale/*\n' >"$R/etc/dpkg/dpkg.cfg.d/ampcan-nodoc"
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$R/etc/apt/apt.conf.d/90ampcan"
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d" && chmod +x "$R/usr/sbin/policy-rc.d"
cp -L /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true

# ---- packages: QEMU and the kernel from trixie-backports ---------------------------------------------------------------
apt_update() {
  say "apt-get update (in the root)"
  inroot timeout 900 apt-get update -q >"$LOG/apt-update.log" 2>&1 || mirror_step_failed "apt-get update in the root" "$LOG/apt-update.log"
  touch "$R/var/lib/apt/lists/.ampcan-updated"
}
[ -e "$R/var/lib/apt/lists/.ampcan-updated" ] || apt_update
KVER=${AMPCAN_VVM_KVER:-$(cat "$O/boot/kver" 2>/dev/null)}
if [ -z "$KVER" ]; then
  KVER=$(inroot apt-cache depends -t trixie-backports linux-headers-amd64 2>/dev/null | sed -n 's/^ *Depends: linux-headers-\(.*-amd64\)$/\1/p' | head -1)
  [ -n "$KVER" ] || failed "cannot tell the kernel ABI from trixie-backports' linux-headers-amd64 (apt-cache depends gave nothing)"
fi
KMM=$(echo "$KVER" | sed -E 's/^([0-9]+\.[0-9]+).*/\1/')      # 7.3: linux-source-7.3 carries that kernel's source
PKGS=(qemu-system-x86 "linux-binary-$KVER" "linux-modules-$KVER" "linux-base-$KVER" "linux-headers-$KVER" "linux-source-$KMM"
      busybox-static kmod make xz-utils zstd cpio libc6-dev can-utils iproute2 python3-minimal)
installed() { [ "$(inroot dpkg-query -W -f='${db:Status-Status}\n' "$@" 2>/dev/null | grep -c '^installed$')" = $# ]; }
if ! installed "${PKGS[@]}"; then
  say "installing in the root: QEMU, kernel $KVER with its headers and source, busybox, kmod, make, libc6-dev, can-utils, iproute2, python3-minimal (for tests/rpmsg-char) (a few minutes the first time)"
  inroot timeout 1800 apt-get install -y -q -t trixie-backports "${PKGS[@]}" >"$LOG/apt-install.log" 2>&1 || {
    apt_update   # lists older than the mirror's files give 404s
    inroot timeout 1800 apt-get install -y -q -t trixie-backports "${PKGS[@]}" >"$LOG/apt-install.log" 2>&1 ||
      mirror_step_failed "installing ${PKGS[*]} in the root" "$LOG/apt-install.log"
  }
  inroot apt-get clean >/dev/null 2>&1   # ~400 MB of .debs the root no longer needs
fi
echo "$KVER" >"$O/boot/kver"
# QEMU 11.1's generic vhost-user PCI device is not user-creatable under its own name; its test alias is.
QDEV=
for d in vhost-user-test-device-pci vhost-user-device-pci; do
  inroot qemu-system-x86_64 -device help 2>/dev/null | grep -q "name \"$d\"" && { QDEV=$d; break; }
done
[ -n "$QDEV" ] || failed "the root's QEMU ($(inroot qemu-system-x86_64 --version | head -1)) has no user-creatable generic vhost-user PCI device"
echo "$QDEV" >"$O/boot/qemu-device"

# ---- the kernel's own sources of the drivers Debian leaves out ---------------------------------------------------------
SRCPKG="linux-source-$KMM $(inroot dpkg-query -W -f='${Version}' "linux-source-$KMM")"
RPMSG_FILES=(drivers/rpmsg/rpmsg_core.c drivers/rpmsg/rpmsg_ns.c drivers/rpmsg/virtio_rpmsg_bus.c drivers/rpmsg/rpmsg_char.c
             drivers/rpmsg/rpmsg_ctrl.c drivers/rpmsg/rpmsg_internal.h drivers/rpmsg/rpmsg_char.h samples/rpmsg/rpmsg_client_sample.c)
CAN_FILES=(drivers/net/can/virtio_can.c)
UAPI=(include/uapi/linux/rpmsg.h include/uapi/linux/virtio_can.h)
if [ "$(cat "$O/src/.from" 2>/dev/null)" != "$SRCPKG" ]; then
  say "extracting the rpmsg and virtio_can sources from $SRCPKG"
  rm -rf "$O/src" && mkdir -p "$O/src"
  inroot timeout 900 tar -xJf "/usr/src/linux-source-$KMM.tar.xz" -C /opt/ampcan-vm/src --strip-components=1 \
    $(printf "linux-source-$KMM/%s " "${RPMSG_FILES[@]}" "${CAN_FILES[@]}" "${UAPI[@]}") >"$LOG/extract.log" 2>&1 ||
    failed "extracting sources from linux-source-$KMM failed: $(tail -n 3 "$LOG/extract.log" | tr '\n' ' ')"
  echo "$SRCPKG" >"$O/src/.from"
fi

# ---- modules, built out of tree against linux-headers-$KVER ------------------------------------------------------------
# Kconfig would set CONFIG_FOO=m and define CONFIG_FOO_MODULE in autoconf.h; include/linux/rpmsg.h and rpmsg_char.h
# test the latter with IS_ENABLED() and compile to -ENXIO stubs without it, so the Kbuild files define them.
RPMSG_MODS=(rpmsg_core rpmsg_ns virtio_rpmsg_bus rpmsg_char rpmsg_ctrl rpmsg_client_sample)
kbuild_rpmsg() {
  echo '# Written by tests/virtio-vm/prepare.sh: the objects of drivers/rpmsg/Makefile and samples/rpmsg/Makefile.'
  echo "obj-m := ${RPMSG_MODS[*]/%/.o}"
  echo 'ccflags-y := -DCONFIG_RPMSG_MODULE=1 -DCONFIG_RPMSG_NS_MODULE=1 -DCONFIG_RPMSG_VIRTIO_MODULE=1 -DCONFIG_RPMSG_CHAR_MODULE=1 -DCONFIG_RPMSG_CTRL_MODULE=1 -DCONFIG_SAMPLE_RPMSG_CLIENT_MODULE=1'
}
kbuild_can() {
  echo '# Written by tests/virtio-vm/prepare.sh: drivers/net/can/virtio_can.c alone.'
  echo 'obj-m := virtio_can.o'
  echo 'ccflags-y := -DCONFIG_CAN_VIRTIO_CAN_MODULE=1'
}
# build NAME KBUILD-FUNCTION FILES...: builds /opt/ampcan-vm/build/NAME when its sources, Kbuild or the headers changed.
build() {
  local name=$1 kbuild=$2 b=$O/build/$1 f stamp; shift 2
  mkdir -p "$b"
  for f in "$@"; do cmp -s "$O/src/$f" "$b/${f##*/}" || cp "$O/src/$f" "$b/"; done
  "$kbuild" >"$b/Kbuild.new"; cmp -s "$b/Kbuild.new" "$b/Kbuild" && rm "$b/Kbuild.new" || mv "$b/Kbuild.new" "$b/Kbuild"
  stamp="$KVER $SRCPKG $(cd "$b" && cat Kbuild "${@##*/}" | md5sum)"
  [ "$(cat "$b/.built" 2>/dev/null)" = "$stamp" ] && return 0
  say "building $name against linux-headers-$KVER"
  rm -f "$b/.built"
  inroot timeout 900 make -j"$(nproc)" -C "/usr/src/linux-headers-$KVER" M="/opt/ampcan-vm/build/$name" modules \
    >"$LOG/build-$name.log" 2>&1 || return 1
  echo "$stamp" >"$b/.built"
}
build rpmsg kbuild_rpmsg "${RPMSG_FILES[@]}" ||
  failed "building the rpmsg modules failed: $(grep -m1 -E 'error|Error' "$LOG/build-rpmsg.log") (log: $LOG/build-rpmsg.log)"
CAN_MODS=(virtio_can)
build can kbuild_can "${CAN_FILES[@]}" || { say "building virtio_can failed (log: $LOG/build-can.log); going on without it"; CAN_MODS=(); }

# Installed as /lib/modules/$KVER/updates/ampcan/*.ko so that modprobe finds them and their dependencies (no udev in
# the guest: nothing loads them unasked). Each must carry the kernel's vermagic and need only symbols the kernel exports.
VERMAGIC=$(inroot modinfo -k "$KVER" -F vermagic 9pnet_virtio)
U=$R/usr/lib/modules/$KVER/updates/ampcan
mkdir -p "$U"
changed=0
for m in "${RPMSG_MODS[@]/#/rpmsg/}" ${CAN_MODS[@]+"${CAN_MODS[@]/#/can/}"}; do
  ko=$O/build/$m.ko
  vm=$(inroot modinfo -F vermagic "/opt/ampcan-vm/build/$m.ko")
  [ "$vm" = "$VERMAGIC" ] || failed "$m.ko has vermagic '$vm', the kernel '$VERMAGIC'"
  cmp -s "$ko" "$U/${m#*/}.ko" || { cp "$ko" "$U/${m#*/}.ko.tmp" && mv "$U/${m#*/}.ko.tmp" "$U/${m#*/}.ko"; changed=1; }
done
if [ $changed = 1 ] || ! grep -q '^updates/ampcan/virtio_rpmsg_bus.ko:' "$R/usr/lib/modules/$KVER/modules.dep"; then
  inroot depmod "$KVER" || failed "depmod $KVER failed in the root"
  unresolved=$(inroot depmod -n -e -E "/usr/src/linux-headers-$KVER/Module.symvers" "$KVER" 2>&1 >/dev/null | grep 'updates/ampcan' || true)
  [ -z "$unresolved" ] || failed "unresolved symbols: $unresolved"
fi

# ---- the guest's test program, compiled against the uapi header of the kernel built ------------------------------------
mkdir -p "$O/include/linux"
cmp -s "$O/src/include/uapi/linux/rpmsg.h" "$O/include/linux/rpmsg.h" || cp "$O/src/include/uapi/linux/rpmsg.h" "$O/include/linux/rpmsg.h"
GCC=
# rpmsg_char_cases is the comparison program of tests/rpmsg-char (its Python twin runs from the checkout).
for src in "$HERE/guest/rpmsg_echo.c" "$HERE/guest/rpmsg_dev.c" "$HERE/../rpmsg-char/rpmsg_char_cases.c"; do
  prog=$(basename "$src" .c)
  stamp="$(cat "$src" "$O/include/linux/rpmsg.h" | md5sum)"
  [ -x "$O/bin/$prog" ] && [ "$(cat "$O/bin/.$prog.built" 2>/dev/null)" = "$stamp" ] && continue
  say "building $prog"
  [ -n "$GCC" ] || GCC="x86_64-linux-gnu-gcc-$(inroot sh -c 'ls /usr/bin/x86_64-linux-gnu-gcc-[0-9]*' | sed 's/.*-//' | sort -n | tail -1)"
  cp "$src" "$O/build/$prog.c"
  inroot "$GCC" -O2 -Wall -Wextra -Werror -static -pthread -I/opt/ampcan-vm/include -o "/opt/ampcan-vm/bin/$prog.tmp" "/opt/ampcan-vm/build/$prog.c" \
    >"$LOG/build-$prog.log" 2>&1 || failed "building $prog failed: $(grep -m1 error "$LOG/build-$prog.log") (log: $LOG/build-$prog.log)"
  mv "$O/bin/$prog.tmp" "$O/bin/$prog"
  echo "$stamp" >"$O/bin/.$prog.built"
done

# ---- boot files: an uncompressed kernel (QEMU boots it through PVH, no decompression under TCG) and the initramfs -------
# vmlinuz is a bzImage whose payload is the compressed ELF vmlinux: found by its compressor's magic number.
VMLINUZ=/usr/lib/modules/$KVER/vmlinuz
[ -s "$R$VMLINUZ" ] || VMLINUZ=/boot/vmlinuz-$KVER
if [ ! -s "$O/boot/vmlinux-$KVER" ]; then
  say "extracting the uncompressed kernel from $VMLINUZ"
  inroot /bin/bash -c '
    img=$1 out=$2
    for z in "\x28\xb5\x2f\xfd zstd" "\xfd\x37\x7a\x58\x5a\x00 xz" "\x1f\x8b\x08 gzip"; do
      magic=${z% *} tool=${z#* }
      off=$(LC_ALL=C grep -obUaP "$magic" "$img" | head -n 1 | cut -d: -f1)
      [ -n "$off" ] || continue
      tail -c +$((off + 1)) "$img" | $tool -dc >"$out" 2>/dev/null
      [ "$(head -c 4 "$out" | od -An -tx1 | tr -d " ")" = 7f454c46 ] && exit 0
    done
    exit 1' sh "$VMLINUZ" /opt/ampcan-vm/boot/vmlinux.tmp || failed "no compressed ELF kernel found in $VMLINUZ (in $R)"
  mv "$O/boot/vmlinux.tmp" "$O/boot/vmlinux-$KVER"
fi
INITRD=initramfs-$KVER-$(cat "$HERE/init" "$HERE/build-initramfs.sh" | md5sum | cut -c1-12).cpio.gz
if [ ! -s "$O/boot/$INITRD" ]; then
  say "building the guest's initramfs"
  cp "$HERE/init" "$HERE/build-initramfs.sh" "$O/build/"
  inroot env KVER="$KVER" INIT=/opt/ampcan-vm/build/init OUT="/opt/ampcan-vm/boot/$INITRD.tmp" /bin/bash /opt/ampcan-vm/build/build-initramfs.sh \
    >"$LOG/initramfs.log" 2>&1 || failed "building the initramfs failed: $(tail -n 2 "$LOG/initramfs.log" | tr '\n' ' ')(log: $LOG/initramfs.log)"
  mv "$O/boot/$INITRD.tmp" "$O/boot/$INITRD"
fi

# ---- what is there -------------------------------------------------------------------------------------------------------
ver() { inroot dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }
{
  echo "root=$R"
  echo "kernel=$KVER"
  echo "kernel-package=linux-binary-$KVER $(ver "linux-binary-$KVER")"
  echo "source-package=$SRCPKG"
  echo "qemu=$(inroot qemu-system-x86_64 --version | head -1)"
  echo "qemu-device=$QDEV"
  echo "rpmsg-modules=$(IFS=,; echo "${RPMSG_MODS[*]}")"
  echo "can-modules=$(IFS=,; echo "${CAN_MODS[*]-}")"
  echo "vermagic=$VERMAGIC"
  echo "rpmsg_echo=/opt/ampcan-vm/bin/rpmsg_echo"
  echo "rpmsg_dev=/opt/ampcan-vm/bin/rpmsg_dev"
  echo "rpmsg_char_cases=/opt/ampcan-vm/bin/rpmsg_char_cases"
} | tee "$C/versions.txt.tmp"
mv "$C/versions.txt.tmp" "$C/versions.txt"
