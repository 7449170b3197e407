/* tcp_baseline.c - the machine's loopback limit for the broker benchmark:
 * one process writes 1 MiB buffers to 127.0.0.1, another reads them into a
 * 1 MiB buffer and throws them away. Prints "tcp_mbps=<MB/s>" (10^6 bytes)
 * over the given number of seconds (default 3), after a short warm-up.
 *
 *   tcp_baseline [SECONDS]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK ((size_t)1 << 20)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "tcp_baseline: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* The reader: accepts one connection and reads until EOF. */
static void reader(int lfd) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) die("accept");
    char *buf = malloc(CHUNK);
    if (!buf) die("malloc");
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("read");
        if (n == 0) break;
    }
    close(fd);
    free(buf);
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    if (seconds <= 0 || seconds > 60) seconds = 3.0;
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) die("socket");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 1) ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl))
        die("bind/listen");

    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        reader(lfd);
        _exit(0);
    }
    close(lfd);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa)) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char *buf = malloc(CHUNK);
    if (!buf) die("malloc");
    for (size_t i = 0; i < CHUNK; i++)
        buf[i] = (char)(i * 131u);

    /* Warm-up of 0.3 s, then the measured interval; the bytes still in the
     * socket buffers at the end are a few MiB against GBs, and counted. */
    double t_warm = now_s() + 0.3, t_end = 0, t_start = 0;
    unsigned long long bytes = 0;
    int measuring = 0;
    for (;;) {
        size_t off = 0;
        while (off < CHUNK) {
            ssize_t n = write(fd, buf + off, CHUNK - off);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) die("write");
            off += (size_t)n;
        }
        double t = now_s();
        if (!measuring) {
            if (t >= t_warm) {
                measuring = 1;
                t_start = t;
                t_end = t + seconds;
            }
            continue;
        }
        bytes += CHUNK;
        if (t >= t_end) break;
    }
    shutdown(fd, SHUT_WR);
    int st;
    waitpid(pid, &st, 0);
    double el = now_s() - t_start;
    close(fd);
    free(buf);
    printf("tcp_mbps=%.0f\n", (double)bytes / el / 1e6);
    return 0;
}
