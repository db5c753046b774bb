/* A process that makes exactly the system calls its arguments ask for, so a
 * trace of it (`-c "wl getppid 3 open /etc/hostname 2"`) has a known answer. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *op = argv[i];
        if (!strcmp(op, "getppid") && i + 1 < argc) {
            long n = atol(argv[++i]);
            for (long j = 0; j < n; j++)
                syscall(SYS_getppid);
        } else if (!strcmp(op, "open") && i + 2 < argc) {
            const char *path = argv[++i];
            long n = atol(argv[++i]);
            for (long j = 0; j < n; j++) {
                int fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
                if (fd >= 0)
                    close(fd);
            }
        } else if (!strcmp(op, "write") && i + 2 < argc) {
            /* write SIZE bytes to /dev/null, N times */
            long size = atol(argv[++i]);
            long n = atol(argv[++i]);
            static char buf[1 << 20];
            int fd = open("/dev/null", O_WRONLY);
            for (long j = 0; j < n; j++)
                syscall(SYS_write, fd, buf, size);
            close(fd);
        } else if (!strcmp(op, "sleep") && i + 1 < argc) {
            long ms = atol(argv[++i]);
            struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        } else if (!strcmp(op, "spin") && i + 1 < argc) {
            /* burn CPU for MS milliseconds */
            long ms = atol(argv[++i]);
            struct timespec start, now;
            clock_gettime(CLOCK_MONOTONIC, &start);
            do {
                clock_gettime(CLOCK_MONOTONIC, &now);
            } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < ms);
        }
    }
    return 0;
}
