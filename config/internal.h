/* internal.h - what the files of config/ share; not for use outside it. */
#ifndef BK_CONFIG_INTERNAL_H
#define BK_CONFIG_INTERNAL_H

#include "config.h"

/* ---------------------------------------------------------- props.c */

/* One key=value line of a properties file, after Java's unescaping. */
typedef struct bk_prop {
    char *key;
    char *value;
    int line; /* where the logical line starts, from 1 */
} bk_prop;

#define BK_PROPS_MAX_BYTES (4u << 20) /* a properties file larger than this is refused */

/* Splits `text` (len bytes, need not end in NUL) into properties with
 * Java's .properties rules. Returns 0 and an array the caller frees with
 * bk_props_free, or -1 with "line N: why" in err. */
int bk_props_parse(const char *text, size_t len, bk_prop **out, int *n_out, char *err,
                   size_t errlen);
void bk_props_free(bk_prop *props, int n);

/* ----------------------------------------------------------- defs.c */

/* How a value is checked (beyond its type's own range). */
enum bk_rule {
    BK_R_ANY = 0,     /* any value of the type */
    BK_R_RANGE,       /* integer min..max */
    BK_R_RANGE_OR_M1, /* -1, or integer min..max */
    BK_R_DRANGE,      /* double dmin..dmax */
    BK_R_ENUM,        /* one of `choices` (comma separated), case-sensitive */
    BK_R_ENUM_ICASE,  /* one of `choices`, any case */
    BK_R_LIST_ENUM,   /* non-empty comma list, each item one of `choices` */
    BK_R_NONEMPTY,    /* a non-empty string */
    BK_R_EMPTY,       /* only the empty string: a Kafka feature brook refuses when set */
    BK_R_FALSE,       /* only false: a Kafka feature brook refuses when enabled */
    BK_R_LISTENERS,   /* NAME://host:port,... */
    BK_R_PROTO_MAP,   /* NAME:PROTOCOL,... */
    BK_R_NAMES,       /* comma list of listener names */
    BK_R_VOTERS,      /* id@host:port,... */
    BK_R_HOSTPORTS,   /* host:port,... */
    BK_R_PATHS,       /* comma list of non-empty paths, at most BK_MAX_LOG_DIRS, no repeats */
    BK_R_CLUSTER_ID,  /* 1..63 characters of [A-Za-z0-9_-] */
    BK_R_THROTTLED    /* "*", or partition:broker,... */
};

/* Update modes, as Kafka's broker config docs name them. */
enum { BK_MODE_READ_ONLY = 0, BK_MODE_CLUSTER, BK_MODE_PER_BROKER };

typedef struct bk_cfg_def {
    const char *name;
    uint8_t type; /* bk_config_type */
    uint8_t rule; /* bk_rule */
    uint8_t mode; /* BK_MODE_*; always read-only for topic configs */
    int64_t min, max;
    double dmin, dmax;
    const char *choices;
    const char *dflt; /* rendered as Kafka renders it; NULL = null */
    const char *doc;
    /* Topic configs: the broker keys it falls back to, first one wins
     * (retention.ms <- log.retention.ms, log.retention.minutes, ...). */
    const char *synonyms[3];
} bk_cfg_def;

extern const bk_cfg_def bk_broker_defs[];
extern const int bk_n_broker_defs;
extern const bk_cfg_def bk_topic_defs[];
extern const int bk_n_topic_defs;

/* Index of `name` in a table, or -1. */
int bk_cfg_find(const bk_cfg_def *defs, int n, const char *name);

/* ---------------------------------------------------------- value.c */

/* Checks `value` against def's type and rule. Returns 0, or -1 with a
 * message without location ("'ten' is not a valid value (allowed: ...)"). */
int bk_cfg_check(const bk_cfg_def *def, const char *value, char *err, size_t errlen);

/* The "allowed: ..." text for def, into buf. */
void bk_cfg_allowed(const bk_cfg_def *def, char *buf, size_t len);

/* Parsers for values that bk_cfg_check accepted. */
int64_t bk_cfg_int(const char *value);
double bk_cfg_double(const char *value);
bool bk_cfg_bool(const char *value);
unsigned bk_cfg_cleanup_policy(const char *value);

/* Parses a listeners value: names upper-cased, [IPv6] stored without the
 * brackets, security left PLAINTEXT. Returns the count or -1 with err. */
int bk_cfg_parse_listeners(const char *value, bk_listener_cfg *out, int max, char *err,
                           size_t errlen);

/* Looks up `name` in a listener.security.protocol.map value (checked).
 * Returns a bk_security or -1 when the map lacks it. */
int bk_cfg_map_lookup(const char *map, const char *name);

/* True when the comma list `list` holds `item` (ASCII case-insensitive
 * when icase). */
bool bk_cfg_list_has(const char *list, const char *item, bool icase);

/* ---------------------------------------------------------- config.c */

/* Layers of a broker config's value, highest precedence last. */
enum { BK_LAYER_STATIC = 0, BK_LAYER_DYN_DEFAULT, BK_LAYER_DYN_BROKER, BK_LAYERS };

typedef struct bk_cfg_val {
    char *v[BK_LAYERS]; /* NULL = not set at that layer */
    char *where;        /* where the static value came from, for messages */
} bk_cfg_val;

struct bk_config_priv {
    bk_cfg_val *vals; /* one per bk_broker_defs entry */
    char *dirs_buf;   /* the strings cfg->log_dirs point into */
    char host[256];   /* gethostname(), for advertised listeners */
};

/* The value in effect for broker def i and where it comes from
 * (BK_SRC_*). NULL for a null default. */
const char *bk_cfg_effective(const bk_config *cfg, int i, uint8_t *source);

/* Checks value for broker def i and sets it at `layer` (NULL clears it);
 * prefix names the source in messages ("brook.properties:3: node.id").
 * Returns 0 or -1 with "prefix: why" in err. */
int bk_cfg_store(bk_config *cfg, int i, int layer, const char *value, const char *prefix, char *err,
                 size_t errlen);

/* Applies the values in effect to cfg's fields: the keys set at any layer,
 * plus broker def `force` (-1: none; -2: every key, for the defaults).
 * Returns 0, or -1 with a message and cfg unchanged when a rule spanning
 * keys fails. */
int bk_cfg_derive(bk_config *cfg, int force, char *err, size_t errlen);

#endif
