/* value.c - checking and parsing one config value: numbers, booleans,
 * lists, listeners and the other structured values. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define ITEM_MAX 512 /* longest list item looked at */

static const char *const sec_names[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};

/* ------------------------------------------------------------ scalars */

static const char *skip_ws(const char *s) {
    while (isspace((unsigned char)*s))
        s++;
    return s;
}

/* Parses a whole decimal integer (surrounding blanks allowed, as Kafka
 * trims). Returns 0 or -1. */
static int parse_i64(const char *s, int64_t *out) {
    s = skip_ws(s);
    if (!*s || isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno) return -1;
    if (*skip_ws(end)) return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out) {
    s = skip_ws(s);
    if (!*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE || isnan(v) || *skip_ws(end)) return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, bool *out) {
    s = skip_ws(s);
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 4 && strncasecmp(s, "true", 4) == 0)
        *out = true;
    else if (n == 5 && strncasecmp(s, "false", 5) == 0)
        *out = false;
    else
        return -1;
    return 0;
}

int64_t bk_cfg_int(const char *value) {
    int64_t v = 0;
    parse_i64(value, &v);
    return v;
}

double bk_cfg_double(const char *value) {
    double v = 0;
    parse_double(value, &v);
    return v;
}

bool bk_cfg_bool(const char *value) {
    bool v = false;
    parse_bool(value, &v);
    return v;
}

static void type_range(uint8_t type, int64_t *lo, int64_t *hi) {
    switch (type) {
    case BK_CT_SHORT:
        *lo = INT16_MIN, *hi = INT16_MAX;
        break;
    case BK_CT_INT:
        *lo = INT32_MIN, *hi = INT32_MAX;
        break;
    default:
        *lo = INT64_MIN, *hi = INT64_MAX;
        break;
    }
}

/* -------------------------------------------------------------- lists */

/* Iterates the trimmed items of a comma list: returns the next item in
 * buf (truncated to ITEM_MAX - 1), or NULL at the end. *p advances. */
static const char *next_item(const char **p, char *buf) {
    if (!*p) return NULL;
    const char *s = *p, *comma = strchr(s, ',');
    size_t n = comma ? (size_t)(comma - s) : strlen(s);
    *p = comma ? comma + 1 : NULL;
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= ITEM_MAX) n = ITEM_MAX - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

/* True when the list is empty or blank (Kafka reads "" as an empty list). */
static bool list_empty(const char *s) {
    return *skip_ws(s) == '\0';
}

bool bk_cfg_list_has(const char *list, const char *item, bool icase) {
    char buf[ITEM_MAX];
    const char *p = list_empty(list) ? NULL : list;
    for (const char *it; (it = next_item(&p, buf));)
        if (icase ? strcasecmp(it, item) == 0 : strcmp(it, item) == 0) return true;
    return false;
}

unsigned bk_cfg_cleanup_policy(const char *value) {
    return (bk_cfg_list_has(value, "delete", false) ? BK_CLEANUP_DELETE : 0) |
           (bk_cfg_list_has(value, "compact", false) ? BK_CLEANUP_COMPACT : 0);
}

static bool name_ok(const char *s) {
    if (!*s || strlen(s) >= 64) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return false;
    return true;
}

/* Splits "host:port" (host may be empty or [IPv6]). Returns NULL when
 * fine, else why not. host gets the host without brackets. */
static const char *split_host_port(const char *s, char *host, size_t hostlen, int *port) {
    const char *colon;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close) return "has '[' without ']'";
        if (close[1] != ':') return "needs ':port' after the bracketed address";
        size_t n = (size_t)(close - s - 1);
        if (n == 0 || n >= hostlen) return "has an empty or too long IPv6 address";
        bool zone = false; /* after '%': an interface name, fe80::1%eth0 */
        for (size_t i = 1; i <= n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '%' && !zone)
                zone = true;
            else if (zone ? !isalnum(c) && c != '_' && c != '-' && c != '.'
                          : !isxdigit(c) && c != ':' && c != '.')
                return "has a bracketed host that is not an IPv6 address";
        }
        memcpy(host, s + 1, n);
        host[n] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) return "has no ':port'";
        size_t n = (size_t)(colon - s);
        if (n >= hostlen) return "has a host name that is too long";
        for (size_t i = 0; i < n; i++) {
            if (s[i] == ':') return "has an IPv6 address without brackets (write [addr]:port)";
            if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-' && s[i] != '_')
                return "has a host with characters a host name cannot hold";
        }
        memcpy(host, s, n);
        host[n] = '\0';
    }
    const char *ps = colon + 1;
    if (!*ps) return "has no port number";
    long v = 0;
    for (const char *q = ps; *q; q++) {
        if (!isdigit((unsigned char)*q)) return "has a port that is not a number";
        v = v * 10 + (*q - '0');
        if (v > 65535) return "has a port outside 0..65535";
    }
    *port = (int)v;
    return NULL;
}

int bk_cfg_parse_listeners(const char *value, bk_listener_cfg *out, int max, char *err,
                           size_t errlen) {
    char buf[ITEM_MAX];
    int n = 0;
    const char *p = list_empty(value) ? NULL : value;
    for (const char *it; (it = next_item(&p, buf));) {
        const char *why = NULL;
        bk_listener_cfg l = {0};
        const char *sep = strstr(it, "://");
        if (!*it)
            why = "is empty";
        else if (!sep)
            why = "is not NAME://host:port";
        else if ((size_t)(sep - it) >= sizeof l.name)
            why = "has a listener name that is too long";
        if (!why) {
            memcpy(l.name, it, (size_t)(sep - it));
            for (char *c = l.name; *c; c++)
                *c = (char)toupper((unsigned char)*c); /* Kafka's names are case-insensitive */
            if (!name_ok(l.name)) why = "has a listener name that is not A-Z, 0-9, _ or -";
        }
        if (!why) why = split_host_port(sep + 3, l.host, sizeof l.host, &l.port);
        for (int i = 0; !why && i < n; i++) {
            if (strcmp(out[i].name, l.name) == 0)
                why = "repeats a listener name";
            else if (l.port && out[i].port == l.port &&
                     (!*l.host || !*out[i].host || strcmp(l.host, out[i].host) == 0))
                why = "repeats the port of another listener";
        }
        if (!why && n == max) why = "is one listener too many";
        if (why) {
            snprintf(err, errlen, "'%s' %s", it, why);
            return -1;
        }
        out[n++] = l;
    }
    if (n == 0) {
        snprintf(err, errlen, "'%s' names no listener", value);
        return -1;
    }
    return n;
}

int bk_cfg_map_lookup(const char *map, const char *name) {
    char buf[ITEM_MAX];
    const char *p = list_empty(map) ? NULL : map;
    for (const char *it; (it = next_item(&p, buf));) {
        char *colon = strchr(buf, ':');
        if (!colon) continue;
        *colon = '\0';
        if (strcasecmp(buf, name) != 0) continue;
        const char *proto = skip_ws(colon + 1);
        for (int s = 0; s < 4; s++)
            if (strcasecmp(proto, sec_names[s]) == 0) return s;
    }
    return -1;
}

/* --------------------------------------------------- structured checks */

/* Checks a structured value; returns NULL or why it is bad (with the item
 * concerned copied into `bad`). */
static const char *check_struct(const bk_cfg_def *def, const char *value, char *bad,
                                size_t badlen) {
    char buf[ITEM_MAX], host[256], seen[BK_MAX_LOG_DIRS][ITEM_MAX];
    const char *p = list_empty(value) ? NULL : value, *it;
    int n = 0, port;
    switch (def->rule) {
    case BK_R_LISTENERS: {
        bk_listener_cfg ls[BK_MAX_LISTENERS];
        return bk_cfg_parse_listeners(value, ls, BK_MAX_LISTENERS, bad, badlen) < 0 ? "" : NULL;
    }
    case BK_R_PROTO_MAP:
        while ((it = next_item(&p, buf))) {
            snprintf(bad, badlen, "'%s'", it);
            char *colon = strchr(buf, ':');
            if (!colon) return "is not NAME:PROTOCOL";
            *colon = '\0';
            if (!name_ok(buf)) return "has a listener name that is not A-Z, 0-9, _ or -";
            bool known = false;
            for (int s = 0; s < 4; s++)
                known |= strcasecmp(skip_ws(colon + 1), sec_names[s]) == 0;
            if (!known)
                return "names a protocol other than PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL";
            if (n < BK_MAX_LOG_DIRS) {
                for (int i = 0; i < n; i++)
                    if (strcasecmp(seen[i], buf) == 0) return "repeats a listener name";
                snprintf(seen[n++], ITEM_MAX, "%s", buf);
            }
        }
        if (n == 0) return snprintf(bad, badlen, "'%s'", value), "maps no listener";
        return NULL;
    case BK_R_NAMES:
        while ((it = next_item(&p, buf))) {
            snprintf(bad, badlen, "'%s'", it);
            if (!name_ok(it)) return "is not a listener name (A-Z, 0-9, _ or -)";
        }
        return NULL;
    case BK_R_VOTERS:
        while ((it = next_item(&p, buf))) {
            snprintf(bad, badlen, "'%s'", it);
            char *at = strchr(buf, '@');
            if (!at) return "is not id@host:port";
            *at = '\0';
            int64_t id;
            if (parse_i64(buf, &id) || id < 0 || id > INT32_MAX) return "has a bad node id";
            const char *why = split_host_port(at + 1, host, sizeof host, &port);
            if (why) return why;
            if (!*host) return "has an empty host";
        }
        return NULL;
    case BK_R_HOSTPORTS:
        while ((it = next_item(&p, buf))) {
            snprintf(bad, badlen, "'%s'", it);
            const char *why = split_host_port(it, host, sizeof host, &port);
            if (why) return why;
            if (!*host) return "has an empty host";
        }
        return NULL;
    case BK_R_PATHS:
        while ((it = next_item(&p, buf))) {
            snprintf(bad, badlen, "'%s'", value);
            if (!*it) return "has an empty directory";
            if (n == BK_MAX_LOG_DIRS) return "lists more than 16 directories";
            for (int i = 0; i < n; i++)
                if (strcmp(seen[i], it) == 0) return "lists a directory twice";
            snprintf(seen[n++], ITEM_MAX, "%s", it);
        }
        if (n == 0) return snprintf(bad, badlen, "'%s'", value), "lists no directory";
        return NULL;
    case BK_R_CLUSTER_ID:
        snprintf(bad, badlen, "'%s'", value);
        return name_ok(value) ? NULL : "is not a cluster id";
    case BK_R_THROTTLED:
        if (strcmp(skip_ws(value), "*") == 0) return NULL;
        while ((it = next_item(&p, buf))) {
            snprintf(bad, badlen, "'%s'", it);
            char *colon = strchr(buf, ':');
            int64_t a, b;
            if (!colon) return "is not partition:broker";
            *colon = '\0';
            if (parse_i64(buf, &a) || parse_i64(colon + 1, &b) || a < 0 || b < 0 || a > INT32_MAX ||
                b > INT32_MAX)
                return "is not partition:broker";
        }
        return NULL;
    default:
        return NULL;
    }
}

/* ------------------------------------------------------------ checking */

void bk_cfg_allowed(const bk_cfg_def *def, char *buf, size_t len) {
    int64_t lo, hi;
    type_range(def->type, &lo, &hi);
    switch (def->rule) {
    case BK_R_RANGE:
        snprintf(buf, len, "an integer %" PRId64 "..%" PRId64, def->min, def->max);
        return;
    case BK_R_RANGE_OR_M1:
        snprintf(buf, len, "-1 or an integer %" PRId64 "..%" PRId64, def->min, def->max);
        return;
    case BK_R_DRANGE:
        if (def->dmin <= -1e300)
            snprintf(buf, len, "a number");
        else
            snprintf(buf, len, "a number %g..%g", def->dmin, def->dmax);
        return;
    case BK_R_ENUM:
    case BK_R_ENUM_ICASE:
        snprintf(buf, len, "one of %s", def->choices);
        break;
    case BK_R_LIST_ENUM:
        snprintf(buf, len, "a comma list of %s", def->choices);
        break;
    case BK_R_NONEMPTY:
        snprintf(buf, len, "a non-empty string");
        return;
    case BK_R_EMPTY:
        snprintf(buf, len, "empty only: brook does not support this yet");
        return;
    case BK_R_FALSE:
        snprintf(buf, len, "false only: brook does not support this yet");
        return;
    case BK_R_LISTENERS:
        snprintf(buf, len,
                 "a comma list of NAME://host:port with unique names, host empty, a name, "
                 "IPv4 or [IPv6], port 0..65535");
        return;
    case BK_R_PROTO_MAP:
        snprintf(buf, len,
                 "a comma list of NAME:PROTOCOL, PROTOCOL one of PLAINTEXT, SSL, "
                 "SASL_PLAINTEXT, SASL_SSL");
        return;
    case BK_R_NAMES:
        snprintf(buf, len, "a comma list of listener names");
        return;
    case BK_R_VOTERS:
        snprintf(buf, len, "a comma list of id@host:port");
        return;
    case BK_R_HOSTPORTS:
        snprintf(buf, len, "a comma list of host:port");
        return;
    case BK_R_PATHS:
        snprintf(buf, len, "a comma list of at most 16 distinct directories");
        return;
    case BK_R_CLUSTER_ID:
        snprintf(buf, len, "1 to 63 characters of A-Z, a-z, 0-9, _ and -");
        return;
    case BK_R_THROTTLED:
        snprintf(buf, len, "* or a comma list of partition:broker");
        return;
    default:
        switch (def->type) {
        case BK_CT_BOOLEAN:
            snprintf(buf, len, "true or false");
            return;
        case BK_CT_SHORT:
        case BK_CT_INT:
        case BK_CT_LONG:
            snprintf(buf, len, "an integer %" PRId64 "..%" PRId64, lo, hi);
            return;
        case BK_CT_DOUBLE:
            snprintf(buf, len, "a number");
            return;
        default:
            snprintf(buf, len, "any string");
            return;
        }
    }
    for (char *c = buf; *c;
         c++) /* "a,b" -> "a, b" reads better; there is room: choices are short */
        if (*c == ',' && c[1] != ' ' && strlen(buf) + 2 < len) {
            memmove(c + 2, c + 1, strlen(c + 1) + 1);
            c[1] = ' ';
        }
}

int bk_cfg_check(const bk_cfg_def *def, const char *value, char *err, size_t errlen) {
    char allowed[256], bad[ITEM_MAX + 8];
    const char *why = NULL;
    bool ok = true;
    int64_t i, lo, hi;
    double d;
    bool b;
    type_range(def->type, &lo, &hi);
    switch (def->type) {
    case BK_CT_SHORT:
    case BK_CT_INT:
    case BK_CT_LONG:
        ok = !parse_i64(value, &i) && i >= lo && i <= hi;
        if (ok && def->rule == BK_R_RANGE) ok = i >= def->min && i <= def->max;
        if (ok && def->rule == BK_R_RANGE_OR_M1) ok = i == -1 || (i >= def->min && i <= def->max);
        break;
    case BK_CT_DOUBLE:
        ok = !parse_double(value, &d);
        if (ok && def->rule == BK_R_DRANGE) ok = d >= def->dmin && d <= def->dmax;
        break;
    case BK_CT_BOOLEAN:
        ok = !parse_bool(value, &b);
        if (ok && def->rule == BK_R_FALSE) ok = !b;
        break;
    default:
        break;
    }
    if (ok) {
        char buf[ITEM_MAX];
        const char *p = list_empty(value) ? NULL : value, *it;
        int n = 0;
        switch (def->rule) {
        case BK_R_ENUM:
            ok = bk_cfg_list_has(def->choices, skip_ws(value), false);
            break;
        case BK_R_ENUM_ICASE:
            ok = bk_cfg_list_has(def->choices, skip_ws(value), true);
            break;
        case BK_R_LIST_ENUM:
            while (ok && (it = next_item(&p, buf)))
                ok = bk_cfg_list_has(def->choices, it, false), n++;
            ok = ok && n > 0;
            break;
        case BK_R_NONEMPTY:
            ok = *skip_ws(value) != '\0';
            break;
        case BK_R_EMPTY:
            ok = *skip_ws(value) == '\0';
            break;
        default:
            if (def->type == BK_CT_STRING || def->type == BK_CT_LIST)
                why = check_struct(def, value, bad, sizeof bad);
            break;
        }
    }
    if (ok && !why) return 0;
    bk_cfg_allowed(def, allowed, sizeof allowed);
    if (why && *why)
        snprintf(err, errlen, "%s %s (allowed: %s)", bad, why, allowed);
    else if (why)
        snprintf(err, errlen, "%s (allowed: %s)", bad, allowed); /* listeners: bad says why */
    else
        snprintf(err, errlen, "'%s' is not a valid value (allowed: %s)", value, allowed);
    return -1;
}
