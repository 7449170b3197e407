/* dynamic.c - broker configs at run time: DescribeConfigs' view of every
 * key, and AlterConfigs' dynamic updates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BK_KERR_INVALID_CONFIG 40

void bk_config_describe_broker(const bk_config *cfg, bk_config_entry_fn fn, void *ud) {
    for (int i = 0; i < bk_n_broker_defs; i++) {
        const bk_cfg_def *def = &bk_broker_defs[i];
        uint8_t src;
        const char *v = bk_cfg_effective(cfg, i, &src);
        bool sensitive = def->type == BK_CT_PASSWORD;
        bk_config_entry e = {
            .name = def->name,
            .value = sensitive ? NULL : v,
            .doc = def->doc,
            .type = def->type,
            .source = src,
            .read_only = def->mode == BK_MODE_READ_ONLY,
            .sensitive = sensitive,
            .default_value = sensitive ? NULL : def->dflt,
        };
        if (fn(ud, &e)) return;
    }
}

static int set_dynamic(bk_config *cfg, int layer, const char *key, const char *value,
                       bool validate_only, char *err, size_t errlen) {
    int i = bk_cfg_find(bk_broker_defs, bk_n_broker_defs, key);
    if (i < 0) {
        snprintf(err, errlen, "Unknown broker config name: %s", key);
        return BK_KERR_INVALID_CONFIG;
    }
    const bk_cfg_def *def = &bk_broker_defs[i];
    if (def->mode == BK_MODE_READ_ONLY) {
        snprintf(err, errlen,
                 "%s cannot be updated dynamically (read-only: set it in the "
                 "properties file and restart)",
                 key);
        return BK_KERR_INVALID_CONFIG;
    }
    if (def->mode == BK_MODE_PER_BROKER && layer == BK_LAYER_DYN_DEFAULT) {
        snprintf(err, errlen,
                 "%s cannot be updated at the cluster-wide default level, only for "
                 "one broker",
                 key);
        return BK_KERR_INVALID_CONFIG;
    }
    if (!cfg->priv) {
        snprintf(err, errlen, "out of memory");
        return BK_KERR_INVALID_CONFIG;
    }
    if (validate_only) {
        char msg[512];
        if (!value || !bk_cfg_check(def, value, msg, sizeof msg)) return 0;
        snprintf(err, errlen, "%s: %s", key, msg);
        return BK_KERR_INVALID_CONFIG;
    }
    bk_cfg_val *cv = &cfg->priv->vals[i];
    char *old = cv->v[layer] ? strdup(cv->v[layer]) : NULL;
    if (cv->v[layer] && !old) {
        snprintf(err, errlen, "out of memory");
        return BK_KERR_INVALID_CONFIG;
    }
    int rc = 0;
    if (bk_cfg_store(cfg, i, layer, value, key, err, errlen) ||
        bk_cfg_derive(cfg, i, err, errlen)) {
        char ignored[64];
        bk_cfg_store(cfg, i, layer, old, key, ignored, sizeof ignored); /* was valid before */
        rc = BK_KERR_INVALID_CONFIG;
    }
    free(old);
    return rc;
}

int bk_config_set_dynamic(bk_config *cfg, const char *key, const char *value, bool validate_only,
                          char *err, size_t errlen) {
    return set_dynamic(cfg, BK_LAYER_DYN_BROKER, key, value, validate_only, err, errlen);
}

int bk_config_set_dynamic_default(bk_config *cfg, const char *key, const char *value,
                                  bool validate_only, char *err, size_t errlen) {
    return set_dynamic(cfg, BK_LAYER_DYN_DEFAULT, key, value, validate_only, err, errlen);
}

bool bk_broker_config_is_list(const char *key) {
    int i = bk_cfg_find(bk_broker_defs, bk_n_broker_defs, key);
    return i >= 0 && bk_broker_defs[i].type == BK_CT_LIST;
}
