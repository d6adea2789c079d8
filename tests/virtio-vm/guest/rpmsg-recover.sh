#!/bin/bash
# rpmsg-recover.sh — in the virtio-VM guest: recovery after rpmsg-crash.sh, as remoteproc's would bring the remote's
# virtio device back. rpmsg_ctrl and rpmsg_char are unloaded first (every file of theirs must be closed by then), the
# devices rpmsg-crash.sh unbound are bound to virtio_rpmsg_bus again (the back end sees a new start and announces its
# channels again), and once the channels the remote had announced are back rpmsg-up.sh loads rpmsg_char and rpmsg_ctrl.
# Why that order: announcements run in hard-IRQ context, and rpmsg_char loaded while rpmsg-raw is announced BUGs the
# kernel (README.md, "The load order"). Returns when /dev/rpmsg_ctrlN is back (its number may differ). Exit 1 when
# something did not come back in time (rpmsg-up.sh says what), 2 when there was no crash to recover from.
set -u
DRV=/sys/bus/virtio/drivers/virtio_rpmsg_bus
STATE=/run/ampcan-rpmsg-crash
[ -s "$STATE/devices" ] || { echo "rpmsg-recover: no crash recorded in $STATE (run rpmsg-crash.sh first)" >&2; exit 2; }
for m in rpmsg_ctrl rpmsg_char; do
  [ -e "/sys/module/$m" ] || continue
  rmmod "$m" || { echo "rpmsg-recover: rmmod $m failed (a file of it still open?)" >&2; exit 1; }
done
while read -r dev; do
  echo "$dev" >"$DRV/bind" || { echo "rpmsg-recover: binding $dev to virtio_rpmsg_bus failed" >&2; exit 1; }
done <"$STATE/devices"
expect=()
while read -r name; do expect+=(--expect "$name"); done <"$STATE/channels"
# With no channel recorded, rpmsg-up.sh's default waits for one per device.
rpmsg-up.sh ${expect[@]+"${expect[@]}"} || exit 1
ls /dev/rpmsg_ctrl[0-9]* >/dev/null 2>&1 || { echo "rpmsg-recover: no /dev/rpmsg_ctrlN after recovery" >&2; exit 1; }
rm -rf "$STATE"
echo "rpmsg-recover: recovered"
