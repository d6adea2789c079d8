/*
 * rpmsg_echo — in the virtio-VM guest, echoes messages of every size through a remote echo service using only what
 * Linux's rpmsg_char/rpmsg_ctrl give user space: /dev/rpmsg_ctrlN, RPMSG_CREATE_EPT_IOCTL, the /dev/rpmsgN it creates,
 * write/read, RPMSG_DESTROY_EPT_IOCTL.
 *
 * usage: rpmsg_echo [-c /dev/rpmsg_ctrlN] [-s MIN:MAX] [-r ROUNDS] [-t MILLISECONDS] [-w WINDOW] TARGET
 *   TARGET   the echo service's rpmsg address (decimal or 0x...), or the name of a channel the remote announced
 *            (looked up in /sys/bus/rpmsg/devices; its dst is the address, and its device's rpmsg_ctrl is used)
 *   -c       the control device (default /dev/rpmsg_ctrl0, or the one of the named channel's virtio device)
 *   -s       sizes to echo (default 1:496, 496 = 512-byte buffer - 16-byte header)
 *   -r       rounds over all sizes (default 1)
 *   -t       how long one write or one reply may take (default 5000)
 *   -w       keep this many messages in flight (default 1: one round trip at a time); above 1 the summary gives the
 *            throughput in messages per second instead of round-trip times (replies come back in order and are checked)
 * Every message has contents of its own (size, round and offset mixed), and every byte of every reply is checked.
 * Prints one summary line on stdout; exit 0 when every reply came back intact, 1 on a wrong, missing or late reply,
 * 2 when it could not start (bad arguments, no control device, the ioctl refused).
 *
 * Written against include/uapi/linux/rpmsg.h of the kernel the guest runs (prepare.sh compiles it with that header
 * first on the include path); the asserts below fail the build if that ABI ever differs from the one checked here.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/rpmsg.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct rpmsg_endpoint_info) == 40, "struct rpmsg_endpoint_info is char name[32], __u32 src, __u32 dst");
_Static_assert(offsetof(struct rpmsg_endpoint_info, src) == 32 && offsetof(struct rpmsg_endpoint_info, dst) == 36,
               "struct rpmsg_endpoint_info layout");
_Static_assert(RPMSG_CREATE_EPT_IOCTL == 0x4028b501u, "RPMSG_CREATE_EPT_IOCTL is _IOW(0xb5, 0x1, struct rpmsg_endpoint_info)");
_Static_assert(RPMSG_DESTROY_EPT_IOCTL == 0xb502u, "RPMSG_DESTROY_EPT_IOCTL is _IO(0xb5, 0x2)");
_Static_assert(RPMSG_ADDR_ANY == 0xffffffffu, "RPMSG_ADDR_ANY: the kernel picks the endpoint's local address");

/* virtio_rpmsg_bus's buffers are 512 bytes, 16 of them its header */
#define MAX_PAYLOAD 496

static const char *prog = "rpmsg_echo";

static void usage(void)
{
    fprintf(stderr, "usage: %s [-c /dev/rpmsg_ctrlN] [-s MIN:MAX] [-r ROUNDS] [-t MILLISECONDS] [-w WINDOW] ADDRESS|CHANNEL-NAME\n", prog);
    exit(2);
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* Reads a small sysfs attribute into buf without its newline; 0 on success. */
static int read_attr(const char *dir, const char *name, char *buf, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    if (!ok) return -1;
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || end == s || *end || v > 0xffffffffu) return -1;
    *out = (uint32_t)v;
    return 0;
}

/*
 * Finds the channel named name in /sys/bus/rpmsg/devices (devices are named VIRTIODEV.NAME.SRC.DST): its dst, and the
 * control device of the same virtio device (the child of VIRTIODEV.rpmsg_ctrl.0.0). Exits 2 when there is none.
 */
static void find_channel(const char *name, uint32_t *dst, char *ctrl, size_t ctrl_len, int ctrl_given)
{
    const char *bus = "/sys/bus/rpmsg/devices";
    DIR *d = opendir(bus);
    if (!d) { fprintf(stderr, "%s: no %s (is virtio_rpmsg_bus loaded?)\n", prog, bus); exit(2); }
    struct dirent *e;
    char found[256] = "";
    int count = 0;
    while ((e = readdir(d))) {
        char dir[512], attr[64];
        if (e->d_name[0] == '.') continue;
        snprintf(dir, sizeof dir, "%s/%s", bus, e->d_name);
        if (read_attr(dir, "name", attr, sizeof attr) || strcmp(attr, name)) continue;
        if (read_attr(dir, "dst", attr, sizeof attr) || parse_u32(attr, dst)) {
            fprintf(stderr, "%s: cannot read the dst of %s\n", prog, dir);
            exit(2);
        }
        if (!count++) snprintf(found, sizeof found, "%s", e->d_name);
    }
    closedir(d);
    if (!count) { fprintf(stderr, "%s: no channel named '%s' in %s\n", prog, name, bus); exit(2); }
    if (count > 1) fprintf(stderr, "%s: %d channels named '%s'; using %s\n", prog, count, name, found);
    if (ctrl_given) return;
    char cdir[512];
    snprintf(cdir, sizeof cdir, "%s/%.*s.rpmsg_ctrl.0.0/rpmsg", bus, (int)strcspn(found, "."), found);
    if (!(d = opendir(cdir))) { fprintf(stderr, "%s: no %s (is rpmsg_ctrl loaded?)\n", prog, cdir); exit(2); }
    ctrl[0] = 0;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "rpmsg_ctrl", 10)) snprintf(ctrl, ctrl_len, "/dev/%s", e->d_name);
    closedir(d);
    if (!ctrl[0]) { fprintf(stderr, "%s: no rpmsg_ctrl device below %s\n", prog, cdir); exit(2); }
}

/* The /sys/class/rpmsg/rpmsgN whose name attribute is name (the endpoint device CREATE_EPT made), or -1. */
static int find_eptdev(const char *name)
{
    DIR *d = opendir("/sys/class/rpmsg");
    if (!d) return -1;
    struct dirent *e;
    int index = -1;
    while ((e = readdir(d))) {
        char dir[512], attr[64];
        int n;
        if (sscanf(e->d_name, "rpmsg%d", &n) != 1) continue;
        snprintf(dir, sizeof dir, "/sys/class/rpmsg/%s", e->d_name);
        if (!read_attr(dir, "name", attr, sizeof attr) && !strcmp(attr, name)) index = n;
    }
    closedir(d);
    return index;
}

/* Waits until fd is ready for events or deadline (us) passes; 1 ready, 0 late, -1 error (errno). */
static int wait_for(int fd, short events, double deadline)
{
    for (;;) {
        double left = deadline - now_us();
        if (left <= 0) return 0;
        struct pollfd p = { .fd = fd, .events = events };
        int r = poll(&p, 1, (int)(left / 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) continue;
        if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) { errno = EPIPE; return -1; }
        if (p.revents & events) return 1;
    }
}

static uint8_t pattern(int size, int round, int i) { return (uint8_t)(size * 7 + round * 101 + i * 31 + (i >> 8)); }

/* Message k of a pipelined run: its size (cycling through min..max) and its contents. */
static int fill(uint8_t *out, long k, int min, int max)
{
    int size = min + (int)(k % (max - min + 1));
    for (int i = 0; i < size; i++) out[i] = pattern(size, (int)(k / (max - min + 1)), i);
    return size;
}

/*
 * Keeps window messages in flight: writes ahead, and for every reply read (in order) checks it against the message it
 * answers. Returns the number of good replies; on failure writes why and returns -1.
 */
static long pipelined(int fd, int min, int max, long total, int window, int timeout_ms, char *why, size_t why_len)
{
    static uint8_t out[MAX_PAYLOAD], want[MAX_PAYLOAD], in[512];
    long sent = 0, got = 0;
    while (got < total) {
        double deadline = now_us() + timeout_ms * 1000.0;
        if (sent < total && sent - got < window) {
            int r = wait_for(fd, POLLOUT | POLLIN, deadline);
            if (r <= 0) { snprintf(why, why_len, "message %ld: %s", sent, r == 0 ? "no room to write and no reply in time" : strerror(errno)); return -1; }
            int size = fill(out, sent, min, max);
            ssize_t n = write(fd, out, (size_t)size);
            if (n == size) { sent++; continue; }
            if (n >= 0 || errno != EAGAIN) { snprintf(why, why_len, "message %ld: write returned %zd", sent, n); return -1; }
        }
        int r = wait_for(fd, POLLIN, deadline);
        if (r <= 0) { snprintf(why, why_len, "reply %ld: %s", got, r == 0 ? "not within the time limit" : strerror(errno)); return -1; }
        ssize_t n = read(fd, in, sizeof in);
        if (n < 0 && errno == EAGAIN) continue;
        int size = fill(want, got, min, max);
        if (n != size || memcmp(in, want, (size_t)size)) { snprintf(why, why_len, "reply %ld: %zd bytes, not the %d sent, or other contents", got, n, size); return -1; }
        got++;
    }
    return got;
}

int main(int argc, char **argv)
{
    const char *ctrl_arg = NULL;
    char ctrl[300] = "/dev/rpmsg_ctrl0";
    int min = 1, max = MAX_PAYLOAD, rounds = 1, timeout_ms = 5000, window = 1, opt;
    while ((opt = getopt(argc, argv, "c:s:r:t:w:")) != -1) {
        switch (opt) {
        case 'c': ctrl_arg = optarg; break;
        case 's': if (sscanf(optarg, "%d:%d", &min, &max) != 2 || min < 1 || max > MAX_PAYLOAD || min > max) usage(); break;
        case 'r': if ((rounds = atoi(optarg)) < 1) usage(); break;
        case 't': if ((timeout_ms = atoi(optarg)) < 1) usage(); break;
        case 'w': if ((window = atoi(optarg)) < 1) usage(); break;
        default: usage();
        }
    }
    if (optind != argc - 1) usage();
    if (ctrl_arg) snprintf(ctrl, sizeof ctrl, "%s", ctrl_arg);
    uint32_t dst;
    if (parse_u32(argv[optind], &dst)) find_channel(argv[optind], &dst, ctrl, sizeof ctrl, ctrl_arg != NULL);

    struct rpmsg_endpoint_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.name, sizeof info.name, "rpmsg_echo-%d", (int)getpid());   /* unique: finds our /dev/rpmsgN */
    info.src = RPMSG_ADDR_ANY;   /* the endpoint's address is picked at open(); user space never learns it */
    info.dst = dst;
    int cfd = open(ctrl, O_RDWR | O_CLOEXEC);
    if (cfd < 0) { fprintf(stderr, "%s: cannot open %s: %s\n", prog, ctrl, strerror(errno)); return 2; }
    if (ioctl(cfd, RPMSG_CREATE_EPT_IOCTL, &info) < 0) {
        fprintf(stderr, "%s: RPMSG_CREATE_EPT_IOCTL on %s (dst 0x%x): %s\n", prog, ctrl, dst, strerror(errno));
        return 2;
    }
    close(cfd);
    int index = find_eptdev(info.name);
    if (index < 0) { fprintf(stderr, "%s: no /sys/class/rpmsg/rpmsgN named %s after RPMSG_CREATE_EPT_IOCTL\n", prog, info.name); return 2; }
    char dev[64];
    snprintf(dev, sizeof dev, "/dev/rpmsg%d", index);
    /* devtmpfs makes the node while the ioctl runs; give it the time limit all the same */
    int fd = -1;
    for (double deadline = now_us() + timeout_ms * 1000.0; fd < 0; ) {
        fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) break;
        if (errno != ENOENT || now_us() > deadline) { fprintf(stderr, "%s: cannot open %s: %s\n", prog, dev, strerror(errno)); return 2; }
        usleep(1000);
    }
    if (window > 1) {
        char werr[300] = "";
        long total = (long)rounds * (max - min + 1);
        double t0 = now_us();
        long got = pipelined(fd, min, max, total, window, timeout_ms, werr, sizeof werr);
        double secs = (now_us() - t0) / 1e6;
        int derr = ioctl(fd, RPMSG_DESTROY_EPT_IOCTL) < 0 ? errno : 0;
        close(fd);
        if (got < 0) { printf("%s: FAIL %s (%s -> 0x%x)\n", prog, werr, dev, dst); return 1; }
        if (derr) { printf("%s: FAIL RPMSG_DESTROY_EPT_IOCTL on %s: %s\n", prog, dev, strerror(derr)); return 1; }
        printf("%s: PASS %ld replies intact, sizes %d..%d, %d in flight, via %s -> 0x%x, throughput %.0f messages/s, %.3f s\n",
               prog, got, min, max, window, dev, dst, got / secs, secs);
        return 0;
    }
    static uint8_t out[MAX_PAYLOAD], in[512];
    long messages = 0, bytes = 0;
    double total = 0, worst = 0, best = 1e18, t_start = now_us();
    int failed = 0;
    char why[300] = "";
    for (int round = 0; round < rounds && !failed; round++) {
        for (int size = min; size <= max && !failed; size++) {
            for (int i = 0; i < size; i++) out[i] = pattern(size, round, i);
            double t0 = now_us(), deadline = t0 + timeout_ms * 1000.0;
            ssize_t n = -1;
            for (;;) {
                int r = wait_for(fd, POLLOUT, deadline);
                if (r == 0) { snprintf(why, sizeof why, "size %d: no room to write within %d ms", size, timeout_ms); break; }
                if (r < 0) { snprintf(why, sizeof why, "size %d: poll for writing: %s", size, strerror(errno)); break; }
                n = write(fd, out, (size_t)size);
                if (n < 0 && errno == EAGAIN) continue;
                if (n != size) snprintf(why, sizeof why, "size %d: write returned %zd (%s)", size, n, n < 0 ? strerror(errno) : "short");
                break;
            }
            if (n != size) { failed = 1; break; }
            int r = wait_for(fd, POLLIN, deadline);
            if (r == 0) { snprintf(why, sizeof why, "size %d: no reply within %d ms", size, timeout_ms); failed = 1; break; }
            if (r < 0) { snprintf(why, sizeof why, "size %d: poll for reading: %s", size, strerror(errno)); failed = 1; break; }
            n = read(fd, in, sizeof in);
            double rtt = now_us() - t0;
            if (n != size) {
                snprintf(why, sizeof why, "size %d: the reply has %zd bytes%s%s", size, n, n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
                failed = 1;
                break;
            }
            for (int i = 0; i < size; i++)
                if (in[i] != out[i]) {
                    snprintf(why, sizeof why, "size %d: byte %d of the reply is 0x%02x, 0x%02x was sent", size, i, in[i], out[i]);
                    failed = 1;
                    break;
                }
            if (failed) break;
            messages++;
            bytes += size;
            total += rtt;
            if (rtt > worst) worst = rtt;
            if (rtt < best) best = rtt;
        }
    }
    double elapsed = (now_us() - t_start) / 1e6;
    int destroy_errno = ioctl(fd, RPMSG_DESTROY_EPT_IOCTL) < 0 ? errno : 0;
    close(fd);
    if (failed) {
        printf("%s: FAIL %s, after %ld good replies (%s -> 0x%x)\n", prog, why, messages, dev, dst);
        return 1;
    }
    if (destroy_errno) {
        printf("%s: FAIL RPMSG_DESTROY_EPT_IOCTL on %s: %s, after %ld good replies\n", prog, dev, strerror(destroy_errno), messages);
        return 1;
    }
    printf("%s: PASS %ld replies intact, sizes %d..%d x %d round%s, %ld bytes each way, via %s -> 0x%x, "
           "round trip mean %.0f us min %.0f max %.0f, %.3f s\n",
           prog, messages, min, max, rounds, rounds > 1 ? "s" : "", bytes, dev, dst,
           total / (double)messages, best, worst, elapsed);
    return 0;
}
