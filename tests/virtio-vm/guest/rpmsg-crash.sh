#!/bin/bash
# rpmsg-crash.sh — in the virtio-VM guest: a remote crash, as the kernel's rpmsg sees one. The guest has no remoteproc;
# on a crash remoteproc stops the remote's subdevices, which unregisters its virtio device, and virtio_rpmsg_bus's remove
# takes every channel off the rpmsg bus. Here every virtio-rpmsg device (virtio id 7) bound to virtio_rpmsg_bus is
# unbound from it, which runs the same remove: rpmsg_ctrl destroys the endpoint devices it made (their files go, blocked
# readers wake with EPIPE), rpmsg_char removes the rpmsg-raw channels' devices, /dev/rpmsg_ctrlN goes.
# rpmsg-recover.sh undoes it. What it unbound, and the names of the channels the remote had announced (src ANY), are
# left in /run/ampcan-rpmsg-crash for it. stdout: one line per device unbound; exit 1 when there was nothing to unbind.
set -u
DRV=/sys/bus/virtio/drivers/virtio_rpmsg_bus
BUS=/sys/bus/rpmsg/devices
STATE=/run/ampcan-rpmsg-crash
mkdir -p "$STATE" && : >"$STATE/devices" && : >"$STATE/channels" || { echo "rpmsg-crash: cannot write $STATE" >&2; exit 1; }
for c in "$BUS"/*; do
  [ -e "$c" ] || continue
  [ "$(cat "$c/src")" = 0xffffffff ] && cat "$c/name" >>"$STATE/channels"
done
for d in /sys/bus/virtio/devices/*; do
  [ "$(cat "$d/device" 2>/dev/null)" = 0x0007 ] && [ -e "$DRV/${d##*/}" ] || continue
  echo "${d##*/}" >"$DRV/unbind" || { echo "rpmsg-crash: unbinding ${d##*/} failed" >&2; exit 1; }
  echo "${d##*/}" >>"$STATE/devices"
  echo "rpmsg-crash: ${d##*/} unbound from virtio_rpmsg_bus"
done
[ -s "$STATE/devices" ] || { echo "rpmsg-crash: no virtio-rpmsg device bound to virtio_rpmsg_bus" >&2; exit 1; }
