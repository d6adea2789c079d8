#!/bin/bash
# Runs inside the guest: OpenAMP's Linux-port demos against AmpCan, over /dev/shm/openamp.shm and the UNIX socket
# /tmp/openamp.event.0 (libmetal needs the guest's kernel modules, which the build machine's kernel lacks).
# Usage: openamp-interop.sh OPENAMP_DIR AMPCAN_DLL
#   OPENAMP_DIR holds rpmsg-echo-static and msg-test-rpmsg-ping-static from openamp-system-reference
#   examples/legacy_apps (cmake -DMACHINE=generic -DWITH_TESTS=ON -DWITH_EXAMPLES=ON, against libmetal and open-amp
#   built with shared libraries) and the libopen_amp/libmetal shared objects they link.
# Prints one "RESULT <scenario> pass|fail <why>" line per scenario; a failure says what was expected and what came:
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
exited() { case $1 in 0) echo "exit 0" ;; 124) echo "timed out after 300 s" ;; *) echo "exit $1" ;; esac; }

# The ping's stdout is line-buffered and its stderr (libmetal's log) goes to a file of its own: block-buffered
# stdout shared with stderr split a payload line with a log line at exit, and a count of lines then missed it.
run_ping() { timeout 300 stdbuf -oL "$D/msg-test-rpmsg-ping-static" 1 > "$1.out" 2> "$1.err"; }

# Judges a ping's output against what openamp-system-reference tests/msg/rpmsg-ping.c does: with a TX buffer of T
# bytes it sends N = T - 16 payloads one at a time, payload i carrying a 16-byte {num, size} header and i + 1 bytes of
# 0xA5, printing "sending payload number i of size 17+i" before and " received payload number i of size 17+i" from
# its receive callback, then "Test Results: Error count = E". Prints "pass <summary>" or "fail expected ..., got ...".
ping_verdict() {
  local out=$1.out tx
  tx=$(sed -n 's/^RPMsg device TX buffer size: \(0x[0-9a-fA-F]*\).*/\1/p' "$out" | head -1)
  if [ -z "$tx" ]; then echo "fail expected the ping's 'RPMsg device TX buffer size' line, got none"; return; fi
  awk -v n=$((tx - 16)) '
    { sub(/\r$/, "") }
    /^sending payload number / {
      if (!bad && ($4 != s || $7 != s + 17)) bad = sprintf("expected to send payload %d of size %d next, got \"%s\"", s, s + 17, $0)
      s++ }
    /^ received payload number / {
      if (!bad && ($4 != r || $7 != r + 17)) bad = sprintf("expected payload %d of size %d back next, got \"%s\"", r, r + 17, $0)
      r++ }
    /Test Results: Error count = / { ec = $NF }
    /^ERROR: / && !err { err = $0 }
    END {
      if (!bad && (s != n || r != n)) bad = sprintf("expected %d payloads (1..%d bytes behind the 16-byte header) sent and echoed, got %d sent and %d echoed", n, n, s + 0, r + 0)
      if (!bad && ec != "0") bad = sprintf("expected \"Error count = 0\", got %s", ec == "" ? "no test result line" : "\"Error count = " ec "\"")
      if (!bad && err) bad = sprintf("expected no ERROR line, got \"%s\"", err)
      if (bad) { print "fail " bad; exit }
      printf "pass %d of %d payloads of 17..%d bytes echoed in order, Error count = 0\n", r, n, n + 16
    }' "$out"
}
show() { for f in "$@"; do [ -s "$f" ] && { echo "--- last lines of $f"; tail -n 25 "$f"; }; done; }

clean
"$D/rpmsg-echo-static" 0 > /tmp/a-echo.out 2> /tmp/a-echo.err & E=$!
run_ping /tmp/a-ping; rc=$?
v=$(ping_verdict /tmp/a-ping)
if [ $rc -ne 0 ]; then result A fail "expected the ping to exit 0, got $(exited $rc); its output: ${v#* }"
elif [ "${v%% *}" != pass ]; then result A fail "${v#* }"
elif ! wait_gone $E; then result A fail "expected rpmsg-echo to stop when the ping destroyed its endpoint, got it still running 10 s later"
else result A pass "${v#* }"; fi
[ "${v%% *}" = pass ] && [ $rc -eq 0 ] || show /tmp/a-ping.out /tmp/a-ping.err /tmp/a-echo.out /tmp/a-echo.err

clean
"$D/rpmsg-echo-static" 0 > /tmp/b-echo.out 2> /tmp/b-echo.err & E=$!
timeout 300 dotnet "$AMPCAN" echo-test --board openamp-linux --remote external --count 496 --shutdown > /tmp/b-host.log 2>&1; rc=$?
cat /tmp/b-host.log
want="echo-test: 496 messages of 1..496 bytes, 0 errors"
got=$(grep '^echo-test: [0-9]* messages' /tmp/b-host.log | sed 's/, round trip.*//')
if [ $rc -ne 0 ] || [ "$got" != "$want" ]; then
  result B fail "expected exit 0 and \"$want\", got $(exited $rc) and \"${got:-no summary line}\""; show /tmp/b-echo.out /tmp/b-echo.err
elif ! wait_gone $E; then result B fail "expected rpmsg-echo to stop on the shutdown message, got it still running 10 s later"
else result B pass "${got#echo-test: }"; fi

clean
dotnet "$AMPCAN" remote-sim --board openamp-linux > /tmp/c-sim.log 2>&1 & S=$!
for _ in $(seq 600); do [ -S /tmp/openamp.event.0 ] && break; sleep 0.1; done
run_ping /tmp/c-ping; rc=$?
# remote-sim stops by itself when the host leaves; SIGTERM only if it did not (a SIGTERM that lands while it is
# already stopping can meet no handler and end it with 143, which is not what this scenario tests).
if wait_gone $S; then wait $S; src=$? how="stopping after the ping left"
else kill -TERM $S 2>/dev/null; wait $S; src=$? how="still running 10 s after the ping left, on SIGTERM"; fi
v=$(ping_verdict /tmp/c-ping)
if [ $rc -ne 0 ]; then result C fail "expected the ping to exit 0, got $(exited $rc); its output: ${v#* }"
elif [ "${v%% *}" != pass ]; then result C fail "${v#* }"
elif [ $src -ne 0 ]; then result C fail "expected remote-sim to exit 0, got exit $src ($how)"
else result C pass "${v#* }"; fi
[ "${v%% *}" = pass ] && [ $rc -eq 0 ] && [ $src -eq 0 ] || show /tmp/c-ping.out /tmp/c-ping.err /tmp/c-sim.log
