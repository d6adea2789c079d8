#!/bin/bash
# kernel-clean.sh — in the virtio-VM guest: exit 1, printing them, when the kernel log has a splat (BUG, WARNING, Oops,
# a call trace) or an error line of the rpmsg drivers; exit 0 and one line saying so otherwise. Run it last: a driver
# that misbehaved against a back-end often still "works" and leaves only this trace.
bad=$(dmesg | grep -E 'BUG:|WARNING:|Oops|Call Trace|scheduling while atomic|inbound msg too big|timeout waiting for a tx buffer|failed to add a virtqueue buffer|malformed ns msg|virtqueue_add|virtio_rpmsg_bus.*(error|failed)')
if [ -n "$bad" ]; then
  echo "kernel-clean: the kernel log has:"
  echo "$bad" | head -n 40
  exit 1
fi
echo "kernel-clean: no BUG, WARNING, Oops or rpmsg error in the kernel log"
