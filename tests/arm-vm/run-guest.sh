#!/bin/bash
# run-guest.sh — boots the arm64 guest tests/arm-vm/prepare.sh made (qemu-system-aarch64 -M virt, TCG, Debian's arm64
# kernel) with ivshmem-plain devices over host files, runs one command in it and returns the command's exit code.
#
# usage: run-guest.sh [--ivshmem PATH:SIZE]... [--env NAME=VALUE]... [--cpu MODEL] [--smp N] [--mem MIB]
#                     [--timeout S] [--verbose] [--timing] [--keep] [--script FILE] [--] COMMAND [ARGS...]
#
#   --ivshmem PATH:SIZE  an ivshmem-plain PCI device (1af4:1110, no interrupts) whose BAR2 is the host file PATH
#                        (created if missing, grown to SIZE, e.g. /dev/shm/NAME), shared both ways while the guest
#                        runs. SIZE: bytes or a K/M suffix, a power of two. Devices take PCI slots 0x10, 0x11, ... in
#                        option order: guest BDF 0000:00:10.0, 0000:00:11.0, ... Repeatable.
#   --cpu MODEL          the vCPU (default cortex-a57: an ARMv8.0 core like the Cortex-A53 boards); --smp (default 2),
#                        --mem (MiB, default 1024), --timeout (seconds, default 300)
#   --script FILE        copy FILE (a host file) into the guest and run it with /bin/sh, ARGS as its arguments
#   --host-qemu          run the host's own qemu-system-aarch64 (e.g. Debian 12's 7.2) instead of the root's, to compare
#                        emulators (7.2 does not fault on unaligned Device-memory accesses; see docs/arm-vm.md); also
#                        when AMPCAN_ARMVM_HOST_QEMU=1 (so the tests can be run against it)
#   --verbose            the guest's console on stderr; --timing: a timing line on stderr; --keep: keep the run dir
# In the guest: / is the arm64 guest root (read-only; busybox, glibc, libstdc++, the probe at /opt/armprobe), fresh
# /tmp, /run and /dev/shm; modules uio and uio_pci_generic are loaded; no network. COMMAND runs under /bin/sh.
# stdout/stderr of COMMAND stream to this script's; exit code: COMMAND's, 125 when the guest failed before or while
# running it (the reason in lines starting with "run-guest:"), 124 on timeout. Needs root (chroot, mount namespace).
# Env: AMPCAN_ARMVM_CACHE (default /var/tmp/ampcan-arm-vm), AMPCAN_VVM_CACHE (the root QEMU runs in).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
C=${AMPCAN_ARMVM_CACHE:-/var/tmp/ampcan-arm-vm}
VC=${AMPCAN_VVM_CACHE:-/var/tmp/ampcan-virtio-vm}
R=$VC/trixie
die() { echo "run-guest: $*" >&2; exit 125; }

IVSHMEM=(); ENVS=(); SCRIPT=; HOSTQ=${AMPCAN_ARMVM_HOST_QEMU:-0}; CPU=cortex-a57; SMP=2; MEM=1024; TMO=300; VERBOSE=0; TIMING=0; KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --ivshmem) [ $# -ge 2 ] || die "--ivshmem needs PATH:SIZE"; IVSHMEM+=("$2"); shift 2 ;;
    --env) [ $# -ge 2 ] && [[ $2 == [A-Za-z_]*=* ]] || die "--env needs NAME=VALUE"; ENVS+=("$2"); shift 2 ;;
    --cpu) [ $# -ge 2 ] || die "--cpu needs a model"; CPU=$2; shift 2 ;;
    --smp) [[ ${2:-} =~ ^[1-8]$ ]] || die "--smp wants 1 to 8, got '${2:-}'"; SMP=$2; shift 2 ;;
    --mem) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--mem wants MiB, got '${2:-}'"; MEM=$2; shift 2 ;;
    --timeout) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--timeout wants seconds, got '${2:-}'"; TMO=$2; shift 2 ;;
    --script) [ $# -ge 2 ] && [ -f "$2" ] && [ -r "$2" ] || die "--script: cannot read ${2:-(nothing given)}"; SCRIPT=$2; shift 2 ;;
    --host-qemu) HOSTQ=1; shift ;;
    --verbose) VERBOSE=1; shift ;;
    --timing) TIMING=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    --) shift; break ;;
    --*) die "unknown option $1 (-h for help)" ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || [ -n "$SCRIPT" ] || die "no command given (-h for help)"
[ "$(id -u)" = 0 ] || die "needs root (QEMU runs chrooted in the virtio-VM root, in a private mount namespace)"
[ $HOSTQ = 0 ] || command -v qemu-system-aarch64 >/dev/null || die "--host-qemu: no qemu-system-aarch64 on this host (apt-get install qemu-system-arm)"
{ [ $HOSTQ = 1 ] || [ -x "$R/usr/bin/qemu-system-aarch64" ]; } && [ -s "$C/boot/Image" ] && [ -s "$C/boot/initramfs.cpio.gz" ] && [ -d "$C/root/opt" ] ||
  die "the arm64 guest is not prepared in $C (run tests/arm-vm/prepare.sh)"
INITRD=$(readlink "$C/boot/initramfs.cpio.gz")
[ "$INITRD" = "initramfs-$(readlink "$C/boot/Image" | sed 's/^Image-//')-$(cat "$HERE/init" "$HERE/prepare.sh" | md5sum | cut -c1-12).cpio.gz" ] ||
  die "the initramfs in $C was made from another tests/arm-vm/init or prepare.sh (run tests/arm-vm/prepare.sh)"

# The run directory lives inside the root QEMU is chrooted to, under /var/tmp; those of runs whose owner is gone go first.
for d in "$R"/var/tmp/ampcan-armrun.*; do
  [ -d "$d" ] || continue
  owner=$(cat "$d/owner" 2>/dev/null) || owner=
  [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null || rm -rf --one-file-system "$d"
done
RUN=$(mktemp -d "$R/var/tmp/ampcan-armrun.XXXXXX") || die "cannot create a run directory in $R/var/tmp"
RUNC=${RUN#"$R"}     # the same directory as QEMU sees it
[ $HOSTQ = 1 ] && RUNC=$RUN
echo $$ >"$RUN/owner"
mkdir "$RUN/io" "$RUN/root" "$RUN/boot"
T_START=$(date +%s.%N)
QPID=
cleanup() {
  [ -n "$QPID" ] && kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
  if [ "$KEEP" = 1 ]; then echo "run-guest: run directory kept: $RUN" >&2; else rm -rf --one-file-system "$RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

{
  echo '#!/bin/sh'
  echo 'export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DOTNET_EnableDiagnostics=0'
  for e in ${ENVS[@]+"${ENVS[@]}"}; do printf 'export %s\n' "$(printf '%q' "$e")"; done
  echo 'cd /tmp'
  if [ -n "$SCRIPT" ]; then
    cp -- "$SCRIPT" "$RUN/io/script" || die "cannot copy $SCRIPT"
    printf 'exec /bin/sh /run/ampcan/script'
  else
    printf 'exec'
  fi
  printf ' %q' "$@"; printf '\n'
} >"$RUN/io/cmd.sh"
: >"$RUN/io/stdout"; : >"$RUN/io/stderr"

BINDS=("$C/root|$RUN/root" "$C/boot|$RUN/boot")   # "HOST-PATH|PATH-IN-RUN", made in QEMU's mount namespace
QARGS=(-accel tcg,thread=multi -machine virt -cpu "$CPU" -smp "$SMP" -m "$MEM"
       -nodefaults -no-user-config -display none -no-reboot
       -kernel "$RUNC/boot/Image" -initrd "$RUNC/boot/$INITRD"
       -append "console=ttyAMA0 quiet loglevel=3 panic=-1 rdinit=/init"
       -virtfs "local,path=$RUNC/root,mount_tag=root,security_model=none,readonly=on,multidevs=remap"
       -virtfs "local,path=$RUNC/io,mount_tag=run,security_model=none")
tobytes() { numfmt --from=iec -- "$1" 2>/dev/null; }
n=0
for spec in ${IVSHMEM[@]+"${IVSHMEM[@]}"}; do
  path=${spec%:*}; size=${spec##*:}
  [ "$path" != "$spec" ] && [ -n "$path" ] || die "--ivshmem wants PATH:SIZE, got $spec"
  b=$(tobytes "$size") && [ "$b" -gt 0 ] && [ $((b & (b - 1))) = 0 ] || die "--ivshmem size must be a power of two: $size"
  case "$path" in *'|'*) die "--ivshmem: a path with '|' is not supported: $path" ;; esac
  [ -e "$path" ] || : >"$path" || die "--ivshmem: cannot create $path"
  [ "$(stat -c %s "$path")" -ge "$b" ] || truncate -s "$b" "$path" || die "--ivshmem: cannot grow $path to $b bytes"
  : >"$RUN/ivsh$n"
  BINDS+=("$(realpath "$path")|$RUN/ivsh$n")
  QARGS+=(-object "memory-backend-file,id=ivshm$n,share=on,mem-path=$RUNC/ivsh$n,size=$b"
          -device "ivshmem-plain,memdev=ivshm$n,addr=$(printf '0x%x' $((16 + n)))")
  n=$((n + 1))
done
if [ "$VERBOSE" = 1 ]; then QARGS+=(-serial stdio); QOUT=/dev/stderr; else QARGS+=(-serial "file:$RUNC/io/console.log"); QOUT=$RUN/io/qemu.out; fi

NS='
R=$1; n=$2; shift 2
mount -t proc proc "$R/proc" || exit 125
while [ "$n" -gt 0 ]; do
  mount --bind "${1%%|*}" "${1#*|}" || { echo "run-guest: cannot bind ${1%%|*} into the run directory" >&2; exit 125; }
  shift; n=$((n - 1))
done
exec chroot "$R" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root qemu-system-aarch64 "$@"'
[ $HOSTQ = 1 ] && NS='
R=$1; n=$2; shift 2
while [ "$n" -gt 0 ]; do
  mount --bind "${1%%|*}" "${1#*|}" || { echo "run-guest: cannot bind ${1%%|*} into the run directory" >&2; exit 125; }
  shift; n=$((n - 1))
done
exec qemu-system-aarch64 "$@"'
timeout -k 5 "$TMO" unshare -m --propagation private -- /bin/sh -c "$NS" sh "$R" "${#BINDS[@]}" "${BINDS[@]}" \
  "${QARGS[@]}" </dev/null >"$QOUT" 2>&1 &
QPID=$!
# shellcheck source=../guest-outcome.sh
. "$HERE/../guest-outcome.sh"
guest_outcome run-guest "$RUN/io" "$TMO" "--verbose shows its console" "$TIMING"
exit "$RC"
