/* test_notify.c - the sd_notify client: exact datagrams to a path socket and
 * to an abstract one, nothing to do without NOTIFY_SOCKET, clear errors for
 * bad or dead addresses, and the watchdog interval from the environment.
 * Each test runs in its own forked process (Check's default), so the
 * environment variables set here do not leak between tests. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/notify.h"
#include "testutil.h"

typedef struct listener {
    int fd;
    char dir[64];   /* temp dir holding a path socket, "" for abstract */
    char path[108]; /* the socket file */
} listener;

/* Binds a datagram socket at a path in a fresh temp dir and points
 * NOTIFY_SOCKET at it. */
static void listen_path(listener *l) {
    memset(l, 0, sizeof *l);
    const char *tmp = getenv("TMPDIR");
    snprintf(l->dir, sizeof l->dir, "%s/bk-notify.XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(l->dir));
    snprintf(l->path, sizeof l->path, "%s/notify.sock", l->dir);
    l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(l->fd, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, l->path, strlen(l->path) + 1);
    ck_assert_int_eq(bind(l->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", l->path, 1), 0);
}

/* Binds an abstract datagram socket under a name unique to this process and
 * sets NOTIFY_SOCKET to "@name". */
static void listen_abstract(listener *l, char *name, size_t cap) {
    memset(l, 0, sizeof *l);
    snprintf(name, cap, "brook-test-notify-%ld", (long)getpid());
    l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(l->fd, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(name);
    memcpy(sa.sun_path + 1, name, n);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    ck_assert_int_eq(bind(l->fd, (struct sockaddr *)&sa, len), 0);
    char env[128];
    snprintf(env, sizeof env, "@%s", name);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", env, 1), 0);
}

static void listener_close(listener *l) {
    close(l->fd);
    if (l->path[0])
        unlink(l->path);
    if (l->dir[0])
        rmdir(l->dir);
}

/* Receives one datagram (waiting at most 2 s) and checks it byte for byte;
 * a buffer larger than what was sent shows a datagram was not cut short. */
static void expect_datagram(const listener *l, const char *want) {
    struct pollfd p = {.fd = l->fd, .events = POLLIN};
    ck_assert_msg(poll(&p, 1, 2000) == 1, "no datagram within 2 s");
    static char buf[65536];
    ssize_t n = recv(l->fd, buf, sizeof buf, MSG_DONTWAIT);
    ck_assert_int_eq(n, (ssize_t)strlen(want));
    ck_assert_mem_eq(buf, want, (size_t)n);
}

static void expect_nothing_queued(const listener *l) {
    char buf[16];
    ck_assert_int_eq(recv(l->fd, buf, sizeof buf, MSG_DONTWAIT), -1);
    ck_assert_int_eq(errno, EAGAIN);
}

START_TEST(path_socket_gets_exact_datagrams) {
    listener l;
    listen_path(&l);
    const char *ready = "READY=1\nSTATUS=serving on 127.0.0.1:9092";
    ck_assert_int_eq(bk_notify(ready), 0);
    expect_datagram(&l, ready);
    /* One call, one datagram: consecutive states are not merged. */
    ck_assert_int_eq(bk_notify("WATCHDOG=1"), 0);
    ck_assert_int_eq(bk_notify("STOPPING=1"), 0);
    expect_datagram(&l, "WATCHDOG=1");
    expect_datagram(&l, "STOPPING=1");
    expect_nothing_queued(&l);
    listener_close(&l);
}
END_TEST

START_TEST(abstract_socket_gets_exact_datagram) {
    listener l;
    char name[64];
    listen_abstract(&l, name, sizeof name);
    ck_assert_int_eq(bk_notify("READY=1"), 0);
    expect_datagram(&l, "READY=1");
    ck_assert_int_eq(bk_notify("STOPPING=1"), 0);
    expect_datagram(&l, "STOPPING=1");
    listener_close(&l);
}
END_TEST

START_TEST(long_status_arrives_whole) {
    listener l;
    listen_path(&l);
    static char state[8192];
    int off = snprintf(state, sizeof state, "STATUS=");
    for (size_t i = (size_t)off; i < sizeof state - 1; i++)
        state[i] = (char)('a' + i % 26);
    state[sizeof state - 1] = '\0';
    ck_assert_int_eq(bk_notify(state), 0);
    expect_datagram(&l, state);
    listener_close(&l);
}
END_TEST

START_TEST(unset_or_empty_is_nothing_to_do) {
    unsetenv("NOTIFY_SOCKET");
    ck_assert_int_eq(bk_notify("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    ck_assert_int_eq(bk_notify("READY=1"), 0);
}
END_TEST

START_TEST(bad_addresses_fail_and_keep_errno) {
    setenv("NOTIFY_SOCKET", "relative/notify.sock", 1);
    errno = 1234;
    ck_assert_int_eq(bk_notify("READY=1"), -EINVAL);
    ck_assert_int_eq(errno, 1234);

    setenv("NOTIFY_SOCKET", "@", 1);
    ck_assert_int_eq(bk_notify("READY=1"), -EINVAL);

    setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
    ck_assert_int_eq(bk_notify("READY=1"), -EAFNOSUPPORT);

    /* A path that does not fit in sun_path. */
    char longpath[200];
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    setenv("NOTIFY_SOCKET", longpath, 1);
    ck_assert_int_eq(bk_notify("READY=1"), -EINVAL);

    /* Nobody listening: the send itself fails, with errno restored. */
    listener l;
    listen_path(&l);
    close(l.fd);
    unlink(l.path);
    errno = 0;
    int rc = bk_notify("READY=1");
    ck_assert_int_lt(rc, 0);
    ck_assert_msg(rc == -ENOENT || rc == -ECONNREFUSED, "unexpected rc %d", rc);
    ck_assert_int_eq(errno, 0);
    rmdir(l.dir);

    /* A dead abstract name: connection refused. */
    char env[64];
    snprintf(env, sizeof env, "@brook-test-notify-nobody-%ld", (long)getpid());
    setenv("NOTIFY_SOCKET", env, 1);
    ck_assert_int_eq(bk_notify("READY=1"), -ECONNREFUSED);
}
END_TEST

START_TEST(watchdog_interval) {
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    ck_assert_uint_eq(bk_notify_watchdog_usec(), 0);

    setenv("WATCHDOG_USEC", "30000000", 1);
    ck_assert_uint_eq(bk_notify_watchdog_usec(), 30000000u);

    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    ck_assert_uint_eq(bk_notify_watchdog_usec(), 30000000u);

    /* Inherited from a parent: not ours to honour. */
    snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    ck_assert_uint_eq(bk_notify_watchdog_usec(), 0);
    unsetenv("WATCHDOG_PID");

    static const char *const bad[] = {"", "0", "-5", "12s", " 5", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("WATCHDOG_USEC", bad[i], 1);
        ck_assert_msg(bk_notify_watchdog_usec() == 0, "WATCHDOG_USEC='%s' accepted", bad[i]);
    }
    setenv("WATCHDOG_USEC", "18446744073709551615", 1);
    ck_assert(bk_notify_watchdog_usec() == UINT64_MAX);
}
END_TEST

static Suite *notify_suite(void) {
    Suite *s = suite_create("notify");
    TCase *tc = tcase_create("notify");
    tcase_add_test(tc, path_socket_gets_exact_datagrams);
    tcase_add_test(tc, abstract_socket_gets_exact_datagram);
    tcase_add_test(tc, long_status_arrives_whole);
    tcase_add_test(tc, unset_or_empty_is_nothing_to_do);
    tcase_add_test(tc, bad_addresses_fail_and_keep_errno);
    tcase_add_test(tc, watchdog_interval);
    suite_add_tcase(s, tc);
    return s;
}

BK_TEST_MAIN(notify_suite)
