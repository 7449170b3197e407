/* disk_baseline.c - the machine's disk limits for the broker benchmark, in
 * the directory the brokers write to:
 *
 *   disk_seq_mbps     like `dd bs=1M conv=fdatasync`: 1 MiB writes to a new
 *                     file for up to SECONDS (or 1 GiB), then one fdatasync;
 *                     MB/s (10^6 bytes) including that fdatasync.
 *   disk_sync64k_mbps 64 KiB writes, each followed by fdatasync (what a log
 *                     that syncs every batch can reach), for SECONDS / 2.
 *
 *   disk_baseline DIR [SECONDS]     (default 3; the files are removed)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "disk_baseline: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void write_all(int fd, const char *buf, size_t n) {
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, buf + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) die("write");
        off += (size_t)w;
    }
}

/* Writes `chunk`-byte pieces for up to `seconds` or `max_bytes`, syncing
 * every `sync_every` pieces (0: once at the end). Returns MB/s. */
static double run(const char *path, size_t chunk, int sync_every, double seconds,
                  unsigned long long max_bytes, const char *buf) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die(path);
    unsigned long long bytes = 0;
    int n = 0;
    double t0 = now_s(), end = t0 + seconds;
    while (bytes < max_bytes && now_s() < end) {
        write_all(fd, buf, chunk);
        bytes += chunk;
        if (sync_every && ++n % sync_every == 0 && fdatasync(fd)) die("fdatasync");
    }
    if (fdatasync(fd)) die("fdatasync");
    double el = now_s() - t0;
    close(fd);
    unlink(path);
    return (double)bytes / el / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: disk_baseline DIR [SECONDS]\n");
        return 2;
    }
    double seconds = argc > 2 ? atof(argv[2]) : 3.0;
    if (seconds <= 0 || seconds > 60) seconds = 3.0;
    char path[4096];
    snprintf(path, sizeof path, "%s/disk_baseline.%d", argv[1], (int)getpid());
    size_t mib = (size_t)1 << 20;
    char *buf = malloc(mib);
    if (!buf) die("malloc");
    for (size_t i = 0; i < mib; i++)
        buf[i] = (char)(i * 2654435761u >> 13);
    double seq = run(path, mib, 0, seconds, 1ull << 30, buf);
    double s64 = run(path, 64 << 10, 1, seconds / 2, 1ull << 30, buf);
    printf("disk_seq_mbps=%.0f\ndisk_sync64k_mbps=%.0f\n", seq, s64);
    free(buf);
    return 0;
}
