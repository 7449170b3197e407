"""test_groups_kafka_python.py BOOTSTRAP - consumer groups with kafka-python
(classic protocol, range assignor, auto commit off):

  - one: a consumer subscribes, polls every record of a 4-partition topic
    (offsets 0..49 of each partition, exactly once, values checked), commits
    synchronously with metadata; committed() returns the offsets and the
    metadata;
  - two: a second consumer joins; once the group settles every partition is
    owned by exactly one of them, each owns some, and no partition was ever
    owned by both at one poll; new records (50..99) are consumed exactly once
    in all, each by the owner of its partition; both commit; committed() is
    the end offset everywhere;
  - resume: both close; new records (100..149); a new consumer of the group
    starts exactly at the committed offsets (position() agrees) and consumes
    exactly 100..149, nothing earlier and nothing twice; its commit is seen;
  - isolation: a consumer of another group starts from the beginning.

Each consumer is polled from this process in turn; kafka-python heartbeats
from its own thread.
"""
import collections
import logging
import os
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.structs import OffsetAndMetadata

from itcheck import Checks, expect, expect_eq

BOOTSTRAP = sys.argv[1]
T_MS = 30000  # the bound of every single client call
NPART = 4
BATCH = 50
TOPIC = "kp-groups-%d" % os.getpid()
GROUP = "kp-group-%d" % os.getpid()
TPS = [TopicPartition(TOPIC, p) for p in range(NPART)]


# The client's group coordinator log, kept in memory and shown when a check
# fails.
LOG = collections.deque(maxlen=120)


class _Keep(logging.Handler):
    def emit(self, record):
        if record.getMessage().startswith("need_rejoin: False"):  # every poll
            return
        LOG.append("%.3f %s %s" % (record.created % 1000, record.name, record.getMessage()[:300]))


def keep_client_log():
    h = _Keep(level=logging.DEBUG)
    for name in ("kafka.coordinator", "kafka.consumer.subscription_state"):
        lg = logging.getLogger(name)
        lg.setLevel(logging.DEBUG)
        lg.addHandler(h)


def show_client_log():
    print("   last kafka-python coordinator log lines:", flush=True)
    for line in LOG:
        print("     " + line, flush=True)
    LOG.clear()


def value(p, o):
    return b"p%d-o%d" % (p, o)


def create_topic():
    a = KafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=T_MS,
                         client_id="brook-it-kp-groups")
    try:
        a.create_topics([NewTopic(TOPIC, NPART, 1)], timeout_ms=T_MS)
    finally:
        a.close()


def produce(first):
    """Records first..first+BATCH-1 into every partition (acks=all), checking
    the acknowledged offsets."""
    p = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", linger_ms=5,
                      request_timeout_ms=T_MS, max_block_ms=T_MS)
    try:
        futs = [(part, o, p.send(TOPIC, value=value(part, o), partition=part))
                for part in range(NPART) for o in range(first, first + BATCH)]
        p.flush(timeout=T_MS / 1000)
        for part, o, f in futs:
            md = f.get(timeout=T_MS / 1000)
            expect_eq((md.partition, md.offset), (part, o), "acknowledged offset")
    finally:
        p.close(timeout=10)


def consumer(group=GROUP, name="c"):
    c = KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=group, client_id=name,
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      session_timeout_ms=10000, heartbeat_interval_ms=1000,
                      max_poll_interval_ms=60000, request_timeout_ms=T_MS,
                      max_poll_records=20)
    c.subscribe([TOPIC])
    # Metadata of the subscribed topic before the first poll joins: when
    # kafka-python 3.0.12 joins before its metadata snapshot of the
    # subscription is filled in (the group coordinator answers a lone member
    # at once), it rejoins right after for the "metadata change": a
    # rebalance nobody asked for, during which a commit fails and consumed
    # records are handed out again; and if a poll times out while that
    # rejoin's SyncGroup is in flight, the finished join is never applied
    # (need_rejoin() turns false) and the member stays without partitions.
    # Both client-side, seen against brook's ASan build. topics() fetches
    # metadata, and the update fills the snapshot in.
    end = time.time() + 20
    while TOPIC not in c.topics():
        expect(time.time() < end, "%s: no metadata for %s", name, TOPIC)
        time.sleep(0.1)
    return c


class Member:
    def __init__(self, name, group=GROUP):
        self.name = name
        self.c = consumer(group, name)
        self.seen = []  # (partition, offset)

    def owned(self):
        return {tp.partition for tp in (self.c.assignment() or ())}

    def poll(self, t_ms=50):
        """One poll; every record must be of a partition this member owns
        after the poll and carry the value produced at its offset."""
        recs = self.c.poll(timeout_ms=t_ms)
        owned = self.owned()
        for tp, rs in recs.items():
            expect(tp.partition in owned, "%s got partition %d it does not own (%r)",
                   self.name, tp.partition, sorted(owned))
            for r in rs:
                expect_eq(r.value, value(r.partition, r.offset),
                          "%s: value at %d/%d" % (self.name, r.partition, r.offset))
                self.seen.append((r.partition, r.offset))


def exactly(seen, first, last, what):
    """seen holds every (partition, offset) with first <= offset < last of
    every partition, each once, and nothing else."""
    want = sorted((p, o) for p in range(NPART) for o in range(first, last))
    got = sorted(seen)
    if got != want:
        dup = sorted({x for x in got if got.count(x) > 1})
        extra = sorted(set(got) - set(want))
        missing = sorted(set(want) - set(got))
        raise AssertionError("%s: %d records, expected %d; duplicates %r, unexpected %r, "
                             "missing %r" % (what, len(got), len(want), dup[:8], extra[:8],
                                             missing[:8]))


def poll_until(members, cond, what, deadline_s=60):
    end = time.time() + deadline_s
    while time.time() < end:
        for m in members:
            m.poll()
        if cond():
            return
    raise AssertionError("%s: not reached in %d s; owned %r, consumed %r" % (
        what, deadline_s, {m.name: sorted(m.owned()) for m in members},
        {m.name: len(m.seen) for m in members}))


def settle(members, what, deadline_s=60, quiet_s=3.0):
    """Polls every member until every partition is owned by exactly one of
    them, each owns some, and nothing changed for quiet_s; at every poll no
    partition is owned twice."""
    end = time.time() + deadline_s
    last, since = None, time.time()
    while time.time() < end:
        for m in members:
            m.poll()
            owned = [x.owned() for x in members]
            flat = [p for o in owned for p in o]
            expect(len(flat) == len(set(flat)), "%s: a partition owned twice: %r", what,
                   {x.name: sorted(o) for x, o in zip(members, owned)})
        snap = tuple(tuple(sorted(x.owned())) for x in members)
        if snap != last:
            last, since = snap, time.time()
        elif time.time() - since >= quiet_s and all(snap) and \
                sorted(p for o in snap for p in o) == list(range(NPART)):
            return {x.name: list(o) for x, o in zip(members, snap)}
    raise AssertionError("%s: the group did not settle: %r" % (what, last))


def committed(c):
    return {tp.partition: c.committed(tp, metadata=True, timeout_ms=T_MS) for tp in TPS}


def main():
    keep_client_log()
    ck = Checks()
    state = {}
    run = ck.run

    def logged_run(name, fn):
        LOG.clear()
        r = run(name, fn)
        if r is None:
            show_client_log()
        return r

    ck.run = logged_run

    def setup():
        create_topic()
        produce(0)

    if not ck.run("create topic and produce 0..49", setup):
        ck.exit()

    def one():
        a = Member("a")
        state["a"] = a
        poll_until([a], lambda: len(a.seen) >= NPART * BATCH, "a consumes 0..49")
        for _ in range(5):  # nothing more arrives
            a.poll(100)
        expect_eq(sorted(a.owned()), list(range(NPART)), "a alone owns")
        exactly(a.seen, 0, BATCH, "a alone")
        expect_eq({tp.partition: a.c.position(tp, timeout_ms=T_MS) for tp in TPS},
                  {p: BATCH for p in range(NPART)}, "positions")
        a.c.commit({tp: OffsetAndMetadata(BATCH, "kp-meta-%d" % tp.partition, -1)
                    for tp in TPS}, timeout_ms=T_MS)
        got = committed(a.c)
        expect_eq({p: (om.offset, om.metadata) for p, om in got.items()},
                  {p: (BATCH, "kp-meta-%d" % p) for p in range(NPART)},
                  "committed offsets and metadata")

    if not ck.run("one member: consume 0..49 exactly, commit sync with metadata", one):
        ck.exit()

    def two():
        a = state["a"]
        b = Member("b")
        state["b"] = b
        a.seen, b.seen = [], []
        owners = settle([a, b], "a second member joins")
        expect(not a.seen and not b.seen, "records consumed again after the commit: %r",
               (a.seen[:5], b.seen[:5]))
        produce(BATCH)
        poll_until([a, b], lambda: len(a.seen) + len(b.seen) >= NPART * BATCH,
                   "a and b consume 50..99")
        for _ in range(5):
            a.poll(100)
            b.poll(100)
        exactly(a.seen + b.seen, BATCH, 2 * BATCH, "a and b")
        for m in (a, b):
            expect({p for p, _ in m.seen} <= set(owners[m.name]),
                   "%s consumed partitions %r, owns %r", m.name, {p for p, _ in m.seen},
                   owners[m.name])
            m.c.commit(timeout_ms=T_MS)
        got = committed(a.c)
        expect_eq({p: om.offset for p, om in got.items()},
                  {p: 2 * BATCH for p in range(NPART)}, "committed offsets after two members")
        return owners

    ck.run("second member: partitions split, 50..99 consumed exactly once, commits", two)

    def resume():
        for m in (state.get("b"), state.get("a")):
            if m:
                m.c.close(autocommit=False)
        produce(2 * BATCH)
        c = Member("c")
        poll_until([c], lambda: len(c.seen) >= NPART * BATCH, "c consumes 100..149")
        for _ in range(5):
            c.poll(100)
        exactly(c.seen, 2 * BATCH, 3 * BATCH, "the new consumer")
        c.c.commit(timeout_ms=T_MS)
        expect_eq({p: om.offset for p, om in committed(c.c).items()},
                  {p: 3 * BATCH for p in range(NPART)}, "committed offsets after resume")
        c.c.close(autocommit=False)

    ck.run("close, a new consumer resumes exactly at the committed offsets", resume)

    def isolation():
        d = Member("d", group=GROUP + "-other")
        try:
            poll_until([d], lambda: len(d.seen) >= 3 * NPART * BATCH, "another group reads all")
            exactly(d.seen, 0, 3 * BATCH, "another group")
            expect(all(d.c.committed(tp, timeout_ms=T_MS) is None for tp in TPS),
                   "another group has committed offsets")
        finally:
            d.c.close(autocommit=False)

    ck.run("another group starts from the beginning, nothing committed", isolation)
    ck.exit()


if __name__ == "__main__":
    main()
