"""test_groups_kip848_confluent.py - KIP-848 consumer groups with
confluent-kafka (its bundled librdkafka, group.protocol=consumer).

  test_groups_kip848_confluent.py BOOTSTRAP

Two consumers in this process, polled in turn, over a 4-partition topic:
the first joins and consumes everything (commits synchronously); the second
joins and gets two partitions, each one revoked from the first before it is
assigned to the second, and no partition is owned by both at any poll; the
first closes (leaves) and the second owns all four; the committed offsets
are the ends.
"""
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from itcheck import Checks, expect, expect_eq

BOOTSTRAP = sys.argv[1]
T = 30
NPART, PER = 4, 10
BASE = {"bootstrap.servers": BOOTSTRAP, "socket.timeout.ms": 20000,
        "broker.address.family": "v4"}
TOPIC = "k848-rdk-%d" % int(time.time() * 1000 % 1e9)
GROUP = TOPIC + "-g"

seq = [0]
owner = {}       # partition -> member name
overlap = []
revoked_at = {}  # partition -> seq
assigned_at = {}  # (member, partition) -> seq
seen = set()


def setup():
    a = AdminClient(dict(BASE))
    for f in a.create_topics([NewTopic(TOPIC, NPART, 1)], operation_timeout=T,
                             request_timeout=T).values():
        f.result(timeout=T)
    time.sleep(1)
    p = Producer(dict(BASE))
    for part in range(NPART):
        for i in range(PER):
            p.produce(TOPIC, value=b"p%d-%d" % (part, i), partition=part)
    expect_eq(p.flush(T), 0, "records left unflushed")


def member(name):
    c = Consumer(dict(BASE, **{"group.id": GROUP, "group.protocol": "consumer",
                               "client.id": name, "enable.auto.commit": False,
                               "auto.offset.reset": "earliest"}))

    def on_assign(_c, parts):
        for tp in parts:
            seq[0] += 1
            if owner.get(tp.partition, name) != name:
                overlap.append("%s got %d owned by %s" % (name, tp.partition, owner[tp.partition]))
            owner[tp.partition] = name
            assigned_at[(name, tp.partition)] = seq[0]

    def on_revoke(_c, parts):
        for tp in parts:
            seq[0] += 1
            if owner.get(tp.partition) == name:
                del owner[tp.partition]
            revoked_at[tp.partition] = seq[0]

    c.subscribe([TOPIC], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
    return c


def poll(cs):
    for c in cs:
        m = c.poll(0.2)
        if m is not None and m.error() is None:
            seen.add(m.value())
            c.commit(message=m, asynchronous=False)


def owned(name):
    return sum(1 for o in owner.values() if o == name)


def until(cs, cond, what, limit=60):
    end = time.time() + limit
    while time.time() < end:
        poll(cs)
        if cond():
            return
    raise AssertionError("%s: not reached in %d s; owner %r, seen %d" % (what, limit, owner, len(seen)))


def main():
    ck = Checks()
    if ck.run("create topic, produce %d records" % (NPART * PER), setup) is None:
        ck.exit()
    a = member("a")
    b = None
    try:
        ck.run("first member owns all partitions and consumes every record",
               until, [a], lambda: owned("a") == NPART and len(seen) == NPART * PER, "a owns all")
        b = member("b")
        ck.run("two members: two partitions each", until, [a, b],
               lambda: owned("a") == NPART // 2 and owned("b") == NPART // 2, "split")

        def no_overlap():
            expect(not overlap, "owned twice: %r", overlap)
        ck.run("no partition owned by both members", no_overlap)

        def ordered():
            bad = [(p, revoked_at.get(p), at) for (n, p), at in assigned_at.items()
                   if n == "b" and (p not in revoked_at or revoked_at[p] > at)]
            expect(not bad, "assigned before revoked (partition, revoked@, assigned@): %r", bad)
        ck.run("the second member's partitions were revoked from the first before", ordered)
        a.close()
        a = None
        ck.run("after the first member leaves the second owns all", until, [b],
               lambda: owned("b") == NPART, "b owns all")

        def committed():
            from confluent_kafka import TopicPartition
            got = b.committed([TopicPartition(TOPIC, p) for p in range(NPART)], timeout=T)
            expect(all(tp.offset == PER for tp in got), "committed %r", [(tp.partition, tp.offset) for tp in got])
        ck.run("committed offsets at the ends", committed)
    finally:
        for c in (a, b):
            if c is not None:
                c.close()
    ck.exit()


main()
