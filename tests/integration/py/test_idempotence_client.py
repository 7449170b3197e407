"""test_idempotence_client.py BOOTSTRAP produce|verify WORKDIR - confluent-kafka
(librdkafka) with enable.idempotence=true producing while the broker is
killed (-9) and started again twice (the suite drives the broker through
go files in WORKDIR): every acknowledged record is read back exactly once
at its acknowledged offset, no record is stored twice, each partition holds
its records in the order they were produced."""
import os
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from itcheck import Checks, expect, expect_eq

BOOTSTRAP = sys.argv[1]
T = 30
BASE = {"bootstrap.servers": BOOTSTRAP, "socket.timeout.ms": 20000, "broker.address.family": "v4"}
TOPIC = "idem-client"
PARTS = 3
STEP = 3000


def produce(ck, work):
    a = AdminClient(dict(BASE))

    def create():
        for f in a.create_topics([NewTopic(TOPIC, PARTS, 1)], operation_timeout=T,
                                 request_timeout=T).values():
            f.result()
        end = time.time() + 20
        while time.time() < end:
            md = a.list_topics(timeout=T)
            t = md.topics.get(TOPIC)
            if t and t.error is None and len(t.partitions) == PARTS and \
                    all(p.leader >= 0 for p in t.partitions.values()):
                return
            time.sleep(0.1)
        raise AssertionError("topic not ready")
    if not ck.run("idempotent producer: topic created", create):
        return
    p = Producer(dict(BASE, **{"enable.idempotence": True, "linger.ms": 2,
                               "message.timeout.ms": 150000, "retry.backoff.ms": 100,
                               "reconnect.backoff.ms": 100, "reconnect.backoff.max.ms": 1000,
                               "request.timeout.ms": 10000}))
    acked, failed, errors = {}, [], []

    def cb(err, msg):
        if err is None:
            acked[msg.value()] = (msg.partition(), msg.offset())
        else:
            failed.append((msg.value(), str(err)))

    def on_error(err):
        errors.append(str(err))

    deadline = time.time() + 240
    phases = [("phase1", None), ("phase2", "go1"), ("done", "go2")]
    state = {"phase": 0, "mark": 0, "go_seen": False}
    sent = 0

    def run():
        nonlocal sent
        while state["phase"] < len(phases):
            expect(time.time() < deadline, "did not finish in time (acked %d, phase %s)",
                   len(acked), phases[state["phase"]][0])
            name, go = phases[state["phase"]]
            if go is not None and not state["go_seen"]:
                if os.path.exists(os.path.join(work, go)):
                    state["go_seen"] = True
                    state["mark"] = len(acked)
            elif len(acked) - state["mark"] >= STEP:
                if name != "done":
                    open(os.path.join(work, name), "w").close()
                state["phase"] += 1
                state["go_seen"] = False
                continue
            value = b"i-%07d" % sent
            try:
                p.produce(TOPIC, value=value, partition=sent % PARTS, on_delivery=cb)
                sent += 1
            except BufferError:
                pass
            p.poll(0.002)
        expect_eq(p.flush(160), 0, "records still in flight at the end")
        with open(os.path.join(work, "acked"), "w") as f:
            f.write("%d\n" % sent)
            for v, (part, off) in sorted(acked.items()):
                f.write("%s %d %d\n" % (v.decode(), part, off))
        print("idempotence: sent %d, acknowledged %d, failed %d%s" % (
            sent, len(acked), len(failed), (" (first: %s)" % failed[0][1]) if failed else ""),
            flush=True)
        expect(not failed, "%d deliveries failed, first: %s", len(failed),
               failed[0] if failed else None)
        expect(not any("fatal" in e.lower() for e in errors), "fatal producer error: %s", errors)
    ck.run("idempotent producer: produce across two kill -9 restarts, every delivery acknowledged",
           run)


def verify(ck, work):
    def check():
        with open(os.path.join(work, "acked")) as f:
            sent = int(f.readline())
            acked = {}
            for line in f:
                v, part, off = line.split()
                acked[v.encode()] = (int(part), int(off))
        c = Consumer(dict(BASE, **{"group.id": "brook-it-idem", "enable.auto.commit": False,
                                   "auto.offset.reset": "earliest", "enable.partition.eof": False}))
        try:
            ends = {}
            for p in range(PARTS):
                lo, hi = c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=T, cached=False)
                ends[p] = hi
            c.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTS)])
            got = {p: [] for p in range(PARTS)}
            end = time.time() + 90
            while any(len(got[p]) < n for p, n in ends.items()):
                expect(time.time() < end, "read %s of %s", {p: len(v) for p, v in got.items()}, ends)
                for m in c.consume(num_messages=5000, timeout=1.0):
                    expect(m.error() is None, "consume error %s", m.error())
                    got[m.partition()].append(m)
        finally:
            c.close()
        at, counts = {}, {}
        for part, ms in got.items():
            prev = -1
            for m in ms:
                v = m.value()
                at[(part, m.offset())] = v
                counts[v] = counts.get(v, 0) + 1
                n = int(v[2:])
                expect(v.startswith(b"i-") and n < sent and n % PARTS == part,
                       "unexpected record %r in partition %d", v, part)
                expect(n > prev, "partition %d: %r after i-%07d (out of order)", part, v, prev)
                prev = n
        lost = [v for v, where in acked.items() if at.get(where) != v]
        expect(not lost, "%d acknowledged records missing or elsewhere, e.g. %s", len(lost),
               [(v, acked[v], at.get(acked[v])) for v in sorted(lost)[:5]])
        dups = {v: n for v, n in counts.items() if n > 1}
        expect(not dups, "%d records stored more than once, e.g. %s", len(dups),
               sorted(dups.items())[:5])
        print("idempotence: read %d records, %d acknowledged all present once, %d unacknowledged "
              "present" % (sum(ends.values()), len(acked), len(set(counts) - set(acked))),
              flush=True)
    ck.run("idempotent producer: every acknowledged record read back exactly once, in order", check)


def main():
    ck = Checks()
    {"produce": produce, "verify": verify}[sys.argv[2]](ck, sys.argv[3])
    ck.exit()


if __name__ == "__main__":
    main()
