/* checkpoint.c - small text files written atomically: the leader-epoch history
 * (Kafka's leader-epoch-checkpoint), brook-checkpoint (recovery point and
 * log start offset) and brook-cleaner-checkpoint (compaction's cleaner
 * offset), all in Kafka's checkpoint layout: a version line, a count line,
 * then one entry per line. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static int fsync_path(const char *path, int flags) {
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) return BK_EIO;
    int rc = fsync(fd);
    close(fd);
    return rc ? BK_EIO : 0;
}

int bk_write_atomic(const char *dir, const char *name, const char *data, size_t len) {
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return BK_EIO;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += (size_t)n;
    }
    int ok = done == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path)) {
        unlink(tmp);
        return BK_EIO;
    }
    return fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

/* Reads a whole small file into a NUL-terminated buffer (caller frees). */
static char *slurp(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "re");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) break;
        if (len + 1 == cap) {
            char *bigger = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[len] = 0;
    return buf;
}

/* Parses "0\nN\n" and returns a pointer to the first entry, or NULL. */
static const char *entries(const char *text, long *count) {
    char *end;
    if (strtol(text, &end, 10) != 0 || *end != '\n') return NULL;
    *count = strtol(end + 1, &end, 10);
    if (*count < 0 || *end != '\n') return NULL;
    return end + 1;
}

char *bk_epochs_format(const bk_log *log, size_t *len) {
    size_t cap = 64 + (size_t)log->nepochs * 48;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    int n = snprintf(buf, cap, "0\n%d\n", log->nepochs);
    for (int i = 0; i < log->nepochs; i++)
        n += snprintf(buf + n, cap - (size_t)n, "%" PRId32 " %" PRId64 "\n", log->epochs[i].epoch,
                      log->epochs[i].start_offset);
    *len = (size_t)n;
    return buf;
}

int bk_epochs_read(bk_log *log) {
    log->nepochs = 0;
    char *text = slurp(log->dir, BK_EPOCH_FILE);
    if (!text) return 0; /* none yet */
    long n;
    const char *p = entries(text, &n);
    int err = p ? 0 : BK_EIO;
    for (long i = 0; !err && i < n; i++) {
        char *end;
        long long epoch = strtoll(p, &end, 10);
        if (*end != ' ') err = BK_EIO;
        long long off = err ? 0 : strtoll(end + 1, &end, 10);
        if (!err && *end != '\n') err = BK_EIO;
        if (err || epoch < 0 || epoch > INT32_MAX || off < 0) {
            err = BK_EIO;
            break;
        }
        p = end + 1;
        if (log->nepochs == log->capepochs) {
            int cap = log->capepochs ? log->capepochs * 2 : 8;
            bk_epoch_entry *grown = realloc(log->epochs, (size_t)cap * sizeof *grown);
            if (!grown) {
                err = BK_ENOMEM;
                break;
            }
            log->epochs = grown;
            log->capepochs = cap;
        }
        log->epochs[log->nepochs++] = (bk_epoch_entry){(int32_t)epoch, off};
    }
    free(text);
    if (err)
        bk_storage_logf(log->st, BK_LOG_WARN, "%s/%s is damaged; epoch history starts empty",
                        log->dir, BK_EPOCH_FILE);
    if (err) log->nepochs = 0;
    return 0;
}

size_t bk_checkpoint_format(char *buf, size_t cap, int64_t recovery_point, int64_t start_offset) {
    int n = snprintf(buf, cap, "0\n2\nrecovery-point %" PRId64 "\nlog-start-offset %" PRId64 "\n",
                     recovery_point, start_offset);
    return n < 0 ? 0 : (size_t)n;
}

int bk_checkpoint_read(bk_log *log, int64_t *recovery_point, int64_t *start_offset) {
    *recovery_point = 0;
    *start_offset = 0;
    char *text = slurp(log->dir, BK_CHECKPOINT_FILE);
    if (!text) return BK_ENOENT;
    long n;
    const char *p = entries(text, &n);
    long long rp = -1, so = -1;
    if (!p || n != 2 || sscanf(p, "recovery-point %lld\nlog-start-offset %lld", &rp, &so) != 2 ||
        rp < 0 || so < 0) {
        free(text);
        bk_storage_logf(log->st, BK_LOG_WARN, "%s/%s is damaged; recovering from the start",
                        log->dir, BK_CHECKPOINT_FILE);
        return BK_EIO;
    }
    free(text);
    *recovery_point = rp;
    *start_offset = so;
    return 0;
}

size_t bk_cleaner_checkpoint_format(char *buf, size_t cap, int64_t cleaner_offset) {
    int n = snprintf(buf, cap, "0\n1\ncleaner-offset %" PRId64 "\n", cleaner_offset);
    return n < 0 ? 0 : (size_t)n;
}

int bk_cleaner_checkpoint_read(bk_log *log, int64_t *cleaner_offset) {
    *cleaner_offset = -1;
    char *text = slurp(log->dir, BK_CLEANER_FILE);
    if (!text) return BK_ENOENT;
    long n;
    const char *p = entries(text, &n);
    long long off = -1;
    int ok = p && n == 1 && sscanf(p, "cleaner-offset %lld", &off) == 1 && off >= 0;
    free(text);
    if (!ok) {
        bk_storage_logf(log->st, BK_LOG_WARN, "%s/%s is damaged; the next cleaning starts over",
                        log->dir, BK_CLEANER_FILE);
        return BK_EIO;
    }
    *cleaner_offset = off;
    return 0;
}
