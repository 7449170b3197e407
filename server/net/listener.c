/* listener.c - listening sockets from `listeners`, accepting into connections.
 * Plain TCP today; TLS and SASL listeners will wrap the same accept path. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/net/net.h"

void bk_sockaddr_str(int fd, char *out, size_t len) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
            port = ntohs(in6->sin6_port);
        }
    }
    snprintf(out, len, "%s:%d", host, port);
}

static void listener_on_poll(uv_poll_t *h, int status, int events) {
    bk_listener *l = h->data;
    (void)events;
    if (status < 0) {
        bk_logf(BK_LV_ERROR, "listener %s: %s", l->cfg.name, uv_strerror(status));
        return;
    }
    /* Bounded, so that a connection storm cannot hold the loop. */
    for (int i = 0; i < 64; i++) {
        if (l->broker->nconns >= l->broker->cfg->max_connections) {
            /* As Kafka: stop accepting until a connection closes; new
             * clients wait in the backlog instead of being refused. */
            bk_logf(BK_LV_WARN, "max.connections (%d) reached: not accepting for now",
                    l->broker->cfg->max_connections);
            uv_poll_stop(&l->poll);
            l->paused = true;
            return;
        }
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
            /* EMFILE and friends: log once per wake-up and retry later. */
            bk_logf(BK_LV_WARN, "listener %s: accept: %s", l->cfg.name, strerror(errno));
            return;
        }
        bk_conn_accept(l->broker, l, fd);
    }
}

static int listener_open(bk_broker *b, bk_listener *l) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    hints.ai_family = AF_UNSPEC;
    char port[16];
    snprintf(port, sizeof port, "%d", l->cfg.port);
    const char *host = l->cfg.host[0] ? l->cfg.host : NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        bk_logf(BK_LV_ERROR, "listener %s: cannot resolve '%s': %s", l->cfg.name, host ? host : "",
                gai_strerror(rc));
        return -1;
    }
    /* Prefer IPv6 for the wildcard (dual-stack), IPv4 for names such as
     * localhost that resolve to both, as clients usually try it first. */
    struct addrinfo *pick = res;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if ((!host && ai->ai_family == AF_INET6) || (host && ai->ai_family == AF_INET)) {
            pick = ai;
            break;
        }
    }
    int fd = socket(pick->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, zero = 0;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (pick->ai_family == AF_INET6 && !host)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    if (fd < 0 || bind(fd, pick->ai_addr, pick->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        bk_logf(BK_LV_ERROR, "listener %s: cannot listen on %s:%d: %s", l->cfg.name,
                host ? host : "*", l->cfg.port, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    /* Port 0 asks the kernel for one: note which, for the log and Metadata. */
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (l->cfg.port == 0 && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        l->cfg.port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    l->fd = fd;
    l->broker = b;
    uv_poll_init(b->loop, &l->poll, fd);
    l->poll.data = l;
    uv_poll_start(&l->poll, UV_READABLE, listener_on_poll);
    l->open = true;
    bk_logf(BK_LV_INFO, "listening on %s://%s:%d", l->cfg.name, host ? host : "*", l->cfg.port);
    return 0;
}

int bk_listeners_open(bk_broker *b) {
    for (int i = 0; i < b->cfg->n_listeners; i++) {
        bk_listener *l = &b->listeners[i];
        l->cfg = b->cfg->listeners[i];
        b->nlisteners = i + 1;
        /* A Kafka file may carry a KRaft controller listener: there is no
         * separate controller process to serve on it yet. */
        if (bk_config_is_controller_listener(b->cfg, l->cfg.name)) {
            bk_logf(BK_LV_INFO, "listener %s is a controller listener: not opened", l->cfg.name);
            continue;
        }
        if (l->cfg.security != BK_SEC_PLAINTEXT) {
            bk_logf(BK_LV_ERROR, "listener %s: only PLAINTEXT listeners are supported so far",
                    l->cfg.name);
            return -1;
        }
        if (listener_open(b, l) != 0) return -1;
    }
    return 0;
}

void bk_listeners_resume(bk_broker *b) {
    if (b->stopping || b->nconns >= b->cfg->max_connections) return;
    for (int i = 0; i < b->nlisteners; i++) {
        bk_listener *l = &b->listeners[i];
        if (!l->open || !l->paused) continue;
        l->paused = false;
        uv_poll_start(&l->poll, UV_READABLE, listener_on_poll);
    }
}

void bk_listeners_close(bk_broker *b) {
    for (int i = 0; i < b->nlisteners; i++) {
        bk_listener *l = &b->listeners[i];
        if (!l->open) continue;
        uv_poll_stop(&l->poll);
        uv_close((uv_handle_t *)&l->poll, NULL);
        close(l->fd);
        l->open = false;
    }
}
