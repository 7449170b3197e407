"""test_protocol.py PORT - protocol-level semantics real clients depend on
(stdlib only, raw sockets, see ../shared/COMPAT-PITFALLS.md items 9, 10,
26-30, 35, 37):

- fetch sessions (KIP-227, Fetch v12): create, incremental fetches carry only
  changed partitions, a session keeps the fetch offsets last sent, wrong
  epoch (71), unknown id (70), forgotten topics, epoch -1 closes, a full
  fetch (epoch 0) naming a session replaces it;
- long poll: MaxWaitMs honoured on an empty partition, a produce from another
  connection completes a waiting fetch early;
- KIP-74: a batch larger than both byte limits is returned whole;
- fetch offsets: at the high watermark (empty, no error), past the log end
  (OFFSET_OUT_OF_RANGE), inside a batch (the whole batch), log_start_offset;
- Produce acks=0 (no response at all; an error closes the connection),
  acks=1/-1 (base offsets), acks=2
  (INVALID_REQUIRED_ACKS);
- pipelined requests are answered in request order;
- ListOffsets v7 (-1, -2, -3 and timestamp lookups inside a batch with
  non-monotonic timestamps), OffsetForLeaderEpoch v4;
- DeleteRecords moves the log start (fetch below it: OFFSET_OUT_OF_RANGE,
  ListOffsets earliest: the new start).

Every expectation is what Apache Kafka 4.0 answers (the suite passes against
BROOK_IT_TARGET=kafka). Timing bounds are generous: they only tell "waited"
from "answered at once" and "completed early" from "waited it out".
"""
import socket
import sys
import threading
import time

import kproto as kp
from itcheck import Checks, expect, expect_eq

PORT = int(sys.argv[1])

NONE = 0
OFFSET_OUT_OF_RANGE = 1
INVALID_REQUIRED_ACKS = 21
FETCH_SESSION_ID_NOT_FOUND = 70
INVALID_FETCH_SESSION_EPOCH = 71

T_SESSION = "proto-session"   # 3 partitions
T_POLL = "proto-poll"
T_BIG = "proto-big"           # 2 partitions
T_OFFSETS = "proto-offsets"
T_ACKS = "proto-acks"
T_PIPE = "proto-pipe"
T_LIST = "proto-list"
T_DELETE = "proto-delete"
TOPICS = [(T_SESSION, 3), (T_POLL, 1), (T_BIG, 2), (T_OFFSETS, 1), (T_ACKS, 1),
          (T_PIPE, 1), (T_LIST, 1), (T_DELETE, 1)]

_corr = [1000]


def corr():
    _corr[0] += 1
    return _corr[0]


def now_ms():
    return int(time.time() * 1000)


def conn(timeout=10.0):
    return kp.connect(PORT, timeout=timeout)


def produce(sock, topic, partition, values, acks=-1):
    """Produce one uncompressed batch of values; returns its base offset."""
    batch = kp.record_batch([(None, v, []) for v in values], now_ms())
    err, base = kp.produce_v3(sock, corr(), topic, partition, batch, acks=acks)
    expect_eq(err, NONE, "Produce to %s-%d: error" % (topic, partition))
    return base


def produce_new_conn(topic, partition, values):
    s = conn()
    try:
        return produce(s, topic, partition, values)
    finally:
        s.close()


def values_of(records):
    return [(o, v) for o, _k, v, _h in kp.decode_records(records)]


def fetch1(sock, topic, partition, offset, max_wait_ms=100, pmax=1 << 20, max_bytes=50 << 20):
    """A sessionless Fetch v12 of one partition: (response, partition data)."""
    resp = kp.fetch_v12(sock, corr(), [(topic, [(partition, offset, pmax)])],
                        max_wait_ms=max_wait_ms, max_bytes=max_bytes)
    expect_eq(resp["error"], NONE, "Fetch top-level error")
    expect_eq(resp["order"], [(topic, partition)], "Fetch response partitions")
    return resp, resp["parts"][(topic, partition)]


# ---------------------------------------------------------------- setup

def setup_topics():
    s = conn(20)
    try:
        res = kp.create_topics_v4(s, corr(), [(t, n, 1, {}) for t, n in TOPICS])
        for t, _n in TOPICS:
            expect_eq(res.get(t, (None,))[0], NONE, "CreateTopics %s error" % t)
        # ready = every partition answers ListOffsets (a just-created topic
        # may briefly have no leader on Kafka)
        deadline = time.time() + 20
        pending = list(TOPICS)
        while pending and time.time() < deadline:
            t, n = pending[0]
            got = kp.list_offsets_v7(s, corr(), t, [(p, -1) for p in range(n)])
            if sorted(got) == list(range(n)) and all(v[0] == NONE for v in got.values()):
                pending.pop(0)
            else:
                time.sleep(0.1)
        expect(not pending, "topics not ready within 20 s: %r", pending)
    finally:
        s.close()


# ---------------------------------------------------------------- 1. sessions

class Session:
    """A KIP-227 fetch session over one connection."""

    def __init__(self, sock):
        self.s = sock
        self.id = 0
        self.epoch = 0

    def fetch(self, parts, forgotten=None, max_wait_ms=200, epoch=None, session_id=None):
        resp = kp.fetch_v12(self.s, corr(), [(T_SESSION, parts)] if parts else [],
                            max_wait_ms=max_wait_ms, session_id=self.id if session_id is None else session_id,
                            session_epoch=self.epoch if epoch is None else epoch,
                            forgotten=[(T_SESSION, forgotten)] if forgotten else None)
        return resp

    def incremental(self, parts=(), forgotten=None, max_wait_ms=200):
        """The next incremental fetch (epoch advanced); asserts no error and
        the session id kept; returns {partition: data} in response order."""
        self.epoch += 1
        resp = self.fetch(list(parts), forgotten, max_wait_ms)
        expect_eq(resp["error"], NONE, "incremental fetch (epoch %d) error" % self.epoch)
        expect_eq(resp["session_id"], self.id, "incremental fetch (epoch %d) session id" % self.epoch)
        return {p: resp["parts"][(t, p)] for t, p in resp["order"]}


def case_sessions(checks):
    # p0: 2 records, p1: 1 record, p2: empty
    s0 = conn()
    produce(s0, T_SESSION, 0, [b"s0-a", b"s0-b"])
    produce(s0, T_SESSION, 1, [b"s1-a"])
    s0.close()

    s = conn()
    sess = Session(s)
    state = {}

    def full():
        resp = sess.fetch([(0, 0, 1 << 20), (1, 0, 1 << 20), (2, 0, 1 << 20)], epoch=0, session_id=0)
        expect_eq(resp["error"], NONE, "full fetch error")
        expect_eq(sorted(resp["order"]), [(T_SESSION, p) for p in range(3)], "full fetch partitions")
        got = {p: values_of(resp["parts"][(T_SESSION, p)]["records"]) for p in range(3)}
        expect_eq(got, {0: [(0, b"s0-a"), (1, b"s0-b")], 1: [(0, b"s1-a")], 2: []}, "full fetch records")
        expect_eq({p: resp["parts"][(T_SESSION, p)]["hwm"] for p in range(3)}, {0: 2, 1: 1, 2: 0},
                  "full fetch high watermarks")
        sess.id = resp["session_id"]
        state["id"] = resp["session_id"]

    if not checks.run("fetch session: a full fetch (id 0, epoch 0) returns every partition and a session "
                      "id (or 0: no session)", full):
        s.close()
        return
    if sess.id == 0:
        checks.skip("fetch session: incremental fetches",
                    "the broker answered session id 0 (no session; legal, nothing more to test)")
        s.close()
        return

    def no_changes():
        # positions advanced past what was read: nothing changed, nothing returned
        got = sess.incremental([(0, 2, 1 << 20), (1, 1, 1 << 20)])
        expect_eq(sorted(got), [], "partitions in an incremental fetch after only positions changed")
        got = sess.incremental()
        expect_eq(sorted(got), [], "partitions in an incremental fetch naming none, nothing changed")

    checks.run("fetch session: incremental fetches (epochs 1, 2) with no changes return no partitions",
               no_changes)

    def new_data():
        produce_new_conn(T_SESSION, 1, [b"s1-b"])
        got = sess.incremental()
        expect_eq(sorted(got), [1], "partitions of an incremental fetch after producing to p1")
        expect_eq(values_of(got[1]["records"]), [(1, b"s1-b")], "p1 records")
        expect_eq((got[1]["error"], got[1]["hwm"]), (NONE, 2), "p1 error and high watermark")
        # the session keeps the fetch offset last sent (1): not advanced by the broker
        got = sess.incremental()
        expect_eq(sorted(got), [1], "partitions of an incremental fetch not moving p1's position")
        expect_eq(values_of(got[1]["records"]), [(1, b"s1-b")], "p1 records read again from the cached position")
        got = sess.incremental([(1, 2, 1 << 20)])
        expect_eq(sorted(got), [], "partitions once p1's position is updated")

    checks.run("fetch session: after a produce to p1 only p1 comes back with its record; "
               "the session keeps the last fetch offset sent", new_data)

    def wrong_epoch():
        for bad in (sess.epoch + 2, sess.epoch, 0x7FFFFFF):
            resp = sess.fetch([], epoch=bad)
            expect_eq(resp["error"], INVALID_FETCH_SESSION_EPOCH, "fetch with epoch %d (expected %d): error"
                      % (bad, sess.epoch + 1))
            expect_eq((resp["session_id"], resp["order"]), (0, []),
                      "INVALID_FETCH_SESSION_EPOCH response: (session id, partitions)")
        # the session survives a wrong epoch
        got = sess.incremental()
        expect_eq(sorted(got), [], "partitions of the next correct incremental fetch")

    checks.run("fetch session: a wrong epoch -> INVALID_FETCH_SESSION_EPOCH (71); the session survives",
               wrong_epoch)

    def unknown_id():
        resp = sess.fetch([], session_id=(sess.id + 7919) & 0x7FFFFFFF or 1, epoch=1)
        expect_eq(resp["error"], FETCH_SESSION_ID_NOT_FOUND, "fetch with an unknown session id: error")
        expect_eq((resp["session_id"], resp["order"]), (0, []),
                  "FETCH_SESSION_ID_NOT_FOUND response: (session id, partitions)")

    checks.run("fetch session: an unknown session id -> FETCH_SESSION_ID_NOT_FOUND (70)", unknown_id)

    def forgotten():
        got = sess.incremental(forgotten=[1])
        expect_eq(sorted(got), [], "partitions of the incremental fetch forgetting p1")
        produce_new_conn(T_SESSION, 1, [b"s1-c"])
        produce_new_conn(T_SESSION, 2, [b"s2-a"])
        got = sess.incremental()
        expect_eq(sorted(got), [2], "partitions after producing to forgotten p1 and to p2")
        expect_eq(values_of(got[2]["records"]), [(0, b"s2-a")], "p2 records")
        got = sess.incremental([(2, 1, 1 << 20)])
        expect_eq(sorted(got), [], "partitions once p2's position is updated (p1 forgotten)")

    checks.run("fetch session: a forgotten partition leaves the session", forgotten)

    def log_start_and_errors():
        # DeleteRecords on p0 (position 2, nothing new): p0 comes back for its log start
        d0 = conn()
        try:
            expect_eq(kp.delete_records_v2(d0, corr(), T_SESSION, [(0, 1)]), {0: (NONE, 1)},
                      "DeleteRecords p0 to 1: (error, low watermark)")
        finally:
            d0.close()
        got = sess.incremental()
        expect_eq(sorted(got), [0], "partitions after p0's log start moved")
        expect_eq((got[0]["error"], got[0]["log_start"], got[0]["hwm"], got[0]["records"]), (NONE, 1, 2, b""),
                  "p0 after its log start moved: (error, log_start, hwm, records)")
        got = sess.incremental()
        expect_eq(sorted(got), [], "partitions of the next incremental fetch (log start reported once)")
        # a partition in error comes back in every incremental fetch
        got = sess.incremental([(2, 99, 1 << 20)])
        expect_eq(sorted(got), [2], "partitions after moving p2's position past its log end")
        expect_eq(got[2]["error"], OFFSET_OUT_OF_RANGE, "p2 error")
        got = sess.incremental()
        expect_eq(sorted(got), [2], "partitions of the next incremental fetch (p2 still out of range)")
        expect_eq(got[2]["error"], OFFSET_OUT_OF_RANGE, "p2 error again")
        got = sess.incremental([(2, 1, 1 << 20)])
        expect_eq(sorted(got), [2], "partitions once p2's position is valid again (error cleared)")
        expect_eq((got[2]["error"], got[2]["hwm"], got[2]["records"]), (NONE, 1, b""),
                  "p2 once its position is valid: (error, hwm, records)")
        got = sess.incremental()
        expect_eq(sorted(got), [], "partitions of the next incremental fetch")

    checks.run("fetch session: incremental fetches carry a moved log start once and an error every time",
               log_start_and_errors)

    def reset_session():
        # How clients reset a session after INVALID_FETCH_SESSION_EPOCH
        # (franz-go): the session's id with epoch 0, a full fetch. The old
        # session is closed and a new one opened.
        old = sess.id
        resp = sess.fetch([(0, 2, 1 << 20), (2, 1, 1 << 20)], epoch=0, max_wait_ms=0)
        expect_eq(resp["error"], NONE, "full fetch (epoch 0) naming the session: error")
        expect(resp["session_id"] not in (0, old), "full fetch naming session %d: new session id %d",
               old, resp["session_id"])
        expect_eq(sorted(resp["order"]), [(T_SESSION, 0), (T_SESSION, 2)],
                  "full fetch naming the session: partitions")
        resp2 = sess.fetch([], session_id=old, epoch=sess.epoch + 1)
        expect_eq(resp2["error"], FETCH_SESSION_ID_NOT_FOUND, "incremental fetch in the replaced session: error")
        sess.id, sess.epoch = resp["session_id"], 0
        got = sess.incremental()
        expect_eq(sorted(got), [], "first incremental fetch of the new session")
        # A full fetch with epoch -1 naming an unknown session: sessionless, no error.
        resp = sess.fetch([(0, 2, 1 << 20)], session_id=(old + 7919) & 0x7FFFFFFF or 1, epoch=-1,
                          max_wait_ms=0)
        expect_eq((resp["error"], resp["session_id"], resp["order"]), (NONE, 0, [(T_SESSION, 0)]),
                  "epoch -1 naming an unknown session: (error, session id, partitions)")

    checks.run("fetch session: a full fetch (epoch 0) naming a session replaces it; epoch -1 with an "
               "unknown id is a sessionless fetch", reset_session)

    def close():
        sid = sess.id
        resp = sess.fetch([(0, 2, 1 << 20)], epoch=-1, max_wait_ms=0)
        expect_eq(resp["error"], NONE, "fetch with epoch -1: error")
        expect_eq(resp["session_id"], 0, "fetch with epoch -1: session id")
        expect_eq(resp["order"], [(T_SESSION, 0)], "fetch with epoch -1: partitions (sessionless full fetch)")
        resp = sess.fetch([], session_id=sid, epoch=sess.epoch + 1)
        expect_eq(resp["error"], FETCH_SESSION_ID_NOT_FOUND, "incremental fetch in the closed session: error")

    checks.run("fetch session: epoch -1 closes it (sessionless answer, then FETCH_SESSION_ID_NOT_FOUND)", close)
    s.close()


# ---------------------------------------------------------------- 2. long poll

def case_long_poll_timeout():
    s = conn()
    try:
        for wait_ms in (300, 1000):
            t0 = time.monotonic()
            _, d = fetch1(s, T_POLL, 0, 0, max_wait_ms=wait_ms)
            took_ms = (time.monotonic() - t0) * 1000
            expect_eq((d["error"], d["hwm"], d["records"]), (NONE, 0, b""), "empty partition fetch")
            expect(took_ms >= wait_ms * 0.8, "MaxWaitMs=%d answered after %.0f ms (too early)", wait_ms, took_ms)
            expect(took_ms <= wait_ms + 1500, "MaxWaitMs=%d answered after %.0f ms (too late)", wait_ms, took_ms)
    finally:
        s.close()


def case_long_poll_early():
    s = conn()
    errors = []

    def late_producer():
        try:
            time.sleep(0.3)
            produce_new_conn(T_POLL, 0, [b"wake-up"])
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    try:
        th = threading.Thread(target=late_producer, daemon=True)
        t0 = time.monotonic()
        th.start()
        _, d = fetch1(s, T_POLL, 0, 0, max_wait_ms=6000)
        took_ms = (time.monotonic() - t0) * 1000
        th.join(10)
        expect(not errors, "producer: %r", errors)
        expect_eq(values_of(d["records"]), [(0, b"wake-up")], "records of the waiting fetch")
        expect(took_ms < 3000, "the fetch returned after %.0f ms (MaxWaitMs 6000; produce at ~300 ms)", took_ms)
        expect(took_ms >= 250, "the fetch returned after %.0f ms, before the produce", took_ms)
    finally:
        s.close()


# ---------------------------------------------------------------- 3. KIP-74

def case_kip74():
    s = conn()
    try:
        big = [bytes([65 + i]) * 30000 for i in range(3)]  # one batch of ~90 KB
        for p in (0, 1):
            expect_eq(produce(s, T_BIG, p, big), 0, "base offset")
        resp = kp.fetch_v12(s, corr(), [(T_BIG, [(0, 0, 1000), (1, 0, 1000)])],
                            max_wait_ms=100, max_bytes=1000)
        expect_eq(resp["error"], NONE, "Fetch error")
        expect_eq(sorted(resp["order"]), [(T_BIG, 0), (T_BIG, 1)], "partitions in the response")
        d0 = resp["parts"][(T_BIG, 0)]
        expect_eq(d0["error"], NONE, "first partition error")
        expect(len(d0["records"]) > 90000, "first partition: %d bytes", len(d0["records"]))
        expect_eq(values_of(d0["records"]), list(enumerate(big)), "first partition: the whole batch")
        d1 = resp["parts"][(T_BIG, 1)]
        expect_eq((d1["error"], d1["hwm"]), (NONE, 3), "second partition error and high watermark")
        expect_eq(kp.batches(d1["records"]), [], "second partition: no complete batch (MaxBytes spent)")
        # alone, with PartitionMaxBytes 1 and MaxBytes 1
        _, d = fetch1(s, T_BIG, 1, 0, pmax=1, max_bytes=1)
        expect_eq(values_of(d["records"]), list(enumerate(big)), "PartitionMaxBytes=MaxBytes=1: the whole batch")
    finally:
        s.close()


# ---------------------------------------------------------------- 4. offsets

def case_fetch_offsets():
    s = conn()
    try:
        expect_eq(produce(s, T_OFFSETS, 0, [b"a0", b"a1", b"a2"]), 0, "first batch base offset")
        expect_eq(produce(s, T_OFFSETS, 0, [b"b3", b"b4"]), 3, "second batch base offset")
        t0 = time.monotonic()
        _, d = fetch1(s, T_OFFSETS, 0, 5, max_wait_ms=200)
        expect_eq((d["error"], d["hwm"], d["records"], d["log_start"]), (NONE, 5, b"", 0),
                  "fetch at the high watermark: (error, hwm, records, log_start)")
        expect((time.monotonic() - t0) >= 0.15, "fetch at the high watermark did not wait")
        _, d = fetch1(s, T_OFFSETS, 0, 6)
        expect_eq(d["error"], OFFSET_OUT_OF_RANGE, "fetch past the log end offset: error")
        expect_eq(d["records"], b"", "fetch past the log end offset: records")
        _, d = fetch1(s, T_OFFSETS, 0, 1)
        expect_eq((d["error"], d["hwm"], d["lso"], d["log_start"]), (NONE, 5, 5, 0),
                  "fetch at 1: (error, hwm, last_stable, log_start)")
        expect_eq([b[0] for b in kp.batches(d["records"])][:1], [0], "fetch at 1: first batch base offset")
        expect_eq(values_of(d["records"]), [(0, b"a0"), (1, b"a1"), (2, b"a2"), (3, b"b3"), (4, b"b4")],
                  "fetch at 1: records (the whole first batch)")
        _, d = fetch1(s, T_OFFSETS, 0, 4)
        expect_eq(values_of(d["records"]), [(3, b"b3"), (4, b"b4")], "fetch at 4: the whole last batch")
    finally:
        s.close()


def case_fetch_partition_fields():
    s = conn()
    try:
        _, d = fetch1(s, T_OFFSETS, 0, 0)
        expect_eq(d["preferred_replica"], -1, "preferred read replica")
        expect_eq(d["aborted"], None, "aborted transactions with read_uncommitted (null)")
    finally:
        s.close()


# ---------------------------------------------------------------- 5. acks

def case_acks():
    s = conn()
    try:
        expect_eq(produce(s, T_ACKS, 0, [b"x0", b"x1"], acks=-1), 0, "acks=-1 base offset")
        expect_eq(produce(s, T_ACKS, 0, [b"x2"], acks=1), 2, "acks=1 base offset")
        # acks=0: no response; the next thing read is ApiVersions' answer
        c0, c1 = corr(), corr()
        batch = kp.record_batch([(None, b"x3", [])], now_ms())
        kp.send_frames(s, [kp.produce_v3_request(c0, T_ACKS, 0, batch, acks=0), kp.api_versions_request(0, c1)])
        resp = kp.read_frame(s)
        expect(resp is not None, "connection closed after an acks=0 produce")
        r = kp.Reader(resp)
        got = r.i32()
        expect(got != c0, "the acks=0 produce got a response")
        expect_eq(got, c1, "correlation id of the first response after an acks=0 produce")
        expect_eq(kp.parse_api_versions_v0(r)[0], NONE, "ApiVersions error")
        expect_eq(produce(s, T_ACKS, 0, [b"x4"], acks=1), 4, "base offset after the acks=0 record")
        # read back (waiting, bounded: visibility at once is case_acks1_visible's)
        deadline = time.time() + 5
        got = []
        while time.time() < deadline:
            _, d = fetch1(s, T_ACKS, 0, 0)
            got = values_of(d["records"])
            if len(got) >= 5:
                break
            time.sleep(0.05)
        expect_eq(got, [(0, b"x0"), (1, b"x1"), (2, b"x2"), (3, b"x3"), (4, b"x4")], "records read back")
    finally:
        s.close()


def case_acks1_visible():
    """On a single replica Kafka moves the high watermark with the append:
    a record acknowledged with acks=1 is readable (and counted by
    ListOffsets latest) as soon as the response arrives."""
    s = conn()
    try:
        for i in range(5):
            base = produce(s, T_ACKS, 0, [b"v%d" % i], acks=1)
            got = kp.list_offsets_v7(s, corr(), T_ACKS, [(0, -1)])[0][:3]
            expect_eq(got, (NONE, -1, base + 1),
                      "round %d: ListOffsets latest right after the acks=1 answer (base offset %d)" % (i, base))
            _, d = fetch1(s, T_ACKS, 0, base, max_wait_ms=0)
            expect_eq((d["hwm"], values_of(d["records"])), (base + 1, [(base, b"v%d" % i)]),
                      "round %d: Fetch right after the acks=1 answer: (hwm, records)" % i)
    finally:
        s.close()


def case_acks_invalid():
    s = conn()
    try:
        # acks=2: per-partition INVALID_REQUIRED_ACKS, nothing appended
        end = kp.list_offsets_v7(s, corr(), T_ACKS, [(0, -1)])[0][2]
        c2 = corr()
        s.sendall(kp.frame(kp.produce_v3_request(c2, T_ACKS, 0, kp.record_batch([(None, b"bad", [])], now_ms()),
                                                 acks=2)))
        got = kp.parse_produce_v3(kp.read_response(s, c2))
        expect_eq(sorted(got), [(T_ACKS, 0)], "acks=2 response partitions")
        expect_eq(got[(T_ACKS, 0)][0], INVALID_REQUIRED_ACKS, "acks=2: error")
        expect_eq(kp.list_offsets_v7(s, corr(), T_ACKS, [(0, -1)])[0][2], end, "log end offset after acks=2")
        expect_eq(got[(T_ACKS, 0)], (INVALID_REQUIRED_ACKS, -1, -1), "acks=2: (error, base offset, log append time)")
        kp.api_versions(s, corr())  # the connection still works
    finally:
        s.close()


def case_acks0_error_closes():
    """acks=0 has no response to carry an error: the broker closes the
    connection instead, so the producer notices and refreshes metadata."""
    s = conn()
    try:
        kp.api_versions(s, corr())
        c = corr()
        s.sendall(kp.frame(kp.produce_v3_request(c, T_ACKS, 7, kp.record_batch([(None, b"bad", [])], now_ms()),
                                                 acks=0)))
        expect(kp.wait_closed(s, 10.0), "an acks=0 produce to a missing partition left the connection open")
    finally:
        s.close()
    s = conn()  # the broker itself is fine
    try:
        kp.api_versions(s, corr())
    finally:
        s.close()


def case_fetch_waiting_topic_deleted():
    """A fetch long-polling a topic that is deleted meanwhile is still
    answered (within its wait), and the broker goes on serving."""
    name = "proto-gone"
    s = conn(20)
    try:
        res = kp.create_topics_v4(s, corr(), [(name, 2, 1, {})])
        expect_eq(res.get(name, (None,))[0], NONE, "CreateTopics error")
        deadline = time.time() + 20
        while time.time() < deadline:  # ready: ListOffsets answers without error
            if kp.list_offsets_v7(s, corr(), name, [(0, -1), (1, -1)])[0][0] == NONE:
                break
            time.sleep(0.1)
    finally:
        s.close()
    waiter = conn(20)
    try:
        c = corr()
        waiter.sendall(kp.frame(kp.fetch_v12_request(c, [(name, [(0, 0, 1 << 20), (1, 0, 1 << 20)])],
                                                     max_wait_ms=4000)))
        time.sleep(0.5)
        admin = conn(20)
        try:
            expect_eq(kp.delete_topics_v1(admin, corr(), [name]), {name: NONE}, "DeleteTopics")
        finally:
            admin.close()
        t0 = time.time()
        resp = kp.parse_fetch_v12(kp.read_response(waiter, c, flexible=True))
        expect(time.time() - t0 < 10, "the waiting fetch took %.1f s after the deletion", time.time() - t0)
        for key in [(name, 0), (name, 1)]:
            d = resp["parts"].get(key)
            expect(d is None or d["error"] != NONE or not d["records"],
                   "partition %r of a deleted topic answered with records" % (key,))
        kp.api_versions(waiter, corr())  # the connection still works
    finally:
        waiter.close()


def case_produce_unknown_partition():
    s = conn()
    try:
        c = corr()
        s.sendall(kp.frame(kp.produce_v3_request(c, T_ACKS, 7, kp.record_batch([(None, b"bad", [])], now_ms()))))
        got = kp.parse_produce_v3(kp.read_response(s, c))
        expect_eq(got, {(T_ACKS, 7): (3, -1, -1)},
                  "Produce to partition 7 of a 1-partition topic: (error, base offset, log append time)")
    finally:
        s.close()


# ---------------------------------------------------------------- 6. pipelining

def case_pipelining():
    s = conn()
    try:
        c = [corr() for _ in range(5)]
        t0 = time.monotonic()
        kp.send_frames(s, [
            kp.fetch_v12_request(c[0], [(T_PIPE, [(0, 0, 1 << 20)])], max_wait_ms=500),
            kp.metadata_v1_request(c[1], [T_PIPE]),
            kp.api_versions_request(0, c[2]),
            kp.fetch_v12_request(c[3], [(T_PIPE, [(0, 0, 1 << 20)])], max_wait_ms=300),
            kp.api_versions_request(3, c[4]),
        ])
        seen = []
        for _ in c:
            resp = kp.read_frame(s)
            expect(resp is not None, "connection closed after %d responses", len(seen))
            seen.append((kp.Reader(resp).i32(), time.monotonic() - t0, resp))
        expect_eq([x[0] for x in seen], c, "correlation ids in response order")
        expect(seen[0][1] >= 0.4, "the long-polling Fetch was answered after %.0f ms", seen[0][1] * 1000)
        r = kp.Reader(seen[0][2])
        r.i32()
        r.skip_tags()
        f = kp.parse_fetch_v12(r)
        expect_eq((f["error"], f["order"]), (NONE, [(T_PIPE, 0)]), "pipelined Fetch answer")
        r = kp.Reader(seen[2][2])
        r.i32()
        expect_eq(kp.parse_api_versions_v0(r)[0], NONE, "pipelined ApiVersions v0 error")
    finally:
        s.close()


def case_pipelined_processing_order():
    """Requests on one connection are processed in the order sent (Kafka
    reads the next one only after answering the previous): a long-polling
    Fetch followed by a Produce to the same partition waits out MaxWaitMs
    empty; the Produce is applied after it, and a third request sees it."""
    s = conn()
    try:
        c = [corr() for _ in range(3)]
        batch = kp.record_batch([(None, b"after-the-fetch", [])], now_ms())
        kp.send_frames(s, [
            kp.fetch_v12_request(c[0], [(T_PIPE, [(0, 0, 1 << 20)])], max_wait_ms=500),
            kp.produce_v3_request(c[1], T_PIPE, 0, batch, acks=1),
            kp.fetch_v12_request(c[2], [(T_PIPE, [(0, 0, 1 << 20)])], max_wait_ms=500),
        ])
        f = kp.parse_fetch_v12(kp.read_response(s, c[0], flexible=True))
        d = f["parts"][(T_PIPE, 0)]
        expect_eq((d["error"], d["hwm"], values_of(d["records"])), (NONE, 0, []),
                  "the Fetch sent before the Produce: (error, hwm, records)")
        got = kp.parse_produce_v3(kp.read_response(s, c[1]))
        expect_eq(got[(T_PIPE, 0)][:2], (NONE, 0), "the pipelined Produce: (error, base offset)")
        f = kp.parse_fetch_v12(kp.read_response(s, c[2], flexible=True))
        d = f["parts"][(T_PIPE, 0)]
        expect_eq((d["error"], d["hwm"], values_of(d["records"])), (NONE, 1, [(0, b"after-the-fetch")]),
                  "the Fetch sent after the Produce: (error, hwm, records)")
    finally:
        s.close()


# ---------------------------------------------------------------- 7. ListOffsets / OffsetForLeaderEpoch

def case_list_offsets():
    s = conn()
    try:
        b = now_ms() - 600000  # ten minutes ago: inside retention and timestamp limits
        ts = [b + 1000, b + 3000, b + 2000, b + 4000, b + 6000, b + 5000]
        for base, chunk in ((0, ts[:3]), (3, ts[3:])):
            batch = kp.record_batch_ts([(None, b"t%d" % (base + i), t) for i, t in enumerate(chunk)])
            err, got = kp.produce_v3(s, corr(), T_LIST, 0, batch)
            expect_eq((err, got), (NONE, base), "Produce (error, base offset)")
        got = kp.list_offsets_v7(s, corr(), T_LIST, [(0, -1)])[0]
        expect_eq(got[:3], (NONE, -1, 6), "latest (-1): (error, timestamp, offset)")
        epoch = got[3]
        expect(epoch >= 0, "latest (-1): leader epoch %d", epoch)
        expect_eq(kp.list_offsets_v7(s, corr(), T_LIST, [(0, -2)])[0], (NONE, -1, 0, epoch),
                  "earliest (-2): (error, timestamp, offset, leader epoch)")
        expect_eq(kp.list_offsets_v7(s, corr(), T_LIST, [(0, -3)])[0], (NONE, b + 6000, 4, epoch),
                  "max timestamp (-3): (error, timestamp, offset, leader epoch)")
        for target, want_off, want_ts in ((b, 0, b + 1000), (b + 1000, 0, b + 1000), (b + 1500, 1, b + 3000),
                                          (b + 2500, 1, b + 3000), (b + 3500, 3, b + 4000),
                                          (b + 5500, 4, b + 6000), (b + 6000, 4, b + 6000)):
            got = kp.list_offsets_v7(s, corr(), T_LIST, [(0, target)])[0]
            expect_eq(got, (NONE, want_ts, want_off, epoch),
                      "timestamp base+%d: (error, timestamp, offset, leader epoch)" % (target - b))
        got = kp.list_offsets_v7(s, corr(), T_LIST, [(0, b + 6001)])[0]
        expect_eq(got, (NONE, -1, -1, -1), "timestamp after every record: (error, timestamp, offset, leader epoch)")

        # OffsetForLeaderEpoch v4
        got = kp.offset_for_leader_epoch_v4(s, corr(), T_LIST, [(0, epoch)])
        expect_eq(got, {0: (NONE, epoch, 6)}, "OffsetForLeaderEpoch for the current epoch %d" % epoch)
        got = kp.offset_for_leader_epoch_v4(s, corr(), T_LIST, [(0, epoch)], current_leader_epoch=epoch)
        expect_eq(got, {0: (NONE, epoch, 6)}, "OffsetForLeaderEpoch with current_leader_epoch %d" % epoch)
        got = kp.offset_for_leader_epoch_v4(s, corr(), T_LIST, [(0, epoch + 1)])
        expect_eq(got, {0: (NONE, -1, -1)}, "OffsetForLeaderEpoch for epoch %d (above the current)" % (epoch + 1))
    finally:
        s.close()


# ---------------------------------------------------------------- 8. DeleteRecords

def case_delete_records():
    s = conn()
    try:
        for base, vals in ((0, [b"d0", b"d1"]), (2, [b"d2", b"d3"]), (4, [b"d4", b"d5"])):
            expect_eq(produce(s, T_DELETE, 0, vals), base, "base offset")
        got = kp.delete_records_v2(s, corr(), T_DELETE, [(0, 3)])
        expect_eq(got, {0: (NONE, 3)}, "DeleteRecords to 3: (error, low watermark)")
        expect_eq(kp.list_offsets_v7(s, corr(), T_DELETE, [(0, -2)])[0][:3], (NONE, -1, 3),
                  "earliest after DeleteRecords: (error, timestamp, offset)")
        expect_eq(kp.list_offsets_v7(s, corr(), T_DELETE, [(0, -1)])[0][:3], (NONE, -1, 6),
                  "latest after DeleteRecords: (error, timestamp, offset)")
        for off in (0, 2):
            _, d = fetch1(s, T_DELETE, 0, off)
            expect_eq(d["error"], OFFSET_OUT_OF_RANGE, "fetch at %d below the log start 3: error" % off)
        _, d = fetch1(s, T_DELETE, 0, 3)
        expect_eq((d["error"], d["hwm"], d["log_start"]), (NONE, 6, 3),
                  "fetch at the new log start: (error, hwm, log_start)")
        got = [o for o, _v in values_of(d["records"])]
        expect_eq(got, [2, 3, 4, 5], "fetch at 3: offsets (the whole batch holding 3)")
        # beyond the high watermark -> OFFSET_OUT_OF_RANGE, per partition
        got = kp.delete_records_v2(s, corr(), T_DELETE, [(0, 7)])
        expect_eq(got[0][0], OFFSET_OUT_OF_RANGE, "DeleteRecords past the high watermark: error")
    finally:
        s.close()


def main():
    checks = Checks()
    if not checks.run("topics created and ready", setup_topics):
        checks.exit()
    case_sessions(checks)
    checks.run("long poll: MinBytes=1 on an empty partition answers after MaxWaitMs (300, 1000 ms)",
               case_long_poll_timeout)
    checks.run("long poll: a produce from another connection completes a waiting fetch early",
               case_long_poll_early)
    checks.run("KIP-74: a batch larger than PartitionMaxBytes and MaxBytes comes back whole", case_kip74)
    checks.run("fetch at the high watermark / past the log end / inside a batch", case_fetch_offsets)
    checks.run("Fetch v12 partition fields: preferred_read_replica -1, aborted_transactions null",
               case_fetch_partition_fields)
    checks.run("Produce acks=-1, 1 (base offsets), 0 (no response at all)", case_acks)
    checks.run("Produce acks=1: the acknowledged record is visible at once (high watermark)", case_acks1_visible)
    checks.run("Produce acks=2 -> INVALID_REQUIRED_ACKS (21), base offset -1, nothing appended", case_acks_invalid)
    checks.run("Produce acks=0 that fails closes the connection", case_acks0_error_closes)
    checks.run("a fetch waiting on a topic that gets deleted is answered", case_fetch_waiting_topic_deleted)
    checks.run("Produce to a partition that does not exist -> UNKNOWN_TOPIC_OR_PARTITION, base offset -1",
               case_produce_unknown_partition)
    checks.run("pipelined Fetch, Metadata, ApiVersions, Fetch, ApiVersions answered in order", case_pipelining)
    checks.run("pipelined Fetch then Produce to the same partition: processed in request order",
               case_pipelined_processing_order)
    checks.run("ListOffsets v7 (-1, -2, -3, timestamps) and OffsetForLeaderEpoch v4", case_list_offsets)
    checks.run("DeleteRecords moves the log start", case_delete_records)
    checks.exit()


if __name__ == "__main__":
    socket.setdefaulttimeout(15)
    main()
