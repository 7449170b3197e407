"""test_groups_raw.py - group coordinator bad input on raw sockets (kproto).

  test_groups_raw.py PORT errors           commits for unknown groups and
                                           wrong generations get Kafka's errors
  test_groups_raw.py PORT flood MAX        JoinGroup from many sockets of one
                                           client, bounded by group.max.size=MAX
  test_groups_raw.py PORT stop-wait DIR    leaves a JoinGroup waiting, writes
                                           DIR/ready, and reports what the broker
                                           answers when the suite stops it
"""
import os
import socket
import sys
import time

import kproto as k
import kproto_groups as g
from itcheck import Checks, expect, expect_eq

PORT = int(sys.argv[1])
MODE = sys.argv[2]
NOT_COORDINATOR, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID = 16, 22, 25
MEMBER_ID_REQUIRED, GROUP_MAX_SIZE_REACHED = 79, 81
OFFSET_METADATA_TOO_LARGE = 12


def coordinator(s, group):
    """Until FindCoordinator answers and the group's JoinGroup is served (Kafka
    creates __consumer_offsets on the first FindCoordinator, then loads it)."""
    end = time.time() + 30
    while time.time() < end:
        if k.find_coordinator_v1(s, 30, group)[0] == 0:
            break
        time.sleep(0.3)
    while time.time() < end:
        r = k.join_group_v5(s, 31, group, rebalance_ms=1000)
        if r[0] not in (14, 15, NOT_COORDINATOR):  # loading / not available / not coordinator
            return r
        time.sleep(0.3)
    raise AssertionError("no coordinator for %s within 30 s" % group)


def member(group, rebalance_ms=10000):
    """A member joined through KIP-394: (sock, member id, generation)."""
    s = k.connect(PORT, timeout=20)
    coordinator(s, group)
    err, _, _, _, mid, _ = k.join_group_v5(s, 10, group, rebalance_ms=rebalance_ms)
    expect_eq(err, MEMBER_ID_REQUIRED, "first JoinGroup error")
    err, gen, proto, leader, mid2, _ = k.join_group_v5(s, 11, group, member_id=mid,
                                                       rebalance_ms=rebalance_ms)
    expect_eq((err, mid2), (0, mid), "JoinGroup with the member id")
    return s, mid, gen


def errors():
    s = k.connect(PORT, timeout=20)
    k.create_topics_v4(s, 1, [("raw-groups", 2, 1, {})])
    coordinator(s, "raw-probe")
    time.sleep(1)
    # A commit with a generation for a group that does not exist.
    got = k.offset_commit_v7(s, 3, "no-such-group", 5, "m-1", "raw-groups", {0: 1})
    expect_eq(got, {0: ILLEGAL_GENERATION}, "commit to an unknown group, generation 5")
    # Generation -1 and no member: a simple commit, accepted.
    got = k.offset_commit_v7(s, 4, "raw-simple", -1, "", "raw-groups", {0: 1})
    expect_eq(got, {0: 0}, "commit generation -1 to a new group")
    # A real member, generation 1 after join and sync.
    m, mid, gen = member("raw-g")
    expect_eq(gen, 1, "generation")
    err, _ = k.sync_group_v3(m, 12, "raw-g", gen, mid, [(mid, b"")])
    expect_eq(err, 0, "SyncGroup")
    got = k.offset_commit_v7(s, 5, "raw-g", gen + 1, mid, "raw-groups", {0: 3})
    expect_eq(got, {0: ILLEGAL_GENERATION}, "commit with a later generation")
    got = k.offset_commit_v7(s, 6, "raw-g", gen - 1, mid, "raw-groups", {0: 3})
    expect_eq(got, {0: ILLEGAL_GENERATION}, "commit with an older generation")
    got = k.offset_commit_v7(s, 7, "raw-g", gen, "nobody", "raw-groups", {0: 3})
    expect_eq(got, {0: UNKNOWN_MEMBER_ID}, "commit from an unknown member")
    got = k.offset_commit_v7(s, 8, "raw-g", -1, "", "raw-groups", {0: 3})
    expect_eq(got, {0: UNKNOWN_MEMBER_ID}, "commit generation -1 to a group with members")
    got = k.offset_commit_v7(s, 9, "raw-g", gen, mid, "raw-groups", {0: 3, 1: 4})
    expect_eq(got, {0: 0, 1: 0}, "commit from the member")
    # Metadata over offset.metadata.max.bytes (4096): that partition alone
    # fails (OFFSET_METADATA_TOO_LARGE), the other is committed.
    got = commit_with_metadata(s, 13, "raw-g", gen, mid, "raw-groups",
                               {0: (5, "x" * 4097), 1: (6, "y" * 4096)})
    expect_eq(got, {0: OFFSET_METADATA_TOO_LARGE, 1: 0}, "commit with oversized metadata")
    err, offs = g.offset_fetch(s, 14, "raw-g", "raw-groups", [0, 1])
    expect_eq((err, offs[0][0], offs[1][0]), (0, 3, 6), "offsets after the oversized commit")
    m.close()
    s.close()


def commit_with_metadata(sock, corr, group, generation, member_id, topic, offsets):
    """OffsetCommit v7 of {partition: (offset, metadata)} -> {partition: error}."""
    parts = b"".join(k.i32(p) + k.i64(o) + k.i32(-1) + k.kstring(md)
                     for p, (o, md) in sorted(offsets.items()))
    body = (k.kstring(group) + k.i32(generation) + k.kstring(member_id) + k.kstring(None) +
            k.i32(1) + k.kstring(topic) + k.i32(len(offsets)) + parts)
    r = k.call(sock, k.header_v1(8, 7, corr) + body, corr)
    r.i32()
    out = {}
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            p = r.i32()
            out[p] = r.i16()
    return out


def flood(max_size):
    n = max_size + 3
    socks, ids = [], []
    c = k.connect(PORT, timeout=20)
    coordinator(c, "raw-probe")
    c.close()
    for i in range(n):  # one client, many connections (a connection waits on its join)
        s = k.connect(PORT, timeout=30)
        err, _, _, _, mid, _ = k.join_group_v5(s, 10, "raw-flood", rebalance_ms=3000)
        expect_eq(err, MEMBER_ID_REQUIRED, "first JoinGroup error")
        socks.append(s)
        ids.append(mid)
    for s, mid in zip(socks, ids):
        k.join_group_v5_send(s, 11, "raw-flood", mid, rebalance_ms=3000)
        time.sleep(0.05)
    answers = []
    for s in socks:
        r = k.Reader(k.read_frame(s))
        expect_eq(r.i32(), 11, "correlation id")
        answers.append(k.parse_join_group_v5(r)[0])
    full = answers.count(GROUP_MAX_SIZE_REACHED)
    expect(full >= n - max_size - 1 and set(answers) <= {0, GROUP_MAX_SIZE_REACHED},
           "join answers %r (max %d)", answers, max_size)
    for s in socks:
        s.close()
    # The coordinator is consistent: the group has at most max members, and
    # a normal member joins another group at once.
    d = k.connect(PORT, timeout=20)
    end = time.time() + 20
    while time.time() < end:
        err, state, members = k.describe_group_v1(d, 20, "raw-flood")
        if state not in ("PreparingRebalance",):
            break
        time.sleep(0.2)
    expect(err == 0 and len(members) <= max_size, "raw-flood: %r %s %d members", err, state,
           len(members))
    m, mid, gen = member("raw-after-flood")
    err, _ = k.sync_group_v3(m, 12, "raw-after-flood", gen, mid, [(mid, b"x")])
    expect_eq(err, 0, "SyncGroup of another group after the flood")
    m.close()
    print("  answers %r, then %s with %d members" % (answers, state, len(members)), flush=True)


def stop_wait(work):
    a, aid, gen = member("raw-stop", rebalance_ms=60000)
    b = k.connect(PORT, timeout=60)
    err, _, _, _, bid, _ = k.join_group_v5(b, 10, "raw-stop", rebalance_ms=60000)
    expect_eq(err, MEMBER_ID_REQUIRED, "first JoinGroup error")
    # b's join waits for a to rejoin (up to the 60 s rebalance timeout).
    k.join_group_v5_send(b, 11, "raw-stop", bid, rebalance_ms=60000)
    time.sleep(0.5)
    open(os.path.join(work, "ready"), "w").close()
    t0 = time.time()
    try:
        frame = k.read_frame(b)
    except (ConnectionError, socket.timeout) as e:
        frame = None
        print("  read: %r" % e, flush=True)
    took = time.time() - t0
    got = None
    if frame is not None:
        r = k.Reader(frame)
        r.i32()
        got = k.parse_join_group_v5(r)
    print("  waiting JoinGroup got %r after %.1f s" % (got, took), flush=True)
    expect(got is not None, "the waiting JoinGroup got no answer (connection closed)")
    expect_eq(got[0], NOT_COORDINATOR, "error of the waiting JoinGroup")


def main():
    ck = Checks()
    if MODE == "errors":
        ck.run("OffsetCommit: unknown group with a generation, wrong generations, unknown member, "
               "generation -1 with members, oversized metadata -> Kafka's errors", errors)
    elif MODE == "flood":
        ck.run("JoinGroup flood bounded by group.max.size=%s; another group still joins" %
               sys.argv[3], flood, int(sys.argv[3]))
    elif MODE == "stop-wait":
        ck.run("a JoinGroup waiting when the broker stops is answered NOT_COORDINATOR",
               stop_wait, sys.argv[3])
    ck.exit()


if __name__ == "__main__":
    main()
