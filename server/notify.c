/* notify.c - the sd_notify datagram protocol, spoken directly: the protocol is
 * one sendto(), so libsystemd (and its dependency chain) is not worth linking. */
#include "server/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Fills `sa` from a NOTIFY_SOCKET value; returns the address length to pass
 * to sendto(), or a negative errno. */
static int bk_notify_addr(const char *name, struct sockaddr_un *sa, socklen_t *len) {
    size_t n = strlen(name);
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (name[0] == '/') {
        /* Keep room for the terminating NUL: some kernels and tools expect it. */
        if (n >= sizeof sa->sun_path) return -EINVAL;
        memcpy(sa->sun_path, name, n);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
    }
    if (name[0] == '@') {
        /* Abstract namespace: a leading NUL, then the name; the length, not a
         * terminator, says where the name ends, so no NUL is counted. */
        if (n < 2 || n > sizeof sa->sun_path) return -EINVAL;
        sa->sun_path[0] = '\0';
        memcpy(sa->sun_path + 1, name + 1, n - 1);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
        return 0;
    }
    /* systemd 254+ may also hand out "vsock:CID:PORT" (for VMs); a broker
     * under such a manager is not a case we need, so say so distinctly. */
    if (strncmp(name, "vsock:", 6) == 0) return -EAFNOSUPPORT;
    return -EINVAL;
}

/* Everything but the errno bookkeeping of bk_notify(). */
static int bk_notify_send(const char *name, const char *state) {
    struct sockaddr_un sa;
    socklen_t salen = 0;
    int rc = bk_notify_addr(name, &sa, &salen);
    if (rc < 0) return rc;

    /* A fresh socket per call: notifications are rare (start, stop, watchdog
     * ticks), and holding none means no descriptor to leak into children or
     * to be closed under us by code that closes descriptors it does not know. */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    size_t n = strlen(state);
    ssize_t sent;
    do {
        /* MSG_NOSIGNAL: a vanished manager must not kill the broker with SIGPIPE. */
        sent = sendto(fd, state, n, MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0)
        rc = -errno;
    else if ((size_t)sent != n)
        rc = -EMSGSIZE; /* datagrams go whole or not at all; be safe anyway */
    close(fd);
    return rc;
}

int bk_notify(const char *state) {
    const char *name = getenv("NOTIFY_SOCKET");
    if (name == NULL || name[0] == '\0') return 0;
    if (state == NULL) return -EINVAL;
    /* A signal handler may call us: whatever errno the interrupted code was
     * about to read must survive. */
    int saved_errno = errno;
    int rc = bk_notify_send(name, state);
    errno = saved_errno;
    return rc;
}

/* Strict decimal parse: digits only, no sign, no overflow. 0 on any doubt. */
static uint64_t bk_notify_parse_u64(const char *s) {
    if (s == NULL || *s == '\0') return 0;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return 0;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    return v;
}

uint64_t bk_notify_watchdog_usec(void) {
    uint64_t usec = bk_notify_parse_u64(getenv("WATCHDOG_USEC"));
    if (usec == 0) return 0;
    /* systemd sets WATCHDOG_PID to the main process; a child that inherited
     * the environment (a hook script, a forked helper) must not ping for it. */
    const char *pid = getenv("WATCHDOG_PID");
    if (pid != NULL && pid[0] != '\0' && bk_notify_parse_u64(pid) != (uint64_t)getpid()) return 0;
    return usec;
}
