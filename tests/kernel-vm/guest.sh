#!/bin/bash
# Runs inside the guest (chrooted to the host root): binds uio_ivshmem to the ivshmem-doorbell device, then
# runs the guest probe against /dev/mem, the UIO maps and the UIO interrupt; then rebinds with the BARs
# claimed and checks that /dev/mem refuses the window. Usage: guest.sh MODULE PROBE_DLL ROUNDS
set -u
MOD=$1 PROBE=$2 ROUNDS=$3
insmod "$MOD" || { echo "FAIL insmod"; exit 10; }
BDF=
for d in /sys/bus/pci/devices/*; do
  [ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ] && BDF=$(basename "$d") && break
done
[ -n "$BDF" ] || { echo "FAIL no ivshmem device"; exit 11; }
read -r START END _ <<< "$(sed -n 3p "/sys/bus/pci/devices/$BDF/resource")"
SIZE=$(( END - START + 1 ))
echo "bar2 $START $SIZE"
dotnet "$PROBE" free "$START" "$SIZE" 0 "$ROUNDS" || exit $?
rmmod uio_ivshmem
insmod "$MOD" request_regions=1 || { echo "FAIL insmod request_regions=1"; exit 12; }
dotnet "$PROBE" claimed "$START" "$SIZE" 0 0 || exit $?
echo "guest done"
