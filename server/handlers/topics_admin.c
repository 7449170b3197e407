/* topics_admin.c - CreateTopics, DeleteTopics and CreatePartitions, with the
 * checks, error codes and messages of Kafka 4's KRaft controller. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/handlers/handlers.h"

/* One node: a replication factor above 1 cannot be met. */
#define BROKERS_REGISTERED 1
/* Partitions one request may create (Kafka bounds the records of one
 * controller operation at 10,000; each partition is a directory here). */
#define PARTITIONS_PER_REQUEST_MAX 10000

static const bk_uuid zero_uuid;

static bool uuid_is_zero(const bk_uuid *u) {
    return memcmp(u, &zero_uuid, sizeof *u) == 0;
}

/* Orders strings bytewise, null before every other. */
static int str_cmp(bk_str a, bk_str b) {
    if (a.len < 0 || b.len < 0) return (a.len >= 0) - (b.len >= 0);
    int c = memcmp(a.ptr, b.ptr, (size_t)(a.len < b.len ? a.len : b.len));
    if (c) return c;
    return (a.len > b.len) - (a.len < b.len);
}

typedef struct name_ix {
    bk_str name;
    int32_t ix;
} name_ix;

static int cmp_name_ix(const void *x, const void *y) {
    const name_ix *a = x, *b = y;
    int c = str_cmp(a->name, b->name);
    return c ? c : (a->ix > b->ix) - (a->ix < b->ix);
}

enum { DUP_NONE = 0, DUP_FIRST, DUP_LATER };

/* Sets dup[i] for names[0..n) (elements `stride` bytes apart; null names
 * ignored): DUP_FIRST for the first of a name given more than once,
 * DUP_LATER for its repeats, else DUP_NONE. Sorting keeps a hostile request
 * of many names from costing n^2. Returns -1 when the arena is exhausted. */
static int mark_duplicates(bk_req *req, const void *names, size_t stride, int32_t n, uint8_t *dup) {
    if (n > 0) memset(dup, DUP_NONE, (size_t)n);
    if (n <= 1) return 0;
    name_ix *v = bk_req_alloc(req, (size_t)n * sizeof *v);
    if (!v) return -1;
    for (int32_t i = 0; i < n; i++) {
        v[i].name = *(const bk_str *)((const char *)names + (size_t)i * stride);
        v[i].ix = i;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_name_ix);
    for (int32_t i = 1; i < n; i++) {
        if (v[i].name.len < 0 || str_cmp(v[i].name, v[i - 1].name) != 0) continue;
        if (dup[v[i - 1].ix] == DUP_NONE) dup[v[i - 1].ix] = DUP_FIRST;
        dup[v[i].ix] = DUP_LATER;
    }
    return 0;
}

/* ---- CreateTopics ---- */

/* Kafka refuses a name that differs from an existing one only by '.'
 * versus '_' (both become '_' in metric names). */
static const char *collides_with(bk_broker *b, bk_str name) {
    if (!memchr(name.ptr, '.', (size_t)name.len) && !memchr(name.ptr, '_', (size_t)name.len))
        return NULL;
    for (size_t i = 0; i < b->topics_by_name.cap; i++) {
        bk_topic *t = b->topics_by_name.slots[i].val;
        if (!t || t == (void *)1) continue;
        if ((int32_t)strlen(t->name) != name.len) continue;
        bool same = true, equal = true;
        for (int32_t k = 0; k < name.len && same; k++) {
            char x = name.ptr[k] == '.' ? '_' : name.ptr[k];
            char y = t->name[k] == '.' ? '_' : t->name[k];
            same = x == y;
            equal = equal && name.ptr[k] == t->name[k];
        }
        if (same && !equal) return t->name;
    }
    return NULL;
}

typedef struct topic_plan {
    int32_t nparts;
    int16_t rf;
    bk_topic_kv *kv;
    int nkv;
} topic_plan;

/* Checks a manual assignment as Kafka's controller does. */
static int check_assignments(bk_broker *b, const bk_CreateTopicsRequest_CreatableTopic *ct,
                             topic_plan *plan, char *err, size_t errlen) {
    int32_t n = ct->Assignments.count;
    if (ct->ReplicationFactor != -1) {
        snprintf(err, errlen,
                 "A manual partition assignment was specified, but replication "
                 "factor was not set to -1.");
        return BK_KERR_INVALID_REQUEST;
    }
    if (ct->NumPartitions != -1) {
        snprintf(err, errlen,
                 "A manual partition assignment was specified, but numPartitions "
                 "was not set to -1.");
        return BK_KERR_INVALID_REQUEST;
    }
    if (n > PARTITIONS_PER_REQUEST_MAX) {
        snprintf(err, errlen, "Cannot create %d partitions in one request (at most %d).", n,
                 PARTITIONS_PER_REQUEST_MAX);
        return BK_KERR_INVALID_PARTITIONS;
    }
    int32_t rf = -1;
    for (int32_t i = 0; i < n; i++) {
        const bk_CreateTopicsRequest_CreatableReplicaAssignment *a = &ct->Assignments.items[i];
        for (int32_t j = 0; j < i; j++) {
            if (ct->Assignments.items[j].PartitionIndex == a->PartitionIndex) {
                snprintf(err, errlen,
                         "Found multiple manual partition assignments for partition %d",
                         a->PartitionIndex);
                return BK_KERR_INVALID_REPLICA_ASSIGNMENT;
            }
        }
        int32_t nb = a->BrokerIds.count > 0 ? a->BrokerIds.count : 0;
        if (nb == 0) {
            snprintf(err, errlen,
                     "The manual partition assignment includes an empty replica list.");
            return BK_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        for (int32_t k = 0; k < nb; k++) {
            int32_t id = a->BrokerIds.items[k];
            if (id != b->cfg->node_id) {
                snprintf(err, errlen,
                         "The manual partition assignment includes broker %d, but no "
                         "such broker is registered.",
                         id);
                return BK_KERR_INVALID_REPLICA_ASSIGNMENT;
            }
        }
        if (nb > 1) {
            snprintf(err, errlen,
                     "The manual partition assignment includes the broker %d more "
                     "than once.",
                     b->cfg->node_id);
            return BK_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        if (rf >= 0 && nb != rf) {
            snprintf(err, errlen,
                     "The manual partition assignment includes a partition with %d "
                     "replica(s), but this is not consistent with previous "
                     "partitions, which have %d replica(s).",
                     nb, rf);
            return BK_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        rf = nb;
    }
    /* Indexes must be 0..n-1: with no repeats, every one below n is enough. */
    for (int32_t i = 0; i < n; i++) {
        int32_t p = ct->Assignments.items[i].PartitionIndex;
        if (p < 0 || p >= n) {
            snprintf(err, errlen, "partitions should be a consecutive 0-based integer sequence");
            return BK_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    plan->nparts = n;
    plan->rf = (int16_t)rf;
    return 0;
}

/* Everything Kafka checks before creating one topic, in its order: name,
 * existence, configs, then partitions and replication. Returns 0 or a
 * Kafka error code with err filled. */
static int plan_topic(bk_broker *b, bk_req *req, const bk_CreateTopicsRequest_CreatableTopic *ct,
                      topic_plan *plan, char *err, size_t errlen) {
    const bk_config *cfg = b->cfg;
    const char *why = bk_topic_name_invalid(ct->Name);
    if (why) {
        snprintf(err, errlen, "%s", why);
        return BK_KERR_INVALID_TOPIC_EXCEPTION;
    }
    const char *other = collides_with(b, ct->Name);
    if (other) {
        snprintf(err, errlen, "Topic '%.*s' collides with existing topic: %s", ct->Name.len,
                 ct->Name.ptr, other);
        return BK_KERR_INVALID_TOPIC_EXCEPTION;
    }
    if (bk_topic_find(b, ct->Name)) {
        snprintf(err, errlen, "Topic '%.*s' already exists.", ct->Name.len, ct->Name.ptr);
        return BK_KERR_TOPIC_ALREADY_EXISTS;
    }
    int32_t nc = ct->Configs.count > 0 ? ct->Configs.count : 0;
    /* Null values are refused together, by name. */
    size_t used = 0;
    for (int32_t i = 0; i < nc; i++) {
        const bk_CreateTopicsRequest_CreatableTopicConfig *c = &ct->Configs.items[i];
        if (c->Value.len >= 0) continue;
        if (!used)
            used = (size_t)snprintf(err, errlen, "Null value not supported for topic configs: ");
        if (used < errlen)
            used += (size_t)snprintf(err + used, errlen - used, "%s%.*s",
                                     err[used - 1] == ' ' ? "" : ",", c->Name.len, c->Name.ptr);
    }
    if (used) return BK_KERR_INVALID_CONFIG;
    plan->kv = bk_req_alloc(req, (size_t)(nc > 0 ? nc : 1) * sizeof *plan->kv);
    if (!plan->kv) {
        snprintf(err, errlen, "out of memory");
        return BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    plan->nkv = 0;
    for (int32_t i = 0; i < nc; i++) {
        const bk_CreateTopicsRequest_CreatableTopicConfig *c = &ct->Configs.items[i];
        char *key = bk_req_cstr(req, c->Name), *value = bk_req_cstr(req, c->Value);
        if (!key || !value) {
            snprintf(err, errlen, "out of memory");
            return BK_KERR_UNKNOWN_SERVER_ERROR;
        }
        int rc = bk_topic_config_validate(key, value, err, errlen);
        if (rc) return rc;
        /* A key given twice: the last value wins, as in Kafka's map. */
        int k = 0;
        while (k < plan->nkv && strcmp(plan->kv[k].key, key) != 0)
            k++;
        plan->kv[k] = (bk_topic_kv){key, value};
        if (k == plan->nkv) plan->nkv++;
    }
    if (ct->Assignments.count > 0) return check_assignments(b, ct, plan, err, errlen);
    if (ct->ReplicationFactor < -1 || ct->ReplicationFactor == 0) {
        snprintf(err, errlen,
                 "Replication factor must be larger than 0, or -1 to use the default value.");
        return BK_KERR_INVALID_REPLICATION_FACTOR;
    }
    if (ct->NumPartitions < -1 || ct->NumPartitions == 0) {
        snprintf(err, errlen, "Number of partitions was set to an invalid non-positive value.");
        return BK_KERR_INVALID_PARTITIONS;
    }
    plan->nparts = ct->NumPartitions == -1 ? cfg->num_partitions : ct->NumPartitions;
    plan->rf =
        ct->ReplicationFactor == -1 ? cfg->default_replication_factor : ct->ReplicationFactor;
    if (plan->rf > BROKERS_REGISTERED) {
        snprintf(err, errlen,
                 "Unable to replicate the partition %d time(s): The target replication factor "
                 "of %d cannot be reached because only %d broker(s) are registered.",
                 plan->rf, plan->rf, BROKERS_REGISTERED);
        return BK_KERR_INVALID_REPLICATION_FACTOR;
    }
    if (plan->nparts > PARTITIONS_PER_REQUEST_MAX) {
        snprintf(err, errlen, "Cannot create %d partitions in one request (at most %d).",
                 plan->nparts, PARTITIONS_PER_REQUEST_MAX);
        return BK_KERR_INVALID_PARTITIONS;
    }
    return 0;
}

typedef struct cfg_fill {
    bk_req *req;
    bk_CreateTopicsResponse_CreatableTopicConfigs *out;
    int32_t n, cap;
} cfg_fill;

static int count_entry(void *ud, const bk_config_entry *e) {
    (void)e;
    ((cfg_fill *)ud)->cap++;
    return 0;
}

static int fill_entry(void *ud, const bk_config_entry *e) {
    cfg_fill *f = ud;
    if (f->n >= f->cap) return 1;
    bk_CreateTopicsResponse_CreatableTopicConfigs *c = &f->out[f->n++];
    c->Name = bk_req_str(f->req, e->name);
    c->Value = e->sensitive ? BK_STR_NULL : bk_req_str(f->req, e->value);
    c->ReadOnly = e->read_only;
    c->ConfigSource = (int8_t)e->source;
    c->IsSensitive = e->sensitive;
    return 0;
}

static int cmp_created_config(const void *x, const void *y) {
    const bk_CreateTopicsResponse_CreatableTopicConfigs *a = x, *b = y;
    return str_cmp(a->Name, b->Name);
}

/* v5+: the topic's resulting configs, sorted by name as Kafka sends them. */
static void fill_created_configs(bk_broker *b, bk_req *req,
                                 bk_CreateTopicsResponse_CreatableTopicResult *r,
                                 const topic_plan *plan) {
    cfg_fill f = {.req = req};
    bk_config_describe_topic(b->cfg, plan->kv, plan->nkv, count_entry, &f);
    f.out =
        bk_req_array(req, &r->Configs, f.cap, &bk_sd_CreateTopicsResponse_CreatableTopicConfigs);
    if (!f.out) return;
    bk_config_describe_topic(b->cfg, plan->kv, plan->nkv, fill_entry, &f);
    r->Configs.count = f.n;
    qsort(f.out, (size_t)f.n, sizeof *f.out, cmp_created_config);
}

void bk_handle_create_topics(bk_broker *b, bk_req *req) {
    const bk_CreateTopicsRequest *rq = req->body;
    bk_CreateTopicsResponse resp;
    bk_msg_init(&bk_msg_CreateTopicsResponse, &resp);
    int32_t n = rq->Topics.count > 0 ? rq->Topics.count : 0;
    uint8_t *dup = bk_req_alloc(req, (size_t)(n > 0 ? n : 1));
    bk_CreateTopicsResponse_CreatableTopicResult *out =
        bk_req_array(req, &resp.Topics, n, &bk_sd_CreateTopicsResponse_CreatableTopicResult);
    if (!dup || !out ||
        mark_duplicates(req, n ? &rq->Topics.items[0].Name : NULL, sizeof rq->Topics.items[0], n,
                        dup)) {
        bk_req_close(b, req, "out of memory answering CreateTopics");
        return;
    }
    /* Kafka answers the distinct names first, in request order, then one
     * result per duplicated name. */
    int32_t nout = 0;
    for (int32_t i = 0; i < n; i++) {
        const bk_CreateTopicsRequest_CreatableTopic *ct = &rq->Topics.items[i];
        if (dup[i]) continue;
        bk_CreateTopicsResponse_CreatableTopicResult *r = &out[nout++];
        r->Name = ct->Name;
        r->ErrorMessage = BK_STR_NULL; /* Kafka sets null on success */
        char err[512] = "";
        topic_plan plan = {0};
        int rc;
        if (ct->Name.len == (int32_t)strlen("__cluster_metadata") &&
            memcmp(ct->Name.ptr, "__cluster_metadata", (size_t)ct->Name.len) == 0) {
            snprintf(err, sizeof err,
                     "Creation of internal topic __cluster_metadata is prohibited.");
            rc = BK_KERR_INVALID_REQUEST;
        } else {
            rc = plan_topic(b, req, ct, &plan, err, sizeof err);
        }
        bk_topic *t = NULL;
        if (!rc && !rq->validateOnly)
            rc = bk_topic_create(b, ct->Name, plan.nparts, plan.kv, plan.nkv, &t, err, sizeof err);
        if (rc) {
            r->ErrorCode = (int16_t)rc;
            r->ErrorMessage = bk_req_str(req, err);
            continue;
        }
        if (t) {
            r->TopicId = t->id;
        } else {
            /* validate-only: Kafka answers with the id it would have used */
            bk_uuid_random(&r->TopicId);
        }
        r->NumPartitions = plan.nparts;
        r->ReplicationFactor = plan.rf;
        r->TopicConfigErrorCode = 0;
        fill_created_configs(b, req, r, &plan);
    }
    for (int32_t i = 0; i < n; i++) {
        if (dup[i] != DUP_FIRST) continue;
        bk_CreateTopicsResponse_CreatableTopicResult *r = &out[nout++];
        r->Name = rq->Topics.items[i].Name;
        r->ErrorCode = BK_KERR_INVALID_REQUEST;
        r->ErrorMessage = BK_STR_LIT("Duplicate topic name.");
    }
    resp.Topics.count = nout;
    bk_req_respond(b, req, &resp);
}

/* ---- DeleteTopics ---- */

typedef struct del_item {
    bk_str name;
    bk_uuid id;
    bool by_id;
    bool skip; /* already answered (duplicate or invalid) */
} del_item;

static void del_result(bk_req *req, bk_DeleteTopicsResponse_DeletableTopicResult *r, bk_str name,
                       const bk_uuid *id, int16_t code, const char *msg) {
    r->Name = name;
    r->TopicId = id ? *id : zero_uuid;
    r->ErrorCode = code;
    r->ErrorMessage = msg ? bk_req_str(req, msg) : BK_STR_NULL;
}

static int cmp_uuid_ix(const void *x, const void *y) {
    const del_item *const *a = x, *const *b = y;
    int c = memcmp(&(*a)->id, &(*b)->id, sizeof(bk_uuid));
    return c ? c : (*a > *b) - (*a < *b);
}

void bk_handle_delete_topics(bk_broker *b, bk_req *req) {
    const bk_DeleteTopicsRequest *rq = req->body;
    int16_t v = req->hdr.api_version;
    bk_DeleteTopicsResponse resp;
    bk_msg_init(&bk_msg_DeleteTopicsResponse, &resp);

    /* Up to v5 topics come by name; v6 by name or id. */
    int32_t n = v >= 6 ? (rq->Topics.count > 0 ? rq->Topics.count : 0)
                       : (rq->TopicNames.count > 0 ? rq->TopicNames.count : 0);
    del_item *it = bk_req_alloc(req, (size_t)(n > 0 ? n : 1) * sizeof *it);
    bk_DeleteTopicsResponse_DeletableTopicResult *out =
        bk_req_array(req, &resp.Responses, n, &bk_sd_DeleteTopicsResponse_DeletableTopicResult);
    uint8_t *dup = bk_req_alloc(req, (size_t)(n > 0 ? n : 1));
    if (!it || !out || !dup) {
        bk_req_close(b, req, "out of memory answering DeleteTopics");
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        it[i] = (del_item){0};
        if (v >= 6) {
            it[i].name = rq->Topics.items[i].Name;
            it[i].id = rq->Topics.items[i].TopicId;
            it[i].by_id = it[i].name.len < 0;
        } else {
            it[i].name = rq->TopicNames.items[i];
        }
    }

    /* Deletion disabled: every topic gets the error (INVALID_REQUEST
     * before v3, as Kafka's exception maps there). */
    if (!b->cfg->delete_topic_enable) {
        int16_t code = v < 3 ? BK_KERR_INVALID_REQUEST : BK_KERR_TOPIC_DELETION_DISABLED;
        for (int32_t i = 0; i < n; i++)
            del_result(req, &out[i], it[i].name, &it[i].id, code, NULL);
        bk_req_respond(b, req, &resp);
        return;
    }

    int32_t nout = 0;
    /* Invalid references first, as Kafka records them while reading. */
    for (int32_t i = 0; i < n; i++) {
        if (it[i].by_id && uuid_is_zero(&it[i].id)) {
            del_result(req, &out[nout++], BK_STR_NULL, &zero_uuid, BK_KERR_INVALID_REQUEST,
                       "Neither topic name nor id were specified.");
            it[i].skip = true;
        } else if (!it[i].by_id && !uuid_is_zero(&it[i].id)) {
            del_result(req, &out[nout++], it[i].name, &it[i].id, BK_KERR_INVALID_REQUEST,
                       "You may not specify both topic name and topic id.");
            it[i].skip = true;
        }
    }
    /* Duplicate names (by name only) and duplicate ids: one result each. */
    bk_str *names = bk_req_alloc(req, (size_t)(n > 0 ? n : 1) * sizeof *names);
    del_item **byid = bk_req_alloc(req, (size_t)(n > 0 ? n : 1) * sizeof *byid);
    if (!names || !byid) {
        bk_req_close(b, req, "out of memory answering DeleteTopics");
        return;
    }
    for (int32_t i = 0; i < n; i++)
        names[i] = !it[i].skip && !it[i].by_id ? it[i].name : BK_STR_NULL;
    if (mark_duplicates(req, names, sizeof *names, n, dup)) {
        bk_req_close(b, req, "out of memory answering DeleteTopics");
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        if (dup[i] == DUP_NONE) continue;
        if (dup[i] == DUP_FIRST)
            del_result(req, &out[nout++], it[i].name, &zero_uuid, BK_KERR_INVALID_REQUEST,
                       "Duplicate topic name.");
        it[i].skip = true;
    }
    int32_t nid = 0;
    for (int32_t i = 0; i < n; i++)
        if (!it[i].skip && it[i].by_id) byid[nid++] = &it[i];
    qsort(byid, (size_t)nid, sizeof *byid, cmp_uuid_ix);
    for (int32_t i = 0; i < nid;) {
        int32_t j = i + 1;
        while (j < nid && memcmp(&byid[j]->id, &byid[i]->id, sizeof(bk_uuid)) == 0)
            j++;
        if (j - i > 1) {
            del_result(req, &out[nout++], BK_STR_NULL, &byid[i]->id, BK_KERR_INVALID_REQUEST,
                       "Duplicate topic id.");
            for (int32_t k = i; k < j; k++)
                byid[k]->skip = true;
        }
        i = j;
    }

    /* Resolve to topics; a name that maps to an id also given is refused,
     * and so is that id. */
    bk_topic **tp = bk_req_alloc(req, (size_t)(n > 0 ? n : 1) * sizeof *tp);
    if (!tp) {
        bk_req_close(b, req, "out of memory answering DeleteTopics");
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        tp[i] = NULL;
        if (it[i].skip) continue;
        if (it[i].by_id) {
            tp[i] = bk_topic_find_id(b, &it[i].id);
            if (!tp[i]) {
                del_result(req, &out[nout++], BK_STR_NULL, &it[i].id, BK_KERR_UNKNOWN_TOPIC_ID,
                           NULL);
                it[i].skip = true;
            }
        }
    }
    for (int32_t i = 0; i < n; i++) {
        if (it[i].skip || it[i].by_id) continue;
        tp[i] = bk_topic_find(b, it[i].name);
        if (!tp[i]) {
            del_result(req, &out[nout++], it[i].name, &zero_uuid,
                       BK_KERR_UNKNOWN_TOPIC_OR_PARTITION, NULL);
            it[i].skip = true;
            continue;
        }
        /* Kafka answers the name and drops the id without a result. */
        int32_t lo = 0, hi = nid;
        while (lo < hi) {
            int32_t mid = lo + (hi - lo) / 2;
            if (memcmp(&byid[mid]->id, &tp[i]->id, sizeof(bk_uuid)) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        bool clash = false;
        for (; lo < nid && memcmp(&byid[lo]->id, &tp[i]->id, sizeof(bk_uuid)) == 0; lo++) {
            if (byid[lo]->skip) continue;
            byid[lo]->skip = true;
            clash = true;
        }
        if (clash) {
            del_result(req, &out[nout++], it[i].name, &tp[i]->id, BK_KERR_INVALID_REQUEST,
                       "The provided topic name maps to an ID that was already supplied.");
            it[i].skip = true;
        }
    }

    for (int32_t i = 0; i < n; i++) {
        if (it[i].skip) continue;
        bk_topic *t = tp[i];
        bk_str name = bk_req_str(req, t->name);
        bk_uuid id = t->id;
        if (t->internal) {
            /* Kafka 4.0 deletes its internal topics when asked; brook's
             * coordinators keep state in them, so it refuses. */
            char msg[400];
            snprintf(msg, sizeof msg, "Topic %s is an internal topic and cannot be deleted.",
                     t->name);
            del_result(req, &out[nout++], name, &id, BK_KERR_INVALID_REQUEST, msg);
            continue;
        }
        int rc = bk_topic_delete(b, t);
        if (rc) {
            del_result(req, &out[nout++], name, &id, BK_KERR_KAFKA_STORAGE_ERROR,
                       "could not remove the topic's metadata file");
            continue;
        }
        del_result(req, &out[nout++], name, &id, BK_KERR_NONE, NULL);
    }
    resp.Responses.count = nout;
    bk_req_respond(b, req, &resp);
}

/* ---- CreatePartitions ---- */

static int plan_partitions(bk_broker *b, const bk_CreatePartitionsRequest_CreatePartitionsTopic *ct,
                           bk_topic **out, char *err, size_t errlen) {
    bk_topic *t = bk_topic_find(b, ct->Name);
    *out = t;
    if (!t) {
        err[0] = 0; /* Kafka sends no message */
        return BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (ct->Count == t->nparts) {
        snprintf(err, errlen, "Topic already has %d partition(s).", t->nparts);
        return BK_KERR_INVALID_PARTITIONS;
    }
    if (ct->Count < t->nparts) {
        snprintf(err, errlen,
                 "The topic %s currently has %d partition(s); %d would not be an "
                 "increase.",
                 t->name, t->nparts, ct->Count);
        return BK_KERR_INVALID_PARTITIONS;
    }
    int32_t additional = ct->Count - t->nparts;
    if (ct->Assignments.count >= 0) {
        if (ct->Assignments.count != additional) {
            snprintf(err, errlen,
                     "Attempted to add %d additional partition(s), but only %d "
                     "assignment(s) were specified.",
                     additional, ct->Assignments.count);
            return BK_KERR_INVALID_REPLICA_ASSIGNMENT;
        }
        for (int32_t i = 0; i < ct->Assignments.count; i++) {
            const bk_CreatePartitionsRequest_CreatePartitionsAssignment *a =
                &ct->Assignments.items[i];
            int32_t nb = a->BrokerIds.count > 0 ? a->BrokerIds.count : 0;
            if (nb == 0) {
                snprintf(err, errlen,
                         "The manual partition assignment includes an empty replica list.");
                return BK_KERR_INVALID_REPLICA_ASSIGNMENT;
            }
            for (int32_t k = 0; k < nb; k++) {
                if (a->BrokerIds.items[k] != b->cfg->node_id) {
                    snprintf(err, errlen,
                             "The manual partition assignment includes broker %d, "
                             "but no such broker is registered.",
                             a->BrokerIds.items[k]);
                    return BK_KERR_INVALID_REPLICA_ASSIGNMENT;
                }
            }
            if (nb > 1) {
                snprintf(err, errlen,
                         "The manual partition assignment includes the broker %d "
                         "more than once.",
                         b->cfg->node_id);
                return BK_KERR_INVALID_REPLICA_ASSIGNMENT;
            }
        }
    }
    if (additional > PARTITIONS_PER_REQUEST_MAX) {
        snprintf(err, errlen, "Cannot create %d partitions in one request (at most %d).",
                 additional, PARTITIONS_PER_REQUEST_MAX);
        return BK_KERR_INVALID_PARTITIONS;
    }
    return 0;
}

void bk_handle_create_partitions(bk_broker *b, bk_req *req) {
    const bk_CreatePartitionsRequest *rq = req->body;
    bk_CreatePartitionsResponse resp;
    bk_msg_init(&bk_msg_CreatePartitionsResponse, &resp);
    int32_t n = rq->Topics.count > 0 ? rq->Topics.count : 0;
    uint8_t *dup = bk_req_alloc(req, (size_t)(n > 0 ? n : 1));
    bk_CreatePartitionsResponse_CreatePartitionsTopicResult *out = bk_req_array(
        req, &resp.Results, n, &bk_sd_CreatePartitionsResponse_CreatePartitionsTopicResult);
    if (!dup || !out ||
        mark_duplicates(req, n ? &rq->Topics.items[0].Name : NULL, sizeof rq->Topics.items[0], n,
                        dup)) {
        bk_req_close(b, req, "out of memory answering CreatePartitions");
        return;
    }
    int32_t nout = 0;
    /* Kafka lists the duplicated names first, then the others. */
    for (int32_t i = 0; i < n; i++) {
        if (dup[i] != DUP_FIRST) continue;
        out[nout].Name = rq->Topics.items[i].Name;
        out[nout].ErrorCode = BK_KERR_INVALID_REQUEST;
        out[nout].ErrorMessage = BK_STR_LIT("Duplicate topic name.");
        nout++;
    }
    for (int32_t i = 0; i < n; i++) {
        if (dup[i]) continue;
        const bk_CreatePartitionsRequest_CreatePartitionsTopic *ct = &rq->Topics.items[i];
        bk_CreatePartitionsResponse_CreatePartitionsTopicResult *r = &out[nout++];
        r->Name = ct->Name;
        r->ErrorMessage = BK_STR_NULL;
        char err[512];
        bk_topic *t;
        int rc = plan_partitions(b, ct, &t, err, sizeof err);
        if (!rc && !rq->ValidateOnly)
            rc = bk_topic_add_partitions(b, t, ct->Count, err, sizeof err);
        if (rc) {
            r->ErrorCode = (int16_t)rc;
            r->ErrorMessage = err[0] ? bk_req_str(req, err) : BK_STR_NULL;
        }
    }
    resp.Results.count = nout;
    bk_req_respond(b, req, &resp);
}
