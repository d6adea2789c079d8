/*
 * rpmsg_char_cases.c — one fixed script of cases against rpmsg_char-style files (Linux's /dev/rpmsg_ctrlN and
 * /dev/rpmsgN, or AmpCan's CUSE devices or FUSE files), printing one "STEP <name> <result>" line per step and a last
 * "SUMMARY steps=N". Its twin rpmsg_char_cases.py runs the same script and must print the same bytes; the kernel's own
 * transcript is tests/rpmsg-char/expected.txt.
 *
 * usage: rpmsg_char_cases [--dir DIR] [--dst ADDR] [--crash-cmd CMD] [--recover-cmd CMD]
 *   --dir DIR          where rpmsg_ctrl* and rpmsg* live (default /dev); files need not be character devices
 *   --dst ADDR         the remote's echo endpoint (default 0x400: every target announces "rpmsg-echo" there)
 *   --crash-cmd CMD    run by /bin/sh -c at the crash point, with an endpoint open and a reader blocked in read
 *   --recover-cmd CMD  run by /bin/sh -c after everything is closed; returns when the control file is back
 * Without the two commands the crash part is reported as skipped.
 *
 * Only open, ioctl, read, write, poll, close and fcntl(F_SETFL, O_NONBLOCK) touch the files; readdir finds them. Results
 * are "ok", "ret=N", "errno=ENAME", "revents=POLLx|..." (names in a fixed order), or "watchdog" when a call did not
 * return within its time limit (every call that may block runs under a repeating SIGALRM without SA_RESTART, so it
 * returns EINTR instead of hanging). Nothing that differs between runs or targets is printed (no paths, numbers of
 * files, addresses, timings). The commands' own output goes to stderr. Exit 0 when the script ran to its end whatever
 * the results, 2 when it could not start (bad arguments, no rpmsg_ctrl* in DIR).
 *
 * The ABI, from include/uapi/linux/rpmsg.h (Linux 7.3.4, the kernel of tests/virtio-vm), restated here so that the
 * program builds where the installed header is older (Debian 12's lacks the flow-control ioctls); where a header
 * defines them they are asserted equal at compile time:
 *   #define RPMSG_ADDR_ANY 0xFFFFFFFF
 *   struct rpmsg_endpoint_info { char name[32]; __u32 src; __u32 dst; };
 *   RPMSG_CREATE_EPT_IOCTL          _IOW(0xb5, 0x1, struct rpmsg_endpoint_info)   0x4028b501
 *   RPMSG_DESTROY_EPT_IOCTL         _IO(0xb5, 0x2)                                0x0000b502
 *   RPMSG_CREATE_DEV_IOCTL          _IOW(0xb5, 0x3, struct rpmsg_endpoint_info)   0x4028b503
 *   RPMSG_RELEASE_DEV_IOCTL         _IOW(0xb5, 0x4, struct rpmsg_endpoint_info)   0x4028b504
 *   RPMSG_GET_OUTGOING_FLOWCONTROL  _IOR(0xb5, 0x5, int)                          0x8004b505
 *   RPMSG_SET_INCOMING_FLOWCONTROL  _IOR(0xb5, 0x6, int)                          0x8004b506
 * RPMSG_SET_INCOMING_FLOWCONTROL's argument is the value itself, not a pointer, despite _IOR: rpmsg_char.c's
 * rpmsg_eptdev_ioctl tests "arg > 1" (EINVAL) and passes !!arg on. The payload limit 496 is virtio_rpmsg_bus's
 * 512-byte buffer less its 16-byte header (rpmsg_send_offchannel_raw: EMSGSIZE above it).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<linux/rpmsg.h>)
#include <linux/rpmsg.h>
#endif
#endif

struct cmp_endpoint_info {
    char name[32];
    uint32_t src;
    uint32_t dst;
};

#define CMP_ADDR_ANY 0xFFFFFFFFu
#define CMP_CREATE_EPT 0x4028b501u
#define CMP_DESTROY_EPT 0x0000b502u
#define CMP_CREATE_DEV 0x4028b503u
#define CMP_RELEASE_DEV 0x4028b504u
#define CMP_GET_OUTGOING_FLOWCONTROL 0x8004b505u
#define CMP_SET_INCOMING_FLOWCONTROL 0x8004b506u
/* An ioctl neither file knows, shaped like the real ones (a valid pointer to an endpoint info). */
#define CMP_UNKNOWN_IOCTL 0x4028b57fu
#define CMP_MAX_PAYLOAD 496

_Static_assert(sizeof(struct cmp_endpoint_info) == 40, "struct rpmsg_endpoint_info is 40 bytes");
_Static_assert(CMP_CREATE_EPT == _IOW(0xb5, 0x1, struct cmp_endpoint_info), "RPMSG_CREATE_EPT_IOCTL");
_Static_assert(CMP_DESTROY_EPT == _IO(0xb5, 0x2), "RPMSG_DESTROY_EPT_IOCTL");
_Static_assert(CMP_CREATE_DEV == _IOW(0xb5, 0x3, struct cmp_endpoint_info), "RPMSG_CREATE_DEV_IOCTL");
_Static_assert(CMP_RELEASE_DEV == _IOW(0xb5, 0x4, struct cmp_endpoint_info), "RPMSG_RELEASE_DEV_IOCTL");
_Static_assert(CMP_GET_OUTGOING_FLOWCONTROL == _IOR(0xb5, 0x5, int), "RPMSG_GET_OUTGOING_FLOWCONTROL");
_Static_assert(CMP_SET_INCOMING_FLOWCONTROL == _IOR(0xb5, 0x6, int), "RPMSG_SET_INCOMING_FLOWCONTROL");
_Static_assert(CMP_UNKNOWN_IOCTL == _IOW(0xb5, 0x7f, struct cmp_endpoint_info), "the unknown ioctl");
#ifdef RPMSG_ADDR_ANY
_Static_assert(RPMSG_ADDR_ANY == CMP_ADDR_ANY, "RPMSG_ADDR_ANY");
_Static_assert(sizeof(struct rpmsg_endpoint_info) == sizeof(struct cmp_endpoint_info), "struct rpmsg_endpoint_info");
_Static_assert(__builtin_offsetof(struct rpmsg_endpoint_info, src) == 32, "rpmsg_endpoint_info.src");
_Static_assert(__builtin_offsetof(struct rpmsg_endpoint_info, dst) == 36, "rpmsg_endpoint_info.dst");
#endif
#ifdef RPMSG_CREATE_EPT_IOCTL
_Static_assert(RPMSG_CREATE_EPT_IOCTL == CMP_CREATE_EPT, "RPMSG_CREATE_EPT_IOCTL");
_Static_assert(RPMSG_DESTROY_EPT_IOCTL == CMP_DESTROY_EPT, "RPMSG_DESTROY_EPT_IOCTL");
#endif
#ifdef RPMSG_CREATE_DEV_IOCTL
_Static_assert(RPMSG_CREATE_DEV_IOCTL == CMP_CREATE_DEV, "RPMSG_CREATE_DEV_IOCTL");
_Static_assert(RPMSG_RELEASE_DEV_IOCTL == CMP_RELEASE_DEV, "RPMSG_RELEASE_DEV_IOCTL");
#endif
#ifdef RPMSG_GET_OUTGOING_FLOWCONTROL
_Static_assert(RPMSG_GET_OUTGOING_FLOWCONTROL == CMP_GET_OUTGOING_FLOWCONTROL, "RPMSG_GET_OUTGOING_FLOWCONTROL");
_Static_assert(RPMSG_SET_INCOMING_FLOWCONTROL == CMP_SET_INCOMING_FLOWCONTROL, "RPMSG_SET_INCOMING_FLOWCONTROL");
#endif

/* Time limits: a call (seconds), the crash and recover commands, the blocked reader after the crash. */
#define CALL_LIMIT 10
#define CRASH_LIMIT 60
#define RECOVER_LIMIT 120
#define READER_LIMIT_MS 10000

/* errno names, in the same table as the Python twin's (numbers from the Linux uapi errno headers; ENOTSUPP is the
 * kernel-internal 524 that some paths leak to user space). Anything else prints as its number. */
static const struct { int num; const char *name; } ERRNOS[] = {
    {EPERM, "EPERM"}, {ENOENT, "ENOENT"}, {ESRCH, "ESRCH"}, {EINTR, "EINTR"}, {EIO, "EIO"}, {ENXIO, "ENXIO"},
    {E2BIG, "E2BIG"}, {EBADF, "EBADF"}, {EAGAIN, "EAGAIN"}, {ENOMEM, "ENOMEM"}, {EACCES, "EACCES"},
    {EFAULT, "EFAULT"}, {EBUSY, "EBUSY"}, {EEXIST, "EEXIST"}, {ENODEV, "ENODEV"}, {ENOTDIR, "ENOTDIR"},
    {EISDIR, "EISDIR"}, {EINVAL, "EINVAL"}, {ENOSPC, "ENOSPC"}, {ENOTTY, "ENOTTY"}, {ESPIPE, "ESPIPE"},
    {EROFS, "EROFS"}, {EPIPE, "EPIPE"}, {ERANGE, "ERANGE"}, {ENOSYS, "ENOSYS"}, {ENOMSG, "ENOMSG"},
    {ENODATA, "ENODATA"}, {ENOLINK, "ENOLINK"}, {EPROTO, "EPROTO"}, {EBADMSG, "EBADMSG"}, {EOVERFLOW, "EOVERFLOW"},
    {EMSGSIZE, "EMSGSIZE"}, {EOPNOTSUPP, "EOPNOTSUPP"}, {ENOBUFS, "ENOBUFS"}, {ENOTCONN, "ENOTCONN"},
    {ESHUTDOWN, "ESHUTDOWN"}, {ETIMEDOUT, "ETIMEDOUT"}, {ECONNREFUSED, "ECONNREFUSED"}, {ECONNRESET, "ECONNRESET"},
    {ENETRESET, "ENETRESET"}, {ENETDOWN, "ENETDOWN"}, {EHOSTDOWN, "EHOSTDOWN"}, {ESTALE, "ESTALE"},
    {ECANCELED, "ECANCELED"}, {ENOTRECOVERABLE, "ENOTRECOVERABLE"}, {524, "ENOTSUPP"},
};

/* poll bits by name in a fixed order (Linux's asm-generic/poll.h values, the same on every architecture we run). */
static const struct { unsigned bit; const char *name; } POLLBITS[] = {
    {0x001, "POLLIN"}, {0x002, "POLLPRI"}, {0x004, "POLLOUT"}, {0x008, "POLLERR"}, {0x010, "POLLHUP"},
    {0x020, "POLLNVAL"}, {0x040, "POLLRDNORM"}, {0x080, "POLLRDBAND"}, {0x100, "POLLWRNORM"}, {0x200, "POLLWRBAND"},
    {0x400, "POLLMSG"}, {0x2000, "POLLRDHUP"},
};
/* Every event a file could report: what a front end adds beyond the kernel's answer must show. */
#define ALL_EVENTS (0x001 | 0x002 | 0x004 | 0x040 | 0x080 | 0x100 | 0x200 | 0x400 | 0x2000)

static char g_dir[4096] = "/dev";
static uint32_t g_dst = 0x400;
static const char *g_crash_cmd, *g_recover_cmd;
static int g_steps;
static char g_res[256];

static void step(const char *name, const char *fmt, ...)
{
    char result[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(result, sizeof result, fmt, ap);
    va_end(ap);
    printf("STEP %s %s\n", name, result);
    g_steps++;
}

static const char *errname(int e)
{
    static char buf[32];
    for (size_t i = 0; i < sizeof ERRNOS / sizeof ERRNOS[0]; i++)
        if (ERRNOS[i].num == e) { snprintf(buf, sizeof buf, "errno=%s", ERRNOS[i].name); return buf; }
    snprintf(buf, sizeof buf, "errno=%d", e);
    return buf;
}

static const char *revents_text(int n, unsigned revents)
{
    static char buf[256];
    if (n < 0) return errname(errno);
    if (revents == 0) return "revents=0";
    strcpy(buf, "revents=");
    unsigned left = revents;
    int first = 1;
    for (size_t i = 0; i < sizeof POLLBITS / sizeof POLLBITS[0]; i++) {
        if (!(revents & POLLBITS[i].bit)) continue;
        if (!first) strcat(buf, "|");
        strcat(buf, POLLBITS[i].name);
        first = 0;
        left &= ~POLLBITS[i].bit;
    }
    if (left) snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s0x%x", first ? "" : "|", left);
    return buf;
}

/* ---- the watchdog: a SIGALRM without SA_RESTART interrupts the guarded call; it repeats every 200 ms after the limit,
 * so a call entered just after a firing is still interrupted. */
static volatile sig_atomic_t g_fired;
static void on_alarm(int sig) { (void)sig; g_fired = 1; }
static void arm(int seconds)
{
    struct itimerval t = {{0, 200000}, {seconds, 0}};
    g_fired = 0;
    setitimer(ITIMER_REAL, &t, NULL);
}
static int disarm(void)
{
    struct itimerval t = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &t, NULL);
    return g_fired;
}

/* Guarded calls; each returns the result text of the step. */
static const char *r_ret(long r, int e, int fired)
{
    if (fired) return "watchdog";
    if (r < 0) return errname(e);
    snprintf(g_res, sizeof g_res, "ret=%ld", r);
    return g_res;
}
static const char *r_ok(long r, int e, int fired)
{
    if (fired) return "watchdog";
    return r < 0 ? errname(e) : "ok";
}

static const char *do_open(const char *path, int *fd)
{
    arm(CALL_LIMIT);
    int r = open(path, O_RDWR | O_CLOEXEC);
    int e = errno, f = disarm();
    if (r >= 0 && f) { close(r); r = -1; }
    *fd = r;
    return r_ok(r, e, f);
}
static const char *do_close(int *fd)
{
    arm(CALL_LIMIT);
    int r = close(*fd);
    int e = errno, f = disarm();
    *fd = -1;
    return r_ok(r, e, f);
}
static const char *do_ioctl(int fd, unsigned long cmd, unsigned long arg)
{
    arm(CALL_LIMIT);
    long r = ioctl(fd, cmd, arg);
    int e = errno, f = disarm();
    return r_ret(r, e, f);
}
static const char *do_read(int fd, void *buf, size_t len, long *got)
{
    arm(CALL_LIMIT);
    long r = read(fd, buf, len);
    int e = errno, f = disarm();
    *got = f ? -1 : r;
    return r_ret(r, e, f);
}
static const char *do_write(int fd, const void *buf, size_t len)
{
    arm(CALL_LIMIT);
    long r = write(fd, buf, len);
    int e = errno, f = disarm();
    return r_ret(r, e, f);
}
static const char *do_poll(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    arm(CALL_LIMIT + timeout_ms / 1000);
    int n = poll(&p, 1, timeout_ms);
    int e = errno, f = disarm();
    if (f) return "watchdog";
    errno = e;
    return revents_text(n, n > 0 ? (unsigned)p.revents : 0);
}
static const char *set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return errname(errno);
    if (fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) < 0) return errname(errno);
    return "ok";
}

static void pattern(unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)(i * 31 + n * 7 + 1);
}

/* Writes one message of n bytes and reads one back: "ok", or what went wrong first. */
static const char *echo(int fd, size_t n)
{
    static char res[64];
    unsigned char out[CMP_MAX_PAYLOAD + 16], in[512];
    pattern(out, n);
    arm(CALL_LIMIT);
    long w = write(fd, out, n);
    int e = errno;
    if (disarm()) return "write-watchdog";
    if (w < 0) { snprintf(res, sizeof res, "write-%s", errname(e)); return res; }
    if ((size_t)w != n) { snprintf(res, sizeof res, "write-ret=%ld", w); return res; }
    arm(CALL_LIMIT);
    long r = read(fd, in, sizeof in);
    e = errno;
    if (disarm()) return "read-watchdog";
    if (r < 0) { snprintf(res, sizeof res, "read-%s", errname(e)); return res; }
    if ((size_t)r != n) { snprintf(res, sizeof res, "read-ret=%ld", r); return res; }
    if (memcmp(in, out, n) != 0) return "bytes-differ";
    return "ok";
}

/* ---- the files ---------------------------------------------------------------------------------------------------- */
/* Whether name is PREFIX followed by one or more digits and nothing else. */
static int numbered(const char *name, const char *prefix, long *num)
{
    size_t l = strlen(prefix);
    if (strncmp(name, prefix, l) != 0 || name[l] == '\0') return 0;
    for (const char *p = name + l; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    *num = strtol(name + l, NULL, 10);
    return 1;
}

#define MAX_FILES 1024
/* The numbers of the DIR/rpmsgN files (endpoint devices); returns how many, -1 when the listing outlived its limit. */
static int list_eptdevs(long *nums)
{
    int n = 0;
    arm(CALL_LIMIT);
    DIR *d = opendir(g_dir);
    if (d) {
        struct dirent *de;
        long num;
        while ((de = readdir(d)) != NULL && n < MAX_FILES)
            if (numbered(de->d_name, "rpmsg", &num)) nums[n++] = num;
        closedir(d);
    }
    return disarm() ? -1 : n;
}

/* The lowest-numbered DIR/rpmsg_ctrlN into path: 1, 0 when there is none, -1 when the listing outlived its limit. */
static int find_ctrl(char *path, size_t size)
{
    long num, best = -1;
    arm(CALL_LIMIT);
    DIR *d = opendir(g_dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            if (numbered(de->d_name, "rpmsg_ctrl", &num) && (best < 0 || num < best)) best = num;
        closedir(d);
    }
    if (disarm()) return -1;
    if (best < 0) return 0;
    snprintf(path, size, "%s/rpmsg_ctrl%ld", g_dir, best);
    return 1;
}

/* Runs an ioctl that should make one new DIR/rpmsgN (CREATE_EPT, CREATE_DEV): its step, then a step "NAME-new-files"
 * with how many appeared; the path of the new one (or of none, which open then answers ENOENT). */
static void create_and_find(const char *name, int ctrl, unsigned long cmd, const char *ept_name, uint32_t src, char *path,
                            size_t size)
{
    static long before[MAX_FILES], after[MAX_FILES];
    struct cmp_endpoint_info info;
    memset(&info, 0, sizeof info);
    strncpy(info.name, ept_name, sizeof info.name - 1);
    info.src = src;
    info.dst = g_dst;
    int nb = list_eptdevs(before);
    step(name, "%s", do_ioctl(ctrl, cmd, (unsigned long)&info));
    int na = list_eptdevs(after), fresh = 0;
    long found = -1;
    for (int i = 0; i < na; i++) {
        int seen = 0;
        for (int j = 0; j < nb; j++) seen |= before[j] == after[i];
        if (!seen) { fresh++; found = after[i]; }
    }
    char sub[128];
    snprintf(sub, sizeof sub, "%s-new-files", name);
    if (nb < 0 || na < 0) { step(sub, "watchdog"); fresh = 0; }
    else step(sub, "ret=%d", fresh);
    if (fresh == 1) snprintf(path, size, "%s/rpmsg%ld", g_dir, found);
    else snprintf(path, size, "%s/rpmsg-none", g_dir);
}

/* ---- commands ----------------------------------------------------------------------------------------------------- */
/* Runs CMD through /bin/sh -c in its own process group, its stdout sent to our stderr; "ret=<exit status>" (128 + the
 * signal when killed), or "watchdog" when it outlived limit seconds (the group is then killed). */
static const char *run_command(const char *cmd, int limit)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return errname(errno);
    if (pid == 0) {
        setpgid(0, 0);
        dup2(2, 1);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    int status = 0;
    arm(limit);
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR && !g_fired) {}
    if (disarm() || w < 0) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return "watchdog";
    }
    snprintf(g_res, sizeof g_res, "ret=%d", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return g_res;
}

/* ---- the reader blocked across the crash -------------------------------------------------------------------------- */
struct reader {
    int fd, done_pipe[2];
    pid_t tid;
    long ret;
    int err;
};
static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    unsigned char buf[512];
    rd->tid = (pid_t)syscall(SYS_gettid);
    long r = read(rd->fd, buf, sizeof buf);
    rd->err = errno;
    rd->ret = r;
    if (write(rd->done_pipe[1], "x", 1) < 0) {}
    return NULL;
}
/* Whether thread tid is inside read(fd) (its /proc syscall line: the syscall number, then the fd in hex). */
static int blocked_in_read(pid_t tid, int fd)
{
    char path[64], line[256], want[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    snprintf(want, sizeof want, "%ld 0x%x ", (long)SYS_read, fd);
    return ok && strncmp(line, want, strlen(want)) == 0;
}

static void crash_part(void)
{
    char ctrl_path[4200], ept_path[4200];
    int ctrl = -1, ept = -1;
    if (!g_crash_cmd || !g_recover_cmd) {
        step("crash", "skipped");
        return;
    }
    if (find_ctrl(ctrl_path, sizeof ctrl_path) <= 0) snprintf(ctrl_path, sizeof ctrl_path, "%s/rpmsg_ctrl-none", g_dir);
    step("crash-open-ctrl", "%s", do_open(ctrl_path, &ctrl));
    create_and_find("crash-create-ept", ctrl, CMP_CREATE_EPT, "ampcan-cmp", CMP_ADDR_ANY, ept_path, sizeof ept_path);
    step("crash-open-ept", "%s", do_open(ept_path, &ept));
    step("crash-echo", "%s", echo(ept, 64));

    /* The reader: SIGALRM stays with the main thread (blocked in the reader). A reader that outlives its limit is left
     * behind in its read, as the Python twin's must be (Python cannot interrupt a thread), so that both see the same
     * afterwards; its state and its pipe are static and stay open for it. */
    static struct reader rd;
    rd = (struct reader){.fd = ept, .tid = 0, .ret = 0, .err = 0};
    sigset_t alrm, old;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_t th;
    int started = pipe2(rd.done_pipe, O_CLOEXEC) == 0;
    pthread_sigmask(SIG_BLOCK, &alrm, &old);
    started = started && pthread_create(&th, NULL, reader_main, &rd) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    int blocked = 0;
    if (started) {
        /* Wait until the reader is inside read() on the fd (its /proc syscall line says so), at most 5 s. */
        for (int i = 0; i < 500 && !blocked; i++) {
            pid_t tid = __atomic_load_n(&rd.tid, __ATOMIC_ACQUIRE);
            struct pollfd p = {.fd = rd.done_pipe[0], .events = POLLIN};
            if (poll(&p, 1, 0) > 0) break;   /* returned already: reported below */
            if (tid && blocked_in_read(tid, ept)) blocked = 1;
            else nanosleep(&(struct timespec){0, 10000000}, NULL);
        }
    }
    step("crash-reader-blocked", "%s", !started ? "not-started" : blocked ? "ok" : "watchdog");
    step("crash-cmd", "%s", run_command(g_crash_cmd, CRASH_LIMIT));
    if (started) {
        struct pollfd p = {.fd = rd.done_pipe[0], .events = POLLIN};
        int n;
        do n = poll(&p, 1, READER_LIMIT_MS); while (n < 0 && errno == EINTR);
        if (n > 0) {
            pthread_join(th, NULL);
            step("crash-blocked-read", "%s", r_ret(rd.ret, rd.err, 0));
            close(rd.done_pipe[0]);
            close(rd.done_pipe[1]);
        } else {
            step("crash-blocked-read", "watchdog");
            pthread_detach(th);
        }
    } else {
        step("crash-blocked-read", "not-started");
    }
    unsigned char buf[512];
    long got;
    step("crash-read", "%s", do_read(ept, buf, sizeof buf, &got));
    pattern(buf, 32);
    step("crash-write", "%s", do_write(ept, buf, 32));
    step("crash-poll", "%s", do_poll(ept, ALL_EVENTS, 0));
    int again = -1;
    step("crash-open-path", "%s", do_open(ept_path, &again));
    if (again >= 0) close(again);
    step("crash-close-ept", "%s", do_close(&ept));
    step("crash-close-ctrl", "%s", do_close(&ctrl));

    step("recover-cmd", "%s", run_command(g_recover_cmd, RECOVER_LIMIT));
    int found = find_ctrl(ctrl_path, sizeof ctrl_path);
    step("recover-find-ctrl", "%s", found > 0 ? "ok" : found < 0 ? "watchdog" : "errno=ENOENT");
    if (found <= 0) snprintf(ctrl_path, sizeof ctrl_path, "%s/rpmsg_ctrl-none", g_dir);
    step("recover-open-ctrl", "%s", do_open(ctrl_path, &ctrl));
    create_and_find("recover-create-ept", ctrl, CMP_CREATE_EPT, "ampcan-cmp", CMP_ADDR_ANY, ept_path, sizeof ept_path);
    step("recover-open-ept", "%s", do_open(ept_path, &ept));
    step("recover-echo", "%s", echo(ept, 64));
    step("recover-destroy-ept", "%s", do_ioctl(ept, CMP_DESTROY_EPT, 0));
    step("recover-close-ept", "%s", do_close(&ept));
    step("recover-close-ctrl", "%s", do_close(&ctrl));
}

static void usage_exit(const char *why)
{
    fprintf(stderr, "rpmsg_char_cases: could not start: %s\n"
                    "usage: rpmsg_char_cases [--dir DIR] [--dst ADDR] [--crash-cmd CMD] [--recover-cmd CMD]\n", why);
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) usage_exit("an option without its value, or an unknown argument");
        const char *v = argv[++i];
        if (strcmp(a, "--dir") == 0) {
            if (strlen(v) >= sizeof g_dir - 64) usage_exit("--dir is too long");
            strcpy(g_dir, v);
        } else if (strcmp(a, "--dst") == 0) {
            char *end;
            errno = 0;
            unsigned long d = strtoul(v, &end, 0);
            if (errno || *end || end == v || d >= CMP_ADDR_ANY) usage_exit("--dst wants an address (0x400 or 1024)");
            g_dst = (uint32_t)d;
        } else if (strcmp(a, "--crash-cmd") == 0) g_crash_cmd = v;
        else if (strcmp(a, "--recover-cmd") == 0) g_recover_cmd = v;
        else usage_exit("unknown option");
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;   /* no SA_RESTART: a blocked call returns EINTR */
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    char ctrl_path[4200], ept_path[4200], dev_path[4200];
    int found = find_ctrl(ctrl_path, sizeof ctrl_path);
    if (found <= 0) {
        fprintf(stderr, "rpmsg_char_cases: could not start: %s %s\n",
                found < 0 ? "listing took too long:" : "no rpmsg_ctrl* in", g_dir);
        return 2;
    }

    int ctrl = -1, ept = -1, dev = -1, other = -1;
    unsigned char buf[512], want[CMP_MAX_PAYLOAD + 1];
    long got;
    struct cmp_endpoint_info zero;
    memset(&zero, 0, sizeof zero);

    step("open-ctrl", "%s", do_open(ctrl_path, &ctrl));
    create_and_find("create-ept", ctrl, CMP_CREATE_EPT, "ampcan-cmp", CMP_ADDR_ANY, ept_path, sizeof ept_path);
    step("open-ept", "%s", do_open(ept_path, &ept));
    step("open-ept-again", "%s", do_open(ept_path, &other));
    if (other >= 0) do_close(&other);

    const char *bad = NULL;
    size_t n;
    for (n = 1; n <= CMP_MAX_PAYLOAD && !bad; n++) {
        const char *r = echo(ept, n);
        if (strcmp(r, "ok") != 0) bad = r;
    }
    if (bad) step("echo-sizes-1-496", "size=%zu %s", n - 1, bad);
    else step("echo-sizes-1-496", "ok");
    pattern(want, CMP_MAX_PAYLOAD + 1);
    step("write-497", "%s", do_write(ept, want, CMP_MAX_PAYLOAD + 1));

    pattern(want, 100);
    step("short-read-write-100", "%s", do_write(ept, want, 100));
    step("short-read-10", "%s", do_read(ept, buf, 10, &got));
    step("short-read-bytes", "%s", got == 10 && memcmp(buf, want, 10) == 0 ? "ok" : "bytes-differ");
    step("short-read-set-nonblock", "%s", set_nonblock(ept, 1));
    step("short-read-rest", "%s", do_read(ept, buf, sizeof buf, &got));
    step("short-read-clear-nonblock", "%s", set_nonblock(ept, 0));

    step("nonblock-read-empty-set", "%s", set_nonblock(ept, 1));
    step("nonblock-read-empty", "%s", do_read(ept, buf, sizeof buf, &got));
    step("nonblock-read-empty-clear", "%s", set_nonblock(ept, 0));

    step("poll-empty", "%s", do_poll(ept, ALL_EVENTS, 0));
    pattern(want, 16);
    step("poll-echo-write", "%s", do_write(ept, want, 16));
    /* Wait for the echo with POLLIN alone (POLLOUT would end the wait at once), then ask for everything. */
    const char *waited = do_poll(ept, 0x001, READER_LIMIT_MS);
    step("poll-wait-echo", "%s", strcmp(waited, "revents=0") == 0 ? "watchdog" : waited);
    step("poll-after-echo", "%s", do_poll(ept, ALL_EVENTS, 0));
    step("poll-echo-read", "%s", do_read(ept, buf, sizeof buf, &got));

    step("unknown-ioctl-ept", "%s", do_ioctl(ept, CMP_UNKNOWN_IOCTL, (unsigned long)&zero));
    step("unknown-ioctl-ctrl", "%s", do_ioctl(ctrl, CMP_UNKNOWN_IOCTL, (unsigned long)&zero));
    int flow = 0x5a5a5a5a;
    const char *fr = do_ioctl(ept, CMP_GET_OUTGOING_FLOWCONTROL, (unsigned long)&flow);
    if (strcmp(fr, "ret=0") == 0) step("get-outgoing-flowcontrol", "ret=0 value=%d", flow);
    else step("get-outgoing-flowcontrol", "%s", fr);
    step("set-incoming-flowcontrol-1", "%s", do_ioctl(ept, CMP_SET_INCOMING_FLOWCONTROL, 1));
    step("set-incoming-flowcontrol-2", "%s", do_ioctl(ept, CMP_SET_INCOMING_FLOWCONTROL, 2));

    step("destroy-ept", "%s", do_ioctl(ept, CMP_DESTROY_EPT, 0));
    step("open-destroyed-path", "%s", do_open(ept_path, &other));
    if (other >= 0) do_close(&other);
    step("read-destroyed", "%s", do_read(ept, buf, sizeof buf, &got));
    step("write-destroyed", "%s", do_write(ept, want, 16));
    step("poll-destroyed", "%s", do_poll(ept, ALL_EVENTS, 0));
    step("destroy-ept-again", "%s", do_ioctl(ept, CMP_DESTROY_EPT, 0));
    step("close-destroyed", "%s", do_close(&ept));

    create_and_find("create-ept-2", ctrl, CMP_CREATE_EPT, "ampcan-cmp", CMP_ADDR_ANY, ept_path, sizeof ept_path);
    step("open-ept-2", "%s", do_open(ept_path, &ept));
    step("echo-ept-2", "%s", echo(ept, 32));
    step("close-ept-2", "%s", do_close(&ept));
    step("reopen-ept-2", "%s", do_open(ept_path, &ept));
    step("echo-ept-2-reopened", "%s", echo(ept, 32));
    step("destroy-ept-2", "%s", do_ioctl(ept, CMP_DESTROY_EPT, 0));
    step("close-ept-2-destroyed", "%s", do_close(&ept));

    create_and_find("create-dev", ctrl, CMP_CREATE_DEV, "rpmsg-raw", 0x500, dev_path, sizeof dev_path);
    step("open-dev", "%s", do_open(dev_path, &dev));
    step("echo-dev", "%s", echo(dev, 32));
    step("destroy-ept-on-dev", "%s", do_ioctl(dev, CMP_DESTROY_EPT, 0));
    step("close-dev", "%s", do_close(&dev));
    struct cmp_endpoint_info raw;
    memset(&raw, 0, sizeof raw);
    strcpy(raw.name, "rpmsg-raw");
    raw.src = 0x500;
    raw.dst = g_dst;
    step("create-dev-again", "%s", do_ioctl(ctrl, CMP_CREATE_DEV, (unsigned long)&raw));
    step("release-dev", "%s", do_ioctl(ctrl, CMP_RELEASE_DEV, (unsigned long)&raw));
    step("open-released-dev", "%s", do_open(dev_path, &other));
    if (other >= 0) do_close(&other);
    step("release-dev-again", "%s", do_ioctl(ctrl, CMP_RELEASE_DEV, (unsigned long)&raw));
    step("close-ctrl", "%s", do_close(&ctrl));

    crash_part();
    printf("SUMMARY steps=%d\n", g_steps);
    fflush(stdout);
    return 0;
}
