/* conn.c - one client connection: cut frames, queue requests, write the
 * responses back in request order (file ranges by sendfile), and stop
 * reading while too many bytes are held for it or for the whole broker. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/net/net.h"

#define RBUF_SIZE (64 * 1024)
/* Requests queued on one connection before it stops reading; clients keep
 * at most a handful in flight, so this only bounds a misbehaving peer. */
#define MAX_QUEUED_REQS 256
/* Reads per wake-up, so one busy connection cannot starve the others. */
#define READS_PER_WAKE 16

struct bk_conn {
    bk_broker *b;
    bk_listener *l;
    bk_conn *prev, *next;
    int fd;
    uv_poll_t poll;
    int events;
    char peer[64];
    uint8_t *rbuf; /* staging buffer for small frames and frame heads */
    size_t rlen;
    uint8_t *big; /* a frame larger than what rbuf held, read in place */
    size_t big_len, big_have;
    bk_req *head, *tail;
    int nreqs;
    int64_t inflight; /* bytes of requests and responses held */
    int64_t last_active_ms;
    size_t wpos; /* progress in the head response's buffer */
    uint64_t hole_off;
    bool pumping, repump; /* conn_pump is running / must run again */
    bool want_write;
    bool closing; /* no more reads; close once the queue drains */
    bool closed;
};

static void conn_on_poll(uv_poll_t *h, int status, int events);
static void conn_flush(bk_conn *c);

static void conn_account(bk_conn *c, int64_t delta) {
    c->inflight += delta;
    c->b->inflight_bytes += delta;
}

static bool conn_may_read(const bk_conn *c) {
    const bk_broker *b = c->b;
    /* A frame already accepted and allocated is read to its end whatever
     * the bounds: it is counted already, and stopping halfway would stall
     * the connection for good. */
    if (c->big) return !c->closing && !b->stopping;
    return !c->closing && !b->stopping && !b->read_paused && c->nreqs < MAX_QUEUED_REQS &&
           c->inflight < b->cfg->conn_max_inflight_bytes;
}

static void conn_update_poll(bk_conn *c) {
    if (c->closed) return;
    int ev = 0;
    if (conn_may_read(c)) ev |= UV_READABLE;
    if (c->want_write) ev |= UV_WRITABLE;
    if (ev == c->events) return;
    c->events = ev;
    if (ev)
        uv_poll_start(&c->poll, ev, conn_on_poll);
    else
        uv_poll_stop(&c->poll);
}

static void conn_free_cb(uv_handle_t *h) {
    bk_conn *c = h->data;
    free(c->rbuf);
    free(c->big);
    free(c);
}

void bk_req_free(bk_broker *b, bk_req *req) {
    for (int i = 0; i < req->nholes; i++) {
        bk_hole *hole = &req->holes[i];
        if (hole->part->log) bk_log_slice_release(hole->part->log, &hole->slice);
        bk_partition_unref(hole->part);
    }
    free(req->holes);
    bk_wr_free(&req->out);
    bk_arena_free(&req->arena);
    free(req->frame);
    free(req);
    (void)b;
}

/* Frees every request, or orphans those a handler still works on: the
 * handler frees them when it finishes (see bk_conn_request_done). Requests
 * not yet started are dropped unanswered, as Kafka drops them. */
static void conn_drop_queue(bk_conn *c) {
    bk_req *r = c->head;
    while (r) {
        bk_req *next = r->next;
        conn_account(c, -(int64_t)(r->frame_len + r->out.len));
        r->next = NULL;
        if (r->done || !r->started) {
            bk_req_free(c->b, r);
        } else {
            r->conn = NULL;
        }
        r = next;
    }
    c->head = c->tail = NULL;
    c->nreqs = 0;
}

static void conn_close(bk_conn *c, const char *why) {
    if (c->closed) return;
    bk_broker *b = c->b;
    if (why) bk_logf(BK_LV_INFO, "connection %s closed: %s", c->peer, why);
    c->closed = true;
    conn_drop_queue(c);
    if (c->big) conn_account(c, -(int64_t)c->big_len);
    uv_poll_stop(&c->poll);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        b->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    b->nconns--;
    uv_close((uv_handle_t *)&c->poll, conn_free_cb);
    bk_conns_resume(b);
    bk_listeners_resume(b);
}

/* ---- writing ---- */

/* Sends what it can of the head response; returns 1 when it is all out,
 * 0 when the socket is full, -1 after closing the connection. */
static int conn_send_head(bk_conn *c) {
    bk_req *r = c->head;
    for (;;) {
        size_t next_pos = r->cur_hole < r->nholes ? r->holes[r->cur_hole].pos : r->out.len;
        if (c->wpos < next_pos) {
            ssize_t n = send(c->fd, r->out.buf + c->wpos, next_pos - c->wpos, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) return 0;
                conn_close(c, strerror(errno));
                return -1;
            }
            c->wpos += (size_t)n;
            continue;
        }
        if (r->cur_hole >= r->nholes) return 1;
        bk_hole *h = &r->holes[r->cur_hole];
        uint64_t skip = c->hole_off;
        int pi = 0;
        while (pi < h->slice.nparts && skip >= h->slice.parts[pi].len)
            skip -= h->slice.parts[pi++].len;
        if (pi == h->slice.nparts) {
            r->cur_hole++;
            c->hole_off = 0;
            continue;
        }
        const bk_slice_part *part = &h->slice.parts[pi];
        off_t off = (off_t)(part->pos + skip);
        ssize_t n = sendfile(c->fd, part->fd, &off, (size_t)(part->len - skip));
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return 0;
            conn_close(c, strerror(errno));
            return -1;
        }
        if (n == 0) {
            /* The file is shorter than the slice promised: the response
             * cannot be completed, and a short one would corrupt the stream. */
            conn_close(c, "log file shrank under a fetch response");
            return -1;
        }
        c->hole_off += (uint64_t)n;
    }
}

/* The API key of a queued frame, read before its header is decoded. */
static int16_t frame_api_key(const bk_req *r) {
    return r->frame_len >= 2 ? (int16_t)bk_load_be16(r->frame) : -1;
}

/*
 * Starts the queued requests that may run now. Like Kafka, a connection's
 * requests are handled one after another: a request starts once every
 * earlier one is answered, so a pipelined Fetch never sees the data of a
 * Produce sent after it. One exception keeps pipelined producers fast:
 * Produce requests that follow only Produce requests start at once (they
 * append in arrival order, and acks=-1 ones then share a flush).
 */
static void conn_pump(bk_conn *c) {
    if (c->pumping) {
        c->repump = true;
        return;
    }
    c->pumping = true;
    do {
        c->repump = false;
        bool only_produce = true, all_done = true;
        for (bk_req *r = c->head; r && !c->closed; r = r->next) {
            bool produce = frame_api_key(r) == BK_API_PRODUCE;
            if (!r->started) {
                if (!all_done && !(produce && only_produce)) break;
                r->started = true;
                bk_dispatch(c->b, r);
                if (c->closed) break;
            }
            /* Nothing after a request that closes the connection runs. */
            if (r->close_after) break;
            if (!r->done) {
                all_done = false;
                if (!produce) only_produce = false;
            }
        }
    } while (c->repump && !c->closed);
    c->pumping = false;
    /* Writing may free answered requests, so it waits until the walk over
     * the queue is over. */
    if (!c->closed && c->head && c->head->done) conn_flush(c);
}

static void conn_flush(bk_conn *c) {
    while (!c->closed && c->head && c->head->done) {
        bk_req *r = c->head;
        if (!r->no_response) {
            int rc = conn_send_head(c);
            if (rc < 0) return;
            if (rc == 0) {
                c->want_write = true;
                conn_update_poll(c);
                return;
            }
        }
        bool close_after = r->close_after;
        c->head = r->next;
        if (!c->head) c->tail = NULL;
        c->nreqs--;
        c->wpos = 0;
        c->hole_off = 0;
        conn_account(c, -(int64_t)(r->frame_len + r->out.len));
        bk_req_free(c->b, r);
        c->last_active_ms = bk_mono_ms();
        if (close_after) {
            conn_close(c, NULL);
            return;
        }
    }
    c->want_write = false;
    if (c->closing && !c->head) {
        conn_close(c, NULL);
        return;
    }
    conn_update_poll(c);
    bk_conns_resume(c->b);
}

void bk_conn_request_done(bk_broker *b, bk_req *req) {
    req->done = true;
    if (!req->conn) { /* the connection went away while the handler worked */
        bk_req_free(b, req);
        return;
    }
    bk_conn *c = req->conn;
    conn_account(c, (int64_t)req->out.len);
    if (c->pumping) { /* answered from inside conn_pump: it flushes after */
        c->repump = true;
        return;
    }
    conn_pump(c);
}

/* ---- reading ---- */

static void conn_enqueue(bk_conn *c, uint8_t *frame, size_t len) {
    bk_req *r = calloc(1, sizeof *r);
    if (!r) {
        free(frame);
        conn_close(c, "out of memory");
        return;
    }
    r->conn = c;
    r->frame = frame;
    r->frame_len = len;
    r->recv_ms = bk_mono_ms();
    bk_wr_init(&r->out, 0);
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->nreqs++;
    conn_pump(c);
}

static int conn_cut_frames(bk_conn *c) {
    size_t pos = 0;
    size_t max = (size_t)c->b->cfg->socket_request_max_bytes;
    while (!c->closed && !c->closing) {
        size_t flen;
        int rc = bk_frame_check(c->rbuf + pos, c->rlen - pos, max, &flen);
        if (rc == BK_ETRUNC) break;
        if (rc) {
            bk_logf(BK_LV_WARN,
                    "connection %s: frame size %d is outside 0..%zu (socket.request.max.bytes); "
                    "closing",
                    c->peer, (int32_t)bk_load_be32(c->rbuf + pos), max);
            conn_close(c, NULL);
            return -1;
        }
        size_t body = flen - 4;
        if (c->rlen - pos >= flen) {
            uint8_t *f = malloc(body ? body : 1);
            if (!f) {
                conn_close(c, "out of memory");
                return -1;
            }
            memcpy(f, c->rbuf + pos + 4, body);
            pos += flen;
            conn_account(c, (int64_t)body);
            conn_enqueue(c, f, body);
            continue;
        }
        /* A frame longer than what is buffered: read the rest in place. */
        c->big = malloc(body ? body : 1);
        if (!c->big) {
            conn_close(c, "out of memory");
            return -1;
        }
        c->big_len = body;
        c->big_have = c->rlen - pos - 4;
        memcpy(c->big, c->rbuf + pos + 4, c->big_have);
        conn_account(c, (int64_t)body);
        pos = c->rlen;
        break;
    }
    if (c->closed) return -1;
    memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
    c->rlen -= pos;
    return 0;
}

static void conn_read(bk_conn *c) {
    for (int i = 0; i < READS_PER_WAKE && conn_may_read(c); i++) {
        ssize_t n;
        if (c->big) {
            n = recv(c->fd, c->big + c->big_have, c->big_len - c->big_have, 0);
        } else {
            n = recv(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen, 0);
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            conn_close(c, strerror(errno));
            return;
        }
        if (n == 0) {
            if (c->big || c->rlen)
                bk_logf(BK_LV_INFO, "connection %s closed by the peer in the middle of a frame",
                        c->peer);
            conn_close(c, NULL);
            return;
        }
        c->last_active_ms = bk_mono_ms();
        if (c->big) {
            c->big_have += (size_t)n;
            if (c->big_have == c->big_len) {
                uint8_t *f = c->big;
                size_t len = c->big_len;
                c->big = NULL;
                c->big_len = c->big_have = 0;
                conn_enqueue(c, f, len);
                if (c->closed) return;
            }
            continue;
        }
        c->rlen += (size_t)n;
        if (conn_cut_frames(c) < 0) return;
    }
    conn_update_poll(c);
}

static void conn_on_poll(uv_poll_t *h, int status, int events) {
    bk_conn *c = h->data;
    if (status < 0) {
        conn_close(c, uv_strerror(status));
        return;
    }
    if (events & UV_WRITABLE) conn_flush(c);
    if (!c->closed && (events & UV_READABLE)) conn_read(c);
}

void bk_conn_accept(bk_broker *b, bk_listener *l, int fd) {
    bk_conn *c = calloc(1, sizeof *c);
    uint8_t *rbuf = malloc(RBUF_SIZE);
    if (!c || !rbuf) {
        free(c);
        free(rbuf);
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->b = b;
    c->l = l;
    c->fd = fd;
    c->rbuf = rbuf;
    c->last_active_ms = bk_mono_ms();
    bk_sockaddr_str(fd, c->peer, sizeof c->peer);
    if (uv_poll_init(b->loop, &c->poll, fd) != 0) {
        free(rbuf);
        free(c);
        close(fd);
        return;
    }
    c->poll.data = c;
    c->next = b->conns;
    if (b->conns) b->conns->prev = c;
    b->conns = c;
    b->nconns++;
    conn_update_poll(c);
}

void bk_conns_resume(bk_broker *b) {
    bool paused = b->inflight_bytes >= b->inflight_max;
    if (paused == b->read_paused) return;
    b->read_paused = paused;
    if (paused)
        bk_logf(BK_LV_WARN, "%lld bytes in flight: reading paused on every connection",
                (long long)b->inflight_bytes);
    for (bk_conn *c = b->conns; c; c = c->next)
        conn_update_poll(c);
}

void bk_conn_reap_idle(bk_broker *b) {
    int64_t now = bk_mono_ms(), idle = b->cfg->connections_max_idle_ms;
    bk_conn *c = b->conns;
    while (c) {
        bk_conn *next = c->next;
        if (idle > 0 && !c->head && now - c->last_active_ms > idle)
            conn_close(c, "idle longer than connections.max.idle.ms");
        c = next;
    }
}

/* Shutdown: no more reads; each connection closes once its queue is out. */
void bk_conn_close_all(bk_broker *b) {
    bk_conn *c = b->conns;
    while (c) {
        bk_conn *next = c->next;
        c->closing = true;
        if (!c->head)
            conn_close(c, NULL);
        else
            conn_update_poll(c);
        c = next;
    }
}

bool bk_conn_is_closing(const bk_conn *c) {
    return c->closing || c->closed;
}

void bk_conn_mark_closing(bk_conn *c) {
    c->closing = true;
    conn_update_poll(c);
}

const char *bk_conn_peer(const bk_conn *c) {
    return c->peer;
}

const bk_listener *bk_conn_listener(const bk_conn *c) {
    return c->l;
}

void bk_conn_destroy_all(bk_broker *b) {
    while (b->conns)
        conn_close(b->conns, "shutting down");
}
