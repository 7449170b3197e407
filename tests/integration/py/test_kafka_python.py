"""test_kafka_python.py BOOTSTRAP - kafka-python (pure Python client) against
the broker under test:

  - KafkaAdminClient: create topics (with configs; the CreateTopics response
    echoes partitions, replication factor and configs), creating an existing
    topic fails with TopicAlreadyExistsError, validate_only creates nothing,
    describe configs (the created values and the defaults), alter configs,
    delete topics (then gone; deleting again is UnknownTopicOrPartitionError);
  - for each codec it supports (none, gzip, snappy, lz4, zstd): records with
    keys, headers and timestamps produced to 2 partitions (acks=all), the
    acknowledged offsets checked, then read back by KafkaConsumer.assign +
    seek (no group, nothing committed) and compared exactly, also from a
    seek into the middle of the log; beginning/end offsets and
    offsets_for_times.
"""
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka import errors as Errors
from kafka.admin import ConfigResource, KafkaAdminClient
from kafka.codec import has_gzip, has_lz4, has_snappy, has_zstd

from itcheck import Checks, expect, expect_eq

BOOTSTRAP = sys.argv[1]
T_MS = 30000  # the bound of every single client call
N = 2000
PARTS = 2


def admin():
    return KafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=T_MS,
                            client_id="brook-it-kafka-python")


def topic_configs(a, topic):
    r = a.describe_configs([ConfigResource("TOPIC", topic)], config_filter="all")
    return r["topic"][topic]


def admin_checks(ck):
    a = admin()
    t = "kp-admin"

    def create():
        r = a.create_topics({t: {"num_partitions": 3, "replication_factor": 1,
                                 "configs": {"retention.ms": "3600000", "cleanup.policy": "compact"}}},
                            timeout_ms=T_MS, wait_for_metadata=True)
        (res,) = r["topics"]
        expect_eq((res["name"], res["error_code"]), (t, 0), "create result")
        expect_eq((res["num_partitions"], res["replication_factor"]), (3, 1),
                  "partitions and replication factor echoed by CreateTopics")
        cfg = res["configs"]
        expect_eq((cfg["retention.ms"]["value"], cfg["retention.ms"]["config_source"]),
                  ("3600000", "DYNAMIC_TOPIC_CONFIG"), "retention.ms echoed by CreateTopics")
        expect_eq(cfg["segment.bytes"]["value"], "1073741824", "segment.bytes echoed by CreateTopics")
        expect(t in a.list_topics(), "topic not listed after create")

    def create_existing():
        try:
            a.create_topics({t: {"num_partitions": 1, "replication_factor": 1}}, timeout_ms=T_MS)
        except Errors.TopicAlreadyExistsError:
            return
        raise AssertionError("creating an existing topic did not fail with TopicAlreadyExistsError")

    def validate_only():
        a.create_topics({"kp-validate": {"num_partitions": 2, "replication_factor": 1}},
                        timeout_ms=T_MS, validate_only=True)
        time.sleep(1)
        expect("kp-validate" not in a.list_topics(), "validate_only created the topic")

    def describe_configs():
        c = topic_configs(a, t)
        for k, v in (("retention.ms", "3600000"), ("cleanup.policy", "compact")):
            expect_eq((c[k]["value"], c[k]["config_source"]), (v, "DYNAMIC_TOPIC_CONFIG"), k)
        for k, v in (("segment.bytes", "1073741824"), ("max.message.bytes", "1048588"),
                     ("min.insync.replicas", "1")):
            expect_eq((c[k]["value"], c[k]["config_source"]), (v, "DEFAULT_CONFIG"), k)

    def alter_configs():
        a.alter_configs([ConfigResource("TOPIC", t, {"retention.ms": "7200000"})])
        # Kafka applies the change from its metadata log shortly after the
        # answer: describe again (bounded) until it shows
        end = time.time() + 10
        c = topic_configs(a, t)
        while c["retention.ms"]["value"] != "7200000" and time.time() < end:
            time.sleep(0.2)
            c = topic_configs(a, t)
        expect_eq(c["retention.ms"]["value"], "7200000", "retention.ms after alter")
        expect_eq(c["cleanup.policy"]["value"], "compact", "cleanup.policy kept")

    def delete():
        a.delete_topics([t], timeout_ms=T_MS)
        end = time.time() + 30
        while t in a.list_topics():
            expect(time.time() < end, "topic still listed 30 s after delete")
            time.sleep(0.3)
        try:
            a.delete_topics([t], timeout_ms=T_MS)
        except Errors.UnknownTopicOrPartitionError:
            return
        raise AssertionError("deleting a deleted topic did not fail with UnknownTopicOrPartitionError")

    ck.run("kafka-python admin: create_topics with configs", create)
    ck.run("kafka-python admin: create an existing topic fails", create_existing)
    ck.run("kafka-python admin: create_topics validate_only creates nothing", validate_only)
    ck.run("kafka-python admin: describe_configs", describe_configs)
    ck.run("kafka-python admin: alter_configs", alter_configs)
    ck.run("kafka-python admin: delete_topics", delete)
    a.close()


def records(codec, base_ts):
    out = []
    for i in range(N):
        key = None if i % 41 == 3 else ("key-%d" % i).encode()
        if i % 50 == 13:
            value = (("%s big %d " % (codec, i)) * 1500).encode()
        elif i % 97 == 9:
            value = b""
        else:
            value = ("%s value %d " % (codec, i)).encode() * (1 + i % 9)
        h = i % 4
        headers = ([] if h == 0 else [("h", b"%d" % i)] if h == 1
                   else [("dup", b"1"), ("dup", b"2"), ("empty", b"")] if h == 2
                   else [("bin", bytes(range(i % 256)))])
        ts = base_ts + i
        out.append((i % PARTS, key, value, headers, ts))
    return out


def codec_check(a, codec):
    topic = "kp-codec-%s" % (codec or "none")
    a.create_topics({topic: {"num_partitions": PARTS, "replication_factor": 1}}, timeout_ms=T_MS,
                    wait_for_metadata=True)
    base_ts = int(time.time() * 1000) - 3600 * 1000
    msgs = records(codec or "none", base_ts)
    p = KafkaProducer(bootstrap_servers=BOOTSTRAP, compression_type=codec, acks="all", linger_ms=5,
                      request_timeout_ms=T_MS, max_block_ms=T_MS, retries=0)
    try:
        futures = [p.send(topic, key=k, value=v, headers=h, partition=part, timestamp_ms=ts)
                   for part, k, v, h, ts in msgs]
        p.flush(timeout=60)
        metas = [f.get(timeout=30) for f in futures]
    finally:
        p.close(timeout=10)
    per = {q: [m for m in msgs if m[0] == q] for q in range(PARTS)}
    for q in range(PARTS):
        offs = [md.offset for md, m in zip(metas, msgs) if m[0] == q]
        expect_eq(offs, list(range(len(per[q]))), "acknowledged offsets of partition %d" % q)

    c = KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="none", request_timeout_ms=T_MS + 5000, fetch_max_wait_ms=100)
    try:
        tps = [TopicPartition(topic, q) for q in range(PARTS)]
        c.assign(tps)
        expect_eq(c.beginning_offsets(tps, timeout_ms=T_MS), {tp: 0 for tp in tps}, "beginning_offsets")
        expect_eq(c.end_offsets(tps, timeout_ms=T_MS), {tp: len(per[tp.partition]) for tp in tps},
                  "end_offsets")
        # offsets_for_times: record j of partition q has timestamp base_ts + PARTS*j + q
        q0 = TopicPartition(topic, 0)
        got = c.offsets_for_times({q0: base_ts + PARTS * 500}, timeout_ms=T_MS)[q0]
        expect_eq((got.offset, got.timestamp), (500, base_ts + PARTS * 500), "offsets_for_times")
        got = c.offsets_for_times({q0: base_ts + PARTS * 500 - 1}, timeout_ms=T_MS)[q0]
        expect_eq(got.offset, 500, "offsets_for_times between two records")
        expect_eq(c.offsets_for_times({q0: base_ts + 10 ** 9}, timeout_ms=T_MS)[q0], None,
                  "offsets_for_times past the last record")

        def read(starts):
            for tp in tps:
                c.seek(tp, starts[tp.partition])
            out = {q: [] for q in range(PARTS)}
            want = {q: len(per[q]) - starts[q] for q in range(PARTS)}
            end = time.time() + 60
            while any(len(out[q]) < want[q] for q in out):
                expect(time.time() < end, "read %s of %s in 60 s", {q: len(v) for q, v in out.items()}, want)
                for tp, recs in c.poll(timeout_ms=1000, max_records=2000).items():
                    out[tp.partition].extend(recs)
            return out

        for starts in ({0: 0, 1: 0}, {0: 777, 1: 13}):
            out = read(starts)
            for q in range(PARTS):
                expect_eq(len(out[q]), len(per[q]) - starts[q], "records read from partition %d" % q)
                for j, r in enumerate(out[q]):
                    off = starts[q] + j
                    _, k, v, h, ts = per[q][off]
                    where = "partition %d offset %d (seek %d)" % (q, off, starts[q])
                    expect_eq(r.offset, off, where + " offset")
                    expect_eq(r.key, k, where + " key")
                    expect_eq(r.value, v, where + " value")
                    expect_eq(list(r.headers), h, where + " headers")
                    expect_eq((r.timestamp, r.timestamp_type), (ts, 0), where + " timestamp")
    finally:
        c.close()


def main():
    ck = Checks()
    admin_checks(ck)
    a = admin()
    have = {None: True, "gzip": has_gzip(), "snappy": has_snappy(), "lz4": has_lz4(), "zstd": has_zstd()}
    for codec, ok in have.items():
        name = "kafka-python produce/assign+seek round trip, compression %s" % (codec or "none")
        if ok:
            ck.run(name, codec_check, a, codec)
        else:
            ck.skip(name, "kafka-python has no %s codec library installed" % codec)
    a.close()
    ck.exit()


if __name__ == "__main__":
    main()
