# guest-outcome.sh — sourced by tests/kernel-vm/run-in-kernel.sh and tests/virtio-vm/run-guest.sh: what both do once
# QEMU runs, the same way. The guest's init writes the command's output to RUN/stdout and RUN/stderr as it goes, its
# exit code to RUN/rc at the end (RUN/fatal when it could not set up, RUN/times "SETUP-DONE COMMAND-DONE" uptimes).
#
# guest_outcome NAME RUN TIMEOUT-SECONDS HINT TIMING
#   streams RUN/stdout and RUN/stderr while QEMU ($QPID, cleared once it exited) runs, then sets RC: the command's
#   exit code; 125 when the guest could not set up or stopped before it reported one (QEMU's output and the end of the
#   console go to stderr); 124 when QEMU was stopped by `timeout`. With TIMING=1, a timing line from $T_START.
#   Everything it says starts with "NAME: ".
guest_outcome() {
  local name=$1 run=$2 tmo=$3 hint=$4 timing=$5 t1 t2 qrc t_end g0 g1
  tail -c +1 -s 0.2 -f --pid="$QPID" "$run/stdout" &
  t1=$!
  tail -c +1 -s 0.2 -f --pid="$QPID" "$run/stderr" >&2 &
  t2=$!
  wait "$QPID"
  qrc=$?
  QPID=
  wait "$t1" "$t2"
  t_end=$(date +%s.%N)
  if [ -s "$run/fatal" ]; then
    echo "$name: the guest could not set up: $(cat "$run/fatal")" >&2; RC=125
    [ -f "$run/console.log" ] && tail -n 30 "$run/console.log" >&2
  elif [ -s "$run/rc" ]; then
    RC=$(cat "$run/rc")
  else
    if [ "$qrc" = 124 ]; then echo "$name: timed out after ${tmo}s" >&2; RC=124
    else echo "$name: the guest stopped before it reported an exit code (QEMU exit $qrc); $hint" >&2; RC=125; fi
    [ -f "$run/qemu.out" ] && sed "s/^/$name: qemu: /" "$run/qemu.out" >&2
    [ -f "$run/console.log" ] && tail -n 30 "$run/console.log" >&2
  fi
  if [ "$timing" = 1 ] && [ -s "$run/times" ]; then
    read -r g0 g1 <"$run/times"
    awk -v n="$name" -v s="$T_START" -v e="$t_end" -v g0="$g0" -v g1="$g1" 'BEGIN {
      printf "%s: total %.2fs, command %.2fs, boot, set-up and power-off %.2fs, command started at %.2fs guest uptime\n", n, e-s, g1-g0, (e-s)-(g1-g0), g0 }' >&2
  fi
}
