#!/bin/bash
# Runs inside the guest: the ampcan service on the sim board (its simulated remote in a process of its own) serving its
# rpmsg_char files as CUSE character devices, and the comparison programs (tests/rpmsg-char) run against /dev, a crash
# reported through the control socket (`ampcan crash`) in the middle, recovered by the service's own policy.
# Usage: rpmsg-char-cuse.sh AMPCAN_DLL C_PROGRAM PYTHON_PROGRAM
# Prints "NODE <ls -ln line>" for the devices at start, "EXIT-C n" / "EXIT-PY n" and each program's transcript as
# "C <line>" / "PY <line>", "RESULT <check> pass|fail <why>", then the service's log as "SERVICE <line>".
set -u
AMPCAN=$1 CPROG=$2 PYPROG=$3
W=/tmp/rpmsg-cuse
mkdir -p "$W" && cd "$W" || exit 1
result() { echo "RESULT $1 $2 ${3:-}"; }
# wait_for SECONDS COMMAND...: polls until COMMAND succeeds or the deadline (on the clock) passes.
wait_for() { local end=$((SECONDS + $1)); shift; while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.2; done; "$@"; }
ctrl_exists() { ls /dev | grep -q '^rpmsg_ctrl'; }
echo_announced() { grep -q "channel 'rpmsg-echo' announced" service.log; }
raw_device() { [ -c /dev/rpmsg0 ]; } # the remote's rpmsg-raw channel, announced after rpmsg-echo

echo "INFO kernel $(uname -r); /dev/cuse $(ls -l /dev/cuse 2>&1)"
AmpCan__ControlSocket=$W/ampcan.sock AmpCan__RpmsgChar__FrontEnd=cuse AmpCan__RpmsgChar__Group=1234 AmpCan__RpmsgChar__Mode=0660 \
  dotnet "$AMPCAN" --board sim --remote simulated-process > service.log 2>&1 & S=$!
if wait_for 240 ctrl_exists && wait_for 120 echo_announced && wait_for 60 raw_device; then result up pass "rpmsg_ctrl0 after ${SECONDS} s"
else result up fail "no /dev/rpmsg_ctrl*, rpmsg-echo announced and /dev/rpmsg0 within the limit"; fi
ls -ln /dev/rpmsg* 2>&1 | sed 's/^/NODE /'

CRASH="dotnet '$AMPCAN' crash --socket '$W/ampcan.sock'"
RECOVER='for i in $(seq 1 1800); do ls /dev | grep -q "^rpmsg_ctrl" && exit 0; sleep 0.1; done; exit 1'
"$CPROG" --dir /dev --crash-cmd "$CRASH" --recover-cmd "$RECOVER" > c.out 2> c.err; echo "EXIT-C $?"
sed 's/^/C /' c.out; sed 's/^/C-ERR /' c.err
python3 "$PYPROG" --dir /dev --crash-cmd "$CRASH" --recover-cmd "$RECOVER" > py.out 2> py.err; echo "EXIT-PY $?"
sed 's/^/PY /' py.out; sed 's/^/PY-ERR /' py.err

kill -TERM $S
if wait_for 60 bash -c "! kill -0 $S 2>/dev/null"; then wait $S; result stopped pass "exit $?"
else result stopped fail "the service did not stop within 60 s of SIGTERM"; kill -KILL $S; fi
left=$(ls /dev | grep '^rpmsg' | tr '\n' ' ')
if [ -z "$left" ]; then result nothing-left pass "no /dev/rpmsg* after the stop"; else result nothing-left fail "left in /dev: $left"; fi
others=$(pgrep -f "dotnet.*$AMPCAN" | tr '\n' ' ') # the service and its remote; not this script, whose arguments name the dll too
if [ -z "$others" ]; then result no-process pass "no ampcan process after the stop"; else result no-process fail "still running: $others"; fi
sed 's/^/SERVICE /' service.log
