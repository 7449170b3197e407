/* props.c - the properties-file lexer: Java's .properties rules (comments,
 * separators, continuation lines, escapes), with the line each entry starts on. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct lexer {
    const char *p, *end;
    int line; /* line of p */
    char *err;
    size_t errlen;
} lexer;

static int fail(lexer *lx, int line, const char *fmt, ...) {
    va_list ap;
    int n = snprintf(lx->err, lx->errlen, "line %d: ", line);
    if (n < 0 || (size_t)n >= lx->errlen) return -1;
    va_start(ap, fmt);
    vsnprintf(lx->err + n, lx->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\f';
}
static bool is_eol(char c) {
    return c == '\n' || c == '\r';
}

/* Moves past one line terminator (\n, \r or \r\n). */
static void skip_eol(lexer *lx) {
    if (lx->p < lx->end && *lx->p == '\r') lx->p++;
    if (lx->p < lx->end && *lx->p == '\n') lx->p++;
    lx->line++;
}

static void put_utf8(char *out, size_t *n, unsigned cp) {
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xc0 | (cp >> 6));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xe0 | (cp >> 12));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        out[(*n)++] = (char)(0xf0 | (cp >> 18));
        out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    }
}

static int hex4(const char *p, const char *end, unsigned *cp) {
    if (end - p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *cp = v;
    return 0;
}

/*
 * Reads one element (the key when `key`, else the value) of the logical
 * line at lx->p into out (sized for the rest of the input), unescaping as
 * it goes. A key ends at an unescaped '=', ':' or whitespace; both end at
 * the end of the logical line. A backslash before a line end joins the
 * next line, without its leading whitespace. Unescaped trailing whitespace
 * of a value is dropped (Kafka trims what it parses, and a stray blank
 * after a path is a classic mistake).
 */
static int read_elem(lexer *lx, bool key, int start_line, char *out, size_t *n_out) {
    size_t n = 0, keep = 0; /* keep: length that trailing-space trimming must not cut into */
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (is_eol(c)) break;
        if (key && (c == '=' || c == ':' || is_ws(c))) break;
        if (c == '\0') return fail(lx, lx->line, "NUL byte in the file");
        lx->p++;
        if (c != '\\') {
            out[n++] = c;
            if (!is_ws(c)) keep = n;
            continue;
        }
        if (lx->p >= lx->end) break; /* a lone backslash at the very end: dropped, as Java does */
        c = *lx->p;
        if (is_eol(c)) { /* continuation */
            skip_eol(lx);
            while (lx->p < lx->end && is_ws(*lx->p))
                lx->p++;
            continue;
        }
        lx->p++;
        switch (c) {
        case 't':
            out[n++] = '\t';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 'f':
            out[n++] = '\f';
            break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(lx->p, lx->end, &cp))
                return fail(lx, start_line, "malformed \\uXXXX escape (four hex digits needed)");
            lx->p += 4;
            /* A high surrogate followed by an escaped low one is one code point. */
            if (cp >= 0xd800 && cp < 0xdc00 && lx->end - lx->p >= 6 && lx->p[0] == '\\' &&
                lx->p[1] == 'u' && !hex4(lx->p + 2, lx->end, &lo) && lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                lx->p += 6;
            } else if (cp >= 0xd800 && cp < 0xe000) {
                return fail(lx, start_line, "\\u%04X is half of a surrogate pair", cp);
            }
            if (cp == 0) return fail(lx, start_line, "\\u0000 is not allowed");
            put_utf8(out, &n, cp);
            break;
        }
        default:
            out[n++] = c;
            break; /* \\ \= \: \# \! \space and any other: the char itself */
        }
        keep = n;
    }
    if (!key) n = keep;
    out[n] = '\0';
    *n_out = n;
    return 0;
}

int bk_props_parse(const char *text, size_t len, bk_prop **out, int *n_out, char *err,
                   size_t errlen) {
    lexer lx = {.p = text, .end = text + len, .line = 1, .err = err, .errlen = errlen};
    bk_prop *props = NULL;
    int n = 0, cap = 0;
    char *kbuf = malloc(len + 1), *vbuf = malloc(len * 2 + 1); /* \uXXXX never grows; be generous */
    if (!kbuf || !vbuf) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) lx.p += 3; /* UTF-8 byte order mark */

    while (lx.p < lx.end) {
        while (lx.p < lx.end && is_ws(*lx.p))
            lx.p++;
        if (lx.p >= lx.end) break;
        if (is_eol(*lx.p)) {
            skip_eol(&lx);
            continue;
        }
        if (*lx.p == '#' || *lx.p == '!') { /* comment: to the end of this physical line */
            while (lx.p < lx.end && !is_eol(*lx.p))
                lx.p++;
            if (lx.p < lx.end) skip_eol(&lx);
            continue;
        }
        int line = lx.line;
        size_t klen, vlen;
        if (read_elem(&lx, true, line, kbuf, &klen)) goto fail;
        while (lx.p < lx.end && is_ws(*lx.p))
            lx.p++;
        if (lx.p < lx.end && (*lx.p == '=' || *lx.p == ':')) lx.p++;
        while (lx.p < lx.end && is_ws(*lx.p))
            lx.p++;
        if (read_elem(&lx, false, line, vbuf, &vlen)) goto fail;
        if (lx.p < lx.end) skip_eol(&lx);
        if (klen == 0) {
            fail(&lx, line, "malformed line: no key before the separator");
            goto fail;
        }
        if (strlen(kbuf) != klen || strlen(vbuf) != vlen) {
            fail(&lx, line, "NUL byte in the file");
            goto fail;
        }
        if (n == cap) {
            int ncap = cap ? cap * 2 : 32;
            bk_prop *np = realloc(props, (size_t)ncap * sizeof *np);
            if (!np) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            props = np;
            cap = ncap;
        }
        props[n].key = strdup(kbuf);
        props[n].value = strdup(vbuf);
        props[n].line = line;
        n++;
        if (!props[n - 1].key || !props[n - 1].value) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    free(kbuf);
    free(vbuf);
    *out = props;
    *n_out = n;
    return 0;
fail:
    free(kbuf);
    free(vbuf);
    bk_props_free(props, n);
    *out = NULL;
    *n_out = 0;
    return -1;
}

void bk_props_free(bk_prop *props, int n) {
    for (int i = 0; i < n; i++) {
        free(props[i].key);
        free(props[i].value);
    }
    free(props);
}
