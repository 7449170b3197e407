/* topic.c - topic-level configs: validation (CreateTopics, AlterConfigs),
 * the settings a topic runs with, and DescribeConfigs for a topic. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define BK_KERR_INVALID_CONFIG 40

int bk_topic_config_validate(const char *key, const char *value, char *err, size_t errlen) {
    char msg[512];
    int i = bk_cfg_find(bk_topic_defs, bk_n_topic_defs, key);
    if (i < 0) {
        snprintf(err, errlen, "Unknown topic config name: %s", key);
        return BK_KERR_INVALID_CONFIG;
    }
    if (!value) {
        snprintf(err, errlen, "Null value not supported for topic config %s", key);
        return BK_KERR_INVALID_CONFIG;
    }
    if (bk_cfg_check(&bk_topic_defs[i], value, msg, sizeof msg)) {
        snprintf(err, errlen, "%s: %s", key, msg);
        return BK_KERR_INVALID_CONFIG;
    }
    return 0;
}

void bk_topic_settings_resolve(const bk_config *cfg, const bk_topic_kv *kv, int n,
                               bk_topic_settings *out) {
    char ignored[8];
    out->log = cfg->log_defaults;
    out->max_message_bytes = cfg->message_max_bytes;
    out->min_insync_replicas = cfg->min_insync_replicas;
    out->timestamp_before_max_ms = INT64_MAX;
    out->timestamp_after_max_ms = 3600000;
    for (int k = 0; k < n; k++) {
        const char *key = kv[k].key, *v = kv[k].value;
        if (!key || bk_topic_config_validate(key, v, ignored, sizeof ignored)) continue;
        bk_log_config *l = &out->log;
        if (!strcmp(key, "segment.bytes"))
            l->segment_bytes = (uint64_t)bk_cfg_int(v);
        else if (!strcmp(key, "segment.ms"))
            l->segment_ms = bk_cfg_int(v);
        else if (!strcmp(key, "segment.index.bytes"))
            l->segment_index_bytes = (uint32_t)bk_cfg_int(v);
        else if (!strcmp(key, "index.interval.bytes"))
            l->index_interval_bytes = (uint32_t)bk_cfg_int(v);
        else if (!strcmp(key, "retention.ms"))
            l->retention_ms = bk_cfg_int(v);
        else if (!strcmp(key, "retention.bytes"))
            l->retention_bytes = bk_cfg_int(v);
        else if (!strcmp(key, "cleanup.policy"))
            l->cleanup_policy = bk_cfg_cleanup_policy(v);
        else if (!strcmp(key, "delete.retention.ms"))
            l->delete_retention_ms = bk_cfg_int(v);
        else if (!strcmp(key, "min.cleanable.dirty.ratio"))
            l->min_cleanable_dirty_ratio = bk_cfg_double(v);
        else if (!strcmp(key, "min.compaction.lag.ms"))
            l->min_compaction_lag_ms = bk_cfg_int(v);
        else if (!strcmp(key, "message.timestamp.type"))
            l->log_append_time = strcmp(v, "LogAppendTime") == 0;
        else if (!strcmp(key, "max.message.bytes"))
            out->max_message_bytes = (int32_t)bk_cfg_int(v);
        else if (!strcmp(key, "min.insync.replicas"))
            out->min_insync_replicas = (int32_t)bk_cfg_int(v);
        else if (!strcmp(key, "message.timestamp.before.max.ms"))
            out->timestamp_before_max_ms = bk_cfg_int(v);
        else if (!strcmp(key, "message.timestamp.after.max.ms"))
            out->timestamp_after_max_ms = bk_cfg_int(v);
    }
}

/* A broker synonym's value in the topic key's unit: *.hours and *.minutes
 * keys are in hours and minutes, topic keys in milliseconds. */
static const char *in_topic_unit(const char *broker_key, const char *v, char *buf, size_t len) {
    size_t n = strlen(broker_key);
    int64_t unit = n > 6 && !strcmp(broker_key + n - 6, ".hours")     ? 3600000
                   : n > 8 && !strcmp(broker_key + n - 8, ".minutes") ? 60000
                                                                      : 1;
    if (unit == 1) return v;
    int64_t x = bk_cfg_int(v);
    snprintf(buf, len, "%" PRId64, x < 0 ? -1 : x > INT64_MAX / unit ? INT64_MAX : x * unit);
    return buf;
}

void bk_config_describe_topic(const bk_config *cfg, const bk_topic_kv *kv, int n,
                              bk_config_entry_fn fn, void *ud) {
    char buf[32];
    for (int t = 0; t < bk_n_topic_defs; t++) {
        const bk_cfg_def *def = &bk_topic_defs[t];
        const char *v = NULL;
        uint8_t src = BK_SRC_DEFAULT;
        for (int k = 0; k < n; k++) /* the last override of the key wins */
            if (kv[k].key && kv[k].value && !strcmp(kv[k].key, def->name)) {
                v = kv[k].value;
                src = BK_SRC_TOPIC;
            }
        /* Else the first broker synonym set at some level, else the first
         * synonym with a default (log.retention.hours for retention.ms),
         * else the topic default. */
        for (int pass = 0; !v && pass < 2; pass++)
            for (int s = 0; !v && s < 3 && def->synonyms[s]; s++) {
                int i = bk_cfg_find(bk_broker_defs, bk_n_broker_defs, def->synonyms[s]);
                uint8_t bsrc;
                const char *bv = i < 0 ? NULL : bk_cfg_effective(cfg, i, &bsrc);
                if (!bv || (pass == 0 && bsrc == BK_SRC_DEFAULT)) continue;
                v = in_topic_unit(def->synonyms[s], bv, buf, sizeof buf);
                src = bsrc;
            }
        if (!v) v = def->dflt;
        bk_config_entry e = {
            .name = def->name,
            .value = v,
            .doc = def->doc,
            .type = def->type,
            .source = src,
            .read_only = false,
            .sensitive = false,
            .default_value = def->dflt,
        };
        if (fn(ud, &e)) return;
    }
}

const char *bk_topic_config_broker_synonym(const char *key) {
    int i = bk_cfg_find(bk_topic_defs, bk_n_topic_defs, key);
    return i < 0 ? NULL : bk_topic_defs[i].synonyms[0];
}

bool bk_topic_config_is_list(const char *key) {
    int i = bk_cfg_find(bk_topic_defs, bk_n_topic_defs, key);
    return i >= 0 && bk_topic_defs[i].type == BK_CT_LIST;
}
