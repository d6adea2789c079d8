#!/bin/bash
# run-guest.sh — boots a throw-away QEMU (TCG) guest from the bench prepare.sh built, with vhost-user virtio devices
# whose back-ends listen on host sockets, runs one command in it, streams its output and returns its exit code.
#
# usage: run-guest.sh [OPTIONS] [--] COMMAND [ARGS...]
#        run-guest.sh [OPTIONS] --script FILE [ARGS...]
#   --rpmsg SOCK   a virtio-rpmsg device (virtio id 7, 2 queues, no config space) served by the vhost-user back-end
#                  listening on unix socket SOCK; repeatable (PCI slots 0x18, 0x19, ...; the guest's virtio0 and virtio1
#                  are the 9p shares, so the first rpmsg device is virtio2 without --share)
#   --can SOCK     a virtio-can device (virtio id 36, 3 queues, config: le16 status) served by the vhost-user back-end
#                  listening on SOCK; repeatable (PCI slots 0x10, 0x11, ...; modprobe virtio_can, then ip link set canN up)
#   --vq-size N    queue size of every vhost-user device (default 64)
#   --share DIR    host DIR read-write at the same path in the guest (repeatable)
#   --script FILE  run host FILE with bash in the guest; the remaining arguments are its arguments
#   --env NAME=VALUE  environment of the command (repeatable); --cwd DIR: its working directory (default /)
#   --timeout S    stop the guest after S seconds (default 300; exit code 124)
#   --mem MiB      guest RAM (default 512; a shared memfd, which vhost-user back-ends map)
#   --smp N        guest CPUs (default 1)
#   --append ARGS  more kernel command line
#   --verbose      the guest's console on stderr;  --timing: a timing line on stderr;  --keep: keep the run directory
#   --allow-reboot a reboot in the guest resets the machine (its virtio devices too) and runs the command again, instead
#                  of ending the run; the command tells its boots apart by a file it leaves in a --share directory
#
# The guest: Debian's kernel from trixie-backports; / is the prepared trixie root, read-only with a tmpfs overlay
# (writes outside --share directories are discarded); fresh /tmp, /run, /dev/shm; no network, no udev (nothing loads a
# module unasked). On PATH: the guest scripts of tests/virtio-vm/guest (from this checkout) and rpmsg_echo. The rpmsg
# modules and virtio_can are installed for modprobe; load virtio_rpmsg_bus before rpmsg_char (README: hard-IRQ context).
# stdin is /dev/null. Exit code: the command's; 125 when the guest failed before or while running it (the reason on
# stderr, in lines starting with "run-guest:"), 124 on timeout. Needs root (chroot and a private mount namespace).
# Env: AMPCAN_VVM_CACHE (where prepare.sh built the bench, default /var/tmp/ampcan-virtio-vm).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
C=${AMPCAN_VVM_CACHE:-/var/tmp/ampcan-virtio-vm}
R=$C/trixie
O=$R/opt/ampcan-vm
die() { echo "run-guest: $*" >&2; exit 125; }

# vhost-user device kinds: virtio id, queues, config space size, first PCI slot. A kind is an option (--KIND SOCK).
declare -A VIRTIO_ID=([rpmsg]=7 [can]=36) QUEUES=([rpmsg]=2 [can]=3) CONFIG_SIZE=([rpmsg]=0 [can]=2) FIRST_SLOT=([rpmsg]=0x18 [can]=0x10)
DEVICES=()   # "KIND SOCKET" in option order
SHARES=(); ENVS=(); SCRIPT=; CWD=/; VQ=64; TMO=300; MEM=512; SMP=1; APPEND=; VERBOSE=0; TIMING=0; KEEP=0; REBOOT=0
while [ $# -gt 0 ]; do
  case "$1" in
    --share) [ $# -ge 2 ] || die "--share needs a directory"
             d=$(realpath -e -- "$2" 2>/dev/null) && [ -d "$d" ] || die "--share: no such directory: $2"
             case "$d" in *$'\n'*) die "--share: a directory name with a newline cannot be shared: $2" ;; esac
             SHARES+=("$d"); shift 2 ;;
    --script) [ $# -ge 2 ] || die "--script needs a file"; [ -f "$2" ] && [ -r "$2" ] || die "--script: cannot read $2"
              SCRIPT=$(realpath -- "$2"); shift 2 ;;
    --env) [ $# -ge 2 ] && [[ $2 == [A-Za-z_]*=* ]] || die "--env needs NAME=VALUE"; ENVS+=("$2"); shift 2 ;;
    --cwd) [ $# -ge 2 ] || die "--cwd needs a directory"; CWD=$2; shift 2 ;;
    --vq-size) [[ ${2:-} =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] && [ "$2" -le 32768 ] && [ $(($2 & ($2 - 1))) = 0 ] ||
                 die "--vq-size wants a power of two from 1 to 32768, got '${2:-}'"; VQ=$2; shift 2 ;;
    --timeout) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--timeout wants seconds, got '${2:-}'"; TMO=$2; shift 2 ;;
    --mem) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--mem wants MiB, got '${2:-}'"; MEM=$2; shift 2 ;;
    --smp) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--smp wants a number, got '${2:-}'"; SMP=$2; shift 2 ;;
    --append) [ $# -ge 2 ] || die "--append needs arguments"; APPEND=$2; shift 2 ;;
    --verbose) VERBOSE=1; shift ;;
    --timing) TIMING=1; shift ;;
    --keep) KEEP=1; shift ;;
    --allow-reboot) REBOOT=1; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    --) shift; break ;;
    --*) kind=${1#--}
         [ -n "${VIRTIO_ID[$kind]:-}" ] || die "unknown option $1 (-h for help)"
         [ $# -ge 2 ] || die "$1 needs the back-end's socket"
         [ -S "$2" ] || die "$1: no socket at $2 (start the back-end first: QEMU connects while it starts)"
         DEVICES+=("$kind $(realpath -- "$2")"); shift 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || [ -n "$SCRIPT" ] || die "no command given (-h for help)"
[ "$(id -u)" = 0 ] || die "needs root (QEMU runs chrooted in the prepared root, in a private mount namespace)"
KVER=$(cat "$O/boot/kver" 2>/dev/null) && QDEV=$(cat "$O/boot/qemu-device" 2>/dev/null) ||
  die "the bench is not prepared in $C (run tests/virtio-vm/prepare.sh)"
INITRD=initramfs-$KVER-$(cat "$HERE/init" "$HERE/build-initramfs.sh" | md5sum | cut -c1-12).cpio.gz
[ -s "$O/boot/$INITRD" ] || die "no initramfs for this checkout's tests/virtio-vm/init in $C (run tests/virtio-vm/prepare.sh)"

# The run directory lives inside the root, where chrooted QEMU sees it, under /var/tmp. Run directories of runs that
# were killed (their owner is gone) are removed first; a run's mounts live in its own namespace and vanish with it.
for d in "$R"/var/tmp/ampcan-run.*; do
  [ -d "$d" ] || continue
  owner=$(cat "$d/owner" 2>/dev/null) || owner=
  [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null || rm -rf --one-file-system "$d"
done
RUN=$(mktemp -d "$R/var/tmp/ampcan-run.XXXXXX") || die "cannot create a run directory in $R/var/tmp"
RUNC=${RUN#"$R"}     # the same directory as QEMU and the guest see it
echo $$ >"$RUN/owner"
T_START=$(date +%s.%N)
QPID=
cleanup() {
  [ -n "$QPID" ] && kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
  if [ "$KEEP" = 1 ]; then echo "run-guest: run directory kept: $RUN" >&2; else rm -rf --one-file-system "$RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The guest scripts come from this checkout on every boot, so they are never older than the tests that use them.
mkdir "$RUN/bin" && cp "$HERE"/guest/*.sh "$RUN/bin/" && chmod +x "$RUN"/bin/*.sh || die "cannot copy the guest scripts"
{
  echo '#!/bin/bash'
  echo 'export PATH=/run/ampcan/bin:/opt/ampcan-vm/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8'
  for e in ${ENVS[@]+"${ENVS[@]}"}; do printf 'export %q\n' "$e"; done
  printf 'cd -- %q || { echo %q >&2; exit 125; }\n' "$CWD" "run-guest: the guest cannot enter $CWD"
  if [ -n "$SCRIPT" ]; then
    cp -- "$SCRIPT" "$RUN/script" || die "cannot copy $SCRIPT"
    printf 'exec /bin/bash /run/ampcan/script'
  else
    printf 'command -v -- %q >/dev/null || { echo %q >&2; exit 125; }\n' "$1" "run-guest: the guest has no command $1"
    printf 'exec'
  fi
  printf ' %q' "$@"; printf '\n'
} >"$RUN/cmd.sh"
: >"$RUN/stdout"; : >"$RUN/stderr"

B=/opt/ampcan-vm/boot
QARGS=(-accel tcg -cpu max -smp "$SMP" -m "$MEM"
       # vhost-user back-ends map guest RAM from the file descriptor QEMU sends them: it must be a shared memfd
       -object "memory-backend-memfd,id=mem,size=${MEM}M,share=on" -machine "pc,memory-backend=mem"
       -nodefaults -no-user-config -display none
       -kernel "$B/vmlinux-$KVER" -initrd "$B/$INITRD"
       -append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off random.trust_cpu=on cryptomgr.notests=1 i8042.noaux i8042.nokbd${APPEND:+ $APPEND}"
       -virtfs "local,path=/mnt/guestroot,mount_tag=root,security_model=none,readonly=on,multidevs=remap"
       -virtfs "local,path=$RUNC,mount_tag=run,security_model=none")
# A reboot ends the run unless asked for: then the machine resets (its devices too) and boots the command again.
[ $REBOOT = 1 ] || QARGS+=(-no-reboot)
BINDS=()   # "HOST-PATH|PATH-IN-RUN" bind mounts made in QEMU's mount namespace (paths may hold spaces, not '|')
declare -A COUNT=()
i=0
for dev in ${DEVICES[@]+"${DEVICES[@]}"}; do
  kind=${dev%% *}; sock=${dev#* }
  case "$sock" in *'|'*) die "--$kind: a socket path with '|' is not supported: $sock" ;; esac
  n=${COUNT[$kind]:-0}; COUNT[$kind]=$((n + 1))
  : >"$RUN/sock$i"
  BINDS+=("$sock|$RUN/sock$i")
  QARGS+=(-chardev "socket,id=vu$i,path=$RUNC/sock$i"
          -device "$QDEV,chardev=vu$i,virtio-id=${VIRTIO_ID[$kind]},num_vqs=${QUEUES[$kind]},vq_size=$VQ,config_size=${CONFIG_SIZE[$kind]},addr=$(printf '0x%x' $((${FIRST_SLOT[$kind]} + n)))")
  i=$((i + 1))
done
i=0
for d in ${SHARES[@]+"${SHARES[@]}"}; do
  case "$d" in *'|'*) die "--share: a directory with '|' in its path is not supported: $d" ;; esac
  mkdir "$RUN/share$i"
  BINDS+=("$d|$RUN/share$i")
  QARGS+=(-virtfs "local,path=$RUNC/share$i,mount_tag=share$i,security_model=none,multidevs=remap")
  printf '%s %s\n' "$i" "$d" >>"$RUN/shares"
  i=$((i + 1))
done
if [ "$VERBOSE" = 1 ]; then QARGS+=(-serial stdio); QOUT=/dev/stderr; else QARGS+=(-serial "file:$RUNC/console.log"); QOUT=$RUN/qemu.out; fi

# QEMU runs chrooted in the root, in a private mount namespace: the guest's / is a non-recursive bind of the root (so the
# /proc mounted for QEMU is not exported), the sockets and shares are bound into the run directory. All of it vanishes
# with the namespace when QEMU exits.
NS='
R=$1; n=$2; shift 2
mount --bind "$R" "$R/mnt/guestroot" && mount -t proc proc "$R/proc" || exit 125
while [ "$n" -gt 0 ]; do
  mount --bind "${1%%|*}" "${1#*|}" || { echo "run-guest: cannot bind ${1%%|*} into the run directory" >&2; exit 125; }
  shift; n=$((n - 1))
done
exec chroot "$R" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root qemu-system-x86_64 "$@"'
timeout -k 5 "$TMO" unshare -m --propagation private -- /bin/sh -c "$NS" sh "$R" "${#BINDS[@]}" ${BINDS[@]+"${BINDS[@]}"} \
  "${QARGS[@]}" </dev/null >"$QOUT" 2>&1 &
QPID=$!
# shellcheck source=../guest-outcome.sh
. "$HERE/../guest-outcome.sh"
guest_outcome run-guest "$RUN" "$TMO" "--verbose shows its console" "$TIMING"
exit "$RC"
