#!/bin/bash
# Runs inside the prepared root (prepare.sh calls it there): writes $OUT, the guest's initramfs: the root's static
# busybox, $INIT as /init, and the modules that mount the root over virtio-9p under an overlay, decompressed (busybox's
# insmod reads no .ko.xz or .ko.zst).
set -euo pipefail
KVER=${KVER:?} OUT=${OUT:?} INIT=${INIT:?}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
mkdir -p "$D"/{bin,proc,sys,dev,mnt,tmp,lib/modules}
cp /usr/bin/busybox "$D/bin/busybox"
for a in $(/usr/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$D/bin/$a"; done
M=/usr/lib/modules/$KVER/kernel
for ko in fs/netfs/netfs net/9p/9pnet net/9p/9pnet_virtio fs/9p/9p fs/overlayfs/overlay; do
  if [ -f "$M/$ko.ko.xz" ]; then xz -dc "$M/$ko.ko.xz" >"$D/lib/modules/${ko##*/}.ko"
  elif [ -f "$M/$ko.ko.zst" ]; then zstd -qdc "$M/$ko.ko.zst" >"$D/lib/modules/${ko##*/}.ko"
  else cp "$M/$ko.ko" "$D/lib/modules/"; fi
done
cp "$INIT" "$D/init"
printf '#!/bin/sh\nexec /bin/chroot /mnt/root /sbin/modprobe "$@"\n' >"$D/bin/ampcan-modprobe"
chmod +x "$D/init" "$D/bin/ampcan-modprobe"
(cd "$D" && find . | cpio -o -H newc --quiet | gzip -1) >"$OUT"
echo "built $OUT for $KVER ($(du -h "$OUT" | cut -f1))"
