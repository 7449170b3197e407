"""test_groups_confluent.py - consumer groups with confluent-kafka (librdkafka).

  test_groups_confluent.py BOOTSTRAP range          eager (range) group of three
  test_groups_confluent.py BOOTSTRAP cooperative    cooperative-sticky group of three
  test_groups_confluent.py BOOTSTRAP resume         commit, close, resume
  test_groups_confluent.py BOOTSTRAP static         static membership rejoin
  test_groups_confluent.py BOOTSTRAP restart-commit WORKDIR
  test_groups_confluent.py BOOTSTRAP restart-verify WORKDIR

range / cooperative: three consumers in this process (polled in turn) join
one group over a 6-partition topic, a fourth joins, two leave; at every poll
no partition is owned by two members, and once the group settles every
partition is owned by exactly one member. The records are consumed with
synchronous commits (and a commit of the positions when partitions are
revoked): every record is consumed at least once and the final committed
offsets are the end offsets.

resume: a consumer reads part of each partition, commits, closes; a new
consumer of the group starts exactly at the committed offsets (committed()
agrees) and reads the rest.

static: two members with group.instance.id; one closes (a static member
sends no LeaveGroup) and a new consumer with the same instance id rejoins
within the session timeout: it gets the same partitions back, and the other
member sees no revocation and no new assignment (no rebalance).

restart-commit commits known offsets for a group and writes them to
WORKDIR/committed; the suite kills the broker (-9) and starts it again;
restart-verify checks committed() and that a consumer resumes there.
"""
import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from itcheck import Checks, expect, expect_eq

BOOTSTRAP = sys.argv[1]
MODE = sys.argv[2]
T = 30  # seconds: the bound of every single client call
NPART = 6
BASE = {"bootstrap.servers": BOOTSTRAP, "socket.timeout.ms": 20000,
        "broker.address.family": "v4"}


def create_topic(name, nparts=NPART):
    a = AdminClient(dict(BASE))
    for f in a.create_topics([NewTopic(name, nparts, 1)], operation_timeout=T,
                             request_timeout=T).values():
        f.result(timeout=T)
    end = time.time() + 20
    while time.time() < end:
        md = a.list_topics(timeout=T)
        t = md.topics.get(name)
        if t and t.error is None and len(t.partitions) == nparts and \
                all(p.leader >= 0 for p in t.partitions.values()):
            return
        time.sleep(0.2)
    raise AssertionError("topic %s has no leaders" % name)


def produce(topic, per_part):
    """per_part records into every partition; {partition: end offset}."""
    p = Producer(dict(BASE, **{"linger.ms": 5, "acks": "all"}))
    errs = []
    for part in range(NPART):
        for i in range(per_part):
            p.produce(topic, value=b"%d-%d" % (part, i), partition=part,
                      on_delivery=lambda e, m: e and errs.append(e))
        p.poll(0)
    left = p.flush(T)
    expect(left == 0 and not errs, "produce: %d unflushed, errors %r", left, errs[:3])
    return {part: per_part for part in range(NPART)}


def consumer(group, **extra):
    conf = dict(BASE, **{"group.id": group, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "session.timeout.ms": 10000,
                         "heartbeat.interval.ms": 1000, "max.poll.interval.ms": 60000})
    conf.update(extra)
    return Consumer(conf)


class Member:
    """A consumer of the group, its callbacks and what it consumed."""

    def __init__(self, name, group, topic, strategy, **extra):
        self.name = name
        self.revokes = 0
        self.assigns = 0
        self.seen = []  # (partition, offset)
        self.c = consumer(group, **{"partition.assignment.strategy": strategy}, **extra)
        self.c.subscribe([topic], on_assign=self.on_assign, on_revoke=self.on_revoke)

    def on_assign(self, c, parts):
        self.assigns += 1

    def on_revoke(self, c, parts):
        self.revokes += 1
        # Commit what was consumed of the partitions that go (positions).
        pos = [tp for tp in c.position(parts) if tp.offset >= 0]
        if pos:
            self.commit(offsets=pos)

    def owned(self):
        return {tp.partition for tp in self.c.assignment()}

    def poll(self, t=0.05):
        m = self.c.poll(t)
        if m is None:
            return
        if m.error():
            if m.error().code() != KafkaError._PARTITION_EOF:
                print("  %s: poll error %s" % (self.name, m.error()), flush=True)
            return
        self.seen.append((m.partition(), m.offset()))
        self.commit(message=m)

    def commit(self, **kw):
        """A synchronous commit; during a rebalance the coordinator refuses
        commits of the old generation (Kafka: ILLEGAL_GENERATION,
        REBALANCE_IN_PROGRESS), and the next commit covers it."""
        try:
            self.c.commit(asynchronous=False, **kw)
        except KafkaException as e:
            err = e.args[0]
            if err.code() in (KafkaError.ILLEGAL_GENERATION, KafkaError.REBALANCE_IN_PROGRESS,
                              KafkaError.UNKNOWN_MEMBER_ID, KafkaError._NO_OFFSET):
                return
            raise


def settle(members, what, deadline_s=60, quiet_s=3.0):
    """Polls every member in turn until every partition is owned by exactly
    one of them, each owns at least one, and nothing changed for quiet_s.
    At every poll no partition may be owned by two members."""
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
        elif time.time() - since >= quiet_s and sorted(p for o in snap for p in o) == \
                list(range(NPART)) and all(snap):
            return {x.name: list(o) for x, o in zip(members, snap)}
    raise AssertionError("%s: group did not settle: %r" % (what, last))


def drain(members, ends, topic, deadline_s=60):
    """Polls until the committed offsets of the group are the end offsets."""
    end = time.time() + deadline_s
    want = sorted(ends.items())
    got = None
    while time.time() < end:
        for m in members:
            m.poll()
            m.commit()  # the positions, in case the last commit was refused
        got = sorted((tp.partition, tp.offset) for tp in members[0].c.committed(
            [TopicPartition(topic, p) for p in range(NPART)], timeout=T))
        if got == want:
            return
    raise AssertionError("committed offsets %r, expected the ends %r" % (got, want))


def group_run(strategy, tag):
    topic, group = "cg-%s-%d" % (tag, os.getpid()), "g-%s-%d" % (tag, os.getpid())
    create_topic(topic)
    ends = produce(topic, 200)
    members = [Member("c%d" % i, group, topic, strategy) for i in range(3)]
    steps = []
    try:
        steps.append(settle(members, "three members"))
        # A fourth joins.
        members.append(Member("c3", group, topic, strategy))
        steps.append(settle(members, "a fourth member"))
        # Two leave (close sends LeaveGroup).
        for _ in range(2):
            gone = members.pop(0)
            gone.c.close()
            steps.append(settle(members, "after %s left" % gone.name))
            all_seen = gone.seen
            members[0].seen.extend(all_seen)  # keep what it consumed
        drain(members, ends, topic)
        seen = set()
        for m in members:
            seen.update(m.seen)
        missing = [(p, o) for p in range(NPART) for o in range(ends[p]) if (p, o) not in seen]
        expect(not missing, "records never consumed: %r", missing[:10])
        if strategy == "cooperative-sticky":
            # Sticky: partitions kept by a member that stayed are not moved
            # when the fourth member joins.
            before, after = steps[0], steps[1]
            moved = {n: set(before[n]) - set(after[n]) for n in before}
            expect(sum(len(v) for v in moved.values()) <= 2,
                   "cooperative-sticky moved more than needed: %r -> %r", before, after)
        print("  assignments: %r" % steps, flush=True)
    finally:
        for m in members:
            m.c.close()


def resume():
    topic, group = "cg-resume-%d" % os.getpid(), "g-resume-%d" % os.getpid()
    create_topic(topic)
    ends = produce(topic, 50)
    c = consumer(group)
    c.subscribe([topic])
    got = {p: [] for p in range(NPART)}
    end = time.time() + 60
    while time.time() < end and sum(len(v) for v in got.values()) < NPART * 50:
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        got[m.partition()].append(m.offset())
    expect(all(got[p] == list(range(50)) for p in range(NPART)),
           "first consumer read %r", {p: len(v) for p, v in got.items()})
    # Commit a different offset per partition, with metadata.
    want = {p: 10 + 5 * p for p in range(NPART)}
    c.commit(offsets=[TopicPartition(topic, p, want[p], metadata="m%d" % p) for p in range(NPART)],
             asynchronous=False)
    c.close()
    c2 = consumer(group)
    try:
        comm = c2.committed([TopicPartition(topic, p) for p in range(NPART)], timeout=T)
        expect_eq({tp.partition: tp.offset for tp in comm}, want, "committed offsets")
        expect_eq({tp.partition: tp.metadata for tp in comm},
                  {p: "m%d" % p for p in range(NPART)}, "commit metadata")
        c2.subscribe([topic])
        first = {}
        count = 0
        end = time.time() + 60
        while time.time() < end and count < sum(ends[p] - want[p] for p in range(NPART)):
            m = c2.poll(0.2)
            if m is None or m.error():
                continue
            first.setdefault(m.partition(), m.offset())
            count += 1
        expect_eq(first, want, "first offsets read by the new consumer")
        expect_eq(count, sum(ends[p] - want[p] for p in range(NPART)), "records read after resume")
    finally:
        c2.close()


def static():
    topic, group = "cg-static-%d" % os.getpid(), "g-static-%d" % os.getpid()
    create_topic(topic)
    extra = {"session.timeout.ms": 30000}
    a = Member("a", group, topic, "range", **{"group.instance.id": "inst-a"}, **extra)
    settle([a], "a alone")
    b = Member("b", group, topic, "range", **{"group.instance.id": "inst-b"}, **extra)
    first = settle([a, b], "a and b")
    a_assigns, a_revokes = a.assigns, a.revokes
    b.c.close()  # static: no LeaveGroup
    # a keeps polling: nothing may change while b is away.
    end = time.time() + 2
    while time.time() < end:
        a.poll()
    b2 = Member("b2", group, topic, "range", **{"group.instance.id": "inst-b"}, **extra)
    end = time.time() + 30
    while time.time() < end and not b2.owned():
        a.poll()
        b2.poll()
    expect_eq(sorted(b2.owned()), sorted(first["b"]), "the rejoined static member's partitions")
    end = time.time() + 4  # a few heartbeats: no rebalance may follow
    while time.time() < end:
        a.poll()
        b2.poll()
    expect_eq(sorted(a.owned()), sorted(first["a"]), "the other member's partitions")
    expect_eq((a.assigns, a.revokes), (a_assigns, a_revokes),
              "the other member's (assign, revoke) callbacks")
    expect_eq(b2.revokes, 0, "revocations of the rejoined member")
    a.c.close()
    b2.c.close()


def restart_commit(work):
    topic, group = "cg-restart", "g-restart"
    create_topic(topic)
    produce(topic, 40)
    want = {p: 3 + 7 * p for p in range(NPART)}
    c = consumer(group)
    c.subscribe([topic])
    end = time.time() + 30
    while time.time() < end and not c.assignment():
        c.poll(0.2)
    expect(c.assignment(), "no assignment")
    c.commit(offsets=[TopicPartition(topic, p, want[p], metadata="r%d" % p) for p in range(NPART)],
             asynchronous=False)
    comm = c.committed([TopicPartition(topic, p) for p in range(NPART)], timeout=T)
    expect_eq({tp.partition: tp.offset for tp in comm}, want, "committed before the crash")
    c.close()
    with open(os.path.join(work, "committed"), "w") as f:
        json.dump(want, f)


def restart_verify(work):
    topic, group = "cg-restart", "g-restart"
    with open(os.path.join(work, "committed")) as f:
        want = {int(k): v for k, v in json.load(f).items()}
    c = consumer(group)
    try:
        comm = None
        end = time.time() + 30
        while time.time() < end:  # the coordinator may still be loading
            try:
                comm = c.committed([TopicPartition(topic, p) for p in range(NPART)], timeout=T)
                break
            except KafkaException as e:
                if not e.args[0].retriable():
                    raise
                time.sleep(0.5)
        expect(comm is not None, "committed() kept failing")
        expect_eq({tp.partition: tp.offset for tp in comm}, want, "committed after kill -9")
        expect_eq({tp.partition: tp.metadata for tp in comm},
                  {p: "r%d" % p for p in range(NPART)}, "metadata after kill -9")
        c.subscribe([topic])
        first = {}
        end = time.time() + 60
        while time.time() < end and len(first) < NPART:
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            first.setdefault(m.partition(), m.offset())
        expect_eq(first, want, "first offsets read after kill -9")
    finally:
        c.close()


def main():
    ck = Checks()
    if MODE == "range":
        ck.run("range group: 3 members, a 4th joins, 2 leave; exclusive ownership, "
               "every record consumed, commits at the end offsets", group_run, "range", "range")
    elif MODE == "cooperative":
        ck.run("cooperative-sticky group: 3 members, a 4th joins, 2 leave; exclusive ownership, "
               "every record consumed, commits at the end offsets", group_run,
               "cooperative-sticky", "coop")
    elif MODE == "resume":
        ck.run("commit, close, a new consumer resumes at the committed offsets", resume)
    elif MODE == "static":
        ck.run("static member rejoins within the session timeout without a rebalance", static)
    elif MODE == "restart-commit":
        ck.run("commit before kill -9", restart_commit, sys.argv[3])
    elif MODE == "restart-verify":
        ck.run("committed offsets and metadata survive kill -9; consumer resumes there",
               restart_verify, sys.argv[3])
    else:
        raise SystemExit("unknown mode " + MODE)
    ck.exit()


if __name__ == "__main__":
    main()
