/* fetch_session.c - the fetch session cache (KIP-227).
 *
 * A full fetch with epoch 0 creates a session; incremental fetches (epoch
 * 1, 2, ...) name only partitions whose fetch position changed and get back
 * only partitions with records, an error, or a moved high watermark / log
 * start offset. Epoch -1 closes a session. Answering session id 0 is always
 * legal (the client then sends full fetches), which is what happens when
 * the cache is full and no idle session can be evicted. A full fetch (epoch
 * 0 or -1) that names a session closes that session first, as in Kafka. */
#include <stdlib.h>
#include <string.h>

#include "server/handlers/fetch_session.h"
#include "server/handlers/handlers.h"

#define MAX_SESSIONS 1000
/* A session unused this long may be evicted for a new one. */
#define SESSION_IDLE_EVICT_MS 120000

typedef struct sess_part {
    char *topic; /* name, owned */
    bk_uuid topic_id;
    int32_t partition;
    int64_t fetch_offset;
    int32_t max_bytes;
    int32_t current_leader_epoch;
    int64_t sent_hw, sent_lso, sent_start; /* -1 before the first answer */
} sess_part;

typedef struct session {
    int32_t id;
    int32_t epoch; /* the epoch the next request must carry */
    int64_t last_used_ms;
    bool busy; /* a request of this session is being answered */
    sess_part *parts;
    int n, cap;
} session;

struct bk_fetch_sessions {
    bk_map by_id;
    int n;
};

static void session_free(session *s) {
    for (int i = 0; i < s->n; i++)
        free(s->parts[i].topic);
    free(s->parts);
    free(s);
}

static struct bk_fetch_sessions *cache(bk_broker *b) {
    if (!b->fetch_sessions) b->fetch_sessions = calloc(1, sizeof *b->fetch_sessions);
    return b->fetch_sessions;
}

static void session_remove(bk_broker *b, session *s) {
    bk_map_del(&b->fetch_sessions->by_id, &s->id, sizeof s->id);
    b->fetch_sessions->n--;
    session_free(s);
}

void bk_fetch_sessions_free(bk_broker *b) {
    struct bk_fetch_sessions *c = b->fetch_sessions;
    if (!c) return;
    for (size_t i = 0; i < c->by_id.cap; i++) {
        session *s = c->by_id.slots[i].val;
        if (s && s != (void *)1) session_free(s);
    }
    bk_map_free(&c->by_id);
    free(c);
    b->fetch_sessions = NULL;
}

static session *session_new(bk_broker *b) {
    struct bk_fetch_sessions *c = cache(b);
    if (!c) return NULL;
    if (c->n >= MAX_SESSIONS) {
        session *oldest = NULL;
        for (size_t i = 0; i < c->by_id.cap; i++) {
            session *s = c->by_id.slots[i].val;
            if (!s || s == (void *)1 || s->busy) continue;
            if (!oldest || s->last_used_ms < oldest->last_used_ms) oldest = s;
        }
        if (!oldest || bk_mono_ms() - oldest->last_used_ms < SESSION_IDLE_EVICT_MS) return NULL;
        session_remove(b, oldest);
    }
    session *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    do {
        bk_uuid u;
        bk_uuid_random(&u);
        memcpy(&s->id, u.b, sizeof s->id);
        s->id &= INT32_MAX;
    } while (s->id == 0 || bk_map_get(&c->by_id, &s->id, sizeof s->id));
    if (bk_map_put(&c->by_id, &s->id, sizeof s->id, s)) {
        free(s);
        return NULL;
    }
    c->n++;
    s->epoch = 1;
    return s;
}

static sess_part *session_find_part(session *s, const char *topic, int32_t partition) {
    for (int i = 0; i < s->n; i++)
        if (s->parts[i].partition == partition && !strcmp(s->parts[i].topic, topic))
            return &s->parts[i];
    return NULL;
}

/* The topic name of a request topic: from its id in v13+. */
static bk_topic *req_topic(bk_broker *b, bk_req *req, bk_str name, const bk_uuid *id) {
    return req->hdr.api_version >= 13 ? bk_topic_find_id(b, id) : bk_topic_find(b, name);
}

static int session_upsert(session *s, const char *topic, const bk_uuid *id,
                          const bk_FetchRequest_FetchPartition *fp) {
    sess_part *sp = session_find_part(s, topic, fp->Partition);
    if (!sp) {
        if (s->n == s->cap) {
            int cap = s->cap ? s->cap * 2 : 16;
            sess_part *np = realloc(s->parts, (size_t)cap * sizeof *np);
            if (!np) return BK_ENOMEM;
            s->parts = np;
            s->cap = cap;
        }
        sp = &s->parts[s->n];
        memset(sp, 0, sizeof *sp);
        if (!(sp->topic = strdup(topic))) return BK_ENOMEM;
        sp->partition = fp->Partition;
        sp->sent_hw = sp->sent_lso = sp->sent_start = -1;
        s->n++;
    }
    if (id) sp->topic_id = *id;
    sp->fetch_offset = fp->FetchOffset;
    sp->max_bytes = fp->PartitionMaxBytes;
    sp->current_leader_epoch = fp->CurrentLeaderEpoch;
    return 0;
}

static void session_forget(session *s, const char *topic, int32_t partition) {
    sess_part *sp = session_find_part(s, topic, partition);
    if (!sp) return;
    free(sp->topic);
    *sp = s->parts[--s->n];
}

/* Items straight from the request (no session, or a new one). */
static int items_from_request(bk_broker *b, bk_req *req, bk_fetch_ctx *ctx) {
    const bk_FetchRequest *rq = req->body;
    int n = 0;
    for (int32_t i = 0; i < rq->Topics.count; i++)
        n += rq->Topics.items[i].Partitions.count;
    ctx->items = bk_req_alloc(req, sizeof *ctx->items * (size_t)(n > 0 ? n : 1));
    if (!ctx->items) return BK_ENOMEM;
    int k = 0;
    for (int32_t i = 0; i < rq->Topics.count; i++) {
        const bk_FetchRequest_FetchTopic *ft = &rq->Topics.items[i];
        bk_topic *t = req_topic(b, req, ft->Topic, &ft->TopicId);
        for (int32_t j = 0; j < ft->Partitions.count; j++) {
            const bk_FetchRequest_FetchPartition *fp = &ft->Partitions.items[j];
            bk_fetch_item *it = &ctx->items[k++];
            it->topic = t;
            it->topic_name = t ? bk_str_c(t->name) : ft->Topic;
            it->topic_id = ft->TopicId;
            it->partition = fp->Partition;
            it->fetch_offset = fp->FetchOffset;
            it->max_bytes = fp->PartitionMaxBytes;
            it->current_leader_epoch = fp->CurrentLeaderEpoch;
        }
    }
    ctx->n = k;
    return 0;
}

static int items_from_session(bk_broker *b, bk_req *req, session *s, bk_fetch_ctx *ctx) {
    ctx->items = bk_req_alloc(req, sizeof *ctx->items * (size_t)(s->n > 0 ? s->n : 1));
    if (!ctx->items) return BK_ENOMEM;
    for (int i = 0; i < s->n; i++) {
        sess_part *sp = &s->parts[i];
        bk_fetch_item *it = &ctx->items[i];
        it->topic = bk_topic_find(b, bk_str_c(sp->topic));
        if (it->topic && req->hdr.api_version >= 13 &&
            memcmp(&it->topic->id, &sp->topic_id, sizeof sp->topic_id) != 0)
            it->topic = NULL; /* the name now belongs to a re-created topic */
        it->topic_name = bk_req_str(req, sp->topic);
        it->topic_id = sp->topic_id;
        it->partition = sp->partition;
        it->fetch_offset = sp->fetch_offset;
        it->max_bytes = sp->max_bytes;
        it->current_leader_epoch = sp->current_leader_epoch;
    }
    ctx->n = s->n;
    return 0;
}

/* Session partitions are kept by topic name; for v13+ requests, whose
 * topics come by id, an unknown id is kept under a name made of the id so
 * that it still gets its UNKNOWN_TOPIC_ID answer. */
static const char *topic_key(bk_req *req, bk_topic *t, bk_str name, const bk_uuid *id) {
    if (t) return t->name;
    if (req->hdr.api_version < 13) return bk_req_cstr(req, name);
    char *k = bk_req_alloc(req, 24);
    if (k) {
        k[0] = '#';
        bk_uuid_str(id, k + 1);
    }
    return k;
}

/* Adds or updates every partition the request names. */
static int session_add_request(bk_broker *b, bk_req *req, session *s) {
    const bk_FetchRequest *rq = req->body;
    int rc = 0;
    for (int32_t i = 0; !rc && i < rq->Topics.count; i++) {
        const bk_FetchRequest_FetchTopic *ft = &rq->Topics.items[i];
        bk_topic *t = req_topic(b, req, ft->Topic, &ft->TopicId);
        const char *key = topic_key(req, t, ft->Topic, &ft->TopicId);
        for (int32_t j = 0; key && !rc && j < ft->Partitions.count; j++)
            rc = session_upsert(s, key, &ft->TopicId, &ft->Partitions.items[j]);
    }
    return rc;
}

int16_t bk_fetch_session_begin(bk_broker *b, bk_req *req, bk_fetch_ctx *ctx) {
    const bk_FetchRequest *rq = req->body;
    memset(ctx, 0, sizeof *ctx);
    int32_t id = req->hdr.api_version >= 7 ? rq->SessionId : 0;
    int32_t epoch = req->hdr.api_version >= 7 ? rq->SessionEpoch : -1;
    int rc = 0;
    if (id != 0 && (epoch == 0 || epoch == -1)) {
        /* A full fetch naming a session closes it, as Kafka's FetchManager
         * does: even one still answering a request (whose connection may be
         * gone: its finish finds no session), and an unknown id is no
         * error. Epoch 0 then opens a new session, -1 is sessionless.
         * Clients reset a session this way after INVALID_FETCH_SESSION_EPOCH
         * (franz-go keeps the id and sends epoch 0). */
        struct bk_fetch_sessions *c = cache(b);
        session *s = c ? bk_map_get(&c->by_id, &id, sizeof id) : NULL;
        if (s) session_remove(b, s);
        id = 0;
    }
    if (id == 0) {
        if (epoch != 0 && epoch != -1) return BK_KERR_INVALID_FETCH_SESSION_EPOCH;
        if (epoch == 0 && !b->stopping) {
            session *s = session_new(b);
            if (s) {
                rc = session_add_request(b, req, s);
                if (rc) {
                    session_remove(b, s);
                } else {
                    ctx->session_id = s->id;
                    s->busy = true;
                    s->last_used_ms = bk_mono_ms();
                }
            }
        }
        rc = items_from_request(b, req, ctx);
    } else {
        struct bk_fetch_sessions *c = cache(b);
        session *s = c ? bk_map_get(&c->by_id, &id, sizeof id) : NULL;
        if (!s) return BK_KERR_FETCH_SESSION_ID_NOT_FOUND;
        if (epoch != s->epoch || s->busy) return BK_KERR_INVALID_FETCH_SESSION_EPOCH;
        for (int32_t i = 0; !rc && i < rq->ForgottenTopicsData.count; i++) {
            const bk_FetchRequest_ForgottenTopic *ft = &rq->ForgottenTopicsData.items[i];
            bk_topic *t = req_topic(b, req, ft->Topic, &ft->TopicId);
            const char *key = topic_key(req, t, ft->Topic, &ft->TopicId);
            for (int32_t j = 0; key && j < ft->Partitions.count; j++)
                session_forget(s, key, ft->Partitions.items[j]);
        }
        if (!rc) rc = session_add_request(b, req, s);
        if (!rc) rc = items_from_session(b, req, s, ctx);
        ctx->session_id = s->id;
        ctx->incremental = true;
        s->busy = true;
        s->last_used_ms = bk_mono_ms();
    }
    if (rc) {
        ctx->n = 0;
        return BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    bk_FetchResponse_PartitionData *outs =
        bk_req_alloc(req, sizeof *outs * (size_t)(ctx->n > 0 ? ctx->n : 1));
    if (!outs) {
        ctx->n = 0;
        return BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    for (int i = 0; i < ctx->n; i++) {
        bk_struct_init(&bk_sd_FetchResponse_PartitionData, &outs[i]);
        ctx->items[i].out = &outs[i];
    }
    return 0;
}

static bool same_topic(const bk_fetch_item *a, const bk_fetch_item *c) {
    return bk_str_eq(a->topic_name, c->topic_name) &&
           !memcmp(&a->topic_id, &c->topic_id, sizeof a->topic_id);
}

void bk_fetch_session_finish(bk_broker *b, bk_req *req, bk_fetch_ctx *ctx, bk_FetchResponse *resp) {
    session *s = NULL;
    if (ctx->session_id) {
        struct bk_fetch_sessions *c = cache(b);
        s = c ? bk_map_get(&c->by_id, &ctx->session_id, sizeof ctx->session_id) : NULL;
    }
    resp->SessionId = s ? s->id : 0;
    /* Which items go out: all of a full fetch, the news of an incremental one. */
    bool *keep = bk_req_alloc(req, sizeof *keep * (size_t)(ctx->n > 0 ? ctx->n : 1));
    for (int i = 0; keep && i < ctx->n; i++) {
        bk_fetch_item *it = &ctx->items[i];
        bk_FetchResponse_PartitionData *o = it->out;
        sess_part *sp = NULL;
        if (s) {
            const char *key = it->topic ? it->topic->name : NULL;
            for (int k = 0; !sp && k < s->n; k++)
                if (s->parts[k].partition == it->partition &&
                    (key ? !strcmp(s->parts[k].topic, key)
                         : (int32_t)strlen(s->parts[k].topic) == it->topic_name.len &&
                               !memcmp(s->parts[k].topic, it->topic_name.ptr,
                                       (size_t)it->topic_name.len)))
                    sp = &s->parts[k];
        }
        keep[i] = !ctx->incremental || o->ErrorCode || o->Records.len > 0 || !sp ||
                  sp->sent_hw != o->HighWatermark || sp->sent_lso != o->LastStableOffset ||
                  sp->sent_start != o->LogStartOffset;
        if (sp) {
            /* An error forgets what was sent: the partition goes out again
             * with every response until it answers without one. */
            sp->sent_hw = o->ErrorCode ? -1 : o->HighWatermark;
            sp->sent_lso = o->LastStableOffset;
            sp->sent_start = o->LogStartOffset;
        }
    }
    if (s) {
        /* A new session's first incremental request carries epoch 1, the
         * one it was created with; each incremental one moves it on. */
        if (ctx->incremental) s->epoch = s->epoch == INT32_MAX ? 1 : s->epoch + 1;
        s->busy = false;
        s->last_used_ms = bk_mono_ms();
    }
    /* Group consecutive kept items of the same topic. */
    int nt = 0;
    const bk_fetch_item *last = NULL;
    for (int i = 0; keep && i < ctx->n; i++) {
        if (!keep[i]) continue;
        if (!last || !same_topic(&ctx->items[i], last)) nt++;
        last = &ctx->items[i];
    }
    bk_FetchResponse_FetchableTopicResponse *rt =
        bk_req_array(req, &resp->Responses, nt, &bk_sd_FetchResponse_FetchableTopicResponse);
    int ti = -1;
    const bk_fetch_item *prev = NULL;
    for (int i = 0; rt && keep && i < ctx->n; i++) {
        if (!keep[i]) continue;
        bk_fetch_item *it = &ctx->items[i];
        if (!prev || !same_topic(it, prev)) {
            ti++;
            rt[ti].Topic = it->topic_name;
            rt[ti].TopicId = it->topic ? it->topic->id : it->topic_id;
            int cnt = 0;
            for (int j = i; j < ctx->n; j++) {
                if (!keep[j]) continue;
                if (!same_topic(&ctx->items[j], it)) break;
                cnt++;
            }
            rt[ti].Partitions.items =
                bk_req_alloc(req, sizeof(bk_FetchResponse_PartitionData) * (size_t)cnt);
            rt[ti].Partitions.count = 0;
            if (!rt[ti].Partitions.items) break;
        }
        rt[ti].Partitions.items[rt[ti].Partitions.count++] = *it->out;
        prev = it;
    }
}

void bk_fetch_ctx_free(bk_fetch_ctx *ctx) {
    ctx->items = NULL; /* the arena owns them */
    ctx->n = 0;
}
