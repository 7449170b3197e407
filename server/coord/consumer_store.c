/* consumer_store.c - KIP-848 consumer groups in __consumer_offsets, in
 * Kafka's own record types: ConsumerGroupMetadata (key version 3, the group
 * epoch), ConsumerGroupPartitionMetadata (4, the subscribed topics),
 * ConsumerGroupMemberMetadata (5), ConsumerGroupTargetAssignmentMetadata
 * (6) and ...Member (7), ConsumerGroupCurrentMemberAssignment (8). What
 * consumer.c flagged as changed is written after each heartbeat or timer
 * run; loading replays the records in log order, so the last value of each
 * key wins, as after compaction. */
#include <stdlib.h>
#include <string.h>

#include "server/coord/consumer.h"
#include "server/coord/coord.h"

enum {
    K_GROUP = 3,
    K_TOPICS = 4,
    K_MEMBER = 5,
    K_TARGET_EPOCH = 6,
    K_TARGET = 7,
    K_CURRENT = 8,
};

/* ---- a batch of records built in one buffer ---- */

typedef struct rec_span {
    size_t k0, k1, v1; /* key [k0, k1), value [k1, v1); tombstone: v1 == k1 */
    bool tomb;
} rec_span;

typedef struct reclist {
    bk_wr w;
    rec_span *r;
    int n, cap;
    bool oom;
} reclist;

static void rl_init(reclist *l) {
    memset(l, 0, sizeof *l);
    bk_wr_init(&l->w, 512);
}

static void rl_free(reclist *l) {
    bk_wr_free(&l->w);
    free(l->r);
}

/* Starts a record: writes the key's version; the caller encodes the rest. */
static void rl_key(reclist *l, int16_t kv) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        rec_span *r = realloc(l->r, (size_t)cap * sizeof *r);
        if (!r) {
            l->oom = true;
            return;
        }
        l->r = r;
        l->cap = cap;
    }
    l->r[l->n] = (rec_span){l->w.len, 0, 0, false};
    bk_wr_i16(&l->w, kv);
}

/* Ends the key; the value follows (version 0, flexible) unless tomb. */
static void rl_value(reclist *l, bool tomb) {
    if (l->oom) return;
    l->r[l->n].k1 = l->w.len;
    l->r[l->n].tomb = tomb;
    if (!tomb) bk_wr_i16(&l->w, 0);
}

static void rl_end(reclist *l) {
    if (l->oom) return;
    l->r[l->n].v1 = l->w.len;
    l->n++;
}

static int16_t rl_append(bk_broker *b, const char *group_id, reclist *l) {
    if (l->oom || l->w.err) return BK_KERR_UNKNOWN_SERVER_ERROR;
    if (!l->n) return 0;
    bk_bytes *keys = calloc((size_t)l->n, sizeof *keys);
    bk_bytes *vals = calloc((size_t)l->n, sizeof *vals);
    int16_t err = BK_KERR_UNKNOWN_SERVER_ERROR;
    if (keys && vals) {
        for (int i = 0; i < l->n; i++) {
            rec_span *s = &l->r[i];
            keys[i] = (bk_bytes){l->w.buf + s->k0, (int32_t)(s->k1 - s->k0)};
            vals[i] =
                s->tomb ? BK_BYTES_NULL : (bk_bytes){l->w.buf + s->k1, (int32_t)(s->v1 - s->k1)};
        }
        err = bk_coord_append(b, group_id, keys, vals, l->n, NULL, NULL);
    }
    free(keys);
    free(vals);
    return err;
}

static bk_str cs(const char *s) {
    return s ? bk_str_c(s) : BK_STR_NULL;
}

/* ---- keys ---- */

static void key_group(reclist *l, int16_t kv, const char *group) {
    rl_key(l, kv);
    /* Every group-keyed type has the same layout: one string. */
    bk_ConsumerGroupMetadataKey k;
    bk_msg_init(&bk_msg_ConsumerGroupMetadataKey, &k);
    k.GroupId = cs(group);
    bk_msg_encode(&bk_msg_ConsumerGroupMetadataKey, K_GROUP, &k, &l->w);
}

static void key_member(reclist *l, int16_t kv, const char *group, const char *member) {
    rl_key(l, kv);
    /* Every member-keyed type has the same layout: two strings. */
    bk_ConsumerGroupMemberMetadataKey k;
    bk_msg_init(&bk_msg_ConsumerGroupMemberMetadataKey, &k);
    k.GroupId = cs(group);
    k.MemberId = cs(member);
    bk_msg_encode(&bk_msg_ConsumerGroupMemberMetadataKey, K_MEMBER, &k, &l->w);
}

static void tombstone_member(reclist *l, const char *group, const char *member) {
    static const int16_t kinds[] = {K_CURRENT, K_TARGET, K_MEMBER};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        key_member(l, kinds[i], group, member);
        rl_value(l, true);
        rl_end(l);
    }
}

/* ---- values ---- */

/* A partition set as Kafka's [TopicId, [Partition]] list. Both value types
 * that carry one share this layout (generated as distinct structs). */
typedef struct tp_list {
    bk_uuid *ids;
    int32_t **parts;
    int32_t *nparts;
    int n;
} tp_list;

static int tp_build(tp_list *t, const bk_cgset *s) {
    memset(t, 0, sizeof *t);
    int nt = 0;
    for (int i = 0; i < s->n; i++)
        if (!i || memcmp(s->v[i].topic.b, s->v[i - 1].topic.b, 16)) nt++;
    if (!nt) return 0;
    t->ids = calloc((size_t)nt, sizeof *t->ids);
    t->parts = calloc((size_t)nt, sizeof *t->parts);
    t->nparts = calloc((size_t)nt, sizeof *t->nparts);
    int32_t *flat = malloc((size_t)s->n * sizeof *flat);
    if (!t->ids || !t->parts || !t->nparts || !flat) {
        free(flat);
        return BK_ENOMEM;
    }
    for (int i = 0; i < s->n; i++) {
        if (!i || memcmp(s->v[i].topic.b, s->v[i - 1].topic.b, 16)) {
            t->ids[t->n] = s->v[i].topic;
            t->parts[t->n] = flat + i;
            t->n++;
        }
        flat[i] = s->v[i].partition;
        t->nparts[t->n - 1]++;
    }
    return 0;
}

static void tp_free(tp_list *t) {
    if (t->parts) free(t->parts[0]);
    free(t->ids);
    free(t->parts);
    free(t->nparts);
}

static void value_member(reclist *l, const bk_cgmember *m) {
    bk_ConsumerGroupMemberMetadataValue v;
    bk_msg_init(&bk_msg_ConsumerGroupMemberMetadataValue, &v);
    v.InstanceId = cs(m->instance_id);
    v.RackId = cs(m->rack_id);
    v.ClientId = cs(m->client_id ? m->client_id : "");
    v.ClientHost = cs(m->client_host ? m->client_host : "");
    bk_str *ts = calloc((size_t)(m->ntopics ? m->ntopics : 1), sizeof *ts);
    if (!ts) {
        l->oom = true;
        return;
    }
    for (int i = 0; i < m->ntopics; i++)
        ts[i] = bk_str_c(m->topics[i]);
    v.SubscribedTopicNames.items = ts;
    v.SubscribedTopicNames.count = m->ntopics;
    v.SubscribedTopicRegex = cs(m->regex);
    v.RebalanceTimeoutMs = m->rebalance_timeout_ms;
    v.ServerAssignor = cs(m->assignor);
    /* A classic member: its session timeout and JoinGroup protocols. */
    bk_ConsumerGroupMemberMetadataValue_ClassicMemberMetadata cm;
    bk_ConsumerGroupMemberMetadataValue_ClassicProtocol *ps = NULL;
    if (m->classic) {
        int n = m->classic->nprotos;
        ps = calloc((size_t)(n ? n : 1), sizeof *ps);
        if (!ps) {
            free(ts);
            l->oom = true;
            return;
        }
        bk_struct_init(&bk_sd_ConsumerGroupMemberMetadataValue_ClassicMemberMetadata, &cm);
        cm.SessionTimeoutMs = m->classic->session_timeout_ms;
        for (int i = 0; i < n; i++) {
            bk_struct_init(&bk_sd_ConsumerGroupMemberMetadataValue_ClassicProtocol, &ps[i]);
            ps[i].Name = bk_str_c(m->classic->protos[i].name);
            ps[i].Metadata = (bk_bytes){m->classic->protos[i].meta, m->classic->protos[i].len};
        }
        cm.SupportedProtocols.items = ps;
        cm.SupportedProtocols.count = n;
        v.ClassicMemberMetadata = &cm;
    }
    bk_msg_encode(&bk_msg_ConsumerGroupMemberMetadataValue, 0, &v, &l->w);
    free(ps);
    free(ts);
}

static void value_target(reclist *l, const bk_cgset *target) {
    tp_list t;
    bk_ConsumerGroupTargetAssignmentMemberValue_TopicPartition *tps = NULL;
    if (tp_build(&t, target) || (t.n && !(tps = calloc((size_t)t.n, sizeof *tps)))) {
        tp_free(&t);
        l->oom = true;
        return;
    }
    bk_ConsumerGroupTargetAssignmentMemberValue v;
    bk_msg_init(&bk_msg_ConsumerGroupTargetAssignmentMemberValue, &v);
    for (int i = 0; i < t.n; i++) {
        bk_struct_init(&bk_sd_ConsumerGroupTargetAssignmentMemberValue_TopicPartition, &tps[i]);
        tps[i].TopicId = t.ids[i];
        tps[i].Partitions.items = t.parts[i];
        tps[i].Partitions.count = t.nparts[i];
    }
    v.TopicPartitions.items = tps;
    v.TopicPartitions.count = t.n;
    bk_msg_encode(&bk_msg_ConsumerGroupTargetAssignmentMemberValue, 0, &v, &l->w);
    free(tps);
    tp_free(&t);
}

typedef bk_ConsumerGroupCurrentMemberAssignmentValue_TopicPartitions cur_tp;

static cur_tp *cur_list(tp_list *t, const bk_cgset *s, bool *oom) {
    if (tp_build(t, s)) {
        *oom = true;
        return NULL;
    }
    cur_tp *v = calloc((size_t)(t->n ? t->n : 1), sizeof *v);
    if (!v) {
        *oom = true;
        return NULL;
    }
    for (int i = 0; i < t->n; i++) {
        bk_struct_init(&bk_sd_ConsumerGroupCurrentMemberAssignmentValue_TopicPartitions, &v[i]);
        v[i].TopicId = t->ids[i];
        v[i].Partitions.items = t->parts[i];
        v[i].Partitions.count = t->nparts[i];
    }
    return v;
}

static void value_current(reclist *l, const bk_cgmember *m) {
    bk_ConsumerGroupCurrentMemberAssignmentValue v;
    bk_msg_init(&bk_msg_ConsumerGroupCurrentMemberAssignmentValue, &v);
    v.MemberEpoch = m->epoch;
    v.PreviousMemberEpoch = m->prev_epoch;
    v.State = (int8_t)m->state;
    tp_list ta, tr;
    cur_tp *a = cur_list(&ta, &m->assigned, &l->oom);
    cur_tp *r = cur_list(&tr, &m->revoking, &l->oom);
    if (a && r) {
        v.AssignedPartitions.items = a;
        v.AssignedPartitions.count = ta.n;
        v.PartitionsPendingRevocation.items = r;
        v.PartitionsPendingRevocation.count = tr.n;
        bk_msg_encode(&bk_msg_ConsumerGroupCurrentMemberAssignmentValue, 0, &v, &l->w);
    }
    free(a);
    free(r);
    tp_free(&ta);
    tp_free(&tr);
}

typedef struct topics_val {
    bk_ConsumerGroupPartitionMetadataValue_TopicMetadata *v;
    int n, cap;
    bool oom;
} topics_val;

/* The walk's names live only during it: each is copied. */
static void topics_add(void *ud, const char *name, const bk_uuid *id, int32_t nparts) {
    topics_val *t = ud;
    if (t->oom) return;
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 8;
        void *v = realloc(t->v, (size_t)cap * sizeof *t->v);
        if (!v) {
            t->oom = true;
            return;
        }
        t->v = v;
        t->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) {
        t->oom = true;
        return;
    }
    bk_ConsumerGroupPartitionMetadataValue_TopicMetadata *e = &t->v[t->n++];
    bk_struct_init(&bk_sd_ConsumerGroupPartitionMetadataValue_TopicMetadata, e);
    e->TopicId = *id;
    e->TopicName = bk_str_c(copy);
    e->NumPartitions = nparts;
    e->PartitionMetadata.count = 0;
}

static void value_topics(reclist *l, bk_cgroups *cgs, bk_cgroup *cg) {
    topics_val t = {0};
    if (bk_cgroup_each_topic(cgs, cg, topics_add, &t) || t.oom) {
        l->oom = true;
    } else {
        bk_ConsumerGroupPartitionMetadataValue v;
        bk_msg_init(&bk_msg_ConsumerGroupPartitionMetadataValue, &v);
        v.Topics.items = t.v;
        v.Topics.count = t.n;
        bk_msg_encode(&bk_msg_ConsumerGroupPartitionMetadataValue, 0, &v, &l->w);
    }
    for (int i = 0; i < t.n; i++)
        free((char *)t.v[i].TopicName.ptr);
    free(t.v);
}

static void value_i32(reclist *l, const bk_msg *msg, int32_t val) {
    /* ConsumerGroupMetadataValue and ...TargetAssignmentMetadataValue: one
     * int32 each. */
    if (msg == &bk_msg_ConsumerGroupMetadataValue) {
        bk_ConsumerGroupMetadataValue v;
        bk_msg_init(msg, &v);
        v.Epoch = val;
        bk_msg_encode(msg, 0, &v, &l->w);
    } else {
        bk_ConsumerGroupTargetAssignmentMetadataValue v;
        bk_msg_init(msg, &v);
        v.AssignmentEpoch = val;
        bk_msg_encode(msg, 0, &v, &l->w);
    }
}

/* ---- writing ---- */

void bk_coord_consumer_persist(bk_broker *b, bk_cgroup *cg) {
    if (!cg->dirty) return;
    bk_cgroups *cgs = b->groups->cgroups;
    reclist l;
    rl_init(&l);
    for (int i = 0; i < cg->ngone; i++)
        tombstone_member(&l, cg->id, cg->gone[i]);
    for (bk_cgmember *m = cg->members; m; m = m->next) {
        if (!m->dirty_meta) continue;
        key_member(&l, K_MEMBER, cg->id, m->id);
        rl_value(&l, false);
        value_member(&l, m);
        rl_end(&l);
    }
    if (cg->dirty_topics) {
        key_group(&l, K_TOPICS, cg->id);
        rl_value(&l, false);
        value_topics(&l, cgs, cg);
        rl_end(&l);
    }
    if (cg->dirty_epoch) {
        key_group(&l, K_GROUP, cg->id);
        rl_value(&l, false);
        value_i32(&l, &bk_msg_ConsumerGroupMetadataValue, cg->epoch);
        rl_end(&l);
    }
    for (bk_cgmember *m = cg->members; m; m = m->next) {
        if (!m->dirty_target) continue;
        key_member(&l, K_TARGET, cg->id, m->id);
        rl_value(&l, false);
        value_target(&l, &m->target);
        rl_end(&l);
    }
    if (cg->dirty_assign) {
        key_group(&l, K_TARGET_EPOCH, cg->id);
        rl_value(&l, false);
        value_i32(&l, &bk_msg_ConsumerGroupTargetAssignmentMetadataValue, cg->assign_epoch);
        rl_end(&l);
    }
    for (bk_cgmember *m = cg->members; m; m = m->next) {
        if (!m->dirty_current) continue;
        key_member(&l, K_CURRENT, cg->id, m->id);
        rl_value(&l, false);
        value_current(&l, m);
        rl_end(&l);
    }
    int16_t err = rl_append(b, cg->id, &l);
    if (err)
        bk_logf(BK_LV_WARN,
                "consumer group %s: cannot write its state to __consumer_offsets (error %d); "
                "it is served from memory and a restart would lose the change",
                cg->id, err);
    rl_free(&l);
    bk_cgroup_changes_done(cg);
}

void bk_coord_consumer_persist_all(bk_broker *b) {
    bk_cgroups *cgs = b->groups ? b->groups->cgroups : NULL;
    if (!cgs) return;
    for (size_t i = 0; i < cgs->by_id.cap; i++) {
        bk_map_slot *s = &cgs->by_id.slots[i];
        if (s->key && s->val) bk_coord_consumer_persist(b, s->val);
    }
}

int16_t bk_coord_consumer_delete(bk_broker *b, bk_cgroup *cg) {
    reclist l;
    rl_init(&l);
    for (int i = 0; i < cg->ngone; i++)
        tombstone_member(&l, cg->id, cg->gone[i]);
    for (bk_cgmember *m = cg->members; m; m = m->next)
        tombstone_member(&l, cg->id, m->id);
    static const int16_t kinds[] = {K_TARGET_EPOCH, K_TOPICS, K_GROUP};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        key_group(&l, kinds[i], cg->id);
        rl_value(&l, true);
        rl_end(&l);
    }
    int16_t err = rl_append(b, cg->id, &l);
    rl_free(&l);
    if (!err) bk_cgroups_remove(b->groups->cgroups, cg);
    return err;
}

/* ---- loading ---- */

static int set_add_list(bk_cgset *s, const bk_uuid *topic, const int32_t *parts, int32_t n) {
    for (int32_t i = 0; i < n; i++)
        if (bk_cgset_add(s, topic, parts[i])) return BK_ENOMEM;
    return 0;
}

static int replace_opt(char **dst, bk_str s) {
    char *c = bk_str_dup(s);
    if (s.len >= 0 && !c) return BK_ENOMEM;
    free(*dst);
    *dst = c;
    return 0;
}

static void load_member_meta(bk_cgmember *m, const bk_ConsumerGroupMemberMetadataValue *v) {
    replace_opt(&m->instance_id, v->InstanceId);
    replace_opt(&m->rack_id, v->RackId);
    replace_opt(&m->client_id, v->ClientId);
    replace_opt(&m->client_host, v->ClientHost);
    replace_opt(&m->assignor, v->ServerAssignor);
    if (v->RebalanceTimeoutMs > 0) m->rebalance_timeout_ms = v->RebalanceTimeoutMs;
    int32_t n = v->SubscribedTopicNames.count > 0 ? v->SubscribedTopicNames.count : 0;
    char **names = calloc((size_t)(n ? n : 1), sizeof *names);
    int k = 0;
    for (int32_t i = 0; names && i < n; i++)
        if ((names[k] = bk_str_dup(v->SubscribedTopicNames.items[i]))) k++;
    if (names) bk_cgmember_restore_topics(m, (const char *const *)names, k);
    for (int i = 0; i < k; i++)
        free(names[i]);
    free(names);
    char *re = bk_str_dup(v->SubscribedTopicRegex);
    bk_cgmember_restore_regex(m, re);
    free(re);
    const bk_ConsumerGroupMemberMetadataValue_ClassicMemberMetadata *c = v->ClassicMemberMetadata;
    int32_t np = c && c->SupportedProtocols.count > 0 ? c->SupportedProtocols.count : 0;
    bk_cgproto *ps = c ? calloc((size_t)(np ? np : 1), sizeof *ps) : NULL;
    int nps = 0;
    for (int32_t i = 0; ps && i < np; i++) {
        const bk_ConsumerGroupMemberMetadataValue_ClassicProtocol *p =
            &c->SupportedProtocols.items[i];
        if (!(ps[nps].name = bk_str_dup(p->Name))) continue;
        ps[nps].meta = (uint8_t *)(uintptr_t)p->Metadata.ptr;
        ps[nps].len = p->Metadata.len > 0 ? p->Metadata.len : 0;
        nps++;
    }
    bk_cgclassic cl = {c ? c->SessionTimeoutMs : 0, ps, nps, 0, 0};
    bk_cgclassic_set(m, ps ? &cl : NULL);
    for (int i = 0; i < nps; i++)
        free(ps[i].name);
    free(ps);
    m->loaded_meta = true;
}

static void load_topics(bk_cgroup *cg, const bk_ConsumerGroupPartitionMetadataValue *v) {
    int32_t n = v->Topics.count > 0 ? v->Topics.count : 0;
    char **names = calloc((size_t)(n ? n : 1), sizeof *names);
    bk_uuid *ids = calloc((size_t)(n ? n : 1), sizeof *ids);
    int32_t *np = calloc((size_t)(n ? n : 1), sizeof *np);
    int k = 0;
    for (int32_t i = 0; names && ids && np && i < n; i++) {
        if (!(names[k] = bk_str_dup(v->Topics.items[i].TopicName))) continue;
        ids[k] = v->Topics.items[i].TopicId;
        np[k] = v->Topics.items[i].NumPartitions;
        k++;
    }
    if (names && ids && np) bk_cgroup_restore_topics(cg, (const char *const *)names, ids, np, k);
    for (int i = 0; names && i < k; i++)
        free(names[i]);
    free(names);
    free(ids);
    free(np);
}

static void load_current(bk_cgmember *m, const bk_ConsumerGroupCurrentMemberAssignmentValue *v) {
    m->epoch = v->MemberEpoch;
    m->prev_epoch = v->PreviousMemberEpoch;
    m->state = v->State >= BK_CGM_STABLE && v->State <= BK_CGM_UNRELEASED_PARTITIONS
                   ? v->State
                   : BK_CGM_STABLE;
    m->assigned.n = m->revoking.n = 0;
    for (int32_t i = 0; i < v->AssignedPartitions.count; i++) {
        const cur_tp *t = &v->AssignedPartitions.items[i];
        set_add_list(&m->assigned, &t->TopicId, t->Partitions.items, t->Partitions.count);
    }
    for (int32_t i = 0; i < v->PartitionsPendingRevocation.count; i++) {
        const cur_tp *t = &v->PartitionsPendingRevocation.items[i];
        set_add_list(&m->revoking, &t->TopicId, t->Partitions.items, t->Partitions.count);
    }
}

static void load_target(bk_cgmember *m, const bk_ConsumerGroupTargetAssignmentMemberValue *v) {
    m->target.n = 0;
    for (int32_t i = 0; i < v->TopicPartitions.count; i++) {
        const bk_ConsumerGroupTargetAssignmentMemberValue_TopicPartition *t =
            &v->TopicPartitions.items[i];
        set_add_list(&m->target, &t->TopicId, t->Partitions.items, t->Partitions.count);
    }
}

/* Decodes a value (i16 version 0, then the fields) into out; false when it
 * is not one we can read (a later Kafka's version: skipped). */
static bool decode_value(const bk_msg *msg, bk_bytes value, bk_arena *ar, void *out) {
    bk_rd rd = bk_rd_init(value.ptr, (size_t)value.len);
    int16_t ver = bk_rd_i16(&rd);
    return ver == 0 && !bk_msg_decode(msg, 0, &rd, ar, out);
}

static void load_group_record(bk_cgroups *cgs, int16_t kv, const char *gid, bk_bytes value,
                              bk_arena *ar) {
    bk_cgroup *cg = bk_cgroups_find(cgs, gid);
    bool tomb = value.len < 0;
    if (kv == K_GROUP && tomb) {
        if (cg) bk_cgroups_remove(cgs, cg);
        return;
    }
    if (tomb) {
        if (cg && kv == K_TOPICS) cg->topics_hash = 0;
        return;
    }
    if (!cg && !(cg = bk_cgroups_restore_group(cgs, gid))) return;
    if (kv == K_GROUP) {
        bk_ConsumerGroupMetadataValue v;
        if (decode_value(&bk_msg_ConsumerGroupMetadataValue, value, ar, &v)) cg->epoch = v.Epoch;
    } else if (kv == K_TARGET_EPOCH) {
        bk_ConsumerGroupTargetAssignmentMetadataValue v;
        if (decode_value(&bk_msg_ConsumerGroupTargetAssignmentMetadataValue, value, ar, &v))
            cg->assign_epoch = v.AssignmentEpoch;
    } else {
        bk_ConsumerGroupPartitionMetadataValue v;
        if (decode_value(&bk_msg_ConsumerGroupPartitionMetadataValue, value, ar, &v))
            load_topics(cg, &v);
    }
}

static void load_member_record(bk_cgroups *cgs, int16_t kv, const char *gid, const char *mid,
                               bk_bytes value, bk_arena *ar) {
    bk_cgroup *cg = bk_cgroups_find(cgs, gid);
    bk_cgmember *m = cg ? bk_cgroup_member(cg, mid) : NULL;
    if (value.len < 0) {
        if (!m) return;
        if (kv == K_MEMBER)
            bk_cgroup_restore_drop(cg, m);
        else if (kv == K_TARGET)
            m->target.n = 0;
        else
            m->assigned.n = m->revoking.n = 0;
        return;
    }
    if (!cg && !(cg = bk_cgroups_restore_group(cgs, gid))) return;
    if (!m && !(m = bk_cgroup_restore_member(cg, mid))) return;
    if (kv == K_MEMBER) {
        bk_ConsumerGroupMemberMetadataValue v;
        if (decode_value(&bk_msg_ConsumerGroupMemberMetadataValue, value, ar, &v))
            load_member_meta(m, &v);
    } else if (kv == K_TARGET) {
        bk_ConsumerGroupTargetAssignmentMemberValue v;
        if (decode_value(&bk_msg_ConsumerGroupTargetAssignmentMemberValue, value, ar, &v))
            load_target(m, &v);
    } else {
        bk_ConsumerGroupCurrentMemberAssignmentValue v;
        if (decode_value(&bk_msg_ConsumerGroupCurrentMemberAssignmentValue, value, ar, &v))
            load_current(m, &v);
    }
}

bool bk_coord_consumer_load(bk_groups *gs, int16_t kv, bk_rd *key, bk_bytes value) {
    if (kv < K_GROUP || kv > K_CURRENT || !gs->cgroups) return false;
    bk_arena ar;
    bk_arena_init(&ar, 0);
    if (kv == K_GROUP || kv == K_TOPICS || kv == K_TARGET_EPOCH) {
        bk_ConsumerGroupMetadataKey k;
        char *gid = NULL;
        if (!bk_msg_decode(&bk_msg_ConsumerGroupMetadataKey, K_GROUP, key, &ar, &k) &&
            (gid = bk_str_dup(k.GroupId)))
            load_group_record(gs->cgroups, kv, gid, value, &ar);
        free(gid);
    } else {
        bk_ConsumerGroupMemberMetadataKey k;
        char *gid = NULL, *mid = NULL;
        if (!bk_msg_decode(&bk_msg_ConsumerGroupMemberMetadataKey, K_MEMBER, key, &ar, &k) &&
            (gid = bk_str_dup(k.GroupId)) && (mid = bk_str_dup(k.MemberId)))
            load_member_record(gs->cgroups, kv, gid, mid, value, &ar);
        free(gid);
        free(mid);
    }
    bk_arena_free(&ar);
    return true;
}
