/* consumer_regex.c - KIP-848 subscription regexes. Kafka compiles them with
 * RE2J (Java's RE2 port) and matches whole topic names; brook translates
 * the RE2 syntax topic patterns use into a POSIX extended regexp (glibc's
 * regcomp), anchored at both ends:
 *   \d \D \w \W \s \S        -> bracket classes ([0-9], [^0-9], ...)
 *   \. \* \\ ... (any escaped punctuation) -> the same escape, or the bare
 *                              character inside a bracket expression
 *   \t \n \r \f              -> the character
 *   (?: ... )                -> ( ... )   (POSIX groups do not capture here)
 *   (?i) at the very start   -> REG_ICASE
 *   lazy quantifiers *? +? ?? {n,m}? -> greedy (same set of whole-name
 *                              matches)
 * Anything else RE2 has and POSIX lacks (\p{..}, \b, other flags, \Q..\E,
 * named groups) is refused as invalid rather than silently misread. */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "server/coord/consumer.h"

typedef struct out_buf {
    char *p;
    size_t n, cap;
    bool oom;
} out_buf;

static void put(out_buf *o, const char *s) {
    size_t k = strlen(s);
    if (o->oom) return;
    if (o->n + k + 1 > o->cap) {
        size_t cap = (o->n + k + 1) * 2;
        char *p = realloc(o->p, cap);
        if (!p) {
            o->oom = true;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->n, s, k + 1);
    o->n += k;
}

static void putc1(out_buf *o, char c) {
    char s[2] = {c, 0};
    put(o, s);
}

/* A class escape (\d, \w, \s and their negations) as bracket contents
 * (no brackets); NULL when c is not one. */
static const char *class_body(char c) {
    switch (c) {
    case 'd':
    case 'D':
        return "0-9";
    case 'w':
    case 'W':
        return "0-9A-Za-z_";
    case 's':
    case 'S':
        return "[:space:]";
    default:
        return NULL;
    }
}

static int control_char(char c) {
    switch (c) {
    case 't':
        return '\t';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 'f':
        return '\f';
    default:
        return -1;
    }
}

/* A bracket expression from s (just after '['); *end set past its ']'.
 * POSIX brackets take backslash literally, so RE2 escapes are resolved,
 * a literal ']' goes first and a literal '-' last. */
static int bracket(out_buf *o, const char *s, const char **end) {
    out_buf body = {0};
    bool neg = false, close = false, dash = false;
    if (*s == '^') {
        neg = true;
        s++;
    }
    bool first = true;
    while (*s && (first || *s != ']')) {
        first = false;
        if (*s == '\\') {
            char c = s[1];
            const char *cls = class_body(c);
            if (!c || (cls && isupper((unsigned char)c))) goto bad; /* \D inside [] */
            if (cls)
                put(&body, cls);
            else if (control_char(c) >= 0)
                putc1(&body, (char)control_char(c));
            else if (c == ']')
                close = true;
            else if (c == '-')
                dash = true;
            else if (ispunct((unsigned char)c))
                putc1(&body, c);
            else
                goto bad;
            s += 2;
        } else if (*s == '[' && s[1] == ':') {
            const char *e = strstr(s, ":]");
            if (!e) goto bad;
            for (; s < e + 2; s++)
                putc1(&body, *s);
        } else if (*s == ']') { /* first position: literal */
            close = true;
            s++;
        } else {
            putc1(&body, *s++);
        }
    }
    if (*s != ']') goto bad;
    *end = s + 1;
    put(o, neg ? "[^" : "[");
    if (close) putc1(o, ']');
    if (body.p) put(o, body.p);
    if (dash) putc1(o, '-');
    putc1(o, ']');
    free(body.p);
    return body.oom ? -1 : 0;
bad:
    free(body.p);
    return -1;
}

static int translate(out_buf *o, const char *s) {
    put(o, "^(");
    while (*s) {
        if (*s == '\\') {
            char c = s[1];
            const char *cls = class_body(c);
            if (cls) {
                put(o, isupper((unsigned char)c) ? "[^" : "[");
                put(o, cls);
                put(o, "]");
            } else if (control_char(c) >= 0) {
                putc1(o, (char)control_char(c));
            } else if (c && ispunct((unsigned char)c)) {
                putc1(o, '\\');
                putc1(o, c);
            } else {
                return -1;
            }
            s += 2;
        } else if (*s == '[') {
            if (bracket(o, s + 1, &s)) return -1;
        } else if (*s == '(' && s[1] == '?') {
            if (s[2] != ':') return -1;
            putc1(o, '(');
            s += 3;
        } else if ((*s == '*' || *s == '+' || *s == '?' || *s == '}') && s[1] == '?') {
            putc1(o, *s);
            s += 2;
        } else {
            putc1(o, *s++);
        }
    }
    put(o, ")$");
    return o->oom ? -1 : 0;
}

int bk_cg_regex_compile(regex_t *re, const char *re2) {
    int flags = REG_EXTENDED | REG_NOSUB;
    if (!strncmp(re2, "(?i)", 4)) {
        flags |= REG_ICASE;
        re2 += 4;
    }
    out_buf o = {0};
    int rc = translate(&o, re2);
    if (!rc) rc = regcomp(re, o.p, flags) ? -1 : 0;
    free(o.p);
    return rc;
}
