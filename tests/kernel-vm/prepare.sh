#!/bin/bash
# Builds what the kernel-VM tests need, outside the repository (default /var/tmp/ampcan-kernel-vm):
# the ivshmem server/host peer (ivsh-host) and the uio_ivshmem module for the guest kernel (Debian's
# linux-image-amd64, booted by run-in-kernel.sh). Prints "ivsh-host=PATH" and "module=PATH".
# Exit 3 when a prerequisite is missing (the caller skips), 1 when a build fails.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${AMPCAN_KVM_CACHE:-/var/tmp/ampcan-kernel-vm}
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v gcc >/dev/null || missing+=(gcc)
command -v make >/dev/null || missing+=(make)
command -v busybox >/dev/null || [ -x /bin/busybox ] || missing+=(busybox-static)
command -v cpio >/dev/null || missing+=(cpio)
KVER=$(ls /lib/modules 2>/dev/null | grep -- '-amd64$' | sort -V | tail -1 || true)
[ -n "$KVER" ] && [ -r "/boot/vmlinuz-$KVER" ] || missing+=(linux-image-amd64)
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing: ${missing[*]} (tests/run.sh installs them, or apt-get install ${missing[*]})" >&2
  exit 3
fi
mkdir -p "$OUT"
if [ ! -x "$OUT/ivsh-host" ] || [ "$HERE/ivshmem/ivsh-host.c" -nt "$OUT/ivsh-host" ]; then
  # built aside and renamed: two test assemblies may prepare at once, and neither may run a half-written file
  gcc -O2 -Wall -o "$OUT/ivsh-host.tmp.$$" "$HERE/ivshmem/ivsh-host.c" >&2 && mv "$OUT/ivsh-host.tmp.$$" "$OUT/ivsh-host" || { rm -f "$OUT/ivsh-host.tmp.$$"; exit 1; }
fi
MOD=$OUT/uio_ivshmem-$KVER.ko
if [ ! -s "$MOD" ] || [ "$HERE/uio_ivshmem/uio_ivshmem.c" -nt "$MOD" ]; then
  KDIR=/lib/modules/$KVER/build
  [ -f "$KDIR/Makefile" ] || KDIR=$(KVER=$KVER "$HERE/uio_ivshmem/fetch-headers.sh" "$OUT/kheaders") || { echo "could not get headers for $KVER" >&2; exit 1; }
  B=$(mktemp -d)
  cp "$HERE/uio_ivshmem/uio_ivshmem.c" "$HERE/uio_ivshmem/Makefile" "$B/"
  make -s -C "$B" KDIR="$KDIR" >&2 || { rm -rf "$B"; exit 1; }
  cp "$B/uio_ivshmem.ko" "$MOD.tmp.$$" && mv "$MOD.tmp.$$" "$MOD"
  rm -rf "$B"
fi
echo "ivsh-host=$OUT/ivsh-host"
echo "module=$MOD"
echo "kernel=$KVER"
