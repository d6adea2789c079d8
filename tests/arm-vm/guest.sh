#!/bin/sh
# Runs inside the arm64 guest (busybox sh): binds uio_pci_generic to the ivshmem devices and runs the probe's checks,
# each in a process of its own, printing "EXIT CHECK CODE" after each (CODE 128+N: killed by signal N; SIGBUS is 7).
# usage: guest.sh ROUNDS [CHECK...]   CHECKS: maps vring rpmsg fault-unaligned-load fault-clear fault-copy
#                                      fault-clear-aligned (default all)
# Device 0000:00:10.0 carries the mapping checks, the vring and the faults' scratch area; 0000:00:11.0 the rpmsg bus.
P=/opt/armprobe/ampcan-arm-probe
ROUNDS=${1:?rounds}; shift
CHECKS=${*:-maps vring fault-unaligned-load fault-clear fault-copy fault-clear-aligned rpmsg}
DEV0=0000:00:10.0 DEV1=0000:00:11.0
for d in $DEV0 $DEV1; do
  [ "$(cat /sys/bus/pci/devices/$d/vendor 2>/dev/null) $(cat /sys/bus/pci/devices/$d/device 2>/dev/null)" = "0x1af4 0x1110" ] ||
    { echo "FAIL setup no ivshmem device at $d"; exit 10; }
done
echo "1af4 1110" > /sys/bus/pci/drivers/uio_pci_generic/new_id || { echo "FAIL setup cannot bind uio_pci_generic"; exit 11; }
echo "INFO kernel $(uname -r) $(uname -m); cpu $(grep -m1 'CPU part' /proc/cpuinfo | tr -d '\t')"
for c in $CHECKS; do
  t0=$(cut -d' ' -f1 /proc/uptime)
  case $c in
    maps) $P maps $DEV0 ;;
    vring) $P vring $DEV0 "$ROUNDS" ;;
    rpmsg) $P rpmsg $DEV1 ;;
    fault-*) $P fault "${c#fault-}" $DEV0 ;;
    *) echo "FAIL setup unknown check $c"; false ;;
  esac
  rc=$?
  echo "EXIT $c $rc $(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.2fs", b - a }')"
done
dmesg | grep -iE 'unhandled|alignment|bus error|SIGBUS' | sed 's/^/INFO dmesg: /'
exit 0
