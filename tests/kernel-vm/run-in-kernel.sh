#!/bin/bash
# run-in-kernel.sh — run a command inside a throw-away QEMU guest running Debian's stock kernel
# (which has vcan/can-raw/can-bcm/can-gw/cuse), chrooted to the HOST root filesystem.
#
# usage: run-in-kernel.sh [--ro DIR]... [--rw DIR]... [--ivshmem PATH:SIZE]... [--ivshmem-doorbell SOCK[:VECTORS]]...
#                         [--] COMMAND [ARGS...]
#
# Guest view:
#   /            host root, read-only over virtio-9p, with a tmpfs overlay on top
#                (writes succeed but are discarded when the guest powers off)
#   /tmp, /run, /dev/shm  fresh tmpfs (host /tmp, /run and /dev/shm are NOT visible)
#   --ro DIR     host DIR mounted read-only at the same path, cached (the guest may miss host changes made while it
#                runs), repeatable. Mount what the command needs (the checkout, its binaries, the .NET install) so that
#                it works wherever they live, /tmp included.
#   --rw DIR     host DIR mounted read-write at the same path (writes reach the host), repeatable
#   --ivshmem PATH:SIZE   add an ivshmem-plain PCI device (1af4:1110, no interrupts) whose BAR2 is the
#                host file PATH (e.g. /dev/shm/NAME; created if missing, grown to SIZE), shared both
#                ways while the guest runs. SIZE: bytes or K/M/G suffix, power of two. Repeatable.
#   --ivshmem-doorbell SOCK[:VECTORS]   add an ivshmem-doorbell PCI device (1af4:1110, MSI-X only,
#                VECTORS default 1) connected to an ivshmem server listening on unix socket SOCK
#                (e.g. ivsh-host from ivshmem-tools/; Debian ships no ivshmem-server). The server must
#                be running before the guest starts; it supplies the shared memory. Repeatable.
#   Devices get PCI slots 0x10, 0x11, ... in option order (guest BDFs 0000:00:10.0, 0000:00:11.0, ...).
#   Module uio is loaded; bind drivers in COMMAND (see README: uio_pci_generic, uio_ivshmem).
#   vcan0, vcan1, vcan2 up; modules vcan can-raw can-bcm can-gw cuse loaded; /dev/cuse present
#   cwd = host $PWD, environment = host exported environment, stdin = /dev/null, uid 0
# The working directory and COMMAND must be visible in the guest (refused before boot otherwise); an argument naming
# an existing host path the guest will not see gets a warning.
# stdout/stderr of COMMAND are streamed to this script's stdout/stderr; the exit code is propagated.
# Exit codes: COMMAND's own, or 125 if the guest failed before/while running it (the reason is printed on stderr,
# each line starting with "run-in-kernel:"), 124 on timeout.
#
# Env knobs: RIK_MEM (MiB, default 4096), RIK_SMP (default 2), RIK_TIMEOUT (seconds, default 1800),
#            RIK_ACCEL (default tcg; kvm does NOT work on this host: kvm_pvm only runs PVM guests),
#            RIK_VERBOSE=1 (guest console to stderr), RIK_TIMING=1 (print timing summary to stderr),
#            RIK_KEEP=1 (keep the run directory), RIK_CACHE (where the extracted kernel and initramfs live).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KVER=${RIK_KVER:-$(ls /lib/modules | grep -- '-amd64$' | sort -V | tail -1)}
VMLINUZ=/boot/vmlinuz-$KVER
# Uncompressed ELF vmlinux extracted from the bzImage: QEMU boots it via PVH (no real-mode setup,
# no in-guest xz decompression), which saves ~3.4 s per run under TCG.
CACHE=${RIK_CACHE:-/var/tmp/ampcan-kernel-vm}
mkdir -p "$CACHE"
KERNEL=$CACHE/vmlinux-$KVER
# initramfs keyed by the content of init + build-initramfs.sh, so that copies of these scripts with
# different init scripts can share one cache directory without overwriting each other's initramfs
INITRD=$CACHE/initramfs-$KVER-$(cat "$HERE/init" "$HERE/build-initramfs.sh" | md5sum | cut -c1-12).cpio.gz

die() { echo "run-in-kernel: $*" >&2; exit 125; }

# Host directories to mount in the guest: path -> ro or rw (rw wins when both are asked for).
declare -A MOUNTS=()
mount_dir() { # MODE DIR
  local d
  d=$(realpath -e -- "$2" 2>/dev/null) && [ -d "$d" ] || die "--$1: no such directory: $2"
  [ "${MOUNTS[$d]:-}" = rw ] || MOUNTS[$d]=$1
}
IVP=(); IVD=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rw|--ro) [ $# -ge 2 ] || die "$1 needs a directory"; mount_dir "${1#--}" "$2"; shift 2 ;;
    --rw=*|--ro=*) m=${1%%=*}; mount_dir "${m#--}" "${1#*=}"; shift ;;
    --) shift; break ;;
    --ivshmem) [ $# -ge 2 ] || die "--ivshmem needs PATH:SIZE"; IVP+=("$2"); shift 2 ;;
    --ivshmem=*) IVP+=("${1#--ivshmem=}"); shift ;;
    --ivshmem-doorbell) [ $# -ge 2 ] || die "--ivshmem-doorbell needs SOCK[:VECTORS]"; IVD+=("$2"); shift 2 ;;
    --ivshmem-doorbell=*) IVD+=("${1#--ivshmem-doorbell=}"); shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || die "usage: $0 [--ro DIR]... [--rw DIR]... [--] COMMAND [ARGS...]"
# What the guest sees of the host: everything but the fresh file systems init mounts over it, unless a --ro/--rw
# mount brings a directory back. Refuse what cannot work before spending a boot on it.
HIDDEN=(/tmp /run /dev/shm)
under() { [ "$1" = "$2" ] || [ "${1#"$2"/}" != "$1" ]; } # PATH DIR: PATH is DIR or below it
guest_sees() { # PATH (absolute, resolved)
  local m h
  for m in "${!MOUNTS[@]}"; do under "$1" "$m" && return 0; done
  for h in "${HIDDEN[@]}"; do under "$1" "$h" && return 1; done
  return 0
}
hidden_hint="the guest has a fresh /tmp, /run and /dev/shm; pass --ro DIR (or --rw DIR) for the directory holding it"
guest_sees "$(realpath -m -- "$PWD")" || die "the guest cannot see the working directory $PWD ($hidden_hint, or cd elsewhere)"
# The guest runs COMMAND with the host's PATH over the host's root: what the host cannot find, neither can the guest.
case "$1" in
  */*) cmd=$1 ;;
  *) cmd=$(type -P -- "$1") || cmd= ;;
esac
[ -n "$cmd" ] && [ -e "$cmd" ] || die "no such command: $1"
guest_sees "$(realpath -m -- "$cmd")" || die "the guest cannot see the command $1 ($hidden_hint)"
for a in "${@:2}"; do
  case "$a" in /*) [ -e "$a" ] && ! guest_sees "$(realpath -m -- "$a")" && echo "run-in-kernel: warning: the guest will not see $a ($hidden_hint)" >&2 ;; esac
done
[ -r "$VMLINUZ" ] || die "kernel $VMLINUZ missing (apt-get install linux-image-amd64; tests/run.sh installs it)"
if [ ! -s "$KERNEL" ] || [ "$VMLINUZ" -nt "$KERNEL" ]; then
  python3 - "$VMLINUZ" "$KERNEL.tmp.$$" <<'PY' && mv "$KERNEL.tmp.$$" "$KERNEL" || { rm -f "$KERNEL.tmp.$$"; KERNEL=$VMLINUZ; }
import lzma, sys
d = open(sys.argv[1], 'rb').read()
i = d.find(b'\xfd7zXZ\x00')
if i < 0: sys.exit(1)
open(sys.argv[2], 'wb').write(lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(d[i:]))
PY
fi
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (apt-get install qemu-system-x86; tests/run.sh installs it)"
if [ ! -s "$INITRD" ] || [ "$HERE/init" -nt "$INITRD" ] || [ "$HERE/build-initramfs.sh" -nt "$INITRD" ]; then
  # built aside and renamed: two runs starting at once (parallel test assemblies) must not boot a half-written one
  KVER=$KVER OUT=$INITRD.tmp.$$ "$HERE/build-initramfs.sh" >&2 && mv "$INITRD.tmp.$$" "$INITRD" || { rm -f "$INITRD.tmp.$$"; die "initramfs build failed"; }
fi

T_START=$(date +%s.%N)
RUN=$(mktemp -d "${TMPDIR:-/tmp}/rik.XXXXXX") || die "mktemp failed"
QPID=
cleanup() {
  [ -n "$QPID" ] && kill "$QPID" 2>/dev/null
  [ "${RIK_KEEP:-0}" = 1 ] && echo "run-in-kernel: run dir kept: $RUN" >&2 || rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# command script executed by the guest (host bash, in the chroot)
{
  echo '#!/bin/bash'
  export -p | grep -vE '^declare -x (PWD|OLDPWD|SHLVL|_)(=|$)'
  say='printf "run-in-kernel: %s\\n"'
  printf 'cd -- %q 2>/dev/null || { %s %q >&2; exit 125; }\n' "$PWD" "$say" "the guest cannot enter the working directory $PWD"
  printf 'command -v -- %q >/dev/null || { %s %q >&2; exit 125; }\n' "$1" "$say" "the guest cannot find the command $1"
  printf 'exec'; printf ' %q' "$@"; printf '\n'
} > "$RUN/cmd.sh"
: > "$RUN/stdout"; : > "$RUN/stderr"

QARGS=(-accel "${RIK_ACCEL:-tcg}" -cpu max -m "${RIK_MEM:-4096}" -smp "${RIK_SMP:-2}"
       -nodefaults -no-user-config -display none -no-reboot
       -kernel "$KERNEL" -initrd "$INITRD"
       -append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off random.trust_cpu=on cryptomgr.notests=1 i8042.noaux i8042.nokbd"
       -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
       -virtfs "local,path=$RUN,mount_tag=run,security_model=none")
# One 9p share per directory, listed for init as "TAG MODE PATH" lines, parents before children (a parent's path
# sorts before its children's in byte order) so that a directory inside another mount is mounted on top of it.
i=0
while IFS= read -r d; do
  [ -n "$d" ] || continue
  mode=${MOUNTS[$d]}
  ro=; [ "$mode" = ro ] && ro=,readonly=on
  QARGS+=(-virtfs "local,path=${d//,/,,},mount_tag=m$i,security_model=none,multidevs=remap$ro")  # QEMU doubles commas
  printf 'm%s %s %s\n' "$i" "$mode" "$d" >> "$RUN/mounts"
  i=$((i+1))
done < <(printf '%s\n' "${!MOUNTS[@]}" | LC_ALL=C sort)
# ivshmem devices (QEMU 7.2 syntax). Sizes must be powers of two (PCI BAR).
tobytes() { numfmt --from=iec -- "$1" 2>/dev/null; }
slot=16; n=0
for spec in ${IVP[@]+"${IVP[@]}"}; do
  path=${spec%:*}; size=${spec##*:}
  [ "$path" != "$spec" ] && [ -n "$path" ] || die "--ivshmem wants PATH:SIZE, got $spec"
  b=$(tobytes "$size") && [ "$b" -gt 0 ] && [ $((b & (b-1))) = 0 ] || die "--ivshmem size must be a power of two: $size"
  QARGS+=(-object "memory-backend-file,id=ivshm$n,share=on,mem-path=$path,size=$b"
          -device "ivshmem-plain,memdev=ivshm$n,addr=$(printf '0x%x' $slot)")
  slot=$((slot+1)); n=$((n+1))
done
for spec in ${IVD[@]+"${IVD[@]}"}; do
  sock=${spec%%:*}; vec=1; [ "$sock" != "$spec" ] && vec=${spec#*:}
  [ -S "$sock" ] || die "--ivshmem-doorbell: no server socket at $sock (start the ivshmem server first)"
  QARGS+=(-chardev "socket,path=$sock,id=ivshc$n"
          -device "ivshmem-doorbell,chardev=ivshc$n,vectors=$vec,addr=$(printf '0x%x' $slot)")
  slot=$((slot+1)); n=$((n+1))
done
if [ "${RIK_VERBOSE:-0}" = 1 ]; then
  QARGS+=(-serial file:/dev/stderr)
else
  QARGS+=(-serial "file:$RUN/console.log")
fi

timeout --foreground -k 5 "${RIK_TIMEOUT:-1800}" qemu-system-x86_64 "${QARGS[@]}" </dev/null >"$RUN/qemu.out" 2>&1 &
QPID=$!
# shellcheck source=../guest-outcome.sh
. "$HERE/../guest-outcome.sh"
guest_outcome run-in-kernel "$RUN" "${RIK_TIMEOUT:-1800}" "RIK_VERBOSE=1 shows its whole console" "${RIK_TIMING:-0}"
exit "$RC"
