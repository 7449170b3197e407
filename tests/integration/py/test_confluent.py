"""test_confluent.py - confluent-kafka (librdkafka) against the broker under test.

  test_confluent.py BOOTSTRAP admin              AdminClient checks
  test_confluent.py BOOTSTRAP bulk               100,000 records round trip,
                                                 offsets by time, watermarks
  test_confluent.py BOOTSTRAP codecs             a round trip per codec
  test_confluent.py BOOTSTRAP restart-produce WORKDIR
  test_confluent.py BOOTSTRAP restart-verify WORKDIR

restart-produce produces (acks=all, idempotence off) while the suite
restarts the broker; it talks to the suite through files in WORKDIR: it
writes "phase1" after 2,000 acknowledged records, waits for "go1" (the
suite restarted the broker cleanly) and then for 2,000 more acknowledgements,
writes "phase2", waits for "go2" (kill -9 and start again), then 2,000 more,
and writes the acknowledged records to "acked". restart-verify reads the
topic back and checks that every acknowledged record is there.

Consumers use assign() with explicit offsets; group.id is set because
librdkafka requires one, but nothing is ever committed.
"""
import os
import sys
import time
import warnings

from confluent_kafka import (Consumer, KafkaError, KafkaException, Producer, TopicCollection,
                             TopicPartition)
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   ConfigSource, NewPartitions, NewTopic, OffsetSpec, ResourceType)

from itcheck import Checks, expect, expect_eq

# AlterConfigs (non-incremental) is deprecated in the client but still part of
# the protocol, and tested here on purpose.
warnings.filterwarnings("ignore", category=DeprecationWarning)

BOOTSTRAP = sys.argv[1]
T = 30  # seconds: the bound of every single client call
BASE = {"bootstrap.servers": BOOTSTRAP, "socket.timeout.ms": 20000,
        "broker.address.family": "v4"}


def admin():
    return AdminClient(dict(BASE))


def result(futures, what):
    """Wait (bounded) for every future of an admin call; {key: result}."""
    out = {}
    for k, f in futures.items():
        try:
            out[k] = f.result(timeout=T)
        except KafkaException as e:
            raise AssertionError("%s %s: %s" % (what, k, e.args[0])) from None
    return out


def error_of(future):
    """The KafkaError a future failed with (None if it succeeded)."""
    try:
        future.result(timeout=T)
    except KafkaException as e:
        return e.args[0]
    return None


def create(a, topics, **kw):
    result(a.create_topics(topics, operation_timeout=T, request_timeout=T, **kw), "create_topics")
    wait_topics(a, [t.topic for t in topics])


def wait_topics(a, names, deadline_s=20):
    """Until the metadata shows every partition of these topics with a leader."""
    end = time.time() + deadline_s
    while time.time() < end:
        md = a.list_topics(timeout=T)
        if all(n in md.topics and md.topics[n].error is None and md.topics[n].partitions
               and all(p.leader >= 0 for p in md.topics[n].partitions.values()) for n in names):
            return md
        time.sleep(0.2)
    raise AssertionError("topics %s not ready in metadata within %d s" % (names, deadline_s))


def configs(a, topic):
    res = ConfigResource(ResourceType.TOPIC, topic)
    return result(a.describe_configs([res], request_timeout=T), "describe_configs")[res]


def configs_when(a, topic, want, deadline_s=10):
    """describe_configs, repeated (bounded) until the values in want show:
    Kafka applies an altered config from its metadata log shortly after the
    AlterConfigs answer. Returns the last description; callers assert on it."""
    end = time.time() + deadline_s
    while True:
        c = configs(a, topic)
        if all(k in c and c[k].value == v for k, v in want.items()) or time.time() > end:
            return c
        time.sleep(0.2)


def producer(**extra):
    conf = dict(BASE, **{"linger.ms": 5, "acks": "all", "message.timeout.ms": 60000})
    conf.update(extra)
    return Producer(conf)


def consumer():
    return Consumer(dict(BASE, **{"group.id": "brook-it-never-commits", "enable.auto.commit": False,
                                  "enable.auto.offset.store": False, "auto.offset.reset": "error",
                                  "enable.partition.eof": False, "fetch.wait.max.ms": 100}))


def produce_all(p, topic, msgs, deadline_s=120):
    """Produce [(partition, key, value, headers, timestamp)]; returns the
    delivery reports [(partition, offset)] in message order; raises on any
    delivery error."""
    reports = [None] * len(msgs)
    errors = []

    def cb_for(i):
        def cb(err, msg):
            if err is not None:
                errors.append("record %d: %s" % (i, err))
            else:
                reports[i] = (msg.partition(), msg.offset())
        return cb

    end = time.time() + deadline_s
    for i, (part, key, value, headers, ts) in enumerate(msgs):
        kw = {"partition": part, "key": key, "value": value, "on_delivery": cb_for(i)}
        if headers is not None:
            kw["headers"] = headers
        if ts is not None:
            kw["timestamp"] = ts
        while True:
            try:
                p.produce(topic, **kw)
                break
            except BufferError:
                p.poll(0.05)
                expect(time.time() < end, "producer queue full past the deadline")
        if i % 1000 == 0:
            p.poll(0)
    left = p.flush(max(1.0, end - time.time()))
    expect(left == 0, "%d records undelivered at flush timeout", left)
    expect(not errors, "%d delivery errors, first: %s", len(errors), errors[:3])
    return reports


def read_partitions(topic, ends, deadline_s=90):
    """Read partitions from offset 0 up to ends {partition: end offset} via
    assign(); returns {partition: [message]}."""
    c = consumer()
    try:
        c.assign([TopicPartition(topic, p, 0) for p in ends])
        got = {p: [] for p in ends}
        end = time.time() + deadline_s
        while any(len(got[p]) < n for p, n in ends.items()):
            expect(time.time() < end, "read %s of %s within %d s",
                   {p: len(v) for p, v in got.items()}, ends, deadline_s)
            for m in c.consume(num_messages=5000, timeout=1.0):
                if m.error():
                    raise AssertionError("consume error: %s" % m.error())
                got[m.partition()].append(m)
        return got
    finally:
        c.close()


# ---------------------------------------------------------------- admin

def admin_checks(ck):
    a = admin()
    t = "cf-admin"

    def create_with_configs():
        create(a, [NewTopic(t, num_partitions=2, replication_factor=1,
                            config={"cleanup.policy": "compact", "retention.ms": "3600000",
                                    "max.message.bytes": "200000"})])
        md = a.list_topics(t, timeout=T)
        expect_eq(sorted(md.topics[t].partitions), [0, 1], "partitions of %s" % t)

    def create_errors():
        f = a.create_topics([NewTopic(t, 1, 1)], operation_timeout=T, request_timeout=T)[t]
        err = error_of(f)
        expect(err is not None and err.code() == KafkaError.TOPIC_ALREADY_EXISTS,
               "create existing topic: %s (expected TOPIC_ALREADY_EXISTS)", err)
        f = a.create_topics([NewTopic("bad name!", 1, 1)], request_timeout=T)["bad name!"]
        err = error_of(f)
        expect(err is not None and err.code() == KafkaError.TOPIC_EXCEPTION,
               "create 'bad name!': %s (expected INVALID_TOPIC_EXCEPTION)", err)
        f = a.create_topics([NewTopic("cf-bad-config", 1, 1, config={"cleanup.policy": "nonsense"})],
                            request_timeout=T)["cf-bad-config"]
        err = error_of(f)
        expect(err is not None and err.code() == KafkaError.INVALID_CONFIG,
               "create with cleanup.policy=nonsense: %s (expected INVALID_CONFIG)", err)
        expect("cf-bad-config" not in a.list_topics(timeout=T).topics, "cf-bad-config was created")

    def validate_only():
        res = result(a.create_topics([NewTopic("cf-validate", 3, 1)], validate_only=True,
                                     operation_timeout=T, request_timeout=T), "validate_only")
        expect_eq(res["cf-validate"], None, "validate_only result")
        time.sleep(1)
        expect("cf-validate" not in a.list_topics(timeout=T).topics,
               "validate_only created the topic")
        f = a.create_topics([NewTopic(t, 1, 1)], validate_only=True, request_timeout=T)[t]
        err = error_of(f)
        expect(err is not None and err.code() == KafkaError.TOPIC_ALREADY_EXISTS,
               "validate_only of an existing topic: %s", err)

    def describe_topics():
        d = result(a.describe_topics(TopicCollection([t]), request_timeout=T), "describe_topics")[t]
        expect_eq(d.name, t, "name")
        expect(d.topic_id is not None and str(d.topic_id) != "AAAAAAAAAAAAAAAAAAAAAA",
               "topic id is zero/absent: %s", d.topic_id)
        expect_eq(d.is_internal, False, "is_internal")
        expect_eq(sorted(p.id for p in d.partitions), [0, 1], "partition ids")
        bid = a.list_topics(timeout=T).brokers
        expect_eq(len(bid), 1, "broker count")
        (b,) = bid.values()
        for p in d.partitions:
            expect_eq(p.leader.id, b.id, "leader of partition %d" % p.id)
            expect_eq([r.id for r in p.replicas], [b.id], "replicas of partition %d" % p.id)
            expect_eq([r.id for r in p.isr], [b.id], "isr of partition %d" % p.id)
        f = a.describe_topics(TopicCollection(["cf-no-such-topic"]), request_timeout=T)["cf-no-such-topic"]
        err = error_of(f)
        expect(err is not None and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART,
               "describe a missing topic: %s", err)

    def describe_configs_created():
        c = configs(a, t)
        for k, v in (("cleanup.policy", "compact"), ("retention.ms", "3600000"),
                     ("max.message.bytes", "200000")):
            expect(k in c, "%s missing from describe_configs", k)
            expect_eq(c[k].value, v, k)
            expect_eq(c[k].source, ConfigSource.DYNAMIC_TOPIC_CONFIG.value, "%s source" % k)
            expect_eq(c[k].is_default, False, "%s is_default" % k)
        # every topic config is listed, with its default
        for k, v in (("segment.bytes", "1073741824"), ("min.insync.replicas", "1"),
                     ("compression.type", "producer"), ("message.timestamp.type", "CreateTime"),
                     ("retention.bytes", "-1")):
            expect(k in c, "%s missing from describe_configs (all configs must be listed)", k)
            expect_eq(c[k].value, v, "default of %s" % k)
        expect(len(c) >= 25, "only %d topic configs described", len(c))

    def alter_configs_replaces():
        # AlterConfigs (not incremental) replaces the whole set: keys not
        # given go back to their defaults
        res = ConfigResource(ResourceType.TOPIC, t, set_config={"retention.ms": "7200000",
                                                                "segment.ms": "3600000"})
        result(a.alter_configs([res], request_timeout=T), "alter_configs")
        c = configs_when(a, t, {"retention.ms": "7200000", "segment.ms": "3600000",
                                "cleanup.policy": "delete", "max.message.bytes": "1048588"})
        expect_eq(c["retention.ms"].value, "7200000", "retention.ms after alter")
        expect_eq(c["segment.ms"].value, "3600000", "segment.ms after alter")
        expect_eq(c["cleanup.policy"].value, "delete", "cleanup.policy back to default")
        expect_eq(c["max.message.bytes"].value, "1048588", "max.message.bytes back to default")
        res = ConfigResource(ResourceType.TOPIC, t, set_config={"retention.ms": "60000"})
        result(a.alter_configs([res], validate_only=True, request_timeout=T), "alter_configs validate_only")
        expect_eq(configs(a, t)["retention.ms"].value, "7200000", "retention.ms after validate_only")
        res = ConfigResource(ResourceType.TOPIC, t, set_config={"no.such.config": "1"})
        err = error_of(a.alter_configs([res], request_timeout=T)[res])
        expect(err is not None and err.code() == KafkaError.INVALID_CONFIG,
               "alter an unknown config: %s", err)

    def incremental():
        def inc(want, *entries):
            res = ConfigResource(ResourceType.TOPIC, t, incremental_configs=[
                ConfigEntry(k, v, incremental_operation=op) for k, v, op in entries])
            result(a.incremental_alter_configs([res], request_timeout=T), "incremental_alter_configs")
            return configs_when(a, t, want)

        c = inc({"retention.ms": "604800000", "max.message.bytes": "300000"},
                ("retention.ms", None, AlterConfigOpType.DELETE),
                ("max.message.bytes", "300000", AlterConfigOpType.SET))
        expect_eq(c["retention.ms"].value, "604800000", "retention.ms after DELETE")
        expect_eq(c["retention.ms"].is_default, True, "retention.ms is_default after DELETE")
        expect_eq(c["segment.ms"].value, "3600000", "segment.ms kept by incremental alter")
        expect_eq(c["max.message.bytes"].value, "300000", "max.message.bytes after SET")
        c = inc({"cleanup.policy": "delete,compact"}, ("cleanup.policy", "compact", AlterConfigOpType.APPEND))
        expect_eq(c["cleanup.policy"].value, "delete,compact", "cleanup.policy after APPEND")
        c = inc({"cleanup.policy": "compact"}, ("cleanup.policy", "delete", AlterConfigOpType.SUBTRACT))
        expect_eq(c["cleanup.policy"].value, "compact", "cleanup.policy after SUBTRACT")

    def config_applied():
        # max.message.bytes is enforced on produce (MESSAGE_TOO_LARGE)
        res = ConfigResource(ResourceType.TOPIC, t, incremental_configs=[
            ConfigEntry("max.message.bytes", "10000", incremental_operation=AlterConfigOpType.SET)])
        result(a.incremental_alter_configs([res], request_timeout=T), "set max.message.bytes")
        expect_eq(configs_when(a, t, {"max.message.bytes": "10000"})["max.message.bytes"].value,
                  "10000", "max.message.bytes")
        p = producer(**{"linger.ms": 0, "retries": 0})
        outcome = {}

        def cb(err, msg):
            outcome[msg.value()[:5]] = err
        p.produce(t, partition=0, key=b"k", value=b"small" + b"s" * 1000, on_delivery=cb)
        p.flush(T)
        p.produce(t, partition=0, key=b"k", value=b"large" + b"x" * 20000, on_delivery=cb)
        expect_eq(p.flush(T), 0, "undelivered after flush")
        expect_eq(outcome.get(b"small"), None, "1 KB record under max.message.bytes=10000")
        err = outcome.get(b"large")
        expect(err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE,
               "20 KB record under max.message.bytes=10000: %s (expected MSG_SIZE_TOO_LARGE)", err)

    def create_partitions():
        result(a.create_partitions([NewPartitions(t, 4)], operation_timeout=T, request_timeout=T),
               "create_partitions")
        end = time.time() + 20
        while len(a.list_topics(t, timeout=T).topics[t].partitions) != 4:
            expect(time.time() < end, "topic did not grow to 4 partitions")
            time.sleep(0.2)
        d = result(a.describe_topics(TopicCollection([t]), request_timeout=T), "describe_topics")[t]
        expect_eq(sorted(p.id for p in d.partitions), [0, 1, 2, 3], "partitions after create_partitions")
        err = error_of(a.create_partitions([NewPartitions(t, 2)], request_timeout=T)[t])
        expect(err is not None and err.code() == KafkaError.INVALID_PARTITIONS,
               "shrink to 2 partitions: %s (expected INVALID_PARTITIONS)", err)
        # a record to the new partition 3 is stored at offset 0
        p = producer()
        reps = produce_all(p, t, [(3, b"k3", b"v3", None, None)], deadline_s=T)
        expect_eq(reps, [(3, 0)], "delivery to new partition 3")

    def delete_topics():
        create(a, [NewTopic("cf-delete-me", 2, 1)])
        result(a.delete_topics(["cf-delete-me", t], operation_timeout=T, request_timeout=T), "delete_topics")
        end = time.time() + 30
        while True:
            topics = a.list_topics(timeout=T).topics
            if "cf-delete-me" not in topics and t not in topics:
                break
            expect(time.time() < end, "deleted topics still listed after 30 s")
            time.sleep(0.3)
        err = error_of(a.delete_topics(["cf-delete-me"], request_timeout=T)["cf-delete-me"])
        expect(err is not None and err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART,
               "delete a deleted topic: %s", err)
        # and the name can be used again, from scratch
        create(a, [NewTopic("cf-delete-me", 1, 1)])
        reps = produce_all(producer(), "cf-delete-me", [(0, b"k", b"again", None, None)], deadline_s=T)
        expect_eq(reps, [(0, 0)], "first record of the re-created topic")

    ck.run("admin: create_topics with configs", create_with_configs)
    ck.run("admin: create_topics errors (exists, bad name, bad config)", create_errors)
    ck.run("admin: create_topics validate_only creates nothing", validate_only)
    ck.run("admin: describe_topics", describe_topics)
    ck.run("admin: describe_configs returns the created configs and all defaults", describe_configs_created)
    ck.run("admin: alter_configs replaces the set (validate_only changes nothing)", alter_configs_replaces)
    ck.run("admin: incremental_alter_configs SET/DELETE/APPEND/SUBTRACT", incremental)
    ck.run("admin: altered max.message.bytes is enforced on produce", config_applied)
    ck.run("admin: create_partitions", create_partitions)
    ck.run("admin: delete_topics", delete_topics)


# ---------------------------------------------------------------- bulk

N_BULK = 100000
PARTS = 3


def bulk_messages(n, base_ts):
    msgs = []
    for i in range(n):
        key = None if i % 97 == 5 else b"key-%d" % i
        if i % 1009 == 7:
            value = None
        elif i % 1013 == 8:
            value = b""
        else:
            value = (b"v%d:" % i) * (1 + i % 7)
        h = i % 5
        if h == 0:
            headers = None
        elif h == 1:
            headers = [("h", b"1")]
        elif h == 2:
            headers = [("a", b"x"), ("a", b"y"), ("empty", b"")]
        elif h == 3:
            headers = [("nullv", None), ("i", b"%d" % i)]
        else:
            headers = [("bin", bytes((i + j) % 256 for j in range(i % 300)))]
        ts = base_ts + i * 10
        if i % 11 == 4:
            ts -= 7000  # CreateTime need not increase
        msgs.append((i % PARTS, key, value, headers, ts))
    return msgs


def bulk_checks(ck):
    a = admin()
    topic = "cf-bulk"
    ck.run("bulk: create 3-partition topic", create, a, [NewTopic(topic, PARTS, 1)])
    base_ts = int(time.time() * 1000) - 2 * 86400 * 1000
    msgs = bulk_messages(N_BULK, base_ts)
    per = {p: [m for m in msgs if m[0] == p] for p in range(PARTS)}
    ends = {p: len(v) for p, v in per.items()}

    def produce():
        reps = produce_all(producer(**{"linger.ms": 20, "batch.num.messages": 2000,
                                       "compression.type": "lz4"}), topic, msgs, deadline_s=150)
        seen = {p: [] for p in range(PARTS)}
        for (part, off) in reps:
            seen[part].append(off)
        for p in range(PARTS):
            expect_eq(seen[p], list(range(ends[p])), "acknowledged offsets of partition %d" % p)
    if not ck.run("bulk: produce %d records with keys, headers, timestamps (lz4)" % N_BULK, produce):
        return

    def watermarks():
        c = consumer()
        try:
            for p in range(PARTS):
                got = c.get_watermark_offsets(TopicPartition(topic, p), timeout=T, cached=False)
                expect_eq(got, (0, ends[p]), "watermarks of partition %d" % p)
        finally:
            c.close()
    ck.run("bulk: get_watermark_offsets", watermarks)

    def read_back():
        got = read_partitions(topic, ends)
        for p in range(PARTS):
            expect_eq(len(got[p]), ends[p], "records read from partition %d" % p)
            for off, (m, (part, key, value, headers, ts)) in enumerate(zip(got[p], per[p])):
                where = "partition %d offset %d" % (p, off)
                expect_eq(m.offset(), off, where + " offset")
                expect_eq(m.key(), key, where + " key")
                expect_eq(m.value(), value, where + " value")
                expect_eq(m.headers(), headers, where + " headers")
                expect_eq(m.timestamp(), (1, ts), where + " timestamp (CreateTime)")
    ck.run("bulk: read back exactly by assigned partitions", read_back)

    def first_at_or_after(p, target):
        for off, m in enumerate(per[p]):
            if m[4] >= target:
                return off
        return -1

    def targets(p):
        ts = [m[4] for m in per[p]]
        picks = [base_ts - 1000, ts[0], ts[1], ts[len(ts) // 2], ts[len(ts) // 2] + 1,
                 max(ts), max(ts) + 1, ts[-1]]
        picks += [m[4] for j, m in enumerate(per[p][:200]) if (p + 3 * j) % 11 == 4][:3]
        return picks

    def offsets_for_times():
        c = consumer()
        try:
            for p in range(PARTS):
                for target in targets(p):
                    (r,) = c.offsets_for_times([TopicPartition(topic, p, target)], timeout=T)
                    expect(r.error is None, "offsets_for_times error %s", r.error)
                    expect_eq(r.offset, first_at_or_after(p, target),
                              "offsets_for_times partition %d ts %d (base+%d)" % (p, target, target - base_ts))
        finally:
            c.close()
    ck.run("bulk: offsets_for_times (first offset with timestamp >= target)", offsets_for_times)

    def list_offsets():
        specs = {}
        for p in range(PARTS):
            specs[("earliest", p)] = (TopicPartition(topic, p), OffsetSpec.earliest())
            specs[("latest", p)] = (TopicPartition(topic, p), OffsetSpec.latest())
            specs[("max", p)] = (TopicPartition(topic, p), OffsetSpec.max_timestamp())
            for j, target in enumerate(targets(p)):
                specs[(target, p)] = (TopicPartition(topic, p), OffsetSpec.for_timestamp(target))
        for (what, p), (tp, spec) in specs.items():
            r = result(a.list_offsets({tp: spec}, request_timeout=T), "list_offsets")
            (info,) = r.values()
            if what == "earliest":
                expect_eq(info.offset, 0, "earliest of partition %d" % p)
            elif what == "latest":
                expect_eq(info.offset, ends[p], "latest of partition %d" % p)
            elif what == "max":
                ts = [m[4] for m in per[p]]
                expect_eq((info.offset, info.timestamp), (ts.index(max(ts)), max(ts)),
                          "max_timestamp of partition %d" % p)
            else:
                expect_eq(info.offset, first_at_or_after(p, what),
                          "list_offsets for_timestamp partition %d base+%d" % (p, what - base_ts))
    ck.run("bulk: list_offsets earliest/latest/max_timestamp/for_timestamp", list_offsets)


# ---------------------------------------------------------------- codecs

def codec_checks(ck):
    a = admin()
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        topic = "cf-codec-" + codec

        def run(codec=codec, topic=topic):
            create(a, [NewTopic(topic, 2, 1)])
            msgs = [(i % 2, b"k%d" % i, (b"%s payload %d " % (codec.encode(), i)) * (1 + i % 50),
                     [("codec", codec.encode()), ("i", b"%d" % i)], None) for i in range(3000)]
            t0 = int(time.time() * 1000)
            produce_all(producer(**{"compression.type": codec}), topic, msgs, deadline_s=60)
            t1 = int(time.time() * 1000)
            got = read_partitions(topic, {0: 1500, 1: 1500})
            for p in (0, 1):
                want = [m for m in msgs if m[0] == p]
                for off, (m, w) in enumerate(zip(got[p], want)):
                    expect_eq((m.offset(), m.key(), m.value(), m.headers()), (off, w[1], w[2], w[3]),
                              "partition %d offset %d" % (p, off))
                    tstype, ts = m.timestamp()
                    expect(tstype == 1 and t0 - 5000 <= ts <= t1 + 5000,
                           "timestamp %s outside the produce window", m.timestamp())
        ck.run("codec %s: 3000 records round trip" % codec, run)


# ---------------------------------------------------------------- restart

RESTART_TOPIC = "cf-restart"
STEP = 2000


def wait_file(path, deadline):
    while not os.path.exists(path):
        if time.time() > deadline:
            return False
        time.sleep(0.05)
    return True


def restart_produce(ck, work):
    a = admin()
    if not ck.run("restart: create topic", create, a, [NewTopic(RESTART_TOPIC, PARTS, 1)]):
        return
    p = producer(**{"enable.idempotence": False, "acks": "all", "linger.ms": 2,
                    "message.timeout.ms": 150000, "retries": 1000000,
                    "retry.backoff.ms": 100, "reconnect.backoff.ms": 100,
                    "reconnect.backoff.max.ms": 1000, "request.timeout.ms": 10000})
    acked = {}
    failed = []

    def cb(err, msg):
        if err is None:
            acked[msg.value()] = (msg.partition(), msg.offset())
        else:
            failed.append((msg.value(), str(err)))

    deadline = time.time() + 240
    sent = 0
    phases = [("phase1", None), ("phase2", "go1"), ("done", "go2")]
    state = {"phase": 0, "mark": 0, "go_seen": False}

    def run():
        nonlocal sent
        while state["phase"] < len(phases):
            expect(time.time() < deadline, "restart produce did not finish in time (acked %d, phase %s)",
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
            value = b"r-%07d" % sent
            try:
                p.produce(RESTART_TOPIC, key=b"k%d" % (sent % 50), value=value, partition=sent % PARTS,
                          on_delivery=cb)
                sent += 1
            except BufferError:
                pass
            p.poll(0.002)
        left = p.flush(160)
        expect_eq(left, 0, "records still in flight at the end")
        with open(os.path.join(work, "acked"), "w") as f:
            f.write("%d\n" % sent)
            for v, (part, off) in sorted(acked.items()):
                f.write("%s %d %d\n" % (v.decode(), part, off))
        print("restart: sent %d, acknowledged %d, failed %d%s" % (
            sent, len(acked), len(failed), (" (first: %s)" % failed[0][1]) if failed else ""), flush=True)
        expect(len(acked) >= 3 * STEP, "only %d acknowledged", len(acked))
    ck.run("restart: produce with acks=all across a clean restart and a kill -9", run)


def restart_verify(ck, work):
    def verify():
        with open(os.path.join(work, "acked")) as f:
            sent = int(f.readline())
            acked = {}
            for line in f:
                v, part, off = line.split()
                acked[v.encode()] = (int(part), int(off))
        c = consumer()
        try:
            ends = {}
            for p in range(PARTS):
                lo, hi = c.get_watermark_offsets(TopicPartition(RESTART_TOPIC, p), timeout=T, cached=False)
                expect_eq(lo, 0, "log start of partition %d" % p)
                ends[p] = hi
        finally:
            c.close()
        got = read_partitions(RESTART_TOPIC, ends)
        at = {}
        counts = {}
        for p, ms in got.items():
            for m in ms:
                at[(p, m.offset())] = m.value()
                counts[m.value()] = counts.get(m.value(), 0) + 1
                expect(m.value().startswith(b"r-") and int(m.value()[2:]) < sent,
                       "unexpected record %r", m.value())
        lost = [v for v, where in acked.items() if at.get(where) != v]
        expect(not lost, "%d acknowledged records missing or not at their acknowledged offset, e.g. %s",
               len(lost), [(v, acked[v], at.get(acked[v])) for v in sorted(lost)[:5]])
        dups = sum(n - 1 for n in counts.values() if n > 1)
        print("restart: read %d records, %d acknowledged all present, %d unacknowledged present, "
              "%d duplicates" % (sum(ends.values()), len(acked),
                                 len(set(counts) - set(acked)), dups), flush=True)
    ck.run("restart: every acknowledged record is read back at its offset", verify)


def main():
    ck = Checks()
    what = sys.argv[2]
    if what == "admin":
        admin_checks(ck)
    elif what == "bulk":
        bulk_checks(ck)
    elif what == "codecs":
        codec_checks(ck)
    elif what == "restart-produce":
        restart_produce(ck, sys.argv[3])
    elif what == "restart-verify":
        restart_verify(ck, sys.argv[3])
    else:
        sys.exit(__doc__)
    ck.exit()


if __name__ == "__main__":
    main()
