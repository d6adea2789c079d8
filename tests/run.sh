#!/usr/bin/env bash
# The README's test command, and what .ci/run runs: installs what the tests need, then runs every test.
#
# usage: tests/run.sh [DOTNET-TEST-OPTIONS...]     e.g. tests/run.sh --filter TestCategory=KernelVm
#
# From any directory: it works on the checkout it lives in. Safe to run again: it installs only what is missing, and
# TestResults/ (the .trx files, at the checkout's root) holds the last run only.
#   1. apt packages for the kernel-VM tests (QEMU, Debian's kernel, busybox, gcc/make for the uio_ivshmem module),
#      debootstrap for the virtio-VM root and gcc-arm-none-eabi with its binutils for the Cortex-M firmware the
#      remoteproc tests build (tests/firmware/cortex-m), the aarch64 binutils whose disassembler checks the barrier
#      code (tests/SharedMem.Tests/Ordering), through sudo when not root; a few 2 MiB huge pages and a
#      hugetlbfs mount for the hugetlbfs mapping test.
#   2. tests/kernel-vm/prepare.sh: the guest's module and the ivshmem peer, built (and the kernel headers they need
#      downloaded) once into /var/tmp/ampcan-kernel-vm, outside the checkout.
#   3. tests/virtio-vm/prepare.sh (as root only): a Debian trixie root with QEMU 11 and Debian's 7.x kernel, and Linux's
#      rpmsg drivers built from that kernel's source, made once into /var/tmp/ampcan-virtio-vm (debootstrap and ~450 MB
#      from the Debian mirror, a few minutes), for the tests that serve virtio devices to a Linux guest over vhost-user.
#   4. tests/arm-vm/prepare.sh (as root only): qemu-system-arm in that trixie root, Debian's arm64 kernel and the arm64
#      libraries .NET needs (downloaded with a private apt state, unpacked, nothing installed), and tests/ArmProbe
#      published for linux-arm64, made once into /var/tmp/ampcan-arm-vm (~100 MB from the mirror, a few minutes; the
#      publish again when the sources change), for the ArmVm tests that run the arm64 build in an emulated arm64 guest.
#   5. dotnet test AmpCan.sln -c Release --logger trx --results-directory TestResults, stopped after
#      AMPCAN_TEST_MINUTES (default 30) as a backstop: each test has its own time limit (tests/TestTimeLimit.cs), this
#      catches what lies outside one (a build, a fixture set-up, a test host that never exits).
# What cannot be installed is reported, and the tests that need it skip with the reason.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
say() { echo "tests/run.sh: $*" >&2; }

SUDO=(); [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
PKGS=(qemu-system-x86 linux-image-amd64 busybox-static cpio python3 gcc make libc6-dev kmod can-utils debootstrap wget
      gcc-arm-none-eabi binutils-arm-none-eabi binutils-aarch64-linux-gnu xz-utils)
if command -v apt-get >/dev/null && command -v dpkg-query >/dev/null; then
  missing=()
  for p in "${PKGS[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
  done
  # prepare.sh downloads the kernel's headers with apt-get download, which needs package lists (a fresh image has none).
  lists=$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' 2>/dev/null | head -1)
  if [ ${#missing[@]} -gt 0 ] || [ -z "$lists" ]; then
    if [ ${#SUDO[@]} -gt 0 ] && ! command -v sudo >/dev/null; then
      say "not root and no sudo: cannot install ${missing[*]:-package lists}; the kernel-VM tests will skip"
    else
      log=$(mktemp "${TMPDIR:-/tmp}/ampcan-apt.XXXXXX")
      say "installing ${missing[*]:-nothing (updating package lists)} (apt-get${SUDO:+ through sudo}; log in $log)"
      if "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1 &&
         { [ ${#missing[@]} -eq 0 ] || "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1; }; then
        rm -f "$log"
      else
        tail -n 20 "$log" >&2
        say "could not install ${missing[*]:-package lists} (log in $log); the tests that need them will skip and say why"
      fi
    fi
  fi
else
  say "no apt-get: install QEMU (qemu-system-x86_64), a Debian-style kernel in /boot and /lib/modules, busybox, cpio, gcc and make yourself, or the kernel-VM tests skip; and arm-none-eabi-gcc with its binutils, or the Cortex-M firmware tests skip"
fi

# Best effort, and only when missing (sudo would ask again on every run): the hugetlbfs test skips and says so without them.
hp=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
if [ "$(cat "$hp" 2>/dev/null || echo 0)" -lt 4 ] || ! grep -q " hugetlbfs " /proc/mounts; then
  "${SUDO[@]}" sh -c "[ -w $hp ] && [ \$(cat $hp) -lt 4 ] && echo 4 > $hp
    grep -q ' hugetlbfs ' /proc/mounts || { mkdir -p /dev/hugepages && mount -t hugetlbfs none /dev/hugepages; }" >/dev/null 2>&1 || true
fi

say "preparing the kernel-VM guest in ${AMPCAN_KVM_CACHE:-/var/tmp/ampcan-kernel-vm} (the first time downloads the kernel's headers)"
prep=$(bash tests/kernel-vm/prepare.sh 2>&1 >/dev/null); rc=$?
case $rc in
  0) ;;
  3) say "kernel-VM tests will skip: $prep" ;;
  *) say "preparing the kernel-VM tests failed (they will fail and say why): $prep" ;;
esac

say "preparing the virtio-VM guest in ${AMPCAN_VVM_CACHE:-/var/tmp/ampcan-virtio-vm} (the first time makes a Debian trixie root with QEMU and a kernel: a few minutes)"
prep=$(bash tests/virtio-vm/prepare.sh); rc=$?
case $rc in
  0) ;;
  3) say "virtio-VM tests will skip: $prep" ;;
  *) say "preparing the virtio-VM tests failed (they will fail and say why): $prep" ;;
esac

say "preparing the arm64 guest in ${AMPCAN_ARMVM_CACHE:-/var/tmp/ampcan-arm-vm} (the first time downloads Debian's arm64 kernel and libraries and publishes the arm64 probe: a few minutes)"
prep=$(bash tests/arm-vm/prepare.sh); rc=$?
case $rc in
  0) ;;
  3) say "ArmVm tests will skip: $prep" ;;
  *) say "preparing the ArmVm tests failed (they will fail and say why): $prep" ;;
esac

rm -rf TestResults
# In the background with the signals forwarded: timeout puts the run in a process group of its own (so that the
# backstop stops the test hosts and guests too), which the terminal's Ctrl+C no longer reaches by itself.
timeout -k 30 "$(( ${AMPCAN_TEST_MINUTES:-30} * 60 ))" \
  dotnet test AmpCan.sln -c Release --logger trx --results-directory TestResults "$@" &
run=$!
trap 'kill -INT $run 2>/dev/null' INT
trap 'kill -TERM $run 2>/dev/null' TERM
status=0; wait $run || status=$?
while kill -0 $run 2>/dev/null; do status=0; wait $run || status=$?; done
trap - INT TERM
[ $status -eq 124 ] && say "the test run did not finish within ${AMPCAN_TEST_MINUTES:-30} minutes and was stopped"
exit $status
