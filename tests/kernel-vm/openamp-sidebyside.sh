#!/bin/bash
# openamp-sidebyside.sh — round-trip latency of AmpCan and OpenAMP side by side, on this machine's kernel (no VM),
# over OpenAMP's Linux machine port (/dev/shm/openamp.shm + the UNIX socket /tmp/openamp.event.0).
#
# usage: openamp-sidebyside.sh OPENAMP_DIR AMPCAN_DLL [RUNS]
#   OPENAMP_DIR  rpmsg-echo-static, msg-test-rpmsg-ping-static and libopen_amp/libmetal .so, built from
#                openamp-system-reference examples/legacy_apps with a libmetal whose metal_sys_init() goes on without
#                UIO/VFIO drivers (unpatched, the demos spin forever on a kernel without them; see issue 8)
#   AMPCAN_DLL   src/AmpCan/bin/Release/net10.0/ampcan.dll (dotnet build -c Release)
#   RUNS         rounds (default 10); each round runs every pairing once, in turn, so load changes hit all alike
#   MODES        environment: the notification modes echo-test runs in (default "adaptive doorbell polling"); echo-test
#                takes its mode from the board, so each mode runs on a copy of boards/openamp-linux.json
#
# Pairings (host / remote):
#   openamp-ping/openamp-echo          OpenAMP's host and remote: the reference
#   openamp-ping/ampcan-remote-sim     OpenAMP's host, AmpCan's simulated remote (board openamp-linux)
#   echo-test[MODE]/openamp-echo       AmpCan's host (ampcan echo-test) in MODE, OpenAMP's remote
#
# How the round trips are timed:
#   echo-test: its own figures (Stopwatch before Send to the reply in hand, 496 messages of 1..496 bytes).
#   OpenAMP's ping (480 payloads, 17..496 bytes with its 16-byte header, one in flight) prints no times, so a small
#   LD_PRELOAD library (built here from the C below; OpenAMP itself is unchanged) reads CLOCK_MONOTONIC when the
#   ping enters rpmsg_send_offchannel_raw (libopen_amp.so) and when its receive callback starts (its printf of
#   " received payload number"), and writes the times when the process exits: the same two points echo-test times.
#   messages/s: one message in flight, so (n - 1) / (first to last send) of the OpenAMP process in the pairing: the
#   ping's sends when OpenAMP is the host, rpmsg-echo's replies when echo-test is the host (the same library
#   records them).
# Percentiles as AmpCan's LatencyStats: sorted samples s, p50 = s[n/2], p99 = s[min(n-1, floor(0.99 n))].
# Prints one "run" line per pairing and round, then one "summary" line per pairing: the median and the range of
# the per-run figures. Failed runs print "run ... fail <why>" and are left out of the summary.
set -u
[ $# -ge 2 ] || { sed -n '2,/^set -u/p' "$0" | grep '^#' | cut -c3-; exit 2; }
D=$(realpath -e -- "$1") || { echo "no such directory: $1" >&2; exit 2; }
AMPCAN=$(realpath -e -- "$2") || { echo "no such file: $2" >&2; exit 2; }
RUNS=${3:-10}
MODES=${MODES:-adaptive doorbell polling}
SHM=/dev/shm/openamp.shm SOCK=/tmp/openamp.event.0
for f in rpmsg-echo-static msg-test-rpmsg-ping-static; do [ -x "$D/$f" ] || { echo "$D has no $f" >&2; exit 2; }; done
BOARD=$(dirname "$AMPCAN")/boards/openamp-linux.json
[ -f "$BOARD" ] || { echo "no board file beside the assembly: $BOARD" >&2; exit 2; }
command -v gcc >/dev/null || { echo "gcc is needed to build the timing library" >&2; exit 2; }

# The port's paths are fixed: refuse to run beside anyone else using them.
exec 9> /tmp/openamp-sidebyside.lock
flock -n 9 || { echo "another openamp-sidebyside.sh is running (lock /tmp/openamp-sidebyside.lock)" >&2; exit 1; }
if grep -q " $SOCK\$" /proc/net/unix || grep -qs "$SHM" /proc/[0-9]*/maps; then
  echo "$SHM or $SOCK is in use by another process; stop it first" >&2; exit 1
fi

T=$(mktemp -d /tmp/oa-sbs.XXXXXX)
# Only this shell's own jobs that still run: a remembered pid may belong to someone else by now.
cleanup() { for p in $(jobs -p); do kill "$p" 2>/dev/null; done; rm -rf "$T"; rm -f "$SHM" "$SOCK"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cat > "$T/oa-times.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Times kept in memory and written at exit, so the measured process does no extra I/O while it runs. */
#define MAX_EVENTS 65536
static struct { char kind; unsigned long num; uint64_t ns; } events[MAX_EVENTS];
static int count;
static int (*real_send)(void *, uint32_t, uint32_t, const void *, int, int);

static void record(char kind, unsigned long num)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	if (count < MAX_EVENTS) {
		events[count].kind = kind;
		events[count].num = num;
		events[count].ns = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
		count++;
	}
}

__attribute__((constructor)) static void find_real(void)
{
	real_send = (int (*)(void *, uint32_t, uint32_t, const void *, int, int))dlsym(RTLD_NEXT, "rpmsg_send_offchannel_raw");
}

/* Every data message either demo sends (not name-service messages to address 0x35); the ping's payload starts
 * with its number. */
int rpmsg_send_offchannel_raw(void *ept, uint32_t src, uint32_t dst, const void *data, int len, int wait)
{
	if (dst != 0x35) {
		unsigned long num = 0;
		if (len >= (int)sizeof num)
			memcpy(&num, data, sizeof num);
		record('S', num);
	}
	return real_send(ept, src, dst, data, len, wait);
}

/* The ping's receive callback starts with printf(" received payload number %lu of size %lu \r\n", ...). */
int printf(const char *format, ...)
{
	va_list ap;
	int r;
	if (strncmp(format, " received payload number ", 25) == 0) {
		va_start(ap, format);
		record('R', va_arg(ap, unsigned long));
		va_end(ap);
	}
	va_start(ap, format);
	r = vprintf(format, ap);
	va_end(ap);
	return r;
}

__attribute__((destructor)) static void write_times(void)
{
	const char *path = getenv("OA_TIMES");
	FILE *f;
	if (!path || count == 0)
		return;
	f = fopen(path, "w");
	if (!f)
		return;
	for (int i = 0; i < count; i++)
		fprintf(f, "%c %lu %llu\n", events[i].kind, events[i].num, (unsigned long long)events[i].ns);
	fclose(f);
}
C
gcc -O2 -Wall -shared -fPIC -o "$T/oa-times.so" "$T/oa-times.c" -ldl || { echo "could not build the timing library" >&2; exit 1; }

for m in $MODES; do
  case $m in adaptive|doorbell|polling) ;; *) echo "MODES: '$m' is not one of adaptive, doorbell, polling" >&2; exit 2 ;; esac
  sed -E "s/(\"mode\"[[:space:]]*:[[:space:]]*)\"[a-z]+\"/\1\"$m\"/" "$BOARD" > "$T/openamp-linux-$m.json"
  grep -q "\"mode\": *\"$m\"" "$T/openamp-linux-$m.json" || { echo "could not set the mode in a copy of $BOARD" >&2; exit 1; }
done

export LD_LIBRARY_PATH=$D
clean() { rm -f "$SHM" "$SOCK"; }
listening() { for _ in $(seq 1500); do grep -q " $SOCK\$" /proc/net/unix && return 0; sleep 0.02; done; return 1; }
# Waits up to 10 s for a child to end; its exit code in $gone_rc, or 1 if it had to be killed.
finish() { for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || { wait "$1"; gone_rc=$?; return 0; }; sleep 0.05; done
           kill "$1" 2>/dev/null; wait "$1"; gone_rc=$?; return 1; }
start_echo() { OA_TIMES=$T/echo.times LD_PRELOAD=$T/oa-times.so "$D/rpmsg-echo-static" 0 > "$T/echo.out" 2> "$T/echo.err" & E=$!; }
# The library goes into the demo only: in timeout too, its exit would write an empty file over the ping's.
run_ping() { timeout 120 env OA_TIMES="$T/ping.times" LD_PRELOAD="$T/oa-times.so" "$D/msg-test-rpmsg-ping-static" 1 > "$T/ping.out" 2> "$T/ping.err"; }

# Latency figures from a ping's times: "p50 p99 msgs/s n" in microseconds, or nothing.
ping_figures() {
  awk '$1 == "S" { s[$2] = $3; order[n++] = $3 } $1 == "R" && ($2 in s) { v[m++] = ($3 - s[$2]) / 1000 }
    END { if (m < 2 || n < 2) exit 1
          printf "%.1f %.1f %.0f %d\n", pct(0.5), pct(0.99), (n - 1) * 1e9 / (order[n-1] - order[0]), m }
    function pct(q,  i) { if (!sorted) { asort_(); sorted = 1 } i = int(m * q); if (i > m - 1) i = m - 1; return v[i] }
    function asort_(  i, j, x) { for (i = 1; i < m; i++) { x = v[i]; for (j = i - 1; j >= 0 && v[j] > x; j--) v[j+1] = v[j]; v[j+1] = x } }' "$1"
}
# Messages/s from rpmsg-echo's replies.
reply_rate() { awk '$1 == "S" { t[n++] = $3 } END { if (n < 2) exit 1; printf "%.0f\n", (n - 1) * 1e9 / (t[n-1] - t[0]) }' "$1"; }
ping_ok() { grep -q "Test Results: Error count = 0" "$T/ping.out" && ! grep -q "^ERROR: Failed" "$T/ping.out"; }

RESULTS=$T/results
emit() { printf 'run %-3s %-34s %s\n' "$1" "$2" "$3"; [ "$4" ] && echo "$2 $4" >> "$RESULTS"; }

pair_ping_echo() {  # round
  clean; rm -f "$T"/*.times; start_echo
  listening || { emit "$1" openamp-ping/openamp-echo "fail rpmsg-echo did not listen on $SOCK" ""; finish $E; return; }
  run_ping; rc=$?; finish $E
  local f; f=$(ping_figures "$T/ping.times")
  if [ $rc -ne 0 ] || ! ping_ok || [ -z "$f" ]; then emit "$1" openamp-ping/openamp-echo "fail ping exit $rc; $(grep -a 'Error count\|^ERROR' "$T/ping.out" | head -2 | tr -d '\r' | tr '\n' ' ')" ""; return; fi
  set -- "$1" $f
  emit "$1" openamp-ping/openamp-echo "$(printf 'p50 %7.1f us  p99 %7.1f us  %6d msgs/s  (%d round trips)' "$2" "$3" "$4" "$5")" "$2 $3 $4"
}

pair_ping_sim() {
  clean; rm -f "$T"/*.times
  dotnet "$AMPCAN" remote-sim --board openamp-linux > "$T/sim.log" 2>&1 & S=$!
  listening || { emit "$1" openamp-ping/ampcan-remote-sim "fail remote-sim did not listen on $SOCK: $(tail -1 "$T/sim.log")" ""; finish $S; return; }
  run_ping; rc=$?
  finish $S || true   # remote-sim stops by itself when the host leaves
  local f; f=$(ping_figures "$T/ping.times")
  if [ $rc -ne 0 ] || ! ping_ok || [ -z "$f" ]; then emit "$1" openamp-ping/ampcan-remote-sim "fail ping exit $rc; $(grep -a 'Error count\|^ERROR: Failed' "$T/ping.out" | head -2 | tr -d '\r' | tr '\n' ' ')" ""; return; fi
  set -- "$1" $f
  emit "$1" openamp-ping/ampcan-remote-sim "$(printf 'p50 %7.1f us  p99 %7.1f us  %6d msgs/s  (%d round trips)' "$2" "$3" "$4" "$5")" "$2 $3 $4"
}

pair_echotest_echo() {  # round mode
  local name="echo-test[$2]/openamp-echo"
  clean; rm -f "$T"/*.times; start_echo
  listening || { emit "$1" "$name" "fail rpmsg-echo did not listen on $SOCK" ""; finish $E; return; }
  timeout 120 dotnet "$AMPCAN" echo-test --board "$T/openamp-linux-$2.json" --remote external \
    --channel rpmsg-openamp-demo-channel --count 496 --shutdown > "$T/host.log" 2>&1; rc=$?
  finish $E
  local line p50 p99 rate
  line=$(grep '^echo-test: [0-9]* messages' "$T/host.log")
  p50=$(echo "$line" | sed -n 's/.* 0 errors, round trip median \([0-9.]*\) us, p99 \([0-9.]*\) us.*/\1/p')
  p99=$(echo "$line" | sed -n 's/.* 0 errors, round trip median \([0-9.]*\) us, p99 \([0-9.]*\) us.*/\2/p')
  rate=$(reply_rate "$T/echo.times")
  if [ $rc -ne 0 ] || [ -z "$p50" ] || [ -z "$rate" ]; then emit "$1" "$name" "fail echo-test exit $rc: ${line:-$(tail -1 "$T/host.log")}" ""; return; fi
  emit "$1" "$name" "$(printf 'p50 %7.1f us  p99 %7.1f us  %6d msgs/s  (496 round trips)' "$p50" "$p99" "$rate")" "$p50 $p99 $rate"
}

echo "openamp-sidebyside: $(nproc) CPUs, $RUNS rounds, echo-test modes: $MODES"
echo "openamp-sidebyside: OpenAMP from $D, AmpCan $AMPCAN"
[ "$(id -u)" -eq 0 ] || echo "openamp-sidebyside: not root: libmetal's interrupt thread cannot take SCHED_FIFO 99 as it does for root, so OpenAMP's figures differ from a root run"
echo "openamp-sidebyside: load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$RESULTS"
for r in $(seq "$RUNS"); do
  pair_ping_echo "$r"
  pair_ping_sim "$r"
  for m in $MODES; do pair_echotest_echo "$r" "$m"; done
done
echo "openamp-sidebyside: load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
# Summary: per pairing, the median of the per-run figures and their range.
for name in openamp-ping/openamp-echo openamp-ping/ampcan-remote-sim $(for m in $MODES; do echo "echo-test[$m]/openamp-echo"; done); do
  awk -v name="$name" 'BEGIN { n = 0 } $1 == name { a[n] = $2; b[n] = $3; c[n] = $4; n++ }
    END { if (!n) { printf "summary %-34s no successful run\n", name; exit }
          printf "summary %-34s runs %d  p50 %.1f us (%.1f..%.1f)  p99 %.1f us (%.1f..%.1f)  %.0f msgs/s (%.0f..%.0f)\n", name, n,
                 med(a), lo(a), hi(a), med(b), lo(b), hi(b), med(c), lo(c), hi(c) }
    function srt(x,  i, j, t) { for (i = 0; i < n; i++) s[i] = x[i]; for (i = 1; i < n; i++) { t = s[i]; for (j = i - 1; j >= 0 && s[j] > t; j--) s[j+1] = s[j]; s[j+1] = t } }
    function med(x) { srt(x); return s[int(n / 2)] }
    function lo(x) { srt(x); return s[0] }
    function hi(x) { srt(x); return s[n - 1] }' "$RESULTS"
done
