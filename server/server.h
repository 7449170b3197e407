/* server.h - brookd's shared types: the broker, connections, requests,
 * topics and the handler table. Every file of server/ includes this. */
#ifndef BK_SERVER_H
#define BK_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "config/config.h"
#include "protocol/arena.h"
#include "protocol/buf.h"
#include "protocol/codec.h"
#include "protocol/compress.h"
#include "protocol/err.h"
#include "protocol/frame.h"
#include "protocol/gen/messages.h"
#include "storage/storage.h"

typedef struct bk_broker bk_broker;
typedef struct bk_conn bk_conn;
typedef struct bk_req bk_req;
typedef struct bk_topic bk_topic;
typedef struct bk_partition bk_partition;
typedef struct bk_listener bk_listener;
typedef struct bk_delayed bk_delayed;

/* ---- logging (stderr, one line per event) ---- */
enum { BK_LV_DEBUG, BK_LV_INFO, BK_LV_WARN, BK_LV_ERROR };
void bk_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern int bk_log_level;

int64_t bk_now_ms(void); /* wall clock, ms since the epoch */

/* Values in brook's metadata files (key=value lines): a backslash and a
 * newline are escaped, so any value fits on its line. */
void bk_prop_put(FILE *f, const char *s);
void bk_prop_unescape(char *s);
int64_t bk_mono_ms(void);

/* ---- a string-keyed hash map (topic names, ids as 16-byte keys) ---- */
typedef struct bk_map_slot {
    const void *key; /* borrowed from the value */
    size_t klen;
    void *val;
} bk_map_slot;
typedef struct bk_map {
    bk_map_slot *slots;
    size_t cap, n, tombs;
} bk_map;
void *bk_map_get(const bk_map *m, const void *key, size_t klen);
int bk_map_put(bk_map *m, const void *key, size_t klen, void *val); /* replaces */
void bk_map_del(bk_map *m, const void *key, size_t klen);
void bk_map_free(bk_map *m);

/* ---- topics and partitions (topics.c) ---- */

/* A fetch or produce waiting on a partition's high watermark. */
typedef struct bk_hw_waiter {
    struct bk_hw_waiter *prev, *next;
    void (*fn)(struct bk_hw_waiter *w, bk_partition *p);
} bk_hw_waiter;

struct bk_partition {
    bk_topic *topic;
    int32_t index;
    bk_log *log;                    /* NULL once the topic is deleted */
    int32_t leader_epoch;           /* constant on one node: nothing ever changes leader */
    int refs;                       /* pins from responses still being sent */
    bool flushing;                  /* a flush to advance the high watermark is running */
    int flush_err;                  /* the last flush's error (0 or BK_EIO) */
    bk_hw_waiter waiters;           /* list head: fetches waiting for data, produces for a flush */
    struct bk_producers *producers; /* idempotent producers' state (producers.c), or NULL */
};

struct bk_topic {
    bk_broker *broker;
    char *name;
    bk_uuid id;
    int32_t nparts;
    bk_partition **parts;
    bk_topic_kv *kv; /* configs set on the topic */
    int nkv;
    bk_topic_settings settings;
    bool internal; /* __consumer_offsets and friends: users may not delete */
    bool deleted;
    int live_parts; /* partition structs not yet freed (a deleted topic goes with the last) */
};

bk_topic *bk_topic_find(bk_broker *b, bk_str name);
bk_topic *bk_topic_find_id(bk_broker *b, const bk_uuid *id);
bk_partition *bk_partition_find(bk_broker *b, bk_str topic, int32_t index);

/* Validates a topic name as Kafka does (1..249 chars of [a-zA-Z0-9._-],
 * not "." or ".."). Returns NULL or the reason. */
const char *bk_topic_name_invalid(bk_str name);

/* Creates a topic and its partition logs, persisted before it returns.
 * Returns 0 or a Kafka error code with a message in err. */
int bk_topic_create(bk_broker *b, bk_str name, int32_t nparts, const bk_topic_kv *kv, int nkv,
                    bk_topic **out, char *err, size_t errlen);
int bk_topic_delete(bk_broker *b, bk_topic *t);
int bk_topic_add_partitions(bk_broker *b, bk_topic *t, int32_t total, char *err, size_t errlen);
/* Replaces the topic's configs (already validated) and applies them live. */
int bk_topic_set_configs(bk_broker *b, bk_topic *t, bk_topic_kv *kv, int nkv);
/* Re-resolves every topic's settings (after a dynamic broker config change). */
void bk_topics_refresh_settings(bk_broker *b);

int bk_topics_load(bk_broker *b);
/* Frees the registry; call after bk_storage_close, which closed the logs. */
void bk_topics_close(bk_broker *b);
/* Writes a file of the metadata dir atomically (temp file, fsync, rename). */
int bk_meta_write(bk_broker *b, const char *name, const char *data, size_t len);

void bk_partition_unref(bk_partition *p);
/* The high watermark moved: wake the fetches waiting on it. */
void bk_partition_notify(bk_partition *p);
/* After an append: moves the high watermark to the log end, wakes the
 * fetches waiting for data and asks for a flush (group-committed). */
void bk_partition_appended(bk_broker *b, bk_partition *p);
/* Asks for the log to be flushed up to its end; waiters are notified when
 * it is done (acks=-1 produces answer then). */
void bk_partition_request_flush(bk_broker *b, bk_partition *p);

/* A NUL-terminated malloc'd copy of a wire string; NULL for a null string
 * or when memory runs out. The caller frees it. */
char *bk_str_dup(bk_str s);

/* Kafka's topic id text form: base64url without padding. */
void bk_uuid_str(const bk_uuid *u, char out[23]);
void bk_uuid_random(bk_uuid *u);

/* ---- requests and connections (net/) ---- */

/* A gap in an encoded response that is filled from log files (sendfile). */
typedef struct bk_hole {
    size_t pos;         /* offset in the response buffer where the bytes go */
    bk_partition *part; /* pinned until the response is written */
    bk_log_slice slice;
} bk_hole;

struct bk_req {
    bk_conn *conn; /* NULL once the connection is gone (handler still running) */
    bk_req *next;  /* in the connection's queue, arrival order */
    bk_req_header hdr;
    const struct bk_handler *h;
    void *body; /* decoded request, in the arena */
    bk_arena arena;
    uint8_t *frame; /* the request frame (owned) */
    size_t frame_len;
    int64_t recv_ms;
    /* the response */
    bool started;     /* handed to its handler */
    bool done;        /* response ready (or none to send) */
    bool no_response; /* acks=0 produce */
    bool close_after; /* close the connection once it is reached */
    bk_wr out;
    bk_hole *holes;
    int nholes, hole_cap;
    size_t sent; /* bytes of the response (buffer + holes) already sent */
    int cur_hole;
    void *op; /* handler state for delayed work */
};

typedef void (*bk_handler_fn)(bk_broker *b, bk_req *req);

typedef struct bk_handler {
    int16_t key;
    int16_t min_version;    /* lowest version served */
    int16_t max_version;    /* highest version served */
    int16_t advertised_min; /* lowest version in ApiVersions (see produce.c) */
    bk_handler_fn fn;
} bk_handler;

const bk_handler *bk_handler_find(int16_t key);
/* For ApiVersions: every handler, in key order. */
const bk_handler *bk_handlers(int *n);

/* Encodes `resp` (the API's response struct) for req's version, and hands
 * it to the connection. The handler's work for req is over after this. */
void bk_req_respond(bk_broker *b, bk_req *req, const void *resp);
/* Finishes a request that gets no response (acks=0). */
void bk_req_finish_silent(bk_broker *b, bk_req *req);
/* Gives up on the connection: the request gets no answer and the
 * connection closes once earlier responses are written, as Kafka does for
 * requests it cannot parse. */
void bk_req_close(bk_broker *b, bk_req *req, const char *why);
/* Allocation from the request's arena that cannot fail silently: NULL
 * only when the arena cap is hit (the handler answers with an error). */
void *bk_req_alloc(bk_req *req, size_t n);
/* A copy of s in the request arena, as a bk_str. */
bk_str bk_req_str(bk_req *req, const char *s);
bk_str bk_req_strf(bk_req *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True for a request still attached to a live connection. */
static inline bool bk_req_alive(const bk_req *req) {
    return req->conn != NULL;
}

void bk_conn_accept(bk_broker *b, bk_listener *l, int fd);
void bk_conn_close_all(bk_broker *b);   /* graceful: after the queued responses */
void bk_conn_destroy_all(bk_broker *b); /* now */
void bk_conn_reap_idle(bk_broker *b);
/* Called as in-flight bytes drop: connections paused on the broker-wide
 * bound read again. */
void bk_conns_resume(bk_broker *b);
void bk_conn_request_done(bk_broker *b, bk_req *req);

struct bk_listener {
    bk_broker *broker;
    bk_listener_cfg cfg;
    uv_poll_t poll;
    int fd;
    bool open;
    bool paused; /* at max.connections */
};
int bk_listeners_open(bk_broker *b);
/* Accepts again once under max.connections. */
void bk_listeners_resume(bk_broker *b);
void bk_listeners_close(bk_broker *b);

/* ---- delayed operations (purgatory.c) ---- */
struct bk_delayed {
    bk_delayed *prev, *next; /* the broker's armed operations */
    uv_timer_t timer;
    bk_broker *broker;
    void (*expire)(bk_delayed *d); /* the deadline passed */
    bool armed;
    bool inited;
};
void bk_delayed_start(bk_broker *b, bk_delayed *d, int64_t timeout_ms,
                      void (*expire)(bk_delayed *d));
void bk_delayed_cancel(bk_delayed *d);
/* Frees memory holding d only after this callback (uv close is async). */
void bk_delayed_dispose(bk_delayed *d, void (*done)(bk_delayed *d));
/* Shutdown: runs the expiry of every armed operation now. */
void bk_delayed_expire_all(bk_broker *b);

/* ---- dynamic broker configs (handlers/configs.c) ---- */
int bk_dynamic_configs_load(bk_broker *b);
void bk_dynamic_configs_free(bk_broker *b);
/* Kafka's internal topics: __consumer_offsets, __transaction_state,
 * __share_group_state. Clients must not delete them. */
bool bk_topic_is_internal(const char *name);
/* ---- fetch sessions (handlers/fetch_session.c) ---- */
void bk_fetch_sessions_free(bk_broker *b);

/* ---- the broker ---- */
struct bk_broker {
    uv_loop_t *loop;
    bk_config *cfg;
    bk_storage *st;
    uv_poll_t st_poll;
    uv_timer_t housekeeping;
    uv_signal_t sig_term, sig_int;
    char cluster_id[64];
    char *meta_dir; /* <first log dir>/brook-meta: topic files, dynamic configs */

    bk_map topics_by_name;
    bk_map topics_by_id;
    int ntopics;

    bk_listener listeners[BK_MAX_LISTENERS];
    int nlisteners;

    bk_conn *conns; /* doubly linked list */
    int nconns;
    int64_t inflight_bytes; /* request and response bytes held, all connections */
    int64_t inflight_max;
    bool read_paused; /* over the broker-wide bound */

    bk_codec_ctx *codec; /* decompression scratch for validation */
    int64_t next_retention_ms;

    bk_delayed *delayed; /* armed delayed operations */
    int ndelayed;
    struct bk_fetch_sessions *fetch_sessions;
    struct bk_groups *groups;       /* the group coordinator (coord/), or NULL */
    struct bk_pid_alloc *pid_alloc; /* producer id blocks (producers.c), or NULL */

    int stopping; /* 1 after the first signal */
    int64_t stop_deadline_ms;
    int exit_code;
    void (*on_stopping)(bk_broker *b); /* main: sd_notify STOPPING */
};

int bk_broker_init(bk_broker *b, bk_config *cfg);
int bk_broker_run(bk_broker *b);
void bk_broker_free(bk_broker *b);
void bk_broker_stop(bk_broker *b);

#endif
