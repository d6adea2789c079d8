#!/usr/bin/env bash
# Builds the Cortex-M4 test firmware with Debian's gcc-arm-none-eabi (tests/run.sh installs it):
#
#   tests/firmware/cortex-m/build.sh OUTPUT-DIRECTORY      ->  OUTPUT-DIRECTORY/cm4-rpmsg.elf
#
# The output goes only where it is told, never next to the sources. Exit 3 when the toolchain is missing (the tests
# then skip and say which package to install), 2 on bad usage, otherwise the compiler's status.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 OUTPUT-DIRECTORY" >&2; exit 2; }

for tool in gcc readelf objcopy nm; do
  command -v "arm-none-eabi-$tool" >/dev/null ||
    { echo "arm-none-eabi-$tool is not on PATH (Debian's gcc-arm-none-eabi, with binutils-arm-none-eabi, has it)" >&2; exit 3; }
done

out=$(realpath -m "$1")
case "$out/" in "$here/"*) echo "build.sh: the output directory $out is inside the sources ($here)" >&2; exit 2 ;; esac
mkdir -p "$out"

# Freestanding, no C library: the firmware calls nothing it does not define. Warnings fail the build, as in the
# C# projects; --fatal-warnings also refuses a segment that is writable and executable at once.
arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os -g -std=c11 -ffreestanding -nostdlib \
  -Wall -Wextra -Werror -Wl,--fatal-warnings \
  -T "$here/stm32mp15-m4.ld" -o "$out/cm4-rpmsg.elf" \
  "$here/startup.c" "$here/resource_table.c"
