#!/usr/bin/env python3
"""rpmsg_char_cases.py: the Python twin of rpmsg_char_cases.c. It runs the same fixed script of cases against
rpmsg_char-style files and must print the same bytes; read the C program's header for the arguments, the results and
the ABI. Standard library only, and only what Debian's python3-minimal carries (os, errno, fcntl, select, struct, threading,
subprocess, signal, time), Python 3.9 or later.

usage: rpmsg_char_cases.py [--dir DIR] [--dst ADDR] [--crash-cmd CMD] [--recover-cmd CMD]

The ABI, from include/uapi/linux/rpmsg.h (Linux 7.3.4): struct rpmsg_endpoint_info { char name[32]; __u32 src;
__u32 dst; } (40 bytes, native byte order), RPMSG_ADDR_ANY 0xFFFFFFFF, and the ioctls _IOW(0xb5, 1..4) and _IOR(0xb5,
5..6, int), computed below with the kernel's _IOC layout and checked against their literal values at start.
RPMSG_SET_INCOMING_FLOWCONTROL takes the value itself as its argument (rpmsg_char.c tests "arg > 1").
"""
import errno
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time

ENDPOINT_INFO = struct.Struct("=32sII")
ADDR_ANY = 0xFFFFFFFF


def _ioc(direction, type_, nr, size):
    # asm-generic/ioctl.h: nr bits 0-7, type 8-15, size 16-29, direction 30-31 (1 write, 2 read).
    return (direction << 30) | (size << 16) | (type_ << 8) | nr


CREATE_EPT = _ioc(1, 0xB5, 0x1, ENDPOINT_INFO.size)
DESTROY_EPT = _ioc(0, 0xB5, 0x2, 0)
CREATE_DEV = _ioc(1, 0xB5, 0x3, ENDPOINT_INFO.size)
RELEASE_DEV = _ioc(1, 0xB5, 0x4, ENDPOINT_INFO.size)
GET_OUTGOING_FLOWCONTROL = _ioc(2, 0xB5, 0x5, 4)
SET_INCOMING_FLOWCONTROL = _ioc(2, 0xB5, 0x6, 4)
UNKNOWN_IOCTL = _ioc(1, 0xB5, 0x7F, ENDPOINT_INFO.size)  # neither file knows it; shaped like the real ones
assert ENDPOINT_INFO.size == 40
assert (CREATE_EPT, DESTROY_EPT, CREATE_DEV, RELEASE_DEV, GET_OUTGOING_FLOWCONTROL, SET_INCOMING_FLOWCONTROL,
        UNKNOWN_IOCTL) == (0x4028B501, 0xB502, 0x4028B503, 0x4028B504, 0x8004B505, 0x8004B506, 0x4028B57F)
MAX_PAYLOAD = 496

CALL_LIMIT = 10
CRASH_LIMIT = 60
RECOVER_LIMIT = 120
READER_LIMIT = 10.0

# The C program's table, in the same order; ENOTSUPP is the kernel-internal 524.
ERRNO_NAMES = {}
for _name in ("EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG EBADF EAGAIN ENOMEM EACCES EFAULT EBUSY EEXIST ENODEV ENOTDIR "
              "EISDIR EINVAL ENOSPC ENOTTY ESPIPE EROFS EPIPE ERANGE ENOSYS ENOMSG ENODATA ENOLINK EPROTO EBADMSG "
              "EOVERFLOW EMSGSIZE EOPNOTSUPP ENOBUFS ENOTCONN ESHUTDOWN ETIMEDOUT ECONNREFUSED ECONNRESET ENETRESET "
              "ENETDOWN EHOSTDOWN ESTALE ECANCELED ENOTRECOVERABLE").split():
    ERRNO_NAMES.setdefault(getattr(errno, _name), _name)
ERRNO_NAMES.setdefault(524, "ENOTSUPP")

POLL_BITS = [(0x001, "POLLIN"), (0x002, "POLLPRI"), (0x004, "POLLOUT"), (0x008, "POLLERR"), (0x010, "POLLHUP"),
             (0x020, "POLLNVAL"), (0x040, "POLLRDNORM"), (0x080, "POLLRDBAND"), (0x100, "POLLWRNORM"),
             (0x200, "POLLWRBAND"), (0x400, "POLLMSG"), (0x2000, "POLLRDHUP")]
ALL_EVENTS = 0x001 | 0x002 | 0x004 | 0x040 | 0x080 | 0x100 | 0x200 | 0x400 | 0x2000

# read's syscall number, for telling from /proc that the reader is inside read().
SYS_READ = {"x86_64": 0, "aarch64": 63, "riscv64": 63, "armv7l": 3, "armv6l": 3, "i686": 3}.get(os.uname().machine)

steps = 0


def step(name, result):
    global steps
    print(f"STEP {name} {result}", flush=True)
    steps += 1


def errname(e):
    return "errno=" + ERRNO_NAMES.get(e, str(e))


class Watchdog(Exception):
    """A guarded call outlived its limit."""


def _on_alarm(signum, frame):
    raise Watchdog()


def guarded(limit, fn, *args):
    """fn(*args) under a repeating SIGALRM (as the C program's): returns ("ok", value), ("err", errno) or ("watchdog",)."""
    signal.setitimer(signal.ITIMER_REAL, limit, 0.2)
    try:
        return ("ok", fn(*args))
    except Watchdog:
        return ("watchdog",)
    except OSError as e:
        return ("err", e.errno)
    except ValueError:
        # Python refuses a negative descriptor (one whose open failed) where C's call answers EBADF.
        return ("err", errno.EBADF)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)


def r_ret(res):
    if res[0] == "watchdog":
        return "watchdog"
    if res[0] == "err":
        return errname(res[1])
    return f"ret={res[1]}"


def r_ok(res):
    return "watchdog" if res[0] == "watchdog" else errname(res[1]) if res[0] == "err" else "ok"


def do_open(path):
    """(result, fd or -1)."""
    res = guarded(CALL_LIMIT, os.open, path, os.O_RDWR)
    return r_ok(res), res[1] if res[0] == "ok" else -1


def do_close(fd):
    return r_ok(guarded(CALL_LIMIT, os.close, fd))


def do_ioctl(fd, cmd, arg):
    if isinstance(arg, bytearray):
        return r_ret(guarded(CALL_LIMIT, fcntl.ioctl, fd, cmd, arg, True))
    return r_ret(guarded(CALL_LIMIT, fcntl.ioctl, fd, cmd, arg))


def do_read(fd, size):
    """(result, bytes or None)."""
    res = guarded(CALL_LIMIT, os.read, fd, size)
    if res[0] == "ok":
        return f"ret={len(res[1])}", res[1]
    return r_ret(res), None


def do_write(fd, data):
    return r_ret(guarded(CALL_LIMIT, os.write, fd, data))


def revents_text(revents):
    if revents == 0:
        return "revents=0"
    names, left = [], revents
    for bit, name in POLL_BITS:
        if revents & bit:
            names.append(name)
            left &= ~bit
    if left:
        names.append(f"0x{left:x}")
    return "revents=" + "|".join(names)


def do_poll(fd, events, timeout_ms):
    if fd < 0:
        return "revents=0"  # poll(2) ignores a negative descriptor, as the C program's call does
    def once():
        p = select.poll()
        p.register(fd, events)
        got = p.poll(timeout_ms)
        return got[0][1] if got else 0
    res = guarded(CALL_LIMIT + timeout_ms // 1000, once)
    if res[0] == "ok":
        return revents_text(res[1])
    return r_ret(res)


def set_nonblock(fd, on):
    try:
        fl = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, fl | os.O_NONBLOCK if on else fl & ~os.O_NONBLOCK)
        return "ok"
    except OSError as e:
        return errname(e.errno)
    except ValueError:
        return errname(errno.EBADF)


def pattern(n):
    return bytes((i * 31 + n * 7 + 1) & 0xFF for i in range(n))


def echo(fd, n):
    """Writes one message of n bytes and reads one back: "ok", or what went wrong first."""
    out = pattern(n)
    w = guarded(CALL_LIMIT, os.write, fd, out)
    if w[0] == "watchdog":
        return "write-watchdog"
    if w[0] == "err":
        return "write-" + errname(w[1])
    if w[1] != n:
        return f"write-ret={w[1]}"
    r = guarded(CALL_LIMIT, os.read, fd, 512)
    if r[0] == "watchdog":
        return "read-watchdog"
    if r[0] == "err":
        return "read-" + errname(r[1])
    if len(r[1]) != n:
        return f"read-ret={len(r[1])}"
    return "ok" if r[1] == out else "bytes-differ"


def numbered(name, prefix):
    rest = name[len(prefix):]
    return int(rest) if name.startswith(prefix) and rest and rest.isdigit() and rest.isascii() else None


def list_names(directory):
    """The directory's names; [] when it cannot be read, None when the listing outlived its limit."""
    res = guarded(CALL_LIMIT, os.listdir, directory)
    return None if res[0] == "watchdog" else res[1] if res[0] == "ok" else []


def list_eptdevs(directory):
    """The numbers of the DIR/rpmsgN files; None when the listing outlived its limit."""
    names = list_names(directory)
    return None if names is None else {n for n in (numbered(x, "rpmsg") for x in names) if n is not None}


def find_ctrl(directory):
    """The lowest-numbered DIR/rpmsg_ctrlN; None when there is none, WATCHDOG when the listing outlived its limit."""
    names = list_names(directory)
    if names is None:
        return WATCHDOG
    nums = [n for n in (numbered(x, "rpmsg_ctrl") for x in names) if n is not None]
    return os.path.join(directory, f"rpmsg_ctrl{min(nums)}") if nums else None


WATCHDOG = "watchdog"


def endpoint_info(name, src, dst):
    return bytearray(ENDPOINT_INFO.pack(name.encode(), src, dst))


def create_and_find(name, directory, ctrl, cmd, ept_name, src, dst):
    """The ioctl's step, then "NAME-new-files" with how many DIR/rpmsgN appeared; the new one's path (or one of none)."""
    before = list_eptdevs(directory)
    step(name, do_ioctl(ctrl, cmd, endpoint_info(ept_name, src, dst)))
    after = list_eptdevs(directory)
    if before is None or after is None:
        fresh = set()
        step(f"{name}-new-files", "watchdog")
    else:
        fresh = after - before
        step(f"{name}-new-files", f"ret={len(fresh)}")
    return os.path.join(directory, f"rpmsg{next(iter(fresh))}" if len(fresh) == 1 else "rpmsg-none")


def run_command(cmd, limit):
    """CMD through /bin/sh -c in its own process group, stdout to our stderr: "ret=<status>" or "watchdog"."""
    sys.stdout.flush()
    try:
        proc = subprocess.Popen(["/bin/sh", "-c", cmd], stdout=sys.stderr, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    except OSError as e:
        return errname(e.errno)
    try:
        code = proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        for target in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
            try:
                target()
            except OSError:
                pass
        proc.wait()
        return "watchdog"
    return f"ret={code if code >= 0 else 128 - code}"


def blocked_in_read(tid, fd):
    try:
        with open(f"/proc/self/task/{tid}/syscall") as f:
            line = f.read()
    except OSError:
        return False
    return SYS_READ is not None and line.startswith(f"{SYS_READ} 0x{fd:x} ")


def crash_part(directory, dst, crash_cmd, recover_cmd):
    if not crash_cmd or not recover_cmd:
        step("crash", "skipped")
        return
    ctrl_path = find_ctrl(directory)
    if ctrl_path in (None, WATCHDOG):
        ctrl_path = os.path.join(directory, "rpmsg_ctrl-none")
    res, ctrl = do_open(ctrl_path)
    step("crash-open-ctrl", res)
    ept_path = create_and_find("crash-create-ept", directory, ctrl, CREATE_EPT, "ampcan-cmp", ADDR_ANY, dst)
    res, ept = do_open(ept_path)
    step("crash-open-ept", res)
    step("crash-echo", echo(ept, 64))

    # The reader: a thread blocked in read(); signals stay with the main thread. If it outlives its limit it is left
    # behind (Python cannot interrupt it), reported as a watchdog.
    outcome = {}

    def reader():
        outcome["tid"] = threading.get_native_id()
        try:
            outcome["ret"] = ("ok", os.read(ept, 512))
        except OSError as e:
            outcome["ret"] = ("err", e.errno)
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    blocked = False
    for _ in range(500):
        if not th.is_alive():
            break
        if "tid" in outcome and blocked_in_read(outcome["tid"], ept):
            blocked = True
            break
        time.sleep(0.01)
    step("crash-reader-blocked", "ok" if blocked else "watchdog")
    step("crash-cmd", run_command(crash_cmd, CRASH_LIMIT))
    th.join(READER_LIMIT)
    if th.is_alive():
        step("crash-blocked-read", "watchdog")
    else:
        ret = outcome["ret"]
        step("crash-blocked-read", f"ret={len(ret[1])}" if ret[0] == "ok" else errname(ret[1]))
    step("crash-read", do_read(ept, 512)[0])
    step("crash-write", do_write(ept, pattern(32)))
    step("crash-poll", do_poll(ept, ALL_EVENTS, 0))
    res, again = do_open(ept_path)
    step("crash-open-path", res)
    if again >= 0:
        os.close(again)
    step("crash-close-ept", do_close(ept))
    step("crash-close-ctrl", do_close(ctrl))

    step("recover-cmd", run_command(recover_cmd, RECOVER_LIMIT))
    ctrl_path = find_ctrl(directory)
    step("recover-find-ctrl", "errno=ENOENT" if ctrl_path is None else WATCHDOG if ctrl_path == WATCHDOG else "ok")
    if ctrl_path in (None, WATCHDOG):
        ctrl_path = os.path.join(directory, "rpmsg_ctrl-none")
    res, ctrl = do_open(ctrl_path)
    step("recover-open-ctrl", res)
    ept_path = create_and_find("recover-create-ept", directory, ctrl, CREATE_EPT, "ampcan-cmp", ADDR_ANY, dst)
    res, ept = do_open(ept_path)
    step("recover-open-ept", res)
    step("recover-echo", echo(ept, 64))
    step("recover-destroy-ept", do_ioctl(ept, DESTROY_EPT, 0))
    step("recover-close-ept", do_close(ept))
    step("recover-close-ctrl", do_close(ctrl))


def usage_exit(why):
    print(f"rpmsg_char_cases: could not start: {why}\n"
          "usage: rpmsg_char_cases [--dir DIR] [--dst ADDR] [--crash-cmd CMD] [--recover-cmd CMD]", file=sys.stderr)
    sys.stdout.flush()
    os._exit(2)


def main(argv):
    directory, dst, crash_cmd, recover_cmd = "/dev", 0x400, None, None
    i = 0
    while i < len(argv):
        if i + 1 >= len(argv):
            usage_exit("an option without its value, or an unknown argument")
        a, v = argv[i], argv[i + 1]
        i += 2
        if a == "--dir":
            directory = v
        elif a == "--dst":
            try:
                dst = int(v, 0)
            except ValueError:
                dst = -1
            if not 0 <= dst < ADDR_ANY:
                usage_exit("--dst wants an address (0x400 or 1024)")
        elif a == "--crash-cmd":
            crash_cmd = v
        elif a == "--recover-cmd":
            recover_cmd = v
        else:
            usage_exit("unknown option")
    signal.signal(signal.SIGALRM, _on_alarm)
    ctrl_path = find_ctrl(directory)
    if ctrl_path in (None, WATCHDOG):
        why = "listing took too long:" if ctrl_path == WATCHDOG else "no rpmsg_ctrl* in"
        print(f"rpmsg_char_cases: could not start: {why} {directory}", file=sys.stderr)
        return 2

    res, ctrl = do_open(ctrl_path)
    step("open-ctrl", res)
    ept_path = create_and_find("create-ept", directory, ctrl, CREATE_EPT, "ampcan-cmp", ADDR_ANY, dst)
    res, ept = do_open(ept_path)
    step("open-ept", res)
    res, other = do_open(ept_path)
    step("open-ept-again", res)
    if other >= 0:
        do_close(other)

    bad = None
    for n in range(1, MAX_PAYLOAD + 1):
        r = echo(ept, n)
        if r != "ok":
            bad = f"size={n} {r}"
            break
    step("echo-sizes-1-496", bad or "ok")
    step("write-497", do_write(ept, pattern(MAX_PAYLOAD + 1)))

    want = pattern(100)
    step("short-read-write-100", do_write(ept, want))
    res, got = do_read(ept, 10)
    step("short-read-10", res)
    step("short-read-bytes", "ok" if got == want[:10] else "bytes-differ")
    step("short-read-set-nonblock", set_nonblock(ept, True))
    step("short-read-rest", do_read(ept, 512)[0])
    step("short-read-clear-nonblock", set_nonblock(ept, False))

    step("nonblock-read-empty-set", set_nonblock(ept, True))
    step("nonblock-read-empty", do_read(ept, 512)[0])
    step("nonblock-read-empty-clear", set_nonblock(ept, False))

    step("poll-empty", do_poll(ept, ALL_EVENTS, 0))
    step("poll-echo-write", do_write(ept, pattern(16)))
    # Wait for the echo with POLLIN alone (POLLOUT would end the wait at once), then ask for everything.
    waited = do_poll(ept, 0x001, int(READER_LIMIT * 1000))
    step("poll-wait-echo", "watchdog" if waited == "revents=0" else waited)
    step("poll-after-echo", do_poll(ept, ALL_EVENTS, 0))
    step("poll-echo-read", do_read(ept, 512)[0])

    step("unknown-ioctl-ept", do_ioctl(ept, UNKNOWN_IOCTL, bytearray(ENDPOINT_INFO.size)))
    step("unknown-ioctl-ctrl", do_ioctl(ctrl, UNKNOWN_IOCTL, bytearray(ENDPOINT_INFO.size)))
    flow = bytearray(struct.pack("=i", 0x5A5A5A5A))
    fr = do_ioctl(ept, GET_OUTGOING_FLOWCONTROL, flow)
    step("get-outgoing-flowcontrol", f"ret=0 value={struct.unpack('=i', flow)[0]}" if fr == "ret=0" else fr)
    step("set-incoming-flowcontrol-1", do_ioctl(ept, SET_INCOMING_FLOWCONTROL, 1))
    step("set-incoming-flowcontrol-2", do_ioctl(ept, SET_INCOMING_FLOWCONTROL, 2))

    step("destroy-ept", do_ioctl(ept, DESTROY_EPT, 0))
    res, other = do_open(ept_path)
    step("open-destroyed-path", res)
    if other >= 0:
        do_close(other)
    step("read-destroyed", do_read(ept, 512)[0])
    step("write-destroyed", do_write(ept, pattern(16)))
    step("poll-destroyed", do_poll(ept, ALL_EVENTS, 0))
    step("destroy-ept-again", do_ioctl(ept, DESTROY_EPT, 0))
    step("close-destroyed", do_close(ept))

    ept_path = create_and_find("create-ept-2", directory, ctrl, CREATE_EPT, "ampcan-cmp", ADDR_ANY, dst)
    res, ept = do_open(ept_path)
    step("open-ept-2", res)
    step("echo-ept-2", echo(ept, 32))
    step("close-ept-2", do_close(ept))
    res, ept = do_open(ept_path)
    step("reopen-ept-2", res)
    step("echo-ept-2-reopened", echo(ept, 32))
    step("destroy-ept-2", do_ioctl(ept, DESTROY_EPT, 0))
    step("close-ept-2-destroyed", do_close(ept))

    dev_path = create_and_find("create-dev", directory, ctrl, CREATE_DEV, "rpmsg-raw", 0x500, dst)
    res, dev = do_open(dev_path)
    step("open-dev", res)
    step("echo-dev", echo(dev, 32))
    step("destroy-ept-on-dev", do_ioctl(dev, DESTROY_EPT, 0))
    step("close-dev", do_close(dev))
    step("create-dev-again", do_ioctl(ctrl, CREATE_DEV, endpoint_info("rpmsg-raw", 0x500, dst)))
    step("release-dev", do_ioctl(ctrl, RELEASE_DEV, endpoint_info("rpmsg-raw", 0x500, dst)))
    res, other = do_open(dev_path)
    step("open-released-dev", res)
    if other >= 0:
        do_close(other)
    step("release-dev-again", do_ioctl(ctrl, RELEASE_DEV, endpoint_info("rpmsg-raw", 0x500, dst)))
    step("close-ctrl", do_close(ctrl))

    crash_part(directory, dst, crash_cmd, recover_cmd)
    print(f"SUMMARY steps={steps}", flush=True)
    return 0


if __name__ == "__main__":
    # os._exit: a reader thread left behind in read() must not hold the exit up.
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
