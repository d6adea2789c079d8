#!/bin/bash
# Runs inside the guest: the ampcan service on a board whose simulated remote shares three CAN controllers with Linux,
# can0 straight on vcan0 (SocketCAN) and can1 on an in-process bus bridged to vcan1, both AmpCan's (it serves their
# virtio-can devices), and can2 the remote's own (the remote serves the device, its ECU on the remote's bus; AmpCan is
# the driver and bridges the controller onto vcan2), checked with can-utils.
# Usage: can-service.sh AMPCAN_DLL BOARD_FILE
# Prints one "RESULT <check> pass|fail <why>" line per check, "INFO <what>" lines, then what candump saw on each
# interface ("VCAN0 <line>", "VCAN1 <line>", "VCAN2 <line>", candump -L lines without their timestamps) and the service's log
# ("SERVICE <line>"), for the test to assert on.
set -u
AMPCAN=$1 BOARD=$2
W=/tmp/can-service
mkdir -p "$W" && cd "$W" || exit 1
T0=$(date +%s.%N)
result() { echo "RESULT $1 $2 ${3:-}"; }
since() { echo "$(date +%s.%N) $T0" | awk '{ printf "%.1f s", $1 - $2 }'; }
# wait_for SECONDS FILE REGEX: polls until a line of FILE matches, or the deadline passes (on the clock: a fork under
# TCG can take longer than the poll interval, so counting iterations would stretch the deadline).
wait_for() { local end=$((SECONDS + $1)); while [ $SECONDS -lt $end ]; do grep -Eq -- "$3" "$2" 2>/dev/null && return 0; sleep 0.2; done; grep -Eq -- "$3" "$2" 2>/dev/null; }
step() { echo "STEP $* at $(since)"; }
# A candump -L line's regex: any timestamp, then the rest exactly.
line() { printf '^\\([0-9]+\\.[0-9]{6}\\) %s$' "$1"; }
check() { # NAME SECONDS FILE EXPECTED-LINE (without timestamp)
  if wait_for "$2" "$3" "$(line "$4")"; then result "$1" pass "'$4' after $(since)"
  else result "$1" fail "expected '$4' in $(basename "$3") within $2 s, got none"; fi
}

echo "INFO kernel $(uname -r); vcan0 $(ip -d link show vcan0 | grep -o ' mtu [0-9]*' | head -1)"
# CAN FD on a vcan needs the CANFD_MTU (72); a vcan made by `ip link add type vcan` has it already, set it anyway.
for i in 0 2; do ip link set vcan$i down && ip link set vcan$i mtu 72 && ip link set vcan$i up || echo "INFO could not set vcan$i mtu 72"; done
# Large receive buffers (root forces them past rmem_max) and -d so a dropped frame is counted, not silently missed.
stdbuf -oL candump -L -d -r 33554432 vcan0 > vcan0.log 2> vcan0.err & D0=$!
stdbuf -oL candump -L -d -r 33554432 vcan1 > vcan1.log 2> vcan1.err & D1=$!
# vcan2 stands for the remote's controller: its error frames (a bus-off) would cross onto it, so candump takes error
# frames of every class there too (",0:0,#FFFFFFFF": all data frames and all error frames; -L prints an error frame as
# its 8-digit identifier with CAN_ERR_FLAG, 2xxxxxxx).
stdbuf -oL candump -L -d -r 33554432 vcan2,0:0,#FFFFFFFF > vcan2.log 2> vcan2.err & D2=$!
AmpCan__RpmsgChar__FrontEnd=none dotnet "$AMPCAN" --board "$BOARD" > service.log 2>&1 & S=$! # CAN only: no rpmsg_char devices

# The remote's node beats first right after its driver STARTs the controller, counter 0: 0x701 (node 1, can0),
# 0x702 (node 2, can1).
check heartbeat-vcan0 120 vcan0.log "vcan0 701#00"
check heartbeat-vcan1 30 vcan1.log "vcan1 702#00"
# can2's ECU (node 3) beats on the remote's bus from the remote's boot, whether or not AmpCan has started the
# controller yet: the first beat to cross may have any counter.
if wait_for 30 vcan2.log "$(line 'vcan2 703#[0-9A-F]{2}')"; then result heartbeat-vcan2 pass "'$(grep -Eo 'vcan2 703#[0-9A-F]{2}' vcan2.log | head -1)' after $(since)"
else result heartbeat-vcan2 fail "expected 'vcan2 703#<counter>' in vcan2.log within 30 s, got none"; fi
echo "INFO service: $(grep -o 'features 0x[0-9a-f]*' service.log | tr '\n' ' ')"

step "cansend vcan0 120#0102"; timeout 10 cansend vcan0 120#0102
check classic 30 vcan0.log "vcan0 121#0102"
timeout 10 cansend vcan0 123#01 # odd: never answered (checked at the end: no 124#01)
D64=$(for i in $(seq 0 63); do printf '%02X' "$i"; done)
step "cansend vcan0 126##1$D64"; timeout 10 cansend vcan0 "126##1$D64"
# virtio-can has no BRS flag: the answer comes back as FD without it.
check fd 30 vcan0.log "vcan0 127##4$D64" # candump -L shows the flags with FDF (4); the answer has no BRS
step "cansend vcan0 12345678#DEADBEEF"; timeout 10 cansend vcan0 12345678#DEADBEEF
check extended 30 vcan0.log "vcan0 12345679#DEADBEEF"
step "cansend vcan1 130#AA"; timeout 10 cansend vcan1 130#AA
check bridged 30 vcan1.log "vcan1 131#AA"

# The reverse topology: Linux -> vcan2 -> AmpCan's driver -> the remote's virtio-can device -> the remote's bus -> its
# ECU, and the answer the same way back.
step "cansend vcan2 160#05"; timeout 10 cansend vcan2 160#05
check remote-classic 30 vcan2.log "vcan2 161#05"
step "cansend vcan2 166##1$D64"; timeout 10 cansend vcan2 "166##1$D64"
check remote-fd 30 vcan2.log "vcan2 167##4$D64" # FD negotiated with the remote's device; BRS lost on the way (no virtio-can flag)
step "cansend vcan2 01ABCDE0#0708"; timeout 10 cansend vcan2 01ABCDE0#0708
check remote-extended 30 vcan2.log "vcan2 01ABCDE1#0708"
# Another program writes a bus-off error frame on vcan2: candump shows it (the capture takes error frames), and it does
# not cross to the remote's controller (only the remote's own errors cross, onto vcan2): can2 still answers after it.
step "cansend vcan2 20000040#0000000000000000"; timeout 10 cansend vcan2 20000040#0000000000000000
check error-capture 30 vcan2.log "vcan2 20000040#0000000000000000"
timeout 10 cansend vcan2 168#06
check remote-after-error 30 vcan2.log "vcan2 169#06"

step "ip link set vcan0 down"; ip link set vcan0 down
if wait_for 30 service.log 'vcan0: the interface is down'; then
  sleep 1 # the interface stays down a while, as a cable pulled; not a synchronisation
  ip link set vcan0 up
  # candump's socket ends with the interface going down (ENETDOWN): listen again, appending, before asking.
  stdbuf -oL candump -L -d -r 33554432 vcan0 >> vcan0.log 2>> vcan0.err & D0=$!
  if wait_for 30 service.log 'vcan0: the interface is up'; then
    sleep 0.5 # candump binds before the question goes out
    cansend vcan0 140#03
    check down-up 30 vcan0.log "vcan0 141#03"
  else result down-up fail "expected the service to say 'vcan0: the interface is up' within 30 s, got none"; fi
else ip link set vcan0 up; result down-up fail "expected the service to say 'vcan0: the interface is down' within 30 s, got none"; fi

# LATE_TX_ACK under load: 3,000 questions at 0x002 as fast as cangen can (each an 8-byte counter), answered at 0x003.
N=3000
step "cangen vcan0 -g 0"; cangen vcan0 -g 0 -p 10 -I 2 -L 8 -D i -n $N 2> cangen.err; crc=$?
echo "INFO cangen exit $crc after $(since) $(head -c 200 cangen.err)"
# The flood's answers have all come once the marker after it is answered (answers go out in order on one controller).
timeout 10 cansend vcan0 150#04
check after-flood 60 vcan0.log "vcan0 151#04"
if kill -0 $S 2>/dev/null; then result service-up pass "still running after $(since)"; else result service-up fail "expected the service running after the flood, got it exited"; fi

kill -TERM $S; for _ in $(seq 150); do kill -0 $S 2>/dev/null || break; sleep 0.1; done
kill -0 $S 2>/dev/null && { kill -KILL $S; echo "INFO the service did not stop within 15 s of SIGTERM"; }
wait $S; echo "INFO service exit $?"
kill -TERM $D0 $D1 $D2; wait $D0 $D1 $D2 2>/dev/null
echo "INFO candump stderr: $(cat vcan0.err vcan1.err vcan2.err | tr '\n' ' ')"
echo "INFO guest run took $(since)"
sed -E 's/^\([0-9.]+\) //; s/^/VCAN0 /' vcan0.log
sed -E 's/^\([0-9.]+\) //; s/^/VCAN1 /' vcan1.log
sed -E 's/^\([0-9.]+\) //; s/^/VCAN2 /' vcan2.log
sed 's/^/SERVICE /' service.log
