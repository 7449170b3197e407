#!/usr/bin/env python3
"""Capture scenario for kafka-python (pure Python client).

usage: py_kafka_python.py BOOTSTRAP        (e.g. 127.0.0.1:39093, the proxy)

Run by tests/golden/capture.sh with the repository's .venv; see README.md.
"""

import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, OffsetSpec
from kafka.structs import OffsetAndMetadata

from golden_common import CODECS, Steps, n_records, records

CLIENT = "kafka_python"
TOPIC = "golden-" + CLIENT
TXN_TOPIC = TOPIC + "-txn"
GROUP = TOPIC + "-classic"


def main():
    bootstrap = sys.argv[1]
    st = Steps(CLIENT)
    st.log("note: kafka-python has no KIP-848 (group.protocol=consumer) consumer: classic groups only")
    common = dict(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    admin = st.run("admin-connect", KafkaAdminClient,
                   client_id="golden-kafka_python-admin", **common)

    if admin:
        st.run("create-topics", admin.create_topics,
               {TOPIC: {"num_partitions": 1, "replication_factor": 1},
                TXN_TOPIC: {"num_partitions": 1, "replication_factor": 1}},
               wait_for_metadata=True)

    def produce(codec):
        p = KafkaProducer(client_id="golden-kafka_python-producer",
                          compression_type=None if codec == "none" else codec,
                          enable_idempotence=True, acks="all", linger_ms=50,
                          **common)
        try:
            for key, value, headers in records(CLIENT, codec):
                p.send(TOPIC, key=key, value=value, headers=headers)
            p.flush(timeout=20)
        finally:
            p.close(timeout=5)

    for codec in CODECS:
        st.run("produce-" + codec, produce, codec)

    def produce_acks0():
        # acks=0: the broker sends no response; the fixture has none either.
        p = KafkaProducer(client_id="golden-kafka_python-producer-acks0",
                          enable_idempotence=False, acks=0, **common)
        try:
            for key, value, headers in records(CLIENT, "acks0", 5):
                p.send(TOPIC, key=key, value=value, headers=headers)
            p.flush(timeout=20)
        finally:
            p.close(timeout=5)

    st.run("produce-acks0", produce_acks0)
    total = len(CODECS) * n_records() + 5

    def consume_group():
        c = KafkaConsumer(TOPIC, group_id=GROUP,
                          client_id="golden-kafka_python-consumer",
                          auto_offset_reset="earliest", enable_auto_commit=False,
                          fetch_max_wait_ms=200, heartbeat_interval_ms=300,
                          session_timeout_ms=10000, **common)
        try:
            got, deadline = 0, time.monotonic() + 30
            while got < total and time.monotonic() < deadline:
                for recs in c.poll(timeout_ms=500).values():
                    got += len(recs)
            # keep polling a moment so Heartbeat requests go out
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                c.poll(timeout_ms=300)
            c.commit()
            st.log("group consumer read %d of %d records" % (got, total))
            if got < total:
                raise RuntimeError("read %d of %d records" % (got, total))
        finally:
            c.close()  # LeaveGroup

    st.run("consume-group", consume_group)

    def rejoin_group():
        # Same group again: OffsetFetch now returns the committed offsets.
        c = KafkaConsumer(TOPIC, group_id=GROUP,
                          client_id="golden-kafka_python-consumer2",
                          auto_offset_reset="earliest", enable_auto_commit=False,
                          fetch_max_wait_ms=200, **common)
        try:
            deadline = time.monotonic() + 15
            while not c.assignment() and time.monotonic() < deadline:
                c.poll(timeout_ms=300)
            tp = TopicPartition(TOPIC, 0)
            st.log("rejoined; committed offset %r" % (c.committed(tp),))
        finally:
            c.close()

    st.run("rejoin-group", rejoin_group)

    def list_offsets():
        tp = TopicPartition(TOPIC, 0)
        c = KafkaConsumer(client_id="golden-kafka_python-offsets", **common)
        try:
            st.log("beginning %r end %r" % (c.beginning_offsets([tp]), c.end_offsets([tp])))
            st.log("for time 0: %r" % (c.offsets_for_times({tp: 0}),))
        finally:
            c.close()
        if admin:
            st.log("admin: %r" % (admin.list_partition_offsets(
                {tp: OffsetSpec.EARLIEST}),))
            st.log("admin: %r" % (admin.list_partition_offsets(
                {tp: OffsetSpec.MAX_TIMESTAMP}),))

    st.run("list-offsets", list_offsets)

    def transactions():
        p = KafkaProducer(client_id="golden-kafka_python-txn",
                          transactional_id="golden-kafka_python-txn",
                          compression_type="gzip", linger_ms=20, **common)
        try:
            p.init_transactions()
            p.begin_transaction()
            for key, value, headers in records(CLIENT, "txn-commit", 5):
                p.send(TXN_TOPIC, key=key, value=value, headers=headers)
            p.send_offsets_to_transaction(
                {TopicPartition(TOPIC, 0): OffsetAndMetadata(3, "golden", -1)}, GROUP)
            p.commit_transaction()
            p.begin_transaction()
            for key, value, headers in records(CLIENT, "txn-abort", 5):
                p.send(TXN_TOPIC, key=key, value=value, headers=headers)
            p.flush(timeout=20)
            p.abort_transaction()
        finally:
            p.close(timeout=5)

    st.run("transactions", transactions)

    def read_committed():
        # Fetch with isolation_level=1: the response lists the aborted
        # transaction and carries the control batches.
        c = KafkaConsumer(client_id="golden-kafka_python-read-committed",
                          isolation_level="read_committed",
                          auto_offset_reset="earliest", fetch_max_wait_ms=200,
                          **common)
        try:
            tp = TopicPartition(TXN_TOPIC, 0)
            c.assign([tp])
            c.seek_to_beginning(tp)
            got, deadline = 0, time.monotonic() + 10
            while got < 5 and time.monotonic() < deadline:
                for recs in c.poll(timeout_ms=500).values():
                    got += len(recs)
            st.log("read_committed consumer read %d records" % got)
        finally:
            c.close()

    st.run("read-committed", read_committed)

    if admin:
        st.run("describe-configs", admin.describe_configs,
               [ConfigResource(ConfigResourceType.TOPIC, TOPIC),
                ConfigResource(ConfigResourceType.BROKER, "1")])
        st.run("delete-topics", admin.delete_topics, [TOPIC, TXN_TOPIC])
        admin.close()
    return st.finish()


if __name__ == "__main__":
    sys.exit(main())
