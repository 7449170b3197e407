/* config.c - loading: defaults, the properties file, BROOK_* variables and
 * --override flags, and turning the values in effect into bk_config's fields. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

#define MSG_MAX 512

/* Variables of brook's own tooling that share the BROOK_ prefix but are no
 * config keys: skipped without a warning. A trailing '*' matches a prefix. */
static const char *const env_exceptions[] = {"BROOK_IT_TARGET", "BROOK_TEST_*", "BROOK_BENCH_*"};

/* ------------------------------------------------------ value layers */

static int def_index(const char *key) {
    return bk_cfg_find(bk_broker_defs, bk_n_broker_defs, key);
}

const char *bk_cfg_effective(const bk_config *cfg, int i, uint8_t *source) {
    static const uint8_t src[BK_LAYERS] = {BK_SRC_STATIC, BK_SRC_DYNAMIC_DEFAULT,
                                           BK_SRC_DYNAMIC_BROKER};
    if (cfg->priv)
        for (int l = BK_LAYERS - 1; l >= 0; l--)
            if (cfg->priv->vals[i].v[l]) {
                if (source) *source = src[l];
                return cfg->priv->vals[i].v[l];
            }
    if (source) *source = BK_SRC_DEFAULT;
    return bk_broker_defs[i].dflt;
}

static const char *eff(const bk_config *cfg, const char *key) {
    return bk_cfg_effective(cfg, def_index(key), NULL);
}

static bool is_set(const bk_config *cfg, const char *key) {
    uint8_t src;
    bk_cfg_effective(cfg, def_index(key), &src);
    return src != BK_SRC_DEFAULT;
}

/* The prefix of a message about key: where its value came from. */
static void where(const bk_config *cfg, const char *key, char *buf, size_t len) {
    uint8_t src;
    int i = def_index(key);
    bk_cfg_effective(cfg, i, &src);
    if (src == BK_SRC_STATIC && cfg->priv->vals[i].where)
        snprintf(buf, len, "%s", cfg->priv->vals[i].where);
    else if (src == BK_SRC_DEFAULT)
        snprintf(buf, len, "%s (default)", key);
    else
        snprintf(buf, len, "%s (set dynamically)", key);
}

/* A value as stored: integers and booleans in Kafka's canonical form,
 * everything else trimmed. NULL when out of memory. */
static char *normalize(const bk_cfg_def *def, const char *value) {
    char buf[32];
    switch (def->type) {
    case BK_CT_SHORT:
    case BK_CT_INT:
    case BK_CT_LONG:
        snprintf(buf, sizeof buf, "%lld", (long long)bk_cfg_int(value));
        break;
    case BK_CT_BOOLEAN:
        snprintf(buf, sizeof buf, "%s", bk_cfg_bool(value) ? "true" : "false");
        break;
    default: {
        while (isspace((unsigned char)*value))
            value++;
        size_t n = strlen(value);
        while (n && isspace((unsigned char)value[n - 1]))
            n--;
        return strndup(value, n);
    }
    }
    return strdup(buf);
}

/* See internal.h. */
int bk_cfg_store(bk_config *cfg, int i, int layer, const char *value, const char *prefix, char *err,
                 size_t errlen) {
    char msg[MSG_MAX];
    const bk_cfg_def *def = &bk_broker_defs[i];
    char *v = NULL, *w = NULL;
    if (value) {
        if (bk_cfg_check(def, value, msg, sizeof msg)) {
            snprintf(err, errlen, "%s: %s", prefix, msg);
            return -1;
        }
        v = normalize(def, value);
        w = prefix ? strdup(prefix) : NULL;
        if (!v || (prefix && !w)) {
            free(v);
            free(w);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    bk_cfg_val *cv = &cfg->priv->vals[i];
    free(cv->v[layer]);
    cv->v[layer] = v;
    if (layer == BK_LAYER_STATIC) {
        free(cv->where);
        cv->where = w;
    } else {
        free(w);
    }
    return 0;
}

/* ------------------------------------------------------ deriving fields */

enum { F_I16, F_I32, F_I64, F_U32, F_U64, F_BOOL, F_DBL, F_POLICY, F_TSTYPE, F_STR64 };

/* Keys whose value is one field. */
static const struct {
    const char *key;
    uint8_t kind;
    size_t off;
} fields[] = {
    {"num.partitions", F_I32, offsetof(bk_config, num_partitions)},
    {"default.replication.factor", F_I16, offsetof(bk_config, default_replication_factor)},
    {"auto.create.topics.enable", F_BOOL, offsetof(bk_config, auto_create_topics)},
    {"delete.topic.enable", F_BOOL, offsetof(bk_config, delete_topic_enable)},
    {"message.max.bytes", F_I32, offsetof(bk_config, message_max_bytes)},
    {"socket.request.max.bytes", F_I32, offsetof(bk_config, socket_request_max_bytes)},
    {"max.connections", F_I32, offsetof(bk_config, max_connections)},
    {"connections.max.idle.ms", F_I64, offsetof(bk_config, connections_max_idle_ms)},
    {"queued.max.request.bytes", F_I64, offsetof(bk_config, queued_max_request_bytes)},
    {"brook.connection.max.inflight.bytes", F_I64, offsetof(bk_config, conn_max_inflight_bytes)},
    {"num.io.threads", F_I32, offsetof(bk_config, num_io_threads)},
    {"log.flush.interval.messages", F_I64, offsetof(bk_config, log_flush_interval_messages)},
    {"group.initial.rebalance.delay.ms", F_I64,
     offsetof(bk_config, group_initial_rebalance_delay_ms)},
    {"offsets.topic.num.partitions", F_I32, offsetof(bk_config, offsets_topic_num_partitions)},
    {"offsets.topic.replication.factor", F_I16,
     offsetof(bk_config, offsets_topic_replication_factor)},
    {"log.retention.check.interval.ms", F_I64,
     offsetof(bk_config, log_retention_check_interval_ms)},
    {"brook.shutdown.timeout.ms", F_I64, offsetof(bk_config, shutdown_timeout_ms)},
    {"min.insync.replicas", F_I32, offsetof(bk_config, min_insync_replicas)},
    {"cluster.id", F_STR64, offsetof(bk_config, cluster_id)},
    {"log.segment.bytes", F_U64, offsetof(bk_config, log_defaults.segment_bytes)},
    {"log.index.size.max.bytes", F_U32, offsetof(bk_config, log_defaults.segment_index_bytes)},
    {"log.index.interval.bytes", F_U32, offsetof(bk_config, log_defaults.index_interval_bytes)},
    {"log.retention.bytes", F_I64, offsetof(bk_config, log_defaults.retention_bytes)},
    {"log.cleanup.policy", F_POLICY, offsetof(bk_config, log_defaults.cleanup_policy)},
    {"log.cleaner.delete.retention.ms", F_I64,
     offsetof(bk_config, log_defaults.delete_retention_ms)},
    {"log.cleaner.min.cleanable.ratio", F_DBL,
     offsetof(bk_config, log_defaults.min_cleanable_dirty_ratio)},
    {"log.cleaner.min.compaction.lag.ms", F_I64,
     offsetof(bk_config, log_defaults.min_compaction_lag_ms)},
    {"log.message.timestamp.type", F_TSTYPE, offsetof(bk_config, log_defaults.log_append_time)},
};

static void set_field(bk_config *t, uint8_t kind, size_t off, const char *v) {
    char *p = (char *)t + off;
    int64_t i = v ? bk_cfg_int(v) : 0;
    switch (kind) {
    case F_I16:
        *(int16_t *)p = (int16_t)i;
        break;
    case F_I32:
        *(int32_t *)p = (int32_t)i;
        break;
    case F_I64:
        *(int64_t *)p = i;
        break;
    case F_U32:
        *(uint32_t *)p = (uint32_t)i;
        break;
    case F_U64:
        *(uint64_t *)p = (uint64_t)i;
        break;
    case F_BOOL:
        *(bool *)p = bk_cfg_bool(v);
        break;
    case F_DBL:
        *(double *)p = bk_cfg_double(v);
        break;
    case F_POLICY:
        *(unsigned *)p = bk_cfg_cleanup_policy(v);
        break;
    case F_TSTYPE:
        *(bool *)p = strcmp(v, "LogAppendTime") == 0;
        break;
    case F_STR64:
        snprintf(p, 64, "%s", v ? v : "");
        break;
    }
}

/* Milliseconds from the first key of a ms/minutes/hours group that is set
 * (else from the last one's default); negative = -1. */
static int64_t ms_of(const bk_config *cfg, const char *const *keys, const int64_t *unit, int n) {
    for (int k = 0; k < n; k++) {
        const char *v = eff(cfg, keys[k]);
        if (v && (is_set(cfg, keys[k]) || k == n - 1)) {
            int64_t x = bk_cfg_int(v);
            if (x < 0) return -1;
            return x > INT64_MAX / unit[k] ? INT64_MAX : x * unit[k];
        }
    }
    return -1;
}

static bool wildcard(const char *host) {
    return !*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
}

static const char *hostname(bk_config *cfg) {
    struct bk_config_priv *pv = cfg->priv;
    if (!pv->host[0]) {
        if (gethostname(pv->host, sizeof pv->host - 1) || !pv->host[0])
            snprintf(pv->host, sizeof pv->host, "localhost");
        pv->host[sizeof pv->host - 1] = '\0';
    }
    return pv->host;
}

static int derive_listeners(bk_config *cfg, bk_config *t, char *err, size_t errlen) {
    char at[MSG_MAX], msg[MSG_MAX];
    const char *map = eff(cfg, "listener.security.protocol.map");
    where(cfg, "listeners", at, sizeof at);
    int n = bk_cfg_parse_listeners(eff(cfg, "listeners"), t->listeners, BK_MAX_LISTENERS, msg,
                                   sizeof msg);
    if (n < 0) return snprintf(err, errlen, "%s: %s", at, msg), -1;
    t->n_listeners = n;
    for (int i = 0; i < n; i++) {
        bk_listener_cfg *l = &t->listeners[i];
        int s = bk_cfg_map_lookup(map, l->name);
        static const char *const protos[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
        for (int p = 0; s < 0 && p < 4; p++) /* a listener named after a protocol uses it */
            if (strcmp(l->name, protos[p]) == 0) s = p;
        if (s < 0)
            return snprintf(err, errlen,
                            "%s: listener %s has no entry in listener.security.protocol.map", at,
                            l->name),
                   -1;
        if (s != BK_SEC_PLAINTEXT)
            return snprintf(err, errlen,
                            "%s: listener %s uses %s: TLS/SASL listeners are not supported yet", at,
                            l->name, protos[s]),
                   -1;
        l->security = (bk_security)s;
    }
    const char *ctrl = eff(cfg, "controller.listener.names");
    const char *adv = eff(cfg, "advertised.listeners");
    if (adv) {
        where(cfg, "advertised.listeners", at, sizeof at);
        int na = bk_cfg_parse_listeners(adv, t->advertised, BK_MAX_LISTENERS, msg, sizeof msg);
        if (na < 0) return snprintf(err, errlen, "%s: %s", at, msg), -1;
        for (int a = 0; a < na; a++) {
            bk_listener_cfg *l = &t->advertised[a];
            int i = 0;
            while (i < n && strcmp(t->listeners[i].name, l->name) != 0)
                i++;
            if (i == n)
                return snprintf(err, errlen, "%s: listener %s is not one of listeners", at,
                                l->name),
                       -1;
            if (*l->host && wildcard(l->host))
                return snprintf(err, errlen, "%s: listener %s advertises the wildcard address %s",
                                at, l->name, l->host),
                       -1;
            l->security = t->listeners[i].security;
        }
        t->n_advertised = na;
    } else {
        t->n_advertised = 0;
        for (int i = 0; i < n; i++)
            if (!ctrl || !bk_cfg_list_has(ctrl, t->listeners[i].name, true))
                t->advertised[t->n_advertised++] = t->listeners[i];
        if (t->n_advertised == 0)
            return snprintf(err, errlen,
                            "%s: every listener is a controller listener, none to advertise", at),
                   -1;
    }
    for (int a = 0; a < t->n_advertised; a++)
        if (wildcard(t->advertised[a].host))
            snprintf(t->advertised[a].host, sizeof t->advertised[a].host, "%s", hostname(cfg));
    const char *ib = eff(cfg, "inter.broker.listener.name");
    if (ib) {
        int i = 0;
        while (i < n && strcasecmp(t->listeners[i].name, ib) != 0)
            i++;
        if (i == n) {
            where(cfg, "inter.broker.listener.name", at, sizeof at);
            return snprintf(err, errlen, "%s: listener %s is not one of listeners", at, ib), -1;
        }
    }
    return 0;
}

/* Splits the log dirs value into a new buffer that t->log_dirs point into. */
static int derive_dirs(bk_config *cfg, bk_config *t, char **buf_out, char *err, size_t errlen) {
    const char *v = eff(cfg, "log.dirs");
    if (!v) v = eff(cfg, "log.dir");
    char *buf = strdup(v);
    if (!buf) return snprintf(err, errlen, "out of memory"), -1;
    int n = 0;
    for (char *s = buf, *next; s && n < BK_MAX_LOG_DIRS; s = next) {
        next = strchr(s, ',');
        if (next) *next++ = '\0';
        while (isspace((unsigned char)*s))
            s++;
        size_t len = strlen(s);
        while (len && isspace((unsigned char)s[len - 1]))
            s[--len] = '\0';
        if (*s) t->log_dirs[n++] = s;
    }
    t->n_log_dirs = n;
    *buf_out = buf;
    return 0;
}

static bool in_group(int force, const char *const *keys, int n) {
    for (int k = 0; k < n; k++)
        if (force == def_index(keys[k])) return true;
    return false;
}

/* See internal.h. Works on a copy, so a failure leaves cfg as it was. */
int bk_cfg_derive(bk_config *cfg, int force, char *err, size_t errlen) {
    bk_config t = *cfg;
    char *dirs = NULL, at[MSG_MAX];
    bool all = force == -2;

    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        int i = def_index(fields[f].key);
        if (all || i == force || is_set(cfg, fields[f].key))
            set_field(&t, fields[f].kind, fields[f].off, bk_cfg_effective(cfg, i, NULL));
    }
    if (all || force == def_index("node.id") || force == def_index("broker.id") ||
        is_set(cfg, "node.id") || is_set(cfg, "broker.id")) {
        int64_t node = bk_cfg_int(eff(cfg, "node.id")), broker = bk_cfg_int(eff(cfg, "broker.id"));
        if (broker >= 0 && !is_set(cfg, "node.id")) node = broker;
        if (broker >= 0 && broker != node) {
            where(cfg, "broker.id", at, sizeof at);
            snprintf(err, errlen, "%s: %lld differs from node.id %lld (they name the same thing)",
                     at, (long long)broker, (long long)node);
            return -1;
        }
        t.node_id = (int32_t)node;
    }
    static const char *const ret[] = {"log.retention.ms", "log.retention.minutes",
                                      "log.retention.hours"};
    static const int64_t ret_unit[] = {1, 60000, 3600000};
    if (all || in_group(force, ret, 3) || is_set(cfg, ret[0]) || is_set(cfg, ret[1]) ||
        is_set(cfg, ret[2]))
        t.log_defaults.retention_ms = ms_of(cfg, ret, ret_unit, 3);
    static const char *const roll[] = {"log.roll.ms", "log.roll.hours"};
    static const int64_t roll_unit[] = {1, 3600000};
    if (all || in_group(force, roll, 2) || is_set(cfg, roll[0]) || is_set(cfg, roll[1]))
        t.log_defaults.segment_ms = ms_of(cfg, roll, roll_unit, 2);
    static const char *const lis[] = {"listeners", "advertised.listeners",
                                      "listener.security.protocol.map", "controller.listener.names",
                                      "inter.broker.listener.name"};
    bool lis_any = all || in_group(force, lis, 5);
    for (int k = 0; k < 5; k++)
        lis_any |= is_set(cfg, lis[k]);
    if (lis_any && derive_listeners(cfg, &t, err, errlen)) return -1;
    if (all || is_set(cfg, "log.dirs") || is_set(cfg, "log.dir")) {
        if (derive_dirs(cfg, &t, &dirs, err, errlen)) return -1;
        free(cfg->priv->dirs_buf);
        cfg->priv->dirs_buf = dirs;
    }
    *cfg = t;
    return 0;
}

/* ------------------------------------------------------------ public */

void bk_config_defaults(bk_config *cfg) {
    char err[MSG_MAX];
    memset(cfg, 0, sizeof *cfg);
    bk_log_config_defaults(&cfg->log_defaults);
    cfg->priv = calloc(1, sizeof *cfg->priv);
    if (cfg->priv) cfg->priv->vals = calloc((size_t)bk_n_broker_defs, sizeof(bk_cfg_val));
    if (!cfg->priv || !cfg->priv->vals || bk_cfg_derive(cfg, -2, err, sizeof err)) {
        /* Out of memory: the plain defaults, and bk_config_load will say so. */
        if (cfg->priv) free(cfg->priv->vals);
        free(cfg->priv);
        cfg->priv = NULL;
        cfg->node_id = 1;
        cfg->n_listeners = cfg->n_advertised = 1;
        cfg->listeners[0] =
            (bk_listener_cfg){.name = "PLAINTEXT", .host = "localhost", .port = 9092};
        cfg->advertised[0] = cfg->listeners[0];
        cfg->log_dirs[0] = (char *)"./data"; /* never freed: owned by nobody */
        cfg->n_log_dirs = 1;
    }
}

void bk_config_free(bk_config *cfg) {
    if (cfg->priv) {
        for (int i = 0; i < bk_n_broker_defs; i++) {
            for (int l = 0; l < BK_LAYERS; l++)
                free(cfg->priv->vals[i].v[l]);
            free(cfg->priv->vals[i].where);
        }
        free(cfg->priv->vals);
        free(cfg->priv->dirs_buf);
        free(cfg->priv);
    }
    free(cfg->file);
    memset(cfg, 0, sizeof *cfg);
}

__attribute__((format(printf, 3, 4))) static void warnf(bk_config_warn_fn warn, void *ud,
                                                        const char *fmt, ...) {
    char msg[MSG_MAX * 2];
    va_list ap;
    if (!warn) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    warn(ud, msg);
}

static int read_file(const char *file, char **out, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(file, "rb");
    if (!f) return snprintf(err, errlen, "cannot read %s: %s", file, strerror(errno)), -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *nb = cap >= BK_PROPS_MAX_BYTES ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                fclose(f);
                free(buf);
                return snprintf(err, errlen, "%s: larger than %u bytes or out of memory", file,
                                BK_PROPS_MAX_BYTES),
                       -1;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    bool bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return snprintf(err, errlen, "cannot read %s", file), -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int load_file(bk_config *cfg, const char *file, bk_config_warn_fn warn, void *ud, char *err,
                     size_t errlen) {
    char *text, msg[MSG_MAX], prefix[MSG_MAX];
    size_t len;
    bk_prop *props;
    int n, rc = -1;
    if (read_file(file, &text, &len, err, errlen)) return -1;
    if (bk_props_parse(text, len, &props, &n, msg, sizeof msg)) {
        free(text);
        /* msg is "line N: why" */
        snprintf(err, errlen, "%s:%s", file, strncmp(msg, "line ", 5) == 0 ? msg + 5 : msg);
        return -1;
    }
    free(text);
    int *first = calloc((size_t)bk_n_broker_defs, sizeof *first);
    if (!first) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (int k = 0; k < n; k++) {
        int i = def_index(props[k].key);
        char line[16];
        snprintf(line, sizeof line, "%d", props[k].line);
        if (i < 0) {
            snprintf(prefix, sizeof prefix, "%s:%s", file, line);
            warnf(warn, ud, "unknown key '%s' at %s ignored", props[k].key, prefix);
            continue;
        }
        snprintf(prefix, sizeof prefix, "%s:%d: %s", file, props[k].line, props[k].key);
        if (first[i]) {
            snprintf(err, errlen, "%s: given twice (first at line %d)", prefix, first[i]);
            goto out;
        }
        first[i] = props[k].line;
        if (bk_cfg_store(cfg, i, BK_LAYER_STATIC, props[k].value, prefix, err, errlen)) goto out;
    }
    rc = 0;
out:
    free(first);
    bk_props_free(props, n);
    return rc;
}

static bool env_skipped(const char *name, size_t len) {
    for (size_t e = 0; e < sizeof env_exceptions / sizeof env_exceptions[0]; e++) {
        const char *x = env_exceptions[e];
        size_t xl = strlen(x);
        if (x[xl - 1] == '*' ? len >= xl - 1 && strncmp(name, x, xl - 1) == 0
                             : len == xl && strncmp(name, x, xl) == 0)
            return true;
    }
    return false;
}

/* The broker def whose BROOK_ form (upper case, '.' and '-' as '_') is
 * name[0..len), or -1. */
static int env_def(const char *name, size_t len) {
    if (len <= 6) return -1;
    for (int i = 0; i < bk_n_broker_defs; i++) {
        const char *k = bk_broker_defs[i].name;
        if (strlen(k) != len - 6) continue;
        size_t j = 0;
        for (; j < len - 6; j++) {
            char c = k[j] == '.' || k[j] == '-' ? '_' : (char)toupper((unsigned char)k[j]);
            if (c != name[6 + j]) break;
        }
        if (j == len - 6) return i;
    }
    return -1;
}

static int load_env(bk_config *cfg, char *const *envp, bk_config_warn_fn warn, void *ud, char *err,
                    size_t errlen) {
    char prefix[MSG_MAX], key[256];
    for (; *envp; envp++) {
        const char *e = *envp, *eq = strchr(e, '=');
        if (strncmp(e, "BROOK_", 6) != 0 || !eq) continue;
        size_t len = (size_t)(eq - e);
        if (env_skipped(e, len)) continue;
        snprintf(prefix, sizeof prefix, "environment %.*s", (int)len, e);
        int i = env_def(e, len);
        if (i < 0) {
            size_t k = 0;
            for (size_t j = 6; j < len && k < sizeof key - 1; j++)
                key[k++] = e[j] == '_' ? '.' : (char)tolower((unsigned char)e[j]);
            key[k] = '\0';
            warnf(warn, ud, "unknown key '%s' from %s ignored", key, prefix);
            continue;
        }
        if (bk_cfg_store(cfg, i, BK_LAYER_STATIC, eq + 1, prefix, err, errlen)) return -1;
    }
    return 0;
}

static int load_overrides(bk_config *cfg, const char *const *ov, int n, bk_config_warn_fn warn,
                          void *ud, char *err, size_t errlen) {
    char prefix[MSG_MAX], key[256];
    for (int k = 0; k < n; k++) {
        const char *eq = strchr(ov[k], '=');
        if (!eq) return snprintf(err, errlen, "--override '%s': expected key=value", ov[k]), -1;
        const char *s = ov[k];
        size_t len = (size_t)(eq - s);
        while (len && isspace((unsigned char)*s))
            s++, len--;
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
        if (len == 0 || len >= sizeof key)
            return snprintf(err, errlen, "--override '%s': expected key=value", ov[k]), -1;
        memcpy(key, s, len);
        key[len] = '\0';
        int i = def_index(key);
        if (i < 0) {
            warnf(warn, ud, "unknown key '%s' in %s ignored", key, "--override");
            continue;
        }
        snprintf(prefix, sizeof prefix, "--override %s", key);
        if (bk_cfg_store(cfg, i, BK_LAYER_STATIC, eq + 1, prefix, err, errlen)) return -1;
    }
    return 0;
}

int bk_config_load(bk_config *cfg, const char *file, char *const *envp,
                   const char *const *overrides, int n_overrides, bk_config_warn_fn warn, void *ud,
                   char *err, size_t errlen) {
    if (!cfg->priv) return snprintf(err, errlen, "out of memory"), -1;
    if (file) {
        if (load_file(cfg, file, warn, ud, err, errlen)) return -1;
        free(cfg->file);
        cfg->file = strdup(file);
        if (!cfg->file) return snprintf(err, errlen, "out of memory"), -1;
    }
    if (envp && load_env(cfg, envp, warn, ud, err, errlen)) return -1;
    if (overrides && load_overrides(cfg, overrides, n_overrides, warn, ud, err, errlen)) return -1;
    return bk_cfg_derive(cfg, -1, err, errlen);
}

bool bk_config_is_controller_listener(const bk_config *cfg, const char *name) {
    const char *ctrl = eff(cfg, "controller.listener.names");
    return ctrl && bk_cfg_list_has(ctrl, name, true);
}
