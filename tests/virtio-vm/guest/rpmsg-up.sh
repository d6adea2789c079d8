#!/bin/bash
# rpmsg-up.sh — in the virtio-VM guest: brings Linux's rpmsg stack up on the virtio-rpmsg devices in the order that
# works, and reports what appeared.
#
# usage: rpmsg-up.sh [--expect NAME]... [--channels N] [--sample] [--no-char] [--timeout SECONDS]
#   1. modprobe virtio_rpmsg_bus (rpmsg_core and rpmsg_ns come with it); it must bind every device with virtio id 7.
#   2. wait until the remote's announcements arrived: each --expect NAME channel, or else N channels (--channels, default
#      one per rpmsg device; 0 waits for nothing) other than the local rpmsg_ctrl and rpmsg_ns ones.
#   3. modprobe rpmsg_char and rpmsg_ctrl (not with --no-char); with --sample also rpmsg_client_sample, and wait until
#      it said goodbye on every rpmsg-client-sample channel (its 100 messages done).
# Why this order: virtio-pci runs virtqueue callbacks in hard-IRQ context, and virtio_rpmsg_bus handles name-service
# messages there, creating the channel devices and probing their drivers synchronously. rpmsg_char's probe sleeps
# (devtmpfs), so if it is loaded when an rpmsg-raw channel is announced (or destroyed) the kernel schedules while atomic
# and the guest dies. Loaded after the announcements, its probes run in modprobe's own context. rpmsg_client_sample still
# races (README: its probe holds tx_lock while the device's reply can arrive; the guest then hangs until its limit).
#
# stdout: DEVICE, CHANNEL, CTRL, EPTDEV and SAMPLE lines (below), then "rpmsg-up: ready". Exit 1 (what is missing said on
# stderr) when something did not come in time (default 20 s in all), 2 on bad arguments or when a module does not load.
#   DEVICE virtio2 driver=virtio_rpmsg_bus features=0,32
#   CHANNEL virtio2.rpmsg-echo.-1.1024 name=rpmsg-echo src=0xffffffff dst=0x400
#   CTRL /dev/rpmsg_ctrl0 virtio2
#   EPTDEV /dev/rpmsg0 name=rpmsg-raw src=-1 dst=1026
#   SAMPLE virtio2.rpmsg-client-sample.-1.1025 goodbye
set -u
EXPECT=(); CHANNELS=; SAMPLE=0; CHAR=1; TMO=20
while [ $# -gt 0 ]; do
  case "$1" in
    --expect) [ $# -ge 2 ] || { echo "rpmsg-up: --expect needs a channel name" >&2; exit 2; }; EXPECT+=("$2"); shift 2 ;;
    --channels) [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "rpmsg-up: --channels needs a number" >&2; exit 2; }; CHANNELS=$2; shift 2 ;;
    --sample) SAMPLE=1; shift ;;
    --no-char) CHAR=0; shift ;;
    --timeout) [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "rpmsg-up: --timeout needs seconds" >&2; exit 2; }; TMO=$2; shift 2 ;;
    *) echo "rpmsg-up: unknown argument $1" >&2; exit 2 ;;
  esac
done
BUS=/sys/bus/rpmsg/devices
end=$(( $(date +%s%N) / 1000000 + TMO * 1000 ))
late() { [ $(( $(date +%s%N) / 1000000 )) -ge $end ]; }
# Announced channels: every rpmsg device but the ones virtio_rpmsg_bus makes itself.
announced() { local d; for d in "$BUS"/*; do [ -e "$d" ] || continue; case "${d##*/}" in *.rpmsg_ctrl.0.0|*.rpmsg_ns.53.53) ;; *) echo "${d##*/}" ;; esac; done; }

devices=()
for d in /sys/bus/virtio/devices/*; do [ "$(cat "$d/device" 2>/dev/null)" = 0x0007 ] && devices+=("${d##*/}"); done
[ ${#devices[@]} -gt 0 ] || { echo "rpmsg-up: no virtio device with id 7 (run-guest.sh --rpmsg SOCKET)" >&2; exit 1; }
modprobe virtio_rpmsg_bus || { echo "rpmsg-up: modprobe virtio_rpmsg_bus failed" >&2; exit 2; }
for dev in "${devices[@]}"; do
  drv=$(readlink "/sys/bus/virtio/devices/$dev/driver")
  [ "${drv##*/}" = virtio_rpmsg_bus ] || { echo "rpmsg-up: virtio_rpmsg_bus did not bind $dev (driver: ${drv:-none}; dmesg: $(dmesg | grep -i rpmsg | tail -n 3 | tr '\n' '|'))" >&2; exit 1; }
  bits=$(fold -w1 "/sys/bus/virtio/devices/$dev/features" | grep -n 1 | cut -d: -f1 | awk '{ printf "%s%d", (NR > 1 ? "," : ""), $1 - 1 }')
  echo "DEVICE $dev driver=virtio_rpmsg_bus features=$bits"
done

want=${CHANNELS:-${#devices[@]}}
while :; do
  missing=()
  for name in ${EXPECT[@]+"${EXPECT[@]}"}; do
    found=0
    for d in $(announced); do [ "$(cat "$BUS/$d/name" 2>/dev/null)" = "$name" ] && found=1; done
    [ $found = 1 ] || missing+=("$name")
  done
  have=$(announced | wc -l)
  [ ${#EXPECT[@]} -gt 0 ] || [ "$have" -ge "$want" ] || missing+=("$((want - have)) more channel(s)")
  [ ${#missing[@]} -eq 0 ] && break
  late && { echo "rpmsg-up: after ${TMO} s still missing: ${missing[*]} (have: $(announced | tr '\n' ' '))" >&2; exit 1; }
  sleep 0.05
done
for d in $(announced); do
  echo "CHANNEL $d name=$(cat "$BUS/$d/name") src=$(cat "$BUS/$d/src") dst=$(cat "$BUS/$d/dst")"
done

if [ $CHAR = 1 ]; then
  modprobe rpmsg_char && modprobe rpmsg_ctrl || { echo "rpmsg-up: modprobe rpmsg_char/rpmsg_ctrl failed" >&2; exit 2; }
  for dev in "${devices[@]}"; do
    for c in "$BUS/$dev.rpmsg_ctrl.0.0"/rpmsg/rpmsg_ctrl*; do [ -e "$c" ] && echo "CTRL /dev/${c##*/} $dev"; done
  done
  for e in /sys/class/rpmsg/rpmsg[0-9]*; do
    [ -e "$e" ] && echo "EPTDEV /dev/${e##*/} name=$(cat "$e/name") src=$(cat "$e/src") dst=$(cat "$e/dst")"
  done
fi

if [ $SAMPLE = 1 ]; then
  modprobe rpmsg_client_sample || { echo "rpmsg-up: modprobe rpmsg_client_sample failed" >&2; exit 2; }
  for d in $(announced); do
    [ "$(cat "$BUS/$d/name")" = rpmsg-client-sample ] || continue
    until dmesg | grep -q " $d: goodbye!"; do
      late && { echo "rpmsg-up: rpmsg_client_sample on $d did not finish in time (last: $(dmesg | grep " $d:" | tail -n 1))" >&2; exit 1; }
      sleep 0.05
    done
    echo "SAMPLE $d goodbye"
  done
fi
echo "rpmsg-up: ready"
