/* topics.c - the topic registry: names and ids, partition logs, configs,
 * kept in one small file per topic under <first log dir>/brook-meta. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/producers.h"
#include "server/server.h"

#define TOPIC_FILE_PREFIX "topic-"

const char *bk_topic_name_invalid(bk_str name) {
    if (name.len <= 0) return "Topic name is illegal, it can't be empty";
    if (name.len > 249) return "Topic name is illegal, it can't be longer than 249 characters";
    if ((name.len == 1 && name.ptr[0] == '.') ||
        (name.len == 2 && name.ptr[0] == '.' && name.ptr[1] == '.'))
        return "Topic name cannot be \".\" or \"..\"";
    for (int32_t i = 0; i < name.len; i++) {
        char c = name.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return "Topic name contains a character other than ASCII alphanumerics, '.', '_' and "
                   "'-'";
    }
    return NULL;
}

bool bk_topic_is_internal(const char *name) {
    return !strcmp(name, "__consumer_offsets") || !strcmp(name, "__transaction_state") ||
           !strcmp(name, "__share_group_state");
}

bk_topic *bk_topic_find(bk_broker *b, bk_str name) {
    if (name.len <= 0) return NULL;
    return bk_map_get(&b->topics_by_name, name.ptr, (size_t)name.len);
}

bk_topic *bk_topic_find_id(bk_broker *b, const bk_uuid *id) {
    return bk_map_get(&b->topics_by_id, id->b, sizeof id->b);
}

bk_partition *bk_partition_find(bk_broker *b, bk_str topic, int32_t index) {
    bk_topic *t = bk_topic_find(b, topic);
    if (!t || index < 0 || index >= t->nparts) return NULL;
    return t->parts[index];
}

static void kv_free(bk_topic_kv *kv, int n) {
    for (int i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static void topic_free(bk_topic *t) {
    kv_free(t->kv, t->nkv);
    free(t->parts);
    free(t->name);
    free(t);
}

static void partition_free(bk_partition *p) {
    bk_topic *t = p->topic;
    bk_producers_free(p->producers);
    free(p);
    if (--t->live_parts == 0 && t->deleted) topic_free(t);
}

/* Deletes the log of a deleted topic's partition once nothing uses it. */
static void partition_retire(bk_partition *p) {
    if (p->log) {
        if (bk_log_delete(p->log) != 0)
            bk_logf(BK_LV_ERROR, "could not delete the files of %s-%d", p->topic->name, p->index);
        p->log = NULL;
    }
    partition_free(p);
}

void bk_partition_unref(bk_partition *p) {
    if (--p->refs == 0 && p->topic->deleted) partition_retire(p);
}

void bk_partition_notify(bk_partition *p) {
    /* Waiters unlink themselves; take each from the head. */
    bk_hw_waiter *w = p->waiters.next;
    int guard = 0;
    while (w && w != &p->waiters && guard++ < 1000000) {
        bk_hw_waiter *next = w->next;
        w->fn(w, p);
        w = next;
    }
}

static void flush_done(void *ud, int err) {
    bk_partition *p = ud;
    bk_broker *b = p->topic->broker;
    p->flushing = false;
    p->flush_err = err;
    if (p->log && !p->topic->deleted) {
        if (err)
            bk_logf(BK_LV_ERROR, "flush of %s-%d failed: %s", p->topic->name, p->index,
                    bk_strerror(err));
        bk_partition_notify(p); /* acks=-1 produces wait for this */
        if (!err && bk_log_end_offset(p->log) > bk_log_flushed_offset(p->log))
            bk_partition_request_flush(b, p);
    }
    bk_partition_unref(p);
}

void bk_partition_request_flush(bk_broker *b, bk_partition *p) {
    (void)b;
    if (p->flushing || !p->log) return;
    int64_t end = bk_log_end_offset(p->log);
    if (end <= bk_log_flushed_offset(p->log)) return;
    p->flushing = true;
    p->refs++;
    if (bk_log_flush(p->log, end, flush_done, p) != 0) {
        p->flushing = false;
        p->flush_err = BK_EIO;
        p->refs--;
        bk_partition_notify(p);
    }
}

void bk_partition_appended(bk_broker *b, bk_partition *p) {
    /* One replica is the whole in-sync set: what is appended is committed,
     * as on a single Kafka broker. Durability is the flush's business. */
    bk_log_set_high_watermark(p->log, bk_log_end_offset(p->log));
    bk_partition_request_flush(b, p);
    bk_partition_notify(p);
}

/* ---- persistence ---- */

/* Writes path atomically: a temporary file, fsync, rename, fsync of the
 * directory. Admin operations are rare; they pay this on the loop. */
static int write_atomic(const char *dir, const char *name, const char *data, size_t len) {
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return BK_EIO;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n <= 0) {
            close(fd);
            unlink(tmp);
            return BK_EIO;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return BK_EIO;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int bk_meta_write(bk_broker *b, const char *name, const char *data, size_t len) {
    int rc = write_atomic(b->meta_dir, name, data, len);
    if (rc) bk_logf(BK_LV_ERROR, "cannot write %s/%s: %s", b->meta_dir, name, strerror(errno));
    return rc;
}

static int topic_save(bk_broker *b, const bk_topic *t) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return BK_ENOMEM;
    char id[23];
    bk_uuid_str(&t->id, id);
    fprintf(f, "# brook topic metadata: written by brookd, do not edit while it runs\n");
    fprintf(f, "name=%s\nid=%s\npartitions=%d\n", t->name, id, t->nparts);
    for (int i = 0; i < t->nkv; i++) {
        fprintf(f, "config.%s=", t->kv[i].key);
        bk_prop_put(f, t->kv[i].value);
        fputc('\n', f);
    }
    fclose(f);
    char fname[300];
    snprintf(fname, sizeof fname, TOPIC_FILE_PREFIX "%s", t->name);
    int rc = bk_meta_write(b, fname, buf, len);
    free(buf);
    return rc;
}

static int uuid_parse(const char *s, bk_uuid *u) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    if (strlen(s) != 22) return -1;
    uint8_t out[18] = {0};
    int o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (int i = 0; i < 22; i++) {
        const char *q = strchr(tab, s[i]);
        if (!q || !*q) return -1;
        acc = acc << 6 | (uint32_t)(q - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    memcpy(u->b, out, 16);
    return 0;
}

/* The log dir holding the partition's directory, or the least used one. */
static const char *pick_log_dir(bk_broker *b, const char *topic, int32_t index) {
    char path[4096];
    struct stat sb;
    for (int i = 0; i < b->cfg->n_log_dirs; i++) {
        snprintf(path, sizeof path, "%s/%s-%d", b->cfg->log_dirs[i], topic, index);
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return b->cfg->log_dirs[i];
    }
    return b->cfg
        ->log_dirs[(unsigned)(index + (int32_t)strlen(topic)) % (unsigned)b->cfg->n_log_dirs];
}

static int partition_open(bk_broker *b, bk_topic *t, int32_t index, bk_partition **out) {
    bk_partition *p = calloc(1, sizeof *p);
    if (!p) return BK_ENOMEM;
    p->topic = t;
    p->index = index;
    p->leader_epoch = 0;
    p->waiters.next = p->waiters.prev = &p->waiters;
    const char *dir = pick_log_dir(b, t->name, index);
    int rc = bk_log_open(b->st, dir, t->name, index, &t->settings.log, &p->log);
    if (rc) {
        bk_logf(BK_LV_ERROR, "cannot open partition %s-%d in %s: %s", t->name, index, dir,
                bk_strerror(rc));
        free(p);
        return rc;
    }
    /* One node: everything in the log is committed (see
     * bk_partition_appended). */
    bk_log_set_high_watermark(p->log, bk_log_end_offset(p->log));
    p->producers = bk_producers_new(bk_log_dir(p->log));
    if (!p->producers || bk_producers_load(p->producers, p->log, bk_now_ms(),
                                           b->pid_alloc ? b->pid_alloc->expiration_ms : 86400000)) {
        bk_logf(BK_LV_ERROR, "cannot load the producer state of %s-%d", t->name, index);
        bk_producers_free(p->producers);
        bk_log_close(p->log);
        free(p);
        return BK_ENOMEM;
    }
    t->live_parts++;
    *out = p;
    return 0;
}

static int topic_register(bk_broker *b, bk_topic *t) {
    if (bk_map_put(&b->topics_by_name, t->name, strlen(t->name), t) ||
        bk_map_put(&b->topics_by_id, t->id.b, sizeof t->id.b, t)) {
        bk_map_del(&b->topics_by_name, t->name, strlen(t->name));
        return BK_ENOMEM;
    }
    b->ntopics++;
    return 0;
}

static int topic_open_parts(bk_broker *b, bk_topic *t, int32_t from, int32_t to) {
    bk_partition **parts = realloc(t->parts, (size_t)(to > 0 ? to : 1) * sizeof *parts);
    if (!parts) return BK_ENOMEM;
    t->parts = parts;
    for (int32_t i = from; i < to; i++) {
        int rc = partition_open(b, t, i, &t->parts[i]);
        if (rc) {
            for (int32_t j = from; j < i; j++) {
                bk_log_close(t->parts[j]->log);
                bk_producers_free(t->parts[j]->producers);
                free(t->parts[j]);
                t->live_parts--;
            }
            return rc;
        }
    }
    t->nparts = to;
    return 0;
}

static bk_topic_kv *kv_dup(const bk_topic_kv *kv, int n) {
    bk_topic_kv *out = calloc((size_t)(n > 0 ? n : 1), sizeof *out);
    if (!out) return NULL;
    for (int i = 0; i < n; i++) {
        out[i].key = strdup(kv[i].key);
        out[i].value = strdup(kv[i].value ? kv[i].value : "");
        if (!out[i].key || !out[i].value) {
            kv_free(out, i + 1);
            return NULL;
        }
    }
    return out;
}

/* Removes what a crash may have left of an earlier topic of this name: a
 * new topic starts empty. */
static void remove_stale_dirs(bk_broker *b, const char *name, int32_t from, int32_t to) {
    for (int i = 0; i < b->cfg->n_log_dirs; i++) {
        for (int32_t p = from; p < to; p++) {
            char path[4096];
            struct stat sb;
            snprintf(path, sizeof path, "%s/%s-%d", b->cfg->log_dirs[i], name, p);
            if (stat(path, &sb) != 0) continue;
            bk_log *log;
            bk_log_config cfg;
            bk_log_config_defaults(&cfg);
            bk_logf(BK_LV_WARN, "removing %s: left over from a deleted topic", path);
            if (bk_log_open(b->st, b->cfg->log_dirs[i], name, p, &cfg, &log) == 0)
                bk_log_delete(log);
        }
    }
}

int bk_topic_create(bk_broker *b, bk_str name, int32_t nparts, const bk_topic_kv *kv, int nkv,
                    bk_topic **out, char *err, size_t errlen) {
    const char *why = bk_topic_name_invalid(name);
    if (why) {
        snprintf(err, errlen, "%s", why);
        return BK_KERR_INVALID_TOPIC_EXCEPTION;
    }
    if (bk_topic_find(b, name)) {
        snprintf(err, errlen, "Topic '%.*s' already exists.", name.len, name.ptr);
        return BK_KERR_TOPIC_ALREADY_EXISTS;
    }
    bk_topic *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strndup(name.ptr, (size_t)name.len)) || !(t->kv = kv_dup(kv, nkv))) {
        if (t) free(t->name);
        free(t);
        snprintf(err, errlen, "out of memory");
        return BK_KERR_UNKNOWN_SERVER_ERROR;
    }
    t->broker = b;
    t->nkv = nkv;
    t->internal = bk_topic_is_internal(t->name);
    bk_uuid_random(&t->id);
    while (bk_topic_find_id(b, &t->id))
        bk_uuid_random(&t->id);
    bk_topic_settings_resolve(b->cfg, t->kv, t->nkv, &t->settings);
    remove_stale_dirs(b, t->name, 0, nparts);
    int rc = topic_open_parts(b, t, 0, nparts);
    if (rc == 0) rc = topic_save(b, t);
    if (rc == 0) rc = topic_register(b, t);
    if (rc) {
        for (int32_t i = 0; i < t->nparts; i++) {
            bk_log_delete(t->parts[i]->log);
            free(t->parts[i]);
        }
        topic_free(t);
        snprintf(err, errlen, "could not create the topic's files: %s", bk_strerror(rc));
        return BK_KERR_KAFKA_STORAGE_ERROR;
    }
    bk_logf(BK_LV_INFO, "created topic %s with %d partition(s)", t->name, nparts);
    if (out) *out = t;
    return 0;
}

int bk_topic_add_partitions(bk_broker *b, bk_topic *t, int32_t total, char *err, size_t errlen) {
    int32_t old = t->nparts;
    remove_stale_dirs(b, t->name, old, total);
    int rc = topic_open_parts(b, t, old, total);
    if (rc == 0) rc = topic_save(b, t);
    if (rc) {
        snprintf(err, errlen, "could not create partition files: %s", bk_strerror(rc));
        return BK_KERR_KAFKA_STORAGE_ERROR;
    }
    bk_logf(BK_LV_INFO, "topic %s now has %d partitions", t->name, total);
    return 0;
}

int bk_topic_set_configs(bk_broker *b, bk_topic *t, bk_topic_kv *kv, int nkv) {
    bk_topic_kv *copy = kv_dup(kv, nkv);
    if (!copy) return BK_ENOMEM;
    bk_topic_kv *old = t->kv;
    int oldn = t->nkv;
    t->kv = copy;
    t->nkv = nkv;
    int rc = topic_save(b, t);
    if (rc) {
        t->kv = old;
        t->nkv = oldn;
        kv_free(copy, nkv);
        return rc;
    }
    kv_free(old, oldn);
    bk_topic_settings_resolve(b->cfg, t->kv, t->nkv, &t->settings);
    for (int32_t i = 0; i < t->nparts; i++)
        if (t->parts[i]->log) bk_log_set_config(t->parts[i]->log, &t->settings.log);
    return 0;
}

void bk_topics_refresh_settings(bk_broker *b) {
    for (size_t i = 0; i < b->topics_by_name.cap; i++) {
        bk_topic *t = b->topics_by_name.slots[i].val;
        if (!t || t == (void *)1) continue;
        bk_topic_settings_resolve(b->cfg, t->kv, t->nkv, &t->settings);
        for (int32_t j = 0; j < t->nparts; j++)
            if (t->parts[j]->log) bk_log_set_config(t->parts[j]->log, &t->settings.log);
    }
}

int bk_topic_delete(bk_broker *b, bk_topic *t) {
    char fname[300], path[4400];
    snprintf(fname, sizeof fname, TOPIC_FILE_PREFIX "%s", t->name);
    snprintf(path, sizeof path, "%s/%s", b->meta_dir, fname);
    /* The metadata goes first: after a crash the topic is gone, and its
     * leftover directories are removed when the name is used again. */
    if (unlink(path) != 0 && errno != ENOENT) {
        bk_logf(BK_LV_ERROR, "cannot remove %s: %s", path, strerror(errno));
        return BK_EIO;
    }
    bk_map_del(&b->topics_by_name, t->name, strlen(t->name));
    bk_map_del(&b->topics_by_id, t->id.b, sizeof t->id.b);
    b->ntopics--;
    t->deleted = true;
    bk_logf(BK_LV_INFO, "deleted topic %s", t->name);
    int32_t n = t->nparts;
    /* Waiters see the topic gone and answer with an error. A waiter may
     * release several partitions at once (a fetch of all of them), so every
     * partition is held until every one has been notified. */
    for (int32_t i = 0; i < n; i++)
        t->parts[i]->refs++;
    for (int32_t i = 0; i < n; i++)
        bk_partition_notify(t->parts[i]);
    for (int32_t i = 0; i < n; i++)
        bk_partition_unref(t->parts[i]);
    return 0;
}

static int topic_load(bk_broker *b, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return BK_EIO;
    char line[8192];
    bk_topic *t = calloc(1, sizeof *t);
    int32_t nparts = -1;
    bool have_id = false;
    int rc = 0, cap = 0;
    while (t && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        char *k = line, *v = eq + 1;
        if (!strcmp(k, "name")) {
            free(t->name);
            t->name = strdup(v);
        } else if (!strcmp(k, "id")) {
            have_id = uuid_parse(v, &t->id) == 0;
        } else if (!strcmp(k, "partitions")) {
            nparts = (int32_t)strtol(v, NULL, 10);
        } else if (!strncmp(k, "config.", 7)) {
            if (t->nkv == cap) {
                cap = cap ? cap * 2 : 8;
                bk_topic_kv *n = realloc(t->kv, (size_t)cap * sizeof *n);
                if (!n) {
                    rc = BK_ENOMEM;
                    break;
                }
                t->kv = n;
            }
            bk_prop_unescape(v);
            t->kv[t->nkv].key = strdup(k + 7);
            t->kv[t->nkv].value = strdup(v);
            t->nkv++;
        }
    }
    fclose(f);
    if (!t) return BK_ENOMEM;
    if (!rc && (!t->name || !have_id || nparts < 1)) {
        bk_logf(BK_LV_ERROR, "%s: not a valid topic file (name, id and partitions needed)", path);
        rc = BK_EINVAL;
    }
    if (!rc) {
        t->broker = b;
        t->internal = bk_topic_is_internal(t->name);
        bk_topic_settings_resolve(b->cfg, t->kv, t->nkv, &t->settings);
        rc = topic_open_parts(b, t, 0, nparts);
        if (!rc) rc = topic_register(b, t);
    }
    if (rc) topic_free(t);
    return rc;
}

int bk_topics_load(bk_broker *b) {
    DIR *d = opendir(b->meta_dir);
    if (!d) return 0;
    struct dirent *e;
    int rc = 0, n = 0;
    while (!rc && (e = readdir(d))) {
        if (strncmp(e->d_name, TOPIC_FILE_PREFIX, strlen(TOPIC_FILE_PREFIX)) != 0) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", b->meta_dir, e->d_name);
        rc = topic_load(b, path);
        n++;
    }
    closedir(d);
    if (!rc) bk_logf(BK_LV_INFO, "loaded %d topic(s)", n);
    return rc;
}

void bk_topics_close(bk_broker *b) {
    for (size_t i = 0; i < b->topics_by_name.cap; i++) {
        bk_topic *t = b->topics_by_name.slots[i].val;
        if (!t || t == (void *)1) continue;
        /* The logs were closed (and flushed) by bk_storage_close; the
         * producer snapshots follow them, never ahead of the log. */
        for (int32_t j = 0; j < t->nparts; j++) {
            bk_producers_close(t->parts[j]->producers);
            free(t->parts[j]);
        }
        topic_free(t);
    }
    bk_map_free(&b->topics_by_name);
    bk_map_free(&b->topics_by_id);
    b->ntopics = 0;
}
