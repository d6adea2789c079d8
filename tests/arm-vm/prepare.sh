#!/bin/bash
# Builds the arm64 guest of the ArmVm tests outside the repository, in AMPCAN_ARMVM_CACHE (default /var/tmp/ampcan-arm-vm):
#   - qemu-system-aarch64: Debian's qemu-system-arm, installed into tests/virtio-vm's trixie root (QEMU 11.1 from
#     trixie-backports; tests/virtio-vm/prepare.sh makes that root first) and run chrooted there by run-guest.sh;
#   - Debian's arm64 kernel (linux-binary/linux-modules of trixie-backports, the ABI the virtio-VM root runs on amd64),
#     its Image and the few modules the guest loads (9p over virtio for its root, uio and uio_pci_generic);
#   - an arm64 guest root: busybox-static and the glibc, libgcc and libstdc++ that .NET needs, from Debian's arm64
#     packages unpacked with dpkg-deb -x (a private apt state for arm64: nothing changes on the host or in the root);
#   - the initramfs (busybox, init, the modules) and the arm64 self-contained publish of tests/ArmProbe, in the guest
#     root at /opt/armprobe, published again when its sources (or the product's) change.
# Idempotent: each step is skipped when its result is there (a few seconds then); two runs at once wait for each other.
# stdout: KEY=VALUE lines when ready; otherwise one line saying why, with exit 3 when the machine lacks something (root,
# the mirror, dotnet, the virtio-VM root) and 1 when a step failed (its log is named). Progress goes to stderr.
# Env: AMPCAN_ARMVM_CACHE; AMPCAN_ARMVM_MIRROR (default http://deb.debian.org/debian); AMPCAN_VVM_CACHE (the trixie root).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
C=${AMPCAN_ARMVM_CACHE:-/var/tmp/ampcan-arm-vm}
MIRROR=${AMPCAN_ARMVM_MIRROR:-http://deb.debian.org/debian}
VC=${AMPCAN_VVM_CACHE:-/var/tmp/ampcan-virtio-vm}
R=$VC/trixie
LOG=$C/log
export LC_ALL=C
unavailable() { echo "$*"; exit 3; }
failed() { echo "$*"; exit 1; }
say() { echo "prepare: $*" >&2; }

[ "$(id -u)" = 0 ] || unavailable "needs root (the virtio-VM root, chroot and mount namespaces for QEMU)"
[ "$(uname -m)" = x86_64 ] || unavailable "needs an x86-64 host (QEMU comes from Debian's amd64 packages)"
missing=()
for c in apt-get dpkg-deb xz cpio gzip flock unshare; do command -v $c >/dev/null || missing+=($c); done
[ ${#missing[@]} -eq 0 ] || unavailable "missing: ${missing[*]}"
DOTNET=$(command -v dotnet) || unavailable "no dotnet on PATH (the guest program is published with it)"
mkdir -p "$C" "$LOG" || failed "cannot create $C"
exec 9>"$C/.lock"
flock -w 1800 9 || failed "another prepare.sh has held $C/.lock for 30 minutes"

# ---- QEMU: the virtio-VM root, plus qemu-system-arm in it ----------------------------------------------------------------
vvm=$(AMPCAN_VVM_MIRROR=$MIRROR bash "$REPO/tests/virtio-vm/prepare.sh" 2>"$LOG/virtio-vm-prepare.log"); rc=$?
[ $rc = 3 ] && unavailable "the virtio-VM root (tests/virtio-vm/prepare.sh): $vvm"
[ $rc = 0 ] || failed "tests/virtio-vm/prepare.sh failed: $vvm (log: $LOG/virtio-vm-prepare.log)"
KVER_AMD64=$(sed -n 's/^kernel=//p' <<<"$vvm")
KVER=${KVER_AMD64%-amd64}-arm64
inroot() {
  unshare -m --propagation private -- /bin/sh -c '
    R=$1; shift
    mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" && mount -t sysfs sys "$R/sys" || exit 125
    exec chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
      DEBIAN_FRONTEND=noninteractive "$@"' sh "$R" "$@"
}
if [ ! -x "$R/usr/bin/qemu-system-aarch64" ]; then
  say "installing qemu-system-arm in $R"
  # the root belongs to tests/virtio-vm: its lock keeps its own prepare.sh out meanwhile
  ( flock -w 1800 8 || exit 1
    inroot timeout 1800 apt-get install -y -q -t trixie-backports qemu-system-arm ||
      { inroot timeout 900 apt-get update -q && inroot timeout 1800 apt-get install -y -q -t trixie-backports qemu-system-arm; }
    inroot apt-get clean ) 8>"$VC/.lock" >"$LOG/qemu-install.log" 2>&1 ||
    failed "installing qemu-system-arm in $R failed: $(tail -n 3 "$LOG/qemu-install.log" | tr '\n' ' ')(log: $LOG/qemu-install.log)"
fi
QEMU_VERSION=$(inroot qemu-system-aarch64 --version | head -1)
[ -n "$QEMU_VERSION" ] || failed "qemu-system-aarch64 in $R does not run"

# ---- Debian's arm64 packages, through a private apt state --------------------------------------------------------------
A=$C/apt
mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$C/debs"
: >>"$A/status"
printf 'deb %s trixie main\ndeb %s trixie-backports main\n' "$MIRROR" "$MIRROR" >"$A/sources.list"
APT=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o Dir::Etc::SourceList="$A/sources.list"
     -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists="$A/lists" -o Dir::State::status="$A/status"
     -o Dir::Cache="$A/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root -q)
# apt-get update exits 0 when the mirror cannot be reached (it warns "Failed to fetch"): its output says it
mirror_down() {
  timeout 60 apt-get "${APT[@]}" update >"$LOG/apt-update-check.log" 2>&1 && ! grep -qE '^(W|E): (Failed to fetch|Some index files failed)' "$LOG/apt-update-check.log" ||
    unavailable "cannot reach $MIRROR (no network?); $1 needs it"
}
PKGS=("linux-binary-$KVER" "linux-modules-$KVER" busybox-static libc6 libgcc-s1 libstdc++6)
have_debs() { local p; for p in "${PKGS[@]}"; do ls "$C/debs/${p}_"*_arm64.deb >/dev/null 2>&1 || return 1; done; }
if ! have_debs; then
  say "downloading Debian's arm64 packages: ${PKGS[*]} (~100 MB)"
  timeout 900 apt-get "${APT[@]}" update >"$LOG/apt-update.log" 2>&1 && ! grep -qE '^(W|E): (Failed to fetch|Some index files failed)' "$LOG/apt-update.log" ||
    mirror_down "apt-get update (arm64 lists)"
  (cd "$C/debs" && timeout 1800 apt-get "${APT[@]}" download "${PKGS[@]}") >"$LOG/apt-download.log" 2>&1 ||
    { mirror_down "downloading ${PKGS[*]}"; failed "downloading ${PKGS[*]} failed: $(tail -n 2 "$LOG/apt-download.log" | tr '\n' ' ')(log: $LOG/apt-download.log)"; }
fi
deb() { ls "$C/debs/${1}_"*_arm64.deb | sort -V | tail -1; }

# ---- the kernel: Image and the guest's modules, decompressed (busybox's insmod reads no .ko.xz) ---------------------------
B=$C/boot
MODS=(fs/netfs/netfs net/9p/9pnet net/9p/9pnet_virtio fs/9p/9p drivers/uio/uio drivers/uio/uio_pci_generic)
if [ ! -s "$B/Image-$KVER" ] || [ ! -s "$B/modules-$KVER/uio_pci_generic.ko" ]; then
  say "unpacking the arm64 kernel $KVER"
  X=$(mktemp -d "$C/x.XXXXXX")
  dpkg-deb -x "$(deb "linux-binary-$KVER")" "$X" && dpkg-deb -x "$(deb "linux-modules-$KVER")" "$X" ||
    { rm -rf "$X"; failed "cannot unpack the kernel packages in $C/debs"; }
  mkdir -p "$B/modules-$KVER"
  M=$X/usr/lib/modules/$KVER
  img=$M/vmlinuz; [ -s "$img" ] || img=$X/boot/vmlinuz-$KVER
  # Debian's arm64 vmlinuz is the plain Image (QEMU also takes a gzipped one, decompressing it on every boot)
  if [ "$(head -c 2 "$img" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then gzip -dc "$img" >"$B/Image-$KVER.tmp"; else cp "$img" "$B/Image-$KVER.tmp"; fi
  for ko in "${MODS[@]}"; do
    if [ -f "$M/kernel/$ko.ko.xz" ]; then xz -dc "$M/kernel/$ko.ko.xz" >"$B/modules-$KVER/${ko##*/}.ko"
    elif [ -f "$M/kernel/$ko.ko" ]; then cp "$M/kernel/$ko.ko" "$B/modules-$KVER/"
    else rm -rf "$X"; failed "the arm64 kernel has no module $ko (built in? then drop it from prepare.sh)"; fi
  done
  rm -rf "$X"
  mv "$B/Image-$KVER.tmp" "$B/Image-$KVER"
fi

# ---- the guest root: busybox and the libraries .NET needs, merged /usr like trixie ---------------------------------------
G=$C/root
APPLETS="sh ash awk cat ls echo printf mkdir rm cp mv ln sed grep head tail find basename dirname sleep tr cut test [ kill
         insmod rmmod lsmod mount umount dd hexdump od uptime wc env true false sync poweroff uname dmesg"
LIBS_STAMP=$({ for p in busybox-static libc6 libgcc-s1 libstdc++6; do basename "$(deb $p)"; done; echo $APPLETS; } | md5sum | cut -c1-12)
if [ "$(cat "$G/.libs" 2>/dev/null)" != "$LIBS_STAMP" ]; then
  say "making the arm64 guest root in $G"
  rm -rf "$G.tmp" && mkdir -p "$G.tmp/usr/bin" "$G.tmp/usr/sbin" "$G.tmp/usr/lib"
  for p in busybox-static libc6 libgcc-s1 libstdc++6; do
    dpkg-deb -x "$(deb $p)" "$G.tmp" || failed "cannot unpack $(deb $p)"
  done
  # a package shipping /lib or /bin files would have made real directories: fold them into /usr
  for d in bin sbin lib; do
    if [ -d "$G.tmp/$d" ] && [ ! -L "$G.tmp/$d" ]; then cp -a "$G.tmp/$d/." "$G.tmp/usr/$d/" && rm -rf "${G:?}.tmp/$d"; fi
    ln -sfn "usr/$d" "$G.tmp/$d"
  done
  # the applets the guest scripts use (busybox --list would need an arm64 CPU or qemu-user to run)
  for a in $APPLETS; do
    [ -e "$G.tmp/usr/bin/$a" ] || ln -s busybox "$G.tmp/usr/bin/$a"
  done
  mkdir -p "$G.tmp"/{proc,sys,dev,tmp,run,root,etc,opt,mnt}
  echo 'root:x:0:0:root:/root:/bin/sh' >"$G.tmp/etc/passwd"
  echo 'root:x:0:' >"$G.tmp/etc/group"
  [ -d "$G/opt/armprobe" ] && mv "$G/opt/armprobe" "$G.tmp/opt/armprobe"   # published below only when its sources change
  rm -rf "$G.old"; [ -d "$G" ] && mv "$G" "$G.old"
  mv "$G.tmp" "$G" && rm -rf "$G.old"
  echo "$LIBS_STAMP" >"$G/.libs"
fi
[ -e "$G/usr/lib/ld-linux-aarch64.so.1" ] || [ -e "$G/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1" ] ||
  failed "the guest root has no ld-linux-aarch64.so.1"

# ---- the initramfs --------------------------------------------------------------------------------------------------------
INITRD=initramfs-$KVER-$(cat "$HERE/init" "$HERE/prepare.sh" | md5sum | cut -c1-12).cpio.gz
if [ ! -s "$B/$INITRD" ]; then
  say "building the guest's initramfs"
  D=$(mktemp -d "$C/initramfs.XXXXXX")
  mkdir -p "$D"/{bin,proc,sys,dev,mnt,lib/modules}
  cp "$G/usr/bin/busybox" "$D/bin/busybox"
  for a in sh mount mkdir insmod poweroff cat cut echo chroot sync ln cp sleep grep; do ln -s busybox "$D/bin/$a"; done
  cp "$B/modules-$KVER"/*.ko "$D/lib/modules/"
  cp "$HERE/init" "$D/init" && chmod +x "$D/init"
  (cd "$D" && find . | cpio -o -H newc --quiet | gzip -1) >"$B/$INITRD.tmp" && mv "$B/$INITRD.tmp" "$B/$INITRD"
  rm -rf "$D"
  [ -s "$B/$INITRD" ] || failed "building the initramfs failed"
fi
ln -sfn "$INITRD" "$B/initramfs.cpio.gz"
ln -sfn "Image-$KVER" "$B/Image"

# ---- the guest program: tests/ArmProbe published for linux-arm64, self-contained ----------------------------------------
# Cached by a hash of every source it is built from (the probe, the product's libraries, the build's props).
SRC_HASH=$(cd "$REPO" && find tests/ArmProbe src Directory.Build.props Directory.Packages.props global.json NuGet.config \
  -type f \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.targets' -o -name '*.json' -o -name '*.config' \) \
  -not -path '*/bin/*' -not -path '*/obj/*' 2>/dev/null | LC_ALL=C sort | xargs md5sum | md5sum | cut -c1-16)
if [ "$(cat "$G/opt/armprobe/.source" 2>/dev/null)" != "$SRC_HASH" ]; then
  say "publishing tests/ArmProbe for linux-arm64 (self-contained)"
  P=$C/publish.tmp
  rm -rf "$P"
  # its own artifacts directory: a build of the checkout running at the same time keeps its bin/ and obj/
  timeout 900 "$DOTNET" publish "$REPO/tests/ArmProbe/ArmProbe.csproj" -c Release -r linux-arm64 --self-contained \
    --artifacts-path "$C/artifacts" -o "$P" -p:InvariantGlobalization=true -nologo >"$LOG/publish.log" 2>&1 || {
    # the linux-arm64 runtime packs come from the NuGet feed: without it the machine lacks them, the build is not broken
    grep -qE 'NU1101|NU1102|NU1301' "$LOG/publish.log" &&
      unavailable "the linux-arm64 runtime packs cannot be restored: $(grep -m1 -oE 'NU1[0-9]{3}: .*' "$LOG/publish.log" | cut -c1-200)"
    failed "publishing tests/ArmProbe failed: $(grep -m1 -E 'error' "$LOG/publish.log") (log: $LOG/publish.log)"; }
  echo "$SRC_HASH" >"$P/.source"
  rm -rf "$G/opt/armprobe.old"; [ -d "$G/opt/armprobe" ] && mv "$G/opt/armprobe" "$G/opt/armprobe.old"
  mv "$P" "$G/opt/armprobe" && rm -rf "$G/opt/armprobe.old"
fi
[ -x "$G/opt/armprobe/ampcan-arm-probe" ] || failed "the publish has no ampcan-arm-probe"

# ---- what is there -------------------------------------------------------------------------------------------------------
{
  echo "cache=$C"
  echo "qemu=$QEMU_VERSION"
  echo "kernel=$KVER"
  echo "kernel-package=$(basename "$(deb "linux-binary-$KVER")" .deb)"
  echo "libc=$(basename "$(deb libc6)" .deb)"
  echo "busybox=$(basename "$(deb busybox-static)" .deb)"
  echo "probe=/opt/armprobe/ampcan-arm-probe"
  echo "probe-source=$SRC_HASH"
} | tee "$C/versions.txt.tmp"
mv "$C/versions.txt.tmp" "$C/versions.txt"
