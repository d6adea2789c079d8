#!/bin/bash
# Runs inside the guest: OpenAMP's Linux-port demos against AmpCan, over /dev/shm/openamp.shm and the UNIX socket
# /tmp/openamp.event.0 (libmetal needs the guest's kernel modules, which the build machine's kernel lacks).
# Usage: openamp-interop.sh OPENAMP_DIR AMPCAN_DLL
#   OPENAMP_DIR holds rpmsg-echo-static and msg-test-rpmsg-ping-static from openamp-system-reference
#   examples/legacy_apps (cmake -DMACHINE=generic -DWITH_TESTS=ON -DWITH_EXAMPLES=ON, against libmetal and open-amp
#   built with shared libraries) and the libopen_amp/libmetal shared objects they link.
# Prints one "RESULT <scenario> pass|fail <why>" line per scenario:
#   A  OpenAMP rpmsg-echo (remote)  +  OpenAMP rpmsg-ping (host)     the reference pairing, proves the setup
#   B  OpenAMP rpmsg-echo (remote)  +  ampcan echo-test (host)       AmpCan's driver role against OpenAMP
#   C  ampcan remote-sim (remote)   +  OpenAMP rpmsg-ping (host)     AmpCan's device role against OpenAMP
set -u
D=$1 AMPCAN=$2
export LD_LIBRARY_PATH=$D
modprobe uio_pdrv_genirq 2>/dev/null
clean() { rm -f /dev/shm/openamp.shm /tmp/openamp.event.0; }
wait_gone() { for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill "$1" 2>/dev/null; return 1; }
result() { echo "RESULT $1 $2 ${3:-}"; }

clean
"$D/rpmsg-echo-static" 0 > /tmp/a-echo.log 2>&1 & E=$!
timeout 300 "$D/msg-test-rpmsg-ping-static" 1 > /tmp/a-ping.log 2>&1; rc=$?
wait_gone $E
n=$(grep -c "received payload number" /tmp/a-ping.log)
if [ $rc -eq 0 ] && grep -q "Error count = 0" /tmp/a-ping.log && [ "$n" -gt 0 ]; then result A pass "$n payloads"
else result A fail "rc $rc, $n payloads"; cat /tmp/a-ping.log /tmp/a-echo.log; fi

clean
"$D/rpmsg-echo-static" 0 > /tmp/b-echo.log 2>&1 & E=$!
timeout 300 dotnet "$AMPCAN" echo-test --board openamp-linux --remote external --channel rpmsg-openamp-demo-channel --count 496 --shutdown > /tmp/b-host.log 2>&1; rc=$?
cat /tmp/b-host.log
if ! wait_gone $E; then result B fail "rpmsg-echo still running after the shutdown message"
elif [ $rc -eq 0 ] && grep -q " 0 errors" /tmp/b-host.log; then result B pass "$(grep -o '[0-9]* messages of [0-9.]* bytes, 0 errors' /tmp/b-host.log)"
else result B fail "echo-test rc $rc"; cat /tmp/b-echo.log; fi

clean
dotnet "$AMPCAN" remote-sim --board openamp-linux > /tmp/c-sim.log 2>&1 & S=$!
for _ in $(seq 600); do [ -S /tmp/openamp.event.0 ] && break; sleep 0.1; done
timeout 300 "$D/msg-test-rpmsg-ping-static" 1 > /tmp/c-ping.log 2>&1; rc=$?
kill -TERM $S 2>/dev/null; wait $S; src=$?
n=$(grep -c "received payload number" /tmp/c-ping.log)
if [ $rc -eq 0 ] && grep -q "Error count = 0" /tmp/c-ping.log && ! grep -q "ERROR: Failed" /tmp/c-ping.log && [ "$n" -ge 479 ] && [ $src -eq 0 ]; then
  result C pass "$n payloads"
else result C fail "ping rc $rc, $n payloads, remote-sim rc $src"; cat /tmp/c-ping.log /tmp/c-sim.log; fi
