/* configs.c - DescribeConfigs, AlterConfigs, IncrementalAlterConfigs, and
 * the dynamic broker configs they set, persisted in the metadata dir and
 * re-applied at start. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/handlers/handlers.h"

/* Kafka's ConfigResource.Type ids. */
enum { RES_TOPIC = 2, RES_BROKER = 4, RES_BROKER_LOGGER = 8 };
/* Kafka's AlterConfigOp.OpType ids. */
enum { OP_SET = 0, OP_DELETE = 1, OP_APPEND = 2, OP_SUBTRACT = 3 };
/* ConfigSource of a log4j level (brook's root log level). */
#define SRC_BROKER_LOGGER 6

#define VALUE_MAX 8192 /* the longest config value handled */

/* Applies a list APPEND or SUBTRACT of the comma list `items` to `cur` (a
 * comma list, NULL = empty) as Kafka does: empty parts of cur are dropped;
 * APPEND adds each item not yet present, in order; SUBTRACT removes one
 * occurrence of each item. Writes the result to out. Returns 0, or -1 when
 * out is too small. Non-static for its unit test (tests/unit/test_configs.c). */
int bk_config_list_apply(const char *cur, const char *items, int op, char *out, size_t outlen);

/* ---- dynamic broker configs ---- */

/* Levels of a dynamic broker config: resource "<node id>" and "". */
enum { LVL_BROKER = 0, LVL_DEFAULT = 1, LVLS };
static const char *const lvl_file[LVLS] = {"broker-dynamic", "broker-dynamic-default"};

typedef struct dyn_kv {
    char *key, *value;
} dyn_kv;

typedef struct dyn_list {
    dyn_kv *kv;
    int n;
} dyn_list;

/* The values set at run time, per broker (one per process in practice;
 * tests may run several). */
typedef struct dyn_state {
    bk_broker *b;
    dyn_list lvl[LVLS];
    struct dyn_state *next;
} dyn_state;

static dyn_state *dyn_states;

static dyn_state *dyn_get(bk_broker *b) {
    for (dyn_state *s = dyn_states; s; s = s->next)
        if (s->b == b) return s;
    dyn_state *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->b = b;
    s->next = dyn_states;
    dyn_states = s;
    return s;
}

static void list_free(dyn_list *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->kv[i].key);
        free(l->kv[i].value);
    }
    free(l->kv);
    l->kv = NULL;
    l->n = 0;
}

static const char *list_get(const dyn_list *l, const char *key) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->kv[i].key, key)) return l->kv[i].value;
    return NULL;
}

/* Sets (value) or removes (NULL) key. Returns 0 or -1 (out of memory). */
static int list_set(dyn_list *l, const char *key, const char *value) {
    for (int i = 0; i < l->n; i++) {
        if (strcmp(l->kv[i].key, key) != 0) continue;
        if (!value) {
            free(l->kv[i].key);
            free(l->kv[i].value);
            l->kv[i] = l->kv[--l->n];
            return 0;
        }
        char *v = strdup(value);
        if (!v) return -1;
        free(l->kv[i].value);
        l->kv[i].value = v;
        return 0;
    }
    if (!value) return 0;
    dyn_kv *kv = realloc(l->kv, (size_t)(l->n + 1) * sizeof *kv);
    if (!kv) return -1;
    l->kv = kv;
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    l->kv[l->n++] = (dyn_kv){k, v};
    return 0;
}

static int list_copy(const dyn_list *from, dyn_list *to) {
    *to = (dyn_list){0};
    for (int i = 0; i < from->n; i++) {
        if (list_set(to, from->kv[i].key, from->kv[i].value)) {
            list_free(to);
            return -1;
        }
    }
    return 0;
}

static int set_level(bk_config *cfg, int lvl, const char *key, const char *value, bool validate,
                     char *err, size_t errlen) {
    return lvl == LVL_BROKER
               ? bk_config_set_dynamic(cfg, key, value, validate, err, errlen)
               : bk_config_set_dynamic_default(cfg, key, value, validate, err, errlen);
}

static int dyn_save(bk_broker *b, int lvl, const dyn_list *l) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return BK_ENOMEM;
    fprintf(f, "# brook dynamic broker configs (%s): written by brookd through AlterConfigs\n",
            lvl == LVL_BROKER ? "this broker" : "cluster-wide defaults");
    for (int i = 0; i < l->n; i++) {
        bk_prop_put(f, l->kv[i].key);
        fputc('=', f);
        bk_prop_put(f, l->kv[i].value);
        fputc('\n', f);
    }
    fclose(f);
    int rc = bk_meta_write(b, lvl_file[lvl], buf, len);
    free(buf);
    return rc;
}

static int load_level(bk_broker *b, dyn_state *s, int lvl) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", b->meta_dir, lvl_file[lvl]);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        bk_logf(BK_LV_ERROR, "cannot read %s: %s", path, strerror(errno));
        return BK_EIO;
    }
    char line[VALUE_MAX + 512];
    int n = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        char *key = line, *value = eq + 1;
        bk_prop_unescape(key);
        bk_prop_unescape(value);
        char err[512];
        /* A value refused now (a key that became read-only, a rule that
         * changed) must not stop the broker: it is dropped with a warning. */
        if (set_level(b->cfg, lvl, key, value, false, err, sizeof err)) {
            bk_logf(BK_LV_WARN, "%s: ignoring dynamic config %s=%s: %s", path, key, value, err);
            continue;
        }
        if (list_set(&s->lvl[lvl], key, value)) rc = BK_ENOMEM;
        n++;
    }
    fclose(f);
    if (!rc && n) bk_logf(BK_LV_INFO, "applied %d dynamic broker config(s) from %s", n, path);
    return rc;
}

int bk_dynamic_configs_load(bk_broker *b) {
    dyn_state *s = dyn_get(b);
    if (!s) return BK_ENOMEM;
    /* Defaults first: a per-broker value wins whatever the order, but the
     * log reads better. */
    int rc = load_level(b, s, LVL_DEFAULT);
    if (!rc) rc = load_level(b, s, LVL_BROKER);
    bk_topics_refresh_settings(b);
    return rc;
}

/* Frees what bk_dynamic_configs_load and the handlers kept for b. */
void bk_dynamic_configs_free(bk_broker *b);
void bk_dynamic_configs_free(bk_broker *b) {
    for (dyn_state **p = &dyn_states; *p; p = &(*p)->next) {
        if ((*p)->b != b) continue;
        dyn_state *s = *p;
        *p = s->next;
        for (int i = 0; i < LVLS; i++)
            list_free(&s->lvl[i]);
        free(s);
        return;
    }
}

/* Moves the broker's configs at `lvl` from the current list to `next`:
 * checks every change, applies them, persists, and refreshes the topics.
 * On failure nothing is changed. Takes ownership of next. Returns 0 or a
 * Kafka error code with a message. */
static int dyn_replace(bk_broker *b, int lvl, dyn_list *next, bool validate_only, char *err,
                       size_t errlen) {
    dyn_state *s = dyn_get(b);
    if (!s) {
        list_free(next);
        snprintf(err, errlen, "out of memory");
        return BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    dyn_list *cur = &s->lvl[lvl];
    int rc = 0;
    /* Kafka validates broker changes on the receiving broker and reports a
     * refused value as INVALID_REQUEST (KAFKA-13609). */
    for (int i = 0; !rc && i < next->n; i++) {
        const char *old = list_get(cur, next->kv[i].key);
        if (old && !strcmp(old, next->kv[i].value)) continue;
        if (set_level(b->cfg, lvl, next->kv[i].key, next->kv[i].value, true, err, errlen))
            rc = BK_KERR_INVALID_REQUEST;
    }
    if (rc || validate_only) {
        list_free(next);
        return rc;
    }
    /* Apply: changed and added keys, then removed ones. Undo on failure. */
    int napplied = 0;
    const char **undo_key = calloc((size_t)(next->n + cur->n + 1), sizeof *undo_key);
    char **undo_val = calloc((size_t)(next->n + cur->n + 1), sizeof *undo_val);
    if (!undo_key || !undo_val) {
        rc = BK_KERR_UNKNOWN_SERVER_ERROR;
        snprintf(err, errlen, "out of memory");
    }
    for (int i = 0; !rc && i < next->n + cur->n; i++) {
        const char *key, *value;
        if (i < next->n) {
            key = next->kv[i].key;
            value = next->kv[i].value;
            const char *old = list_get(cur, key);
            if (old && !strcmp(old, value)) continue;
        } else {
            key = cur->kv[i - next->n].key;
            if (list_get(next, key)) continue;
            value = NULL;
        }
        const char *old = list_get(cur, key);
        undo_key[napplied] = key;
        undo_val[napplied] = old ? strdup(old) : NULL;
        if (set_level(b->cfg, lvl, key, value, false, err, errlen)) {
            free(undo_val[napplied]);
            rc = BK_KERR_INVALID_REQUEST;
            break;
        }
        napplied++;
    }
    if (!rc) {
        int wrc = dyn_save(b, lvl, next);
        if (wrc) {
            snprintf(err, errlen, "could not persist the dynamic configs: %s", bk_strerror(wrc));
            rc = BK_KERR_KAFKA_STORAGE_ERROR;
        }
    }
    if (rc) {
        char ignored[256];
        for (int i = napplied - 1; i >= 0; i--)
            set_level(b->cfg, lvl, undo_key[i], undo_val[i], false, ignored, sizeof ignored);
        list_free(next);
    } else {
        list_free(cur);
        *cur = *next;
        for (int i = 0; i < cur->n; i++)
            bk_logf(BK_LV_INFO, "dynamic broker config%s %s=%s",
                    lvl == LVL_DEFAULT ? " (cluster default)" : "", cur->kv[i].key,
                    cur->kv[i].value);
        bk_topics_refresh_settings(b);
    }
    for (int i = 0; i < napplied; i++)
        free(undo_val[i]);
    free(undo_key);
    free(undo_val);
    return rc;
}

/* ---- list values ---- */

static bool part_eq(const char *a, size_t alen, const char *b, size_t blen) {
    return alen == blen && memcmp(a, b, alen) == 0;
}

int bk_config_list_apply(const char *cur, const char *items, int op, char *out, size_t outlen) {
    /* Parts as (offset, length) into a working copy. */
    enum { PARTS_MAX = 1024 };
    const char *pp[PARTS_MAX];
    size_t pl[PARTS_MAX];
    int np = 0;
    for (const char *p = cur ? cur : ""; *p;) {
        size_t l = strcspn(p, ",");
        if (l && np < PARTS_MAX) {
            pp[np] = p;
            pl[np++] = l;
        }
        p += l;
        if (*p == ',') p++;
    }
    for (const char *p = items ? items : ""; *p;) {
        size_t l = strcspn(p, ",");
        if (l) {
            int found = -1;
            for (int i = 0; i < np && found < 0; i++)
                if (part_eq(pp[i], pl[i], p, l)) found = i;
            if (op == OP_APPEND && found < 0 && np < PARTS_MAX) {
                pp[np] = p;
                pl[np++] = l;
            } else if (op == OP_SUBTRACT && found >= 0) {
                for (int i = found; i + 1 < np; i++) {
                    pp[i] = pp[i + 1];
                    pl[i] = pl[i + 1];
                }
                np--;
            }
        }
        p += l;
        if (*p == ',') p++;
    }
    size_t o = 0;
    if (!outlen) return -1;
    out[0] = 0;
    for (int i = 0; i < np; i++) {
        if (o + pl[i] + 2 > outlen) return -1;
        if (i) out[o++] = ',';
        memcpy(out + o, pp[i], pl[i]);
        o += pl[i];
        out[o] = 0;
    }
    return 0;
}

/* ---- describing ---- */

/* A broker config as described (copied: entries live during a callback). */
typedef struct bentry {
    char *name, *value, *doc, *dflt;
    uint8_t type, source;
    bool read_only, sensitive;
} bentry;

typedef struct bentries {
    bk_req *req;
    bentry *v;
    int n, cap;
    bool oom;
} bentries;

static char *arena_cstr(bk_req *req, const char *s, bool *oom) {
    if (!s) return NULL;
    char *p = bk_req_cstr(req, bk_str_c(s));
    if (!p) *oom = true;
    return p;
}

static int collect(void *ud, const bk_config_entry *e) {
    bentries *be = ud;
    if (be->n == be->cap) {
        int cap = be->cap ? be->cap * 2 : 256;
        bentry *v = bk_req_alloc(be->req, (size_t)cap * sizeof *v);
        if (!v) {
            be->oom = true;
            return 1;
        }
        if (be->n) memcpy(v, be->v, (size_t)be->n * sizeof *v);
        be->v = v;
        be->cap = cap;
    }
    bentry *x = &be->v[be->n++];
    x->name = arena_cstr(be->req, e->name, &be->oom);
    x->value = arena_cstr(be->req, e->value, &be->oom);
    x->doc = arena_cstr(be->req, e->doc, &be->oom);
    x->dflt = arena_cstr(be->req, e->default_value, &be->oom);
    x->type = e->type;
    x->source = e->source;
    x->read_only = e->read_only;
    x->sensitive = e->sensitive;
    return be->oom;
}

static const bentry *bentry_find(const bentries *be, const char *name) {
    for (int i = 0; name && i < be->n; i++)
        if (be->v[i].name && !strcmp(be->v[i].name, name)) return &be->v[i];
    return NULL;
}

typedef bk_DescribeConfigsResponse_DescribeConfigsResult dres;
typedef bk_DescribeConfigsResponse_DescribeConfigsResourceResult dcfg;
typedef bk_DescribeConfigsResponse_DescribeConfigsSynonym dsyn;

typedef struct describe_ctx {
    bk_broker *b;
    bk_req *req;
    const bk_DescribeConfigsRequest *rq;
    const bk_DescribeConfigsRequest_DescribeConfigsResource *res;
    bentries broker; /* every broker config, collected once */
} describe_ctx;

static bool key_wanted(const bk_DescribeConfigsRequest_DescribeConfigsResource *res,
                       const char *name) {
    if (res->ConfigurationKeys.count <= 0) return true;
    bk_str n = bk_str_c(name);
    for (int32_t i = 0; i < res->ConfigurationKeys.count; i++)
        if (bk_str_eq(res->ConfigurationKeys.items[i], n)) return true;
    return false;
}

static void set_syn(bk_req *req, dsyn *s, const char *name, const char *value, int source,
                    bool sensitive) {
    s->Name = bk_req_str(req, name);
    s->Value = sensitive ? BK_STR_NULL : bk_req_str(req, value);
    s->Source = (int8_t)source;
}

static void fill_cfg(describe_ctx *c, dcfg *out, const char *name, const char *value, int source,
                     bool read_only, bool sensitive, int type, const char *doc) {
    out->Name = bk_req_str(c->req, name);
    out->Value = sensitive ? BK_STR_NULL : bk_req_str(c->req, value);
    out->ConfigSource = (int8_t)source;
    out->ReadOnly = read_only;
    out->IsSensitive = sensitive;
    out->ConfigType = (int8_t)type;
    out->Documentation = c->rq->IncludeDocumentation ? bk_req_str(c->req, doc) : BK_STR_NULL;
}

/* Topic config synonyms, as Kafka lists them: the topic's override, then
 * the broker key it falls back to with that key's source, then the
 * broker key's default. */
static void topic_synonyms(describe_ctx *c, dcfg *out, const bk_config_entry *e) {
    dsyn tmp[3];
    int n = 0;
    if (e->source == BK_SRC_TOPIC) {
        bk_struct_init(&bk_sd_DescribeConfigsResponse_DescribeConfigsSynonym, &tmp[n]);
        set_syn(c->req, &tmp[n++], e->name, e->value, BK_SRC_TOPIC, e->sensitive);
    }
    const bentry *be = bentry_find(&c->broker, bk_topic_config_broker_synonym(e->name));
    if (be && be->source != BK_SRC_DEFAULT && be->value) {
        bk_struct_init(&bk_sd_DescribeConfigsResponse_DescribeConfigsSynonym, &tmp[n]);
        set_syn(c->req, &tmp[n++], be->name, be->value, be->source, be->sensitive);
    }
    if (be && be->dflt) {
        bk_struct_init(&bk_sd_DescribeConfigsResponse_DescribeConfigsSynonym, &tmp[n]);
        set_syn(c->req, &tmp[n++], be->name, be->dflt, BK_SRC_DEFAULT, be->sensitive);
    }
    dsyn *s = bk_req_array(c->req, &out->Synonyms, n,
                           &bk_sd_DescribeConfigsResponse_DescribeConfigsSynonym);
    if (s) memcpy(s, tmp, (size_t)n * sizeof *s);
}

typedef struct topic_fill {
    describe_ctx *c;
    dcfg *out;
    int32_t n, cap;
} topic_fill;

static int count_topic_entry(void *ud, const bk_config_entry *e) {
    topic_fill *f = ud;
    if (key_wanted(f->c->res, e->name)) f->cap++;
    return 0;
}

static int fill_topic_entry(void *ud, const bk_config_entry *e) {
    topic_fill *f = ud;
    if (!key_wanted(f->c->res, e->name)) return 0;
    if (f->n >= f->cap) return 1;
    dcfg *out = &f->out[f->n++];
    fill_cfg(f->c, out, e->name, e->value, e->source, e->read_only, e->sensitive, e->type, e->doc);
    if (f->c->rq->IncludeSynonyms) topic_synonyms(f->c, out, e);
    return 0;
}

static void describe_topic(describe_ctx *c, dres *r) {
    const char *why = bk_topic_name_invalid(c->res->ResourceName);
    if (why) {
        r->ErrorCode = BK_KERR_INVALID_TOPIC_EXCEPTION;
        r->ErrorMessage = bk_req_str(c->req, why);
        return;
    }
    bk_topic *t = bk_topic_find(c->b, c->res->ResourceName);
    if (!t) {
        r->ErrorCode = BK_KERR_UNKNOWN_TOPIC_OR_PARTITION; /* no message, as Kafka */
        return;
    }
    topic_fill f = {.c = c};
    bk_config_describe_topic(c->b->cfg, t->kv, t->nkv, count_topic_entry, &f);
    f.out = bk_req_array(c->req, &r->Configs, f.cap,
                         &bk_sd_DescribeConfigsResponse_DescribeConfigsResourceResult);
    if (!f.out) return;
    bk_config_describe_topic(c->b->cfg, t->kv, t->nkv, fill_topic_entry, &f);
    r->Configs.count = f.n;
}

/* Parses a broker resource name. Returns 0 with *id set, or -1 when it is
 * not an integer. */
static int parse_id(bk_str name, int32_t *id) {
    if (name.len <= 0 || name.len > 11) return -1;
    char buf[16];
    memcpy(buf, name.ptr, (size_t)name.len);
    buf[name.len] = 0;
    char *end;
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (*end || errno || v < INT32_MIN || v > INT32_MAX) return -1;
    *id = (int32_t)v;
    return 0;
}

static void describe_broker(describe_ctx *c, dres *r) {
    bk_str name = c->res->ResourceName;
    bool per_broker = name.len > 0;
    int32_t id;
    if (per_broker && parse_id(name, &id)) {
        r->ErrorCode = BK_KERR_INVALID_REQUEST;
        r->ErrorMessage = bk_req_strf(c->req, "Broker id must be an integer, but it is: %.*s",
                                      name.len, name.ptr);
        return;
    }
    if (per_broker && id != c->b->cfg->node_id) {
        r->ErrorCode = BK_KERR_INVALID_REQUEST;
        r->ErrorMessage = bk_req_strf(c->req,
                                      "Unexpected broker id, expected %d or empty string, but "
                                      "received %.*s",
                                      c->b->cfg->node_id, name.len, name.ptr);
        return;
    }
    dyn_state *s = dyn_get(c->b);
    const dyn_list *bl = s ? &s->lvl[LVL_BROKER] : NULL, *dl = s ? &s->lvl[LVL_DEFAULT] : NULL;
    /* Resource "" describes the cluster-wide defaults set, nothing else. */
    int32_t n = 0;
    for (int i = 0; i < c->broker.n; i++) {
        const bentry *e = &c->broker.v[i];
        if (!key_wanted(c->res, e->name)) continue;
        if (!per_broker && !(dl && list_get(dl, e->name))) continue;
        n++;
    }
    dcfg *out = bk_req_array(c->req, &r->Configs, n,
                             &bk_sd_DescribeConfigsResponse_DescribeConfigsResourceResult);
    if (!out) return;
    int32_t k = 0;
    for (int i = 0; i < c->broker.n && k < n; i++) {
        const bentry *e = &c->broker.v[i];
        if (!key_wanted(c->res, e->name)) continue;
        const char *dv = dl ? list_get(dl, e->name) : NULL;
        const char *bv = bl ? list_get(bl, e->name) : NULL;
        if (!per_broker && !dv) continue;
        dcfg *o = &out[k++];
        if (per_broker)
            fill_cfg(c, o, e->name, e->value, e->source, e->read_only, e->sensitive, e->type,
                     e->doc);
        else
            fill_cfg(c, o, e->name, dv, BK_SRC_DYNAMIC_DEFAULT, e->read_only, e->sensitive, e->type,
                     e->doc);
        if (!c->rq->IncludeSynonyms) continue;
        /* Every level the key is set at, highest precedence first. */
        dsyn tmp[4];
        int ns = 0;
        if (per_broker && bv) {
            bk_struct_init(&bk_sd_DescribeConfigsResponse_DescribeConfigsSynonym, &tmp[ns]);
            set_syn(c->req, &tmp[ns++], e->name, bv, BK_SRC_DYNAMIC_BROKER, e->sensitive);
        }
        if (dv) {
            bk_struct_init(&bk_sd_DescribeConfigsResponse_DescribeConfigsSynonym, &tmp[ns]);
            set_syn(c->req, &tmp[ns++], e->name, dv, BK_SRC_DYNAMIC_DEFAULT, e->sensitive);
        }
        if (per_broker && e->source == BK_SRC_STATIC) {
            bk_struct_init(&bk_sd_DescribeConfigsResponse_DescribeConfigsSynonym, &tmp[ns]);
            set_syn(c->req, &tmp[ns++], e->name, e->value, BK_SRC_STATIC, e->sensitive);
        }
        if (per_broker && e->dflt) {
            bk_struct_init(&bk_sd_DescribeConfigsResponse_DescribeConfigsSynonym, &tmp[ns]);
            set_syn(c->req, &tmp[ns++], e->name, e->dflt, BK_SRC_DEFAULT, e->sensitive);
        }
        dsyn *sy = bk_req_array(c->req, &o->Synonyms, ns,
                                &bk_sd_DescribeConfigsResponse_DescribeConfigsSynonym);
        if (sy) memcpy(sy, tmp, (size_t)ns * sizeof *sy);
    }
    r->Configs.count = k;
}

static const char *level_name(int lv) {
    switch (lv) {
    case BK_LV_DEBUG:
        return "DEBUG";
    case BK_LV_INFO:
        return "INFO";
    case BK_LV_WARN:
        return "WARN";
    default:
        return "ERROR";
    }
}

/* BROKER_LOGGER: brook has one logger, Kafka's "root", whose level is
 * brook's log level. */
static void describe_logger(describe_ctx *c, dres *r) {
    bk_str name = c->res->ResourceName;
    int32_t id;
    if (name.len <= 0) {
        r->ErrorCode = BK_KERR_INVALID_REQUEST;
        r->ErrorMessage = BK_STR_LIT("Broker id must not be empty");
        return;
    }
    if (parse_id(name, &id)) {
        r->ErrorCode = BK_KERR_INVALID_REQUEST;
        r->ErrorMessage = bk_req_strf(c->req, "Broker id must be an integer, but it is: %.*s",
                                      name.len, name.ptr);
        return;
    }
    if (id != c->b->cfg->node_id) {
        r->ErrorCode = BK_KERR_INVALID_REQUEST;
        r->ErrorMessage = bk_req_strf(c->req, "Unexpected broker id, expected %d but received %.*s",
                                      c->b->cfg->node_id, name.len, name.ptr);
        return;
    }
    int32_t n = key_wanted(c->res, "root") ? 1 : 0;
    dcfg *out = bk_req_array(c->req, &r->Configs, n,
                             &bk_sd_DescribeConfigsResponse_DescribeConfigsResourceResult);
    if (!out || !n) return;
    out->Name = BK_STR_LIT("root");
    out->Value = bk_str_c(level_name(bk_log_level));
    out->ConfigSource = SRC_BROKER_LOGGER;
}

void bk_handle_describe_configs(bk_broker *b, bk_req *req) {
    const bk_DescribeConfigsRequest *rq = req->body;
    bk_DescribeConfigsResponse resp;
    bk_msg_init(&bk_msg_DescribeConfigsResponse, &resp);
    int32_t n = rq->Resources.count > 0 ? rq->Resources.count : 0;
    dres *out =
        bk_req_array(req, &resp.Results, n, &bk_sd_DescribeConfigsResponse_DescribeConfigsResult);
    describe_ctx c = {.b = b, .req = req, .rq = rq, .broker = {.req = req}};
    bk_config_describe_broker(b->cfg, collect, &c.broker);
    if (!out || c.broker.oom) {
        bk_req_close(b, req, "out of memory answering DescribeConfigs");
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        c.res = &rq->Resources.items[i];
        dres *r = &out[i];
        r->ResourceType = c.res->ResourceType;
        r->ResourceName = c.res->ResourceName;
        switch (c.res->ResourceType) {
        case RES_TOPIC:
            describe_topic(&c, r);
            break;
        case RES_BROKER:
            describe_broker(&c, r);
            break;
        case RES_BROKER_LOGGER:
            describe_logger(&c, r);
            break;
        default:
            r->ErrorCode = BK_KERR_INVALID_REQUEST;
            r->ErrorMessage =
                bk_req_strf(req, "Unsupported resource type: %d", c.res->ResourceType);
        }
    }
    bk_req_respond(b, req, &resp);
}

/* ---- altering ---- */

/* One resource of either alter request, in a common form. */
typedef struct alter_op {
    bk_str name, value;
    int8_t op;
} alter_op;

typedef struct alter_res {
    int8_t type;
    bk_str name;
    alter_op *ops;
    int32_t nops;
} alter_res;

static char *cstr(bk_req *req, bk_str s) {
    return s.len < 0 ? NULL : bk_req_cstr(req, s);
}

/* The checks Kafka makes before anything else: keys given twice, null
 * values, the resource name. Returns 0 or an error code with err. */
static int precheck(bk_broker *b, const alter_res *r, bool incremental, char *err, size_t errlen) {
    for (int32_t i = 0; i < r->nops; i++)
        for (int32_t j = 0; j < i; j++)
            if (bk_str_eq(r->ops[i].name, r->ops[j].name)) {
                snprintf(err, errlen, "Error due to duplicate config keys");
                return BK_KERR_INVALID_REQUEST;
            }
    size_t used = 0;
    for (int32_t i = 0; i < r->nops; i++) {
        if (r->ops[i].value.len >= 0 || (incremental && r->ops[i].op == OP_DELETE)) continue;
        if (!used) used = (size_t)snprintf(err, errlen, "Null value not supported for : ");
        if (used < errlen)
            used += (size_t)snprintf(err + used, errlen - used, "%s%.*s",
                                     err[used - 1] == ' ' && err[used - 2] == ':' ? "" : ", ",
                                     r->ops[i].name.len, r->ops[i].name.ptr);
    }
    if (used) return BK_KERR_INVALID_REQUEST;
    int32_t id;
    switch (r->type) {
    case RES_BROKER:
        if (r->name.len <= 0) return 0;
        if (parse_id(r->name, &id)) {
            snprintf(err, errlen, "Node id must be an integer, but it is: %.*s", r->name.len,
                     r->name.ptr);
            return BK_KERR_INVALID_REQUEST;
        }
        if (id != b->cfg->node_id) {
            snprintf(err, errlen, "Unexpected broker id, expected %d, but received %.*s",
                     b->cfg->node_id, r->name.len, r->name.ptr);
            return BK_KERR_INVALID_REQUEST;
        }
        return 0;
    case RES_BROKER_LOGGER:
        if (incremental) {
            if (parse_id(r->name, &id)) {
                snprintf(err, errlen, "Node id must be an integer, but it is: %.*s",
                         r->name.len > 0 ? r->name.len : 0, r->name.ptr ? r->name.ptr : "");
                return BK_KERR_INVALID_REQUEST;
            }
            if (id != b->cfg->node_id) {
                snprintf(err, errlen, "Unexpected node id. Expected %d, but received %.*s",
                         b->cfg->node_id, r->name.len, r->name.ptr);
                return BK_KERR_INVALID_REQUEST;
            }
            return 0;
        }
        break;
    case RES_TOPIC:
        if (r->name.len <= 0) {
            snprintf(err, errlen, "Default topic resources are not allowed.");
            return BK_KERR_INVALID_REQUEST;
        }
        return 0;
    }
    snprintf(err, errlen, "Unknown resource type %d", r->type);
    return BK_KERR_INVALID_REQUEST;
}

/* The topic default of key (the start of a list APPEND without override). */
typedef struct find_default {
    const char *key;
    char *out;
    bk_req *req;
} find_default;

static int find_default_cb(void *ud, const bk_config_entry *e) {
    find_default *f = ud;
    if (strcmp(e->name, f->key) != 0) return 0;
    f->out = e->default_value ? bk_req_cstr(f->req, bk_str_c(e->default_value)) : NULL;
    return 1;
}

static int alter_topic(bk_broker *b, bk_req *req, const alter_res *r, bool incremental,
                       bool validate_only, char *err, size_t errlen) {
    const char *why = bk_topic_name_invalid(r->name);
    if (why) {
        snprintf(err, errlen, "%s", why);
        return BK_KERR_INVALID_TOPIC_EXCEPTION;
    }
    bk_topic *t = bk_topic_find(b, r->name);
    /* The new set: the current overrides with the ops applied
     * (incremental), or exactly the request's configs (legacy). */
    int cap = (t ? t->nkv : 0) + r->nops;
    bk_topic_kv *kv = bk_req_alloc(req, (size_t)(cap > 0 ? cap : 1) * sizeof *kv);
    if (!kv) {
        snprintf(err, errlen, "out of memory");
        return BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    int n = 0;
    if (incremental && t)
        for (int i = 0; i < t->nkv; i++)
            kv[n++] = t->kv[i];
    for (int32_t i = 0; i < r->nops; i++) {
        const alter_op *o = &r->ops[i];
        char *key = cstr(req, o->name), *value = cstr(req, o->value);
        if (!key) {
            snprintf(err, errlen, "Null config name");
            return BK_KERR_INVALID_REQUEST;
        }
        int k = 0;
        while (k < n && strcmp(kv[k].key, key) != 0)
            k++;
        char *nv = value;
        if (incremental) {
            switch (o->op) {
            case OP_SET:
                break;
            case OP_DELETE:
                nv = NULL;
                break;
            case OP_APPEND:
            case OP_SUBTRACT: {
                if (!bk_topic_config_is_list(key)) {
                    snprintf(err, errlen, "Can't %s to key %s because its type is not LIST.",
                             o->op == OP_APPEND ? "APPEND" : "SUBTRACT", key);
                    return BK_KERR_INVALID_CONFIG;
                }
                const char *curv = k < n ? kv[k].value : NULL;
                if (!curv) {
                    find_default f = {.key = key, .req = req};
                    bk_config_describe_topic(b->cfg, NULL, 0, find_default_cb, &f);
                    curv = f.out;
                }
                nv = bk_req_alloc(req, VALUE_MAX);
                if (!nv || bk_config_list_apply(curv, value, o->op, nv, VALUE_MAX)) {
                    snprintf(err, errlen, "The value of %s is too long", key);
                    return BK_KERR_INVALID_CONFIG;
                }
                break;
            }
            default:
                snprintf(err, errlen, "Unknown operations type %d", o->op);
                return BK_KERR_INVALID_REQUEST;
            }
        }
        if (nv) {
            kv[k] = (bk_topic_kv){key, nv};
            if (k == n) n++;
        } else if (k < n) {
            kv[k] = kv[--n];
        }
    }
    /* Kafka validates the values before it looks for the topic. */
    for (int i = 0; i < n; i++) {
        int rc = bk_topic_config_validate(kv[i].key, kv[i].value, err, errlen);
        if (rc) return rc;
    }
    if (!t) {
        snprintf(err, errlen, "The topic '%.*s' does not exist.", r->name.len, r->name.ptr);
        return BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (validate_only) return 0;
    int rc = bk_topic_set_configs(b, t, kv, n);
    if (rc) {
        snprintf(err, errlen, "could not persist the topic's configs: %s", bk_strerror(rc));
        return BK_KERR_KAFKA_STORAGE_ERROR;
    }
    bk_logf(BK_LV_INFO, "topic %s: configs altered (%d override(s))", t->name, n);
    return 0;
}

typedef struct bdefault {
    const char *key;
    char *buf;
    size_t len;
    bool found;
} bdefault;

static int bdefault_cb(void *ud, const bk_config_entry *e) {
    bdefault *d = ud;
    if (strcmp(e->name, d->key) != 0) return 0;
    if (e->default_value) {
        snprintf(d->buf, d->len, "%s", e->default_value);
        d->found = true;
    }
    return 1;
}

/* A broker key's default, in buf, or NULL. */
static const char *broker_default(bk_broker *b, const char *key, char *buf, size_t len) {
    bdefault d = {key, buf, len, false};
    bk_config_describe_broker(b->cfg, bdefault_cb, &d);
    return d.found ? buf : NULL;
}

static int alter_broker(bk_broker *b, const alter_res *r, bool incremental, bool validate_only,
                        char *err, size_t errlen) {
    int lvl = r->name.len > 0 ? LVL_BROKER : LVL_DEFAULT;
    dyn_state *s = dyn_get(b);
    dyn_list next = {0};
    if (!s || (incremental && list_copy(&s->lvl[lvl], &next))) {
        snprintf(err, errlen, "out of memory");
        return BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    char *buf = NULL;
    int rc = 0;
    for (int32_t i = 0; !rc && i < r->nops; i++) {
        const alter_op *o = &r->ops[i];
        char key[256], value[VALUE_MAX];
        snprintf(key, sizeof key, "%.*s", o->name.len > 0 ? o->name.len : 0,
                 o->name.ptr ? o->name.ptr : "");
        snprintf(value, sizeof value, "%.*s", o->value.len > 0 ? o->value.len : 0,
                 o->value.ptr ? o->value.ptr : "");
        int op = incremental ? o->op : OP_SET;
        if (op == OP_SET) {
            if (list_set(&next, key, value)) rc = -1;
        } else if (op == OP_DELETE) {
            list_set(&next, key, NULL);
        } else if (op == OP_APPEND || op == OP_SUBTRACT) {
            if (!bk_broker_config_is_list(key)) {
                snprintf(err, errlen, "Config value %s is not allowed for config key: %s",
                         op == OP_APPEND ? "append" : "subtract", key);
                list_free(&next);
                return BK_KERR_INVALID_CONFIG;
            }
            /* Without a value at this level Kafka starts from the default. */
            char dflt[VALUE_MAX];
            const char *curv = list_get(&next, key);
            if (!curv) curv = broker_default(b, key, dflt, sizeof dflt);
            if (!buf) buf = malloc(VALUE_MAX);
            if (!buf || bk_config_list_apply(curv, value, op, buf, VALUE_MAX) ||
                list_set(&next, key, buf))
                rc = -1;
        } else {
            snprintf(err, errlen, "Unknown operations type %d", op);
            list_free(&next);
            free(buf);
            return BK_KERR_INVALID_REQUEST;
        }
    }
    free(buf);
    if (rc) {
        list_free(&next);
        snprintf(err, errlen, "out of memory");
        return BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    return dyn_replace(b, lvl, &next, validate_only, err, errlen);
}

static int alter_logger(const alter_res *r, bool validate_only, char *err, size_t errlen) {
    static const char levels[] = "FATAL, ERROR, WARN, INFO, DEBUG, TRACE";
    for (int32_t i = 0; i < r->nops; i++) {
        const alter_op *o = &r->ops[i];
        bool root = o->name.len == 4 && !memcmp(o->name.ptr, "root", 4);
        switch (o->op) {
        case OP_SET:
        case OP_DELETE:
            if (!root) {
                snprintf(err, errlen, "Logger %.*s does not exist!", o->name.len, o->name.ptr);
                return BK_KERR_INVALID_CONFIG;
            }
            if (o->op == OP_DELETE) {
                snprintf(err, errlen, "Removing the log level of the root logger is not allowed");
                return BK_KERR_INVALID_REQUEST;
            }
            {
                char lv[16];
                snprintf(lv, sizeof lv, "%.*s", o->value.len > 0 ? o->value.len : 0,
                         o->value.ptr ? o->value.ptr : "");
                bool ok = false;
                for (const char *p = levels; *p;) {
                    size_t l = strcspn(p, ",");
                    if (strlen(lv) == l && !strncmp(p, lv, l)) ok = true;
                    p += l;
                    while (*p == ',' || *p == ' ')
                        p++;
                }
                if (!ok || o->value.len > 5) {
                    snprintf(err, errlen,
                             "Cannot set the log level of root to %.*s as it is not "
                             "a supported log level. Valid log levels are %s",
                             o->value.len > 0 ? o->value.len : 0, o->value.ptr ? o->value.ptr : "",
                             levels);
                    return BK_KERR_INVALID_CONFIG;
                }
            }
            break;
        case OP_APPEND:
        case OP_SUBTRACT:
            snprintf(err, errlen, "%s operation is not allowed for the BROKER_LOGGER resource",
                     o->op == OP_APPEND ? "APPEND" : "SUBTRACT");
            return BK_KERR_INVALID_REQUEST;
        default:
            snprintf(err, errlen,
                     "Unknown operation type %d is not allowed for the BROKER_LOGGER resource",
                     o->op);
            return BK_KERR_INVALID_REQUEST;
        }
    }
    if (validate_only) return 0;
    for (int32_t i = 0; i < r->nops; i++) {
        const alter_op *o = &r->ops[i];
        char c = o->value.len > 0 ? o->value.ptr[0] : 'I';
        int lv = c == 'T' || c == 'D' ? BK_LV_DEBUG
                 : c == 'I'           ? BK_LV_INFO
                 : c == 'W'           ? BK_LV_WARN
                                      : BK_LV_ERROR;
        bk_log_level = lv;
        bk_logf(BK_LV_WARN, "log level set to %s (BROKER_LOGGER root=%.*s)", level_name(lv),
                o->value.len, o->value.ptr);
    }
    return 0;
}

static int cmp_res(const void *x, const void *y) {
    const alter_res *const *a = x, *const *b = y;
    if ((*a)->type != (*b)->type) return (*a)->type < (*b)->type ? -1 : 1;
    bk_str sa = (*a)->name, sb = (*b)->name;
    if (sa.len < 0 || sb.len < 0) {
        if ((sa.len < 0) != (sb.len < 0)) return sa.len < 0 ? -1 : 1;
    } else {
        int c = memcmp(sa.ptr, sb.ptr, (size_t)(sa.len < sb.len ? sa.len : sb.len));
        if (c) return c;
        if (sa.len != sb.len) return sa.len < sb.len ? -1 : 1;
    }
    return (*a > *b) - (*a < *b);
}

/* Runs both alter requests: codes[i] and msgs[i] get resource i's result. */
static int alter_all(bk_broker *b, bk_req *req, alter_res *res, int32_t n, bool incremental,
                     bool validate_only, int16_t *codes, bk_str *msgs) {
    /* A resource named twice fails, both times. */
    alter_res **sorted = bk_req_alloc(req, (size_t)(n > 0 ? n : 1) * sizeof *sorted);
    bool *dup = bk_req_alloc(req, (size_t)(n > 0 ? n : 1));
    if (!sorted || !dup) return -1;
    for (int32_t i = 0; i < n; i++) {
        sorted[i] = &res[i];
        dup[i] = false;
    }
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_res);
    for (int32_t i = 1; i < n; i++) {
        alter_res *p = sorted[i - 1], *q = sorted[i];
        if (p->type == q->type && bk_str_eq(p->name, q->name)) dup[p - res] = dup[q - res] = true;
    }
    for (int32_t i = 0; i < n; i++) {
        char err[1024] = "";
        int rc;
        if (dup[i]) {
            snprintf(err, sizeof err, "Each resource must appear at most once.");
            rc = BK_KERR_INVALID_REQUEST;
        } else {
            rc = precheck(b, &res[i], incremental, err, sizeof err);
        }
        if (!rc) {
            switch (res[i].type) {
            case RES_TOPIC:
                rc = alter_topic(b, req, &res[i], incremental, validate_only, err, sizeof err);
                break;
            case RES_BROKER:
                rc = alter_broker(b, &res[i], incremental, validate_only, err, sizeof err);
                break;
            case RES_BROKER_LOGGER:
                rc = alter_logger(&res[i], validate_only, err, sizeof err);
                break;
            }
        }
        codes[i] = (int16_t)rc;
        msgs[i] = rc ? bk_req_str(req, err) : BK_STR_NULL;
    }
    return 0;
}

void bk_handle_alter_configs(bk_broker *b, bk_req *req) {
    const bk_AlterConfigsRequest *rq = req->body;
    bk_AlterConfigsResponse resp;
    bk_msg_init(&bk_msg_AlterConfigsResponse, &resp);
    int32_t n = rq->Resources.count > 0 ? rq->Resources.count : 0;
    alter_res *res = bk_req_alloc(req, (size_t)(n > 0 ? n : 1) * sizeof *res);
    int16_t *codes = bk_req_alloc(req, (size_t)(n > 0 ? n : 1) * sizeof *codes);
    bk_str *msgs = bk_req_alloc(req, (size_t)(n > 0 ? n : 1) * sizeof *msgs);
    bk_AlterConfigsResponse_AlterConfigsResourceResponse *out = bk_req_array(
        req, &resp.Responses, n, &bk_sd_AlterConfigsResponse_AlterConfigsResourceResponse);
    bool oom = !res || !codes || !msgs || !out;
    for (int32_t i = 0; !oom && i < n; i++) {
        const bk_AlterConfigsRequest_AlterConfigsResource *r = &rq->Resources.items[i];
        int32_t nc = r->Configs.count > 0 ? r->Configs.count : 0;
        res[i] = (alter_res){r->ResourceType, r->ResourceName, NULL, nc};
        res[i].ops = bk_req_alloc(req, (size_t)(nc > 0 ? nc : 1) * sizeof *res[i].ops);
        if (!res[i].ops) oom = true;
        for (int32_t k = 0; !oom && k < nc; k++)
            res[i].ops[k] = (alter_op){r->Configs.items[k].Name, r->Configs.items[k].Value, OP_SET};
    }
    if (oom || alter_all(b, req, res, n, false, rq->ValidateOnly, codes, msgs)) {
        bk_req_close(b, req, "out of memory answering AlterConfigs");
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        out[i].ResourceType = res[i].type;
        out[i].ResourceName = res[i].name;
        out[i].ErrorCode = codes[i];
        out[i].ErrorMessage = msgs[i];
    }
    bk_req_respond(b, req, &resp);
}

void bk_handle_incremental_alter_configs(bk_broker *b, bk_req *req) {
    const bk_IncrementalAlterConfigsRequest *rq = req->body;
    bk_IncrementalAlterConfigsResponse resp;
    bk_msg_init(&bk_msg_IncrementalAlterConfigsResponse, &resp);
    int32_t n = rq->Resources.count > 0 ? rq->Resources.count : 0;
    alter_res *res = bk_req_alloc(req, (size_t)(n > 0 ? n : 1) * sizeof *res);
    int16_t *codes = bk_req_alloc(req, (size_t)(n > 0 ? n : 1) * sizeof *codes);
    bk_str *msgs = bk_req_alloc(req, (size_t)(n > 0 ? n : 1) * sizeof *msgs);
    bk_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse *out =
        bk_req_array(req, &resp.Responses, n,
                     &bk_sd_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse);
    bool oom = !res || !codes || !msgs || !out;
    for (int32_t i = 0; !oom && i < n; i++) {
        const bk_IncrementalAlterConfigsRequest_AlterConfigsResource *r = &rq->Resources.items[i];
        int32_t nc = r->Configs.count > 0 ? r->Configs.count : 0;
        res[i] = (alter_res){r->ResourceType, r->ResourceName, NULL, nc};
        res[i].ops = bk_req_alloc(req, (size_t)(nc > 0 ? nc : 1) * sizeof *res[i].ops);
        if (!res[i].ops) oom = true;
        for (int32_t k = 0; !oom && k < nc; k++)
            res[i].ops[k] = (alter_op){r->Configs.items[k].Name, r->Configs.items[k].Value,
                                       r->Configs.items[k].ConfigOperation};
    }
    if (oom || alter_all(b, req, res, n, true, rq->ValidateOnly, codes, msgs)) {
        bk_req_close(b, req, "out of memory answering IncrementalAlterConfigs");
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        out[i].ResourceType = res[i].type;
        out[i].ResourceName = res[i].name;
        out[i].ErrorCode = codes[i];
        out[i].ErrorMessage = msgs[i];
    }
    bk_req_respond(b, req, &resp);
}
