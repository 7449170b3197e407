/* store.c - the group coordinator on the broker: its config, its deadline
 * timer, and __consumer_offsets: Kafka's record formats (OffsetCommitKey
 * v1 / OffsetCommitValue v3, GroupMetadataKey v2 / GroupMetadataValue v3),
 * appends, tombstones, and loading everything back at start. */
#include <stdlib.h>
#include <string.h>

#include "protocol/record.h"
#include "server/coord/consumer.h"
#include "server/coord/coord.h"
#include "server/handlers/handlers.h"

#define OFFSETS_TOPIC "__consumer_offsets"

/* ---- config ---- */

typedef struct cfg_find {
    const char *name;
    int64_t val;
    bool found;
} cfg_find;

static int cfg_find_fn(void *ud, const bk_config_entry *e) {
    cfg_find *f = ud;
    if (strcmp(e->name, f->name) || !e->value) return 0;
    f->val = strtoll(e->value, NULL, 10);
    f->found = true;
    return 1;
}

static int64_t cfg_int(const bk_config *cfg, const char *name, int64_t def) {
    cfg_find f = {name, def, false};
    bk_config_describe_broker(cfg, cfg_find_fn, &f);
    return f.found ? f.val : def;
}

/* ---- Kafka's group -> partition ---- */

int32_t bk_coord_partition_for(const char *group_id, int32_t nparts) {
    /* Java's String.hashCode over UTF-16 code units, then Utils.abs. */
    int32_t h = 0;
    const uint8_t *s = (const uint8_t *)group_id;
    while (*s) {
        uint32_t cp;
        int n;
        if (s[0] < 0x80) {
            cp = s[0];
            n = 1;
        } else if ((s[0] & 0xE0) == 0xC0 && s[1]) {
            cp = ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu);
            n = 2;
        } else if ((s[0] & 0xF0) == 0xE0 && s[1] && s[2]) {
            cp = ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
            n = 3;
        } else if ((s[0] & 0xF8) == 0xF0 && s[1] && s[2] && s[3]) {
            cp = ((s[0] & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) |
                 (s[3] & 0x3Fu);
            n = 4;
        } else {
            cp = 0xFFFD;
            n = 1;
        }
        s += n;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = (int32_t)((uint32_t)h * 31u + (0xD800u + (cp >> 10)));
            h = (int32_t)((uint32_t)h * 31u + (0xDC00u + (cp & 0x3FFu)));
        } else {
            h = (int32_t)((uint32_t)h * 31u + cp);
        }
    }
    int32_t a = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
    return nparts > 0 ? a % nparts : 0;
}

/* ---- record formats ---- */

static bk_str cs(const char *s) {
    return s ? bk_str_c(s) : BK_STR_NULL;
}

int bk_coord_offset_key(bk_wr *w, const char *group, const char *topic, int32_t partition) {
    bk_OffsetCommitKey k;
    bk_msg_init(&bk_msg_OffsetCommitKey, &k);
    k.group = cs(group);
    k.topic = cs(topic);
    k.partition = partition;
    bk_wr_i16(w, 1);
    return bk_msg_encode(&bk_msg_OffsetCommitKey, 1, &k, w);
}

int bk_coord_offset_value(bk_wr *w, const bk_goffset *o) {
    bk_OffsetCommitValue v;
    bk_msg_init(&bk_msg_OffsetCommitValue, &v);
    v.offset = o->offset;
    v.leaderEpoch = o->leader_epoch;
    v.metadata = o->metadata ? (bk_str){o->metadata, o->metadata_len} : BK_STR_LIT("");
    v.commitTimestamp = o->commit_ms;
    bk_wr_i16(w, 3);
    return bk_msg_encode(&bk_msg_OffsetCommitValue, 3, &v, w);
}

int bk_coord_group_key(bk_wr *w, const char *group) {
    bk_GroupMetadataKey k;
    bk_msg_init(&bk_msg_GroupMetadataKey, &k);
    k.group = cs(group);
    bk_wr_i16(w, 2);
    return bk_msg_encode(&bk_msg_GroupMetadataKey, 2, &k, w);
}

int bk_coord_group_value(bk_wr *w, const bk_group *g) {
    bk_GroupMetadataValue v;
    bk_msg_init(&bk_msg_GroupMetadataValue, &v);
    v.protocolType = cs(g->protocol_type ? g->protocol_type : "");
    v.generation = g->generation;
    v.protocol = cs(g->protocol_name);
    v.leader = cs(g->leader);
    v.currentStateTimestamp = g->state_ms;
    bk_GroupMetadataValue_MemberMetadata *ms =
        calloc((size_t)(g->nmembers ? g->nmembers : 1), sizeof *ms);
    if (!ms) return BK_ENOMEM;
    int i = 0;
    for (bk_gmember *m = g->members; m; m = m->next, i++) {
        bk_struct_init(&bk_sd_GroupMetadataValue_MemberMetadata, &ms[i]);
        ms[i].memberId = cs(m->id);
        ms[i].groupInstanceId = cs(m->instance_id);
        ms[i].clientId = cs(m->client_id);
        ms[i].clientHost = cs(m->client_host);
        ms[i].rebalanceTimeout = m->rebalance_timeout_ms;
        ms[i].sessionTimeout = m->session_timeout_ms;
        const bk_gproto *p = g->protocol_name ? bk_gmember_proto(m, g->protocol_name) : NULL;
        ms[i].subscription = p ? (bk_bytes){p->meta, p->len} : (bk_bytes){(const uint8_t *)"", 0};
        ms[i].assignment =
            (bk_bytes){m->assignment ? m->assignment : (const uint8_t *)"", m->assignment_len};
    }
    v.members.items = ms;
    v.members.count = g->nmembers;
    bk_wr_i16(w, 3);
    int rc = bk_msg_encode(&bk_msg_GroupMetadataValue, 3, &v, w);
    free(ms);
    return rc;
}

/* ---- appends ---- */

static bk_partition *offsets_partition(bk_broker *b, const char *group_id, bool create) {
    bk_groups *gs = b->groups;
    bk_topic *t = bk_topic_find(b, BK_STR_LIT(OFFSETS_TOPIC));
    if (!t && create) {
        char err[256];
        bk_topic_kv kv[] = {{(char *)"cleanup.policy", (char *)"compact"},
                            {(char *)"segment.bytes", (char *)"104857600"}};
        int rc =
            bk_topic_create(b, BK_STR_LIT(OFFSETS_TOPIC), gs->nparts, kv, 2, &t, err, sizeof err);
        if (rc) {
            bk_logf(BK_LV_ERROR, "cannot create %s: %s", OFFSETS_TOPIC, err);
            return NULL;
        }
        bk_logf(BK_LV_INFO, "created %s with %d partitions", OFFSETS_TOPIC, gs->nparts);
    }
    if (!t || t->nparts <= 0) return NULL;
    /* Kafka maps with the topic's own partition count. */
    bk_partition *p = t->parts[bk_coord_partition_for(group_id, t->nparts)];
    return p && p->log ? p : NULL;
}

int16_t bk_coord_append(bk_broker *b, const char *group_id, const bk_bytes *keys,
                        const bk_bytes *values, int n, bk_partition **p_out, int64_t *end_out) {
    if (p_out) *p_out = NULL;
    if (n <= 0) return 0;
    bk_partition *p = offsets_partition(b, group_id, true);
    if (!p) return BK_KERR_COORDINATOR_NOT_AVAILABLE;
    bk_wr out;
    bk_wr_init(&out, 256);
    bk_batch_builder bb;
    bk_batch_opts o = {0};
    o.partition_leader_epoch = p->leader_epoch;
    o.base_timestamp = BK_NO_TIMESTAMP;
    o.producer_id = BK_NO_PRODUCER_ID;
    o.producer_epoch = BK_NO_PRODUCER_EPOCH;
    o.base_sequence = BK_NO_SEQUENCE;
    int64_t now = bk_now_ms();
    int rc = bk_batch_begin(&bb, &out, &o);
    for (int i = 0; !rc && i < n; i++)
        rc = bk_batch_add(&bb, now, keys[i], values[i], NULL, 0);
    if (!rc) rc = bk_batch_finish(&bb, b->codec);
    if (rc) {
        bk_wr_free(&out);
        return BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    bk_append_result res;
    rc = bk_log_append(p->log, out.buf + bb.start, out.len - bb.start, p->leader_epoch, &res);
    bk_wr_free(&out);
    if (rc) {
        bk_logf(BK_LV_ERROR, "append to %s-%d failed: %s", OFFSETS_TOPIC, p->index,
                bk_strerror(rc));
        return BK_KERR_NOT_COORDINATOR;
    }
    bk_partition_appended(b, p);
    if (p_out) *p_out = p;
    if (end_out) *end_out = res.last_offset + 1;
    return 0;
}

void bk_coord_persist_group(bk_broker *b, bk_group *g) {
    bk_wr k, v;
    bk_wr_init(&k, 64);
    bk_wr_init(&v, 256);
    if (!bk_coord_group_key(&k, g->id) && !bk_coord_group_value(&v, g) && !k.err && !v.err) {
        bk_bytes kb = {k.buf, (int32_t)k.len}, vb = {v.buf, (int32_t)v.len};
        bk_coord_append(b, g->id, &kb, &vb, 1, NULL, NULL);
    }
    bk_wr_free(&k);
    bk_wr_free(&v);
}

int16_t bk_coord_delete_group(bk_broker *b, bk_group *g) {
    int n = g->noffsets + 1;
    bk_bytes *keys = calloc((size_t)n, sizeof *keys);
    bk_bytes *vals = calloc((size_t)n, sizeof *vals);
    bk_wr w;
    bk_wr_init(&w, 256);
    size_t *starts = calloc((size_t)n, sizeof *starts);
    int16_t err = BK_KERR_UNKNOWN_SERVER_ERROR;
    if (!keys || !vals || !starts) goto out;
    int i = 0;
    for (size_t j = 0; j < g->offsets.cap; j++) {
        bk_goffset *o = g->offsets.slots[j].val;
        if (!o || o == (void *)1) continue;
        starts[i++] = w.len;
        bk_coord_offset_key(&w, g->id, o->topic, o->partition);
    }
    starts[i++] = w.len;
    bk_coord_group_key(&w, g->id);
    if (w.err) goto out;
    for (int j = 0; j < i; j++) {
        size_t end = j + 1 < i ? starts[j + 1] : w.len;
        keys[j] = (bk_bytes){w.buf + starts[j], (int32_t)(end - starts[j])};
        vals[j] = BK_BYTES_NULL;
    }
    err = bk_coord_append(b, g->id, keys, vals, i, NULL, NULL);
    if (!err) bk_groups_remove(b->groups, g);
out:
    free(keys);
    free(vals);
    free(starts);
    bk_wr_free(&w);
    return err;
}

/* ---- loading ---- */

static void load_group(bk_groups *gs, bk_str id, bk_bytes value, int64_t now) {
    char *gid = bk_str_dup(id);
    if (!gid) return;
    bk_group *g = bk_groups_find(gs, gid);
    if (value.len < 0) { /* tombstone */
        /* Offsets are records of their own (Kafka keeps them apart from
         * the group): a group whose offsets remain stays, reset. */
        if (g && g->noffsets) {
            while (g->members)
                bk_groups_leave_member(gs, g, g->members->id, NULL, now);
            free(g->protocol_type);
            free(g->protocol_name);
            free(g->leader);
            g->protocol_type = g->protocol_name = g->leader = NULL;
            g->generation = 0;
            g->state = g->prev_state = BK_GROUP_EMPTY;
        } else if (g) {
            bk_groups_remove(gs, g);
        }
        free(gid);
        return;
    }
    bk_rd rd = bk_rd_init(value.ptr, (size_t)value.len);
    int16_t ver = bk_rd_i16(&rd);
    bk_arena ar;
    bk_arena_init(&ar, 0);
    bk_GroupMetadataValue v;
    if (ver < 0 || ver > 4 || bk_msg_decode(&bk_msg_GroupMetadataValue, ver, &rd, &ar, &v)) {
        bk_arena_free(&ar);
        free(gid);
        return;
    }
    if (g) {
        /* Keep the offsets, replace the rest: rebuild the members. */
        while (g->members) {
            bk_gmember *m = g->members;
            bk_groups_leave_member(gs, g, m->id, NULL, now);
        }
    } else {
        g = bk_groups_get_or_create(gs, gid, now);
    }
    free(gid);
    if (!g) {
        bk_arena_free(&ar);
        return;
    }
    free(g->protocol_type);
    free(g->protocol_name);
    free(g->leader);
    g->protocol_type = bk_str_dup(v.protocolType);
    g->protocol_name = bk_str_dup(v.protocol);
    g->leader = bk_str_dup(v.leader);
    g->generation = v.generation;
    g->state_ms = v.currentStateTimestamp > 0 ? v.currentStateTimestamp : now;
    for (int32_t i = 0; i < v.members.count; i++) {
        const bk_GroupMetadataValue_MemberMetadata *mm = &v.members.items[i];
        char *mid = bk_str_dup(mm->memberId), *iid = bk_str_dup(mm->groupInstanceId);
        char *cid = bk_str_dup(mm->clientId), *host = bk_str_dup(mm->clientHost);
        bk_gproto pr = {g->protocol_name ? g->protocol_name : (char *)"",
                        (uint8_t *)(uintptr_t)mm->subscription.ptr, mm->subscription.len};
        bk_join_req rq = {0};
        rq.instance_id = iid;
        rq.client_id = cid;
        rq.client_host = host;
        rq.protocol_type = g->protocol_type;
        rq.session_timeout_ms = mm->sessionTimeout;
        rq.rebalance_timeout_ms =
            mm->rebalanceTimeout > 0 ? mm->rebalanceTimeout : mm->sessionTimeout;
        rq.protos = &pr;
        rq.nprotos = 1;
        bk_gmember *m = mid ? bk_groups_restore_member(gs, g, &rq, mid, now) : NULL;
        if (m) {
            free(m->assignment);
            m->assignment = NULL;
            m->assignment_len = 0;
            if (mm->assignment.len > 0 && (m->assignment = malloc((size_t)mm->assignment.len))) {
                memcpy(m->assignment, mm->assignment.ptr, (size_t)mm->assignment.len);
                m->assignment_len = mm->assignment.len;
            }
        }
        free(mid);
        free(iid);
        free(cid);
        free(host);
    }
    g->state = g->prev_state = g->nmembers ? BK_GROUP_STABLE : BK_GROUP_EMPTY;
    bk_arena_free(&ar);
}

static void load_offset(bk_groups *gs, bk_str group, bk_str topic, int32_t part, bk_bytes value,
                        int64_t now) {
    char *gid = bk_str_dup(group), *tn = bk_str_dup(topic);
    if (!gid || !tn) goto out;
    bk_group *g = bk_groups_find(gs, gid);
    if (value.len < 0) {
        bk_goffset *o = g ? bk_group_offset_get(g, tn, part) : NULL;
        if (o) bk_group_offset_del(g, o);
        goto out;
    }
    bk_rd rd = bk_rd_init(value.ptr, (size_t)value.len);
    int16_t ver = bk_rd_i16(&rd);
    bk_arena ar;
    bk_arena_init(&ar, 0);
    bk_OffsetCommitValue v;
    if (ver >= 0 && ver <= 4 && !bk_msg_decode(&bk_msg_OffsetCommitValue, ver, &rd, &ar, &v)) {
        if (!g) g = bk_groups_get_or_create(gs, gid, now);
        if (g)
            bk_group_offset_put(g, tn, part, v.offset, ver >= 3 ? v.leaderEpoch : -1,
                                v.metadata.len > 0 ? v.metadata.ptr : "",
                                v.metadata.len > 0 ? v.metadata.len : 0, v.commitTimestamp);
    }
    bk_arena_free(&ar);
out:
    free(gid);
    free(tn);
}

static void load_record(bk_groups *gs, const bk_record *rec, int64_t now) {
    if (rec->key.len < 2) return;
    bk_rd rd = bk_rd_init(rec->key.ptr, (size_t)rec->key.len);
    int16_t kv = bk_rd_i16(&rd);
    bk_arena ar;
    bk_arena_init(&ar, 0);
    if (kv == 0 || kv == 1) {
        bk_OffsetCommitKey k;
        if (!bk_msg_decode(&bk_msg_OffsetCommitKey, kv, &rd, &ar, &k))
            load_offset(gs, k.group, k.topic, k.partition, rec->value, now);
    } else if (kv == 2) {
        bk_GroupMetadataKey k;
        if (!bk_msg_decode(&bk_msg_GroupMetadataKey, 2, &rd, &ar, &k))
            load_group(gs, k.group, rec->value, now);
    } else {
        bk_coord_consumer_load(gs, kv, &rd, rec->value);
    }
    bk_arena_free(&ar);
}

static void load_partition(bk_broker *b, bk_partition *p, int64_t now) {
    bk_log *log = p->log;
    int64_t off = bk_log_start_offset(log), end = bk_log_end_offset(log);
    bk_wr scratch;
    bk_wr_init(&scratch, 0);
    uint8_t *buf = NULL;
    size_t cap = 0;
    while (off < end) {
        bk_log_slice sl;
        if (bk_log_read(log, off, 1 << 20, -1, &sl) || sl.bytes == 0) break;
        if (sl.bytes > cap) {
            uint8_t *nb = realloc(buf, sl.bytes);
            if (!nb) {
                bk_log_slice_release(log, &sl);
                break;
            }
            buf = nb;
            cap = sl.bytes;
        }
        int64_t got = bk_log_slice_copy(&sl, buf, cap);
        int64_t next = sl.next_offset;
        bk_log_slice_release(log, &sl);
        if (got <= 0 || next <= off) break;
        bk_records_iter it;
        bk_records_iter_init(&it, buf, (size_t)got);
        const uint8_t *bp;
        size_t bs;
        while (bk_records_next(&it, &bp, &bs) == 1) {
            bk_batch batch;
            if (bk_batch_parse_header(bp, bs, &batch)) continue;
            if (bk_batch_is_control(&batch) || bk_batch_is_transactional(&batch)) continue;
            bk_record_iter ri;
            if (bk_record_iter_init(&ri, &batch, b->codec, &scratch, 0)) continue;
            bk_record rec;
            while (bk_record_next(&ri, &rec) == 1)
                load_record(b->groups, &rec, now);
        }
        off = next;
    }
    free(buf);
    bk_wr_free(&scratch);
}

/* ---- the state machine's hooks and timer ---- */

static void on_group_changed(void *ud, bk_group *g) {
    bk_coord_persist_group(ud, g);
}

static void on_timer(uv_timer_t *t) {
    bk_broker *b = t->data;
    bk_groups_tick(b->groups, bk_now_ms());
    bk_cgroups_tick(b->groups->cgroups, bk_now_ms());
    bk_coord_consumer_settle_all(b);
    bk_coord_reschedule(b);
}

void bk_coord_reschedule(bk_broker *b) {
    bk_groups *gs = b->groups;
    if (!gs || !gs->timer_inited || b->stopping) return;
    int64_t next = bk_groups_next_deadline(gs);
    int64_t cg_next = bk_cgroups_next_deadline(gs->cgroups);
    if (cg_next < next) next = cg_next;
    if (next == INT64_MAX) {
        uv_timer_stop(&gs->timer);
        return;
    }
    int64_t d = next - bk_now_ms();
    uv_timer_start(&gs->timer, on_timer, (uint64_t)(d > 0 ? d : 0), 0);
}

int bk_coord_init(bk_broker *b) {
    const bk_config *cfg = b->cfg;
    bk_group_limits lim;
    bk_group_limits_defaults(&lim);
    lim.min_session_timeout_ms =
        (int32_t)cfg_int(cfg, "group.min.session.timeout.ms", lim.min_session_timeout_ms);
    lim.max_session_timeout_ms =
        (int32_t)cfg_int(cfg, "group.max.session.timeout.ms", lim.max_session_timeout_ms);
    lim.max_size = (int32_t)cfg_int(cfg, "group.max.size", lim.max_size);
    lim.initial_rebalance_delay_ms = cfg->group_initial_rebalance_delay_ms;
    lim.offset_metadata_max_bytes =
        (int32_t)cfg_int(cfg, "offset.metadata.max.bytes", lim.offset_metadata_max_bytes);
    lim.offsets_retention_ms = cfg_int(cfg, "offsets.retention.minutes", 10080) * 60000;
    bk_group_ops ops = {bk_group_join_done, bk_group_sync_done, on_group_changed, b};
    bk_groups *gs = bk_groups_new(&lim, &ops);
    if (!gs) return -1;
    gs->broker = b;
    gs->nparts = cfg->offsets_topic_num_partitions > 0 ? cfg->offsets_topic_num_partitions : 50;
    b->groups = gs;
    if (bk_coord_consumer_init(b)) return -1;
    bk_topic *t = bk_topic_find(b, BK_STR_LIT(OFFSETS_TOPIC));
    int64_t now = bk_now_ms();
    if (t) {
        for (int32_t i = 0; i < t->nparts; i++)
            if (t->parts[i]->log) load_partition(b, t->parts[i], now);
        bk_cgroups_restore_done(gs->cgroups, now);
        bk_logf(BK_LV_INFO, "group coordinator: loaded %d classic and %d consumer group(s) from %s",
                gs->ngroups, gs->cgroups->ngroups, OFFSETS_TOPIC);
    }
    /* Loading must not write: the group_changed hook is armed after it. */
    uv_timer_init(b->loop, &gs->timer);
    gs->timer.data = b;
    gs->timer_inited = true;
    bk_coord_reschedule(b);
    return 0;
}

void bk_coord_stop(bk_broker *b) {
    bk_groups *gs = b->groups;
    if (!gs) return;
    bk_groups_unload(gs);
    if (gs->timer_inited) uv_timer_stop(&gs->timer);
}

void bk_coord_free(bk_broker *b) {
    bk_coord_consumer_free(b);
    bk_groups_free(b->groups);
    b->groups = NULL;
}

static void expire_one(void *ud, bk_group *g, const bk_goffset *o) {
    bk_wr w;
    bk_wr_init(&w, 128);
    if (!bk_coord_offset_key(&w, g->id, o->topic, o->partition) && !w.err) {
        bk_bytes k = {w.buf, (int32_t)w.len}, v = BK_BYTES_NULL;
        bk_coord_append(ud, g->id, &k, &v, 1, NULL, NULL);
    }
    bk_wr_free(&w);
}

static void expire_group(void *ud, bk_group *g) {
    bk_wr w;
    bk_wr_init(&w, 64);
    if (!bk_coord_group_key(&w, g->id) && !w.err) {
        bk_bytes k = {w.buf, (int32_t)w.len}, v = BK_BYTES_NULL;
        bk_coord_append(ud, g->id, &k, &v, 1, NULL, NULL);
    }
    bk_wr_free(&w);
}

void bk_coord_forget_classic(bk_broker *b, bk_group *g) {
    if (g->nmembers || (!g->protocol_type && g->generation <= 0)) return;
    expire_group(b, g);
    free(g->protocol_type);
    free(g->protocol_name);
    free(g->leader);
    g->protocol_type = g->protocol_name = g->leader = NULL;
    g->generation = 0;
}

void bk_coord_housekeeping(bk_broker *b) {
    if (!b->groups) return;
    int64_t now = bk_now_ms();
    bk_groups_expire_offsets(b->groups, now, expire_one, expire_group, b);
    bk_coord_consumer_expire(b, now);
}
