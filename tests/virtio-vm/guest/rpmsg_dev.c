/*
 * rpmsg_dev — in the virtio-VM guest, makes the guest announce a channel of its own to the remote and talk on it, using
 * only what Linux's rpmsg_ctrl gives user space: RPMSG_CREATE_DEV_IOCTL on /dev/rpmsg_ctrlN creates an rpmsg device
 * with a fixed local address; rpmsg_char binds it (its id table has "rpmsg_chrdev" and "rpmsg-raw"), which makes
 * virtio_rpmsg_bus announce it to the remote through the name service and gives it a /dev/rpmsgN.
 *
 * usage: rpmsg_dev [-c /dev/rpmsg_ctrlN] [-t MILLISECONDS] NAME SRC DST
 *   NAME  the channel's name (rpmsg_chrdev or rpmsg-raw, for rpmsg_char to bind it)
 *   SRC   its fixed local address (decimal or 0x...), announced to the remote
 *   DST   where what it writes goes (the remote endpoint that will talk to it)
 *   -t    how long each step may take (default 10000)
 * Prints "READY /dev/rpmsgN" once the channel exists, writes "hello from NAME" to DST, waits for one message and
 * prints "GOT <its text>", releases the device (RPMSG_RELEASE_DEV_IOCTL, which announces its destruction) and prints
 * "RELEASED". The guest speaks first: a message for it that came before it opened the device would have nobody to read it.
 * Exit 0 when all went so, 1 when a step did not happen in time, 2 when it could not start.
 *
 * Written against include/uapi/linux/rpmsg.h of the kernel the guest runs; the asserts fail the build if that ABI
 * ever differs from the one checked here.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/rpmsg.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct rpmsg_endpoint_info) == 40, "struct rpmsg_endpoint_info is char name[32], __u32 src, __u32 dst");
_Static_assert(RPMSG_CREATE_DEV_IOCTL == 0x4028b503u, "RPMSG_CREATE_DEV_IOCTL is _IOW(0xb5, 0x3, struct rpmsg_endpoint_info)");
_Static_assert(RPMSG_RELEASE_DEV_IOCTL == 0x4028b504u, "RPMSG_RELEASE_DEV_IOCTL is _IOW(0xb5, 0x4, struct rpmsg_endpoint_info)");

static const char *prog = "rpmsg_dev";

static void usage(void)
{
    fprintf(stderr, "usage: %s [-c /dev/rpmsg_ctrlN] [-t MILLISECONDS] NAME SRC DST\n", prog);
    exit(2);
}

static int parse_u32(const char *s, uint32_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (errno || *s == 0 || *end != 0 || x > 0xffffffffull) return 0;
    *v = (uint32_t)x;
    return 1;
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* Reads a small sysfs attribute into buf without its newline; 0 on success. */
static int read_attr(const char *dir, const char *attr, char *buf, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, attr);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    if (!fgets(buf, (int)len, f)) buf[0] = 0;
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

/* The /dev/rpmsgN of the endpoint device named name with local address src, or 0 when there is none (yet). */
static int find_eptdev(const char *name, uint32_t src, char *dev, size_t len)
{
    DIR *d = opendir("/sys/class/rpmsg");
    struct dirent *e;
    int found = 0;
    if (!d) return 0;
    while (!found && (e = readdir(d))) {
        if (strncmp(e->d_name, "rpmsg", 5) || !strncmp(e->d_name, "rpmsg_ctrl", 10)) continue;
        char dir[300], n[64], s[32];
        uint32_t a;
        snprintf(dir, sizeof dir, "/sys/class/rpmsg/%s", e->d_name);
        if (read_attr(dir, "name", n, sizeof n) || read_attr(dir, "src", s, sizeof s)) continue;
        if (!strcmp(n, name) && parse_u32(s, &a) && a == src) {
            snprintf(dev, len, "/dev/%s", e->d_name);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

int main(int argc, char **argv)
{
    const char *ctrl = "/dev/rpmsg_ctrl0";
    int timeout = 10000, opt;
    while ((opt = getopt(argc, argv, "c:t:")) != -1) {
        switch (opt) {
        case 'c': ctrl = optarg; break;
        case 't': timeout = atoi(optarg); if (timeout <= 0) usage(); break;
        default: usage();
        }
    }
    struct rpmsg_endpoint_info info;
    memset(&info, 0, sizeof info);
    if (argc - optind != 3 || strlen(argv[optind]) >= sizeof info.name) usage();
    strcpy(info.name, argv[optind]);
    if (!parse_u32(argv[optind + 1], &info.src) || !parse_u32(argv[optind + 2], &info.dst)) usage();

    int cfd = open(ctrl, O_RDWR | O_CLOEXEC);
    if (cfd < 0) { fprintf(stderr, "%s: %s: %s\n", prog, ctrl, strerror(errno)); return 2; }
    if (ioctl(cfd, RPMSG_CREATE_DEV_IOCTL, &info) < 0) {
        fprintf(stderr, "%s: RPMSG_CREATE_DEV_IOCTL {%s, 0x%x, 0x%x}: %s\n", prog, info.name, info.src, info.dst, strerror(errno));
        return 2;
    }

    /* devtmpfs makes the node as rpmsg_char binds the new device; wait for it, bounded. */
    char dev[300];
    long long end = now_ms() + timeout;
    int fd = -1;
    while (fd < 0) {
        if (find_eptdev(info.name, info.src, dev, sizeof dev)) fd = open(dev, O_RDWR | O_CLOEXEC);
        if (fd >= 0) break;
        if (now_ms() > end) { fprintf(stderr, "%s: no /dev/rpmsgN for %s at 0x%x after %d ms\n", prog, info.name, info.src, timeout); return 1; }
        usleep(10000);
    }
    printf("READY %s\n", dev);
    fflush(stdout);

    char hello[64];
    int len = snprintf(hello, sizeof hello, "hello from %s", info.name);
    if (write(fd, hello, (size_t)len) != len) { fprintf(stderr, "%s: write %s: %s\n", prog, dev, strerror(errno)); return 1; }
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int n = poll(&p, 1, timeout);
    if (n <= 0) { fprintf(stderr, "%s: no message within %d ms\n", prog, timeout); return 1; }
    char msg[497];
    ssize_t got = read(fd, msg, sizeof msg - 1);
    if (got < 0) { fprintf(stderr, "%s: read %s: %s\n", prog, dev, strerror(errno)); return 1; }
    msg[got] = 0;
    printf("GOT %s\n", msg);
    fflush(stdout);
    close(fd);
    if (ioctl(cfd, RPMSG_RELEASE_DEV_IOCTL, &info) < 0) {
        fprintf(stderr, "%s: RPMSG_RELEASE_DEV_IOCTL: %s\n", prog, strerror(errno));
        return 1;
    }
    printf("RELEASED\n");
    return 0;
}
