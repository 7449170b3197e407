#!/usr/bin/env python3
"""Capture scenario for confluent-kafka (Python binding of librdkafka; the
wheel bundles its own librdkafka).

usage: py_confluent.py BOOTSTRAP        (e.g. 127.0.0.1:39093, the proxy)

Run by tests/golden/capture.sh with the repository's .venv; see README.md.
"""

import sys
import time

from confluent_kafka import (Consumer, ConsumerGroupTopicPartitions, IsolationLevel,
                             KafkaError, Producer, TopicPartition)
from confluent_kafka.admin import (AdminClient, ConfigResource, NewTopic,
                                   OffsetSpec)

from golden_common import CODECS, Steps, n_records, records

CLIENT = "confluent_kafka"
TOPIC = "golden-" + CLIENT
TXN_TOPIC = TOPIC + "-txn"
GROUP = TOPIC + "-classic"
GROUP848 = TOPIC + "-consumer"
TIMEOUT = 15


def main():
    bootstrap = sys.argv[1]
    st = Steps(CLIENT)
    base = {"bootstrap.servers": bootstrap, "socket.timeout.ms": 15000}
    admin = AdminClient(dict(base, **{"client.id": "golden-confluent_kafka-admin"}))

    def wait_all(futures):
        for f in futures.values():
            f.result(timeout=TIMEOUT)

    st.run("create-topics", lambda: wait_all(admin.create_topics(
        [NewTopic(TOPIC, 1, 1), NewTopic(TXN_TOPIC, 1, 1)], operation_timeout=10)))

    def produce(codec, extra=None, n=None):
        conf = dict(base, **{"client.id": "golden-confluent_kafka-producer",
                             "compression.type": codec, "enable.idempotence": True,
                             "acks": "all", "linger.ms": 50})
        conf.update(extra or {})
        p = Producer(conf)
        errors = []

        def report(err, msg):
            if err is not None:
                errors.append(err)

        for key, value, headers in records(CLIENT, codec if n is None else "acks0", n):
            p.produce(TOPIC, key=key, value=value, headers=headers, on_delivery=report)
        left = p.flush(TIMEOUT)
        if left or errors:
            raise RuntimeError("%d undelivered, errors %r" % (left, errors[:3]))

    for codec in CODECS:
        st.run("produce-" + codec, produce, codec)
    st.run("produce-acks0", produce, "none",
           {"client.id": "golden-confluent_kafka-producer-acks0",
            "enable.idempotence": False, "acks": 0}, 5)
    total = len(CODECS) * n_records() + 5

    def consume(group, client_id, protocol, want, min_seconds=1.5):
        conf = dict(base, **{"client.id": client_id, "group.id": group,
                             "auto.offset.reset": "earliest",
                             "enable.auto.commit": False, "fetch.wait.max.ms": 200})
        if protocol == "classic":
            conf.update({"heartbeat.interval.ms": 300, "session.timeout.ms": 10000})
        else:
            conf["group.protocol"] = "consumer"
        c = Consumer(conf)
        try:
            c.subscribe([TOPIC])
            got, t0 = 0, time.monotonic()
            while time.monotonic() < t0 + 30:
                if got >= want and time.monotonic() > t0 + min_seconds:
                    break
                m = c.poll(0.3)
                if m is None:
                    continue
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        st.log("consumer error %s" % m.error())
                    continue
                got += 1
            if got:
                c.commit(asynchronous=False)
            st.log("%s (%s) read %d of %d records" % (client_id, protocol, got, want))
            if got < want:
                raise RuntimeError("read %d of %d records" % (got, want))
        finally:
            c.close()  # LeaveGroup / heartbeat with epoch -1

    st.run("consume-group", consume, GROUP, "golden-confluent_kafka-consumer",
           "classic", total)
    # Same group again: OffsetFetch returns the committed offsets, nothing
    # left to read.
    st.run("rejoin-group", consume, GROUP, "golden-confluent_kafka-consumer2",
           "classic", 0, 3)
    st.run("consume-group-kip848", consume, GROUP848,
           "golden-confluent_kafka-consumer848", "consumer", total)

    def list_offsets():
        tp = TopicPartition(TOPIC, 0)
        c = Consumer(dict(base, **{"client.id": "golden-confluent_kafka-offsets",
                                   "group.id": "golden-confluent_kafka-unused"}))
        try:
            st.log("watermarks %r" % (c.get_watermark_offsets(tp, timeout=TIMEOUT),))
            st.log("for time 0: %r" % (c.offsets_for_times(
                [TopicPartition(TOPIC, 0, 0)], timeout=TIMEOUT),))
        finally:
            c.close()
        for spec in (OffsetSpec.earliest(), OffsetSpec.latest(), OffsetSpec.max_timestamp()):
            res = admin.list_offsets({tp: spec}, isolation_level=IsolationLevel.READ_COMMITTED,
                                     request_timeout=TIMEOUT)
            st.log("admin list_offsets %r" % ({k: v.result(TIMEOUT).offset for k, v in res.items()},))

    st.run("list-offsets", list_offsets)

    def group_admin():
        f = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(GROUP)])
        for v in f.values():
            st.log("group offsets %r" % (v.result(TIMEOUT),))
        for v in admin.describe_consumer_groups([GROUP, GROUP848]).values():
            st.log("group %r" % (v.result(TIMEOUT).state,))
        st.log("groups %r" % (admin.list_consumer_groups().result(TIMEOUT).valid,))

    st.run("group-admin", group_admin)

    def transactions():
        p = Producer(dict(base, **{"client.id": "golden-confluent_kafka-txn",
                                   "transactional.id": "golden-confluent_kafka-txn",
                                   "compression.type": "zstd", "linger.ms": 20}))
        p.init_transactions(TIMEOUT)
        p.begin_transaction()
        for key, value, headers in records(CLIENT, "txn-commit", 5):
            p.produce(TXN_TOPIC, key=key, value=value, headers=headers)
        c = Consumer(dict(base, **{"group.id": GROUP, "client.id": "golden-confluent_kafka-txn-meta"}))
        try:
            p.send_offsets_to_transaction([TopicPartition(TOPIC, 0, 3)],
                                          c.consumer_group_metadata(), TIMEOUT)
        finally:
            c.close()
        p.commit_transaction(TIMEOUT)
        p.begin_transaction()
        for key, value, headers in records(CLIENT, "txn-abort", 5):
            p.produce(TXN_TOPIC, key=key, value=value, headers=headers)
        p.flush(TIMEOUT)
        p.abort_transaction(TIMEOUT)

    st.run("transactions", transactions)

    def read_committed():
        c = Consumer(dict(base, **{"client.id": "golden-confluent_kafka-read-committed",
                                   "group.id": "golden-confluent_kafka-unused",
                                   "isolation.level": "read_committed",
                                   "enable.auto.commit": False,
                                   "enable.partition.eof": True,
                                   "fetch.wait.max.ms": 200}))
        try:
            c.assign([TopicPartition(TXN_TOPIC, 0, 0)])  # offset 0: beginning
            got, deadline = 0, time.monotonic() + 10
            while time.monotonic() < deadline:
                m = c.poll(0.3)
                if m is None:
                    continue
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        break
                    continue
                got += 1
            st.log("read_committed consumer read %d records" % got)
            if got != 5:
                raise RuntimeError("read_committed read %d records, want 5" % got)
        finally:
            c.close()

    st.run("read-committed", read_committed)

    def describe_configs():
        for res in (ConfigResource(ConfigResource.Type.TOPIC, TOPIC),
                    ConfigResource(ConfigResource.Type.BROKER, "1")):
            for f in admin.describe_configs([res]).values():
                st.log("%s: %d config entries" % (res, len(f.result(TIMEOUT))))

    st.run("describe-configs", describe_configs)
    st.run("describe-cluster", lambda: st.log("cluster %r" % (
        admin.describe_cluster().result(TIMEOUT).cluster_id,)))
    st.run("delete-topics", lambda: wait_all(admin.delete_topics(
        [TOPIC, TXN_TOPIC], operation_timeout=10)))
    return st.finish()


if __name__ == "__main__":
    sys.exit(main())
