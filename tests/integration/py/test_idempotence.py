"""test_idempotence.py PORT PHASE STATEFILE - the idempotent producer on raw
sockets (stdlib only; COMPAT-PITFALLS 21-23):

- first: InitProducerId without a transactional id gives a new producer id
  with epoch 0 every time (also when the request names an existing one, as
  Kafka does), a producer id without an epoch is INVALID_REQUEST, a
  transactional id with a timeout above transaction.max.timeout.ms is
  INVALID_TRANSACTION_TIMEOUT; a resent batch gets its original base offset
  and is stored once (also when older batches of the last five are resent);
  a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER; a new epoch must start at
  sequence 0 and fences the old one (INVALID_PRODUCER_EPOCH); a producer the
  partition has never seen may start at any sequence;
- after-restart (clean stop and start): a resend of the producer's last
  batch is still deduplicated (Kafka restores only the last batch of each
  producer from its snapshot; brook keeps all five), a new batch is appended;
- after-kill9 (kill -9 and start): the batch appended after the restart,
  known only from the log, is deduplicated too; the sequence goes on.

Every expectation is what Apache Kafka 4.0 answers."""
import json
import socket
import sys
import time

import kproto as kp
from itcheck import Checks, expect, expect_eq

PORT = int(sys.argv[1])
PHASE = sys.argv[2]
STATE = sys.argv[3]

NONE = 0
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
INVALID_REQUEST = 42
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47
INVALID_TRANSACTION_TIMEOUT = 50

TOPIC = "idem"
_corr = [5000]


def corr():
    _corr[0] += 1
    return _corr[0]


def conn(timeout=15.0):
    return kp.connect(PORT, timeout=timeout)


def send(s, st, pid, epoch, seq, values):
    batch = kp.record_batch_idem([v.encode() for v in values], st["ts"], pid, epoch, seq)
    return kp.produce_v3(s, corr(), TOPIC, 0, batch, acks=-1)


def log_values(s):
    """Every value in the partition, in offset order: [(offset, value)]."""
    out, offset = [], 0
    while True:
        resp = kp.fetch_v12(s, corr(), [(TOPIC, [(0, offset, 1 << 20)])], max_wait_ms=10)
        part = resp["parts"][(TOPIC, 0)]
        expect_eq(part["error"], NONE, "Fetch error")
        recs = kp.decode_records(part["records"])
        if not recs:
            return out
        out += [(o, v.decode()) for o, _k, v, _h in recs]
        offset = recs[-1][0] + 1


def init_pid(s, **kw):
    """InitProducerId, retried while the broker answers
    COORDINATOR_LOAD_IN_PROGRESS (14), as clients do: Kafka says so until
    its first block of producer ids arrives from the controller."""
    deadline = time.time() + 20
    while True:
        got = kp.init_producer_id(s, corr(), **kw)
        if got[0] != COORDINATOR_LOAD_IN_PROGRESS or time.time() > deadline:
            return got
        time.sleep(0.2)


def setup(s):
    res = kp.create_topics_v4(s, corr(), [(TOPIC, 1, 1, {})])
    expect_eq(res.get(TOPIC, (None,))[0], NONE, "CreateTopics error")
    deadline = time.time() + 20
    while time.time() < deadline:
        got = kp.list_offsets_v7(s, corr(), TOPIC, [(0, -1)])
        if got.get(0, (None,))[0] == NONE:
            return
        time.sleep(0.1)
    raise AssertionError("topic not ready within 20 s")


def first(checks):
    s = conn()
    st = {"ts": int(time.time() * 1000)}
    if not checks.run("topic created and ready", setup, s):
        checks.exit()

    def init_ids():
        err, pid, epoch = init_pid(s, version=1)
        expect_eq((err, epoch), (NONE, 0), "InitProducerId v1 (error, epoch)")
        expect(pid >= 0, "producer id %d", pid)
        err, pid2, epoch2 = init_pid(s, version=4)
        expect_eq((err, epoch2), (NONE, 0), "InitProducerId v4 (error, epoch)")
        expect(pid2 != pid, "a second InitProducerId gave the same id %d", pid)
        # Naming an existing producer without a transactional id: still a new id.
        err, pid3, epoch3 = init_pid(s, version=4, producer_id=pid2,
                                   producer_epoch=0)
        expect_eq((err, epoch3), (NONE, 0), "InitProducerId v4 with ProducerId (error, epoch)")
        expect(pid3 not in (pid, pid2), "InitProducerId reused id %d", pid3)
        st.update(pid=pid, pid2=pid2, pid3=pid3)
    checks.run("InitProducerId without a transactional id: a new producer id, epoch 0, each time",
               init_ids)

    def init_errors():
        err, pid, epoch = kp.init_producer_id(s, corr(), version=4, producer_id=12345,
                                              producer_epoch=-1)
        expect_eq((err, pid, epoch), (INVALID_REQUEST, -1, -1),
                  "InitProducerId with a producer id and no epoch")
        err, _, _ = kp.init_producer_id(s, corr(), version=1, transactional_id="tx-a",
                                        timeout_ms=2_000_000_000)
        expect_eq(err, INVALID_TRANSACTION_TIMEOUT, "transactional id, timeout above the maximum")
        err, _, _ = kp.init_producer_id(s, corr(), version=1, transactional_id="")
        expect_eq(err, INVALID_REQUEST, "empty transactional id")
    checks.run("InitProducerId errors: id without epoch, transaction timeout, empty transactional id",
               init_errors)

    def dedupe():
        pid = st["pid"]
        err, a = send(s, st, pid, 0, 0, ["a0", "a1", "a2"])
        expect_eq(err, NONE, "batch A error")
        err, a2 = send(s, st, pid, 0, 0, ["a0", "a1", "a2"])
        expect_eq((err, a2), (NONE, a), "resent batch A (error, base offset)")
        err, b = send(s, st, pid, 0, 3, ["b3", "b4"])
        expect_eq((err, b), (NONE, a + 3), "batch B (error, base offset)")
        err, a3 = send(s, st, pid, 0, 0, ["a0", "a1", "a2"])
        expect_eq((err, a3), (NONE, a), "batch A resent after B")
        st.update(a=a, b=b)
        expect_eq([v for _, v in log_values(s)], ["a0", "a1", "a2", "b3", "b4"], "log")
    checks.run("a resent batch gets its original base offset and is stored once", dedupe)

    def gap():
        err, base = send(s, st, st["pid"], 0, 10, ["gap"])
        expect_eq((err, base), (OUT_OF_ORDER_SEQUENCE_NUMBER, -1), "sequence gap")
    checks.run("a sequence gap -> OUT_OF_ORDER_SEQUENCE_NUMBER (45)", gap)

    def epochs():
        pid = st["pid2"]
        expect_eq(send(s, st, pid, 0, 0, ["e0"])[0], NONE, "epoch 0 seq 0")
        expect_eq(send(s, st, pid, 1, 5, ["x"])[0], OUT_OF_ORDER_SEQUENCE_NUMBER,
                  "new epoch not starting at 0")
        expect_eq(send(s, st, pid, 1, 0, ["e1"])[0], NONE, "new epoch at sequence 0")
        expect_eq(send(s, st, pid, 0, 1, ["y"])[0], INVALID_PRODUCER_EPOCH, "old epoch")
    checks.run("a new epoch starts at sequence 0 and fences the old one (INVALID_PRODUCER_EPOCH 47)",
               epochs)

    def unknown():
        err, _ = send(s, st, st["pid3"], 0, 17, ["u17"])
        expect_eq(err, NONE, "first batch of an unseen producer at sequence 17")
    checks.run("a producer without state may start at any sequence", unknown)
    st["count"] = len(log_values(s))
    with open(STATE, "w") as f:
        json.dump(st, f)
    s.close()


def load():
    with open(STATE) as f:
        return json.load(f)


def wait_ready(s):
    deadline = time.time() + 30
    while True:
        got = kp.list_offsets_v7(s, corr(), TOPIC, [(0, -1)])
        if got.get(0, (None,))[0] == NONE:
            return
        if time.time() > deadline:
            raise AssertionError("partition not ready after the restart: %r" % got)
        time.sleep(0.2)


def after_restart(checks):
    st = load()
    s = conn()

    def resend():
        wait_ready(s)
        pid = st["pid"]
        # The last batch only: Kafka's snapshot keeps one batch per producer,
        # so it answers an older retained one with OUT_OF_ORDER after a
        # restart (brook keeps all five).
        expect_eq(send(s, st, pid, 0, 3, ["b3", "b4"]), (NONE, st["b"]), "resent B")
        expect_eq(len(log_values(s)), st["count"], "records in the log")
        err, c = send(s, st, pid, 0, 5, ["c5"])
        expect_eq(err, NONE, "batch C")
        st.update(c=c, count=st["count"] + 1)
        expect_eq(send(s, st, pid, 0, 7, ["gap"])[0], OUT_OF_ORDER_SEQUENCE_NUMBER, "gap")
    checks.run("after a clean restart: resent batches keep their offsets, nothing stored twice",
               resend)
    with open(STATE, "w") as f:
        json.dump(st, f)
    s.close()


def after_kill9(checks):
    st = load()
    s = conn()

    def resend():
        wait_ready(s)
        pid = st["pid"]
        expect_eq(send(s, st, pid, 0, 5, ["c5"]), (NONE, st["c"]), "resent C")
        expect_eq(len(log_values(s)), st["count"], "records in the log")
        err, d = send(s, st, pid, 0, 6, ["d6"])
        expect_eq((err, d), (NONE, st["c"] + 1), "batch D")
        expect_eq(send(s, st, pid, 0, 9, ["gap"])[0], OUT_OF_ORDER_SEQUENCE_NUMBER, "gap")
        vals = [v for _, v in log_values(s)]
        expect_eq(len(vals), len(set(vals)), "distinct values in the log")
    checks.run("after kill -9: batches known only from the log are deduplicated too", resend)
    s.close()


def main():
    checks = Checks()
    {"first": first, "after-restart": after_restart, "after-kill9": after_kill9}[PHASE](checks)
    checks.exit()


if __name__ == "__main__":
    socket.setdefaulttimeout(15)
    main()
