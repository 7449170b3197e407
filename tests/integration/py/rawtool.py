"""rawtool.py - small stdlib-only helpers for the shell suites:

  rawtool.py create-topic PORT NAME PARTITIONS   create a topic (CreateTopics v4)
  rawtool.py batch-codecs PORT TOPIC PARTITION   print the compression codec of
        every record batch of a partition, one name a line, in offset order
        (reads the partition from offset 0 up to its high watermark with Fetch v4)
"""
import sys
import time

import kproto

CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def create_topic(port, name, parts):
    s = kproto.connect(port, timeout=15)
    res = kproto.create_topics_v4(s, 1, [(name, parts, 1, {})])
    err, msg = res.get(name, (None, "no result for the topic"))
    if err != 0:
        sys.exit("CreateTopics %s: error %s %s" % (name, err, msg))
    # Wait (bounded) until Metadata shows every partition.
    deadline = time.time() + 15
    corr = 2
    while time.time() < deadline:
        _, topics = kproto.metadata_v1(s, corr, [name])
        corr += 1
        if topics.get(name) == (0, parts):
            return
        time.sleep(0.1)
    sys.exit("topic %s did not show %d partitions in Metadata within 15 s" % (name, parts))


def batch_codecs(port, topic, part):
    s = kproto.connect(port, timeout=15)
    offset, corr, rounds = 0, 1, 0
    deadline = time.time() + 20
    while time.time() < deadline and rounds < 10000:
        rounds += 1
        err, hwm, records = kproto.fetch_v4(s, corr, topic, part, offset)
        corr += 1
        if err != 0:
            sys.exit("Fetch %s[%d] at %d: error %d" % (topic, part, offset, err))
        if offset >= hwm:
            return
        got = kproto.batches(records)
        if not got:
            sys.exit("Fetch %s[%d] at %d: no complete batch below hwm %d" % (topic, part, offset, hwm))
        for base, delta, attrs, _count in got:
            if base + delta < offset:
                continue
            print(CODECS.get(attrs & 7, "codec-%d" % (attrs & 7)))
            offset = base + delta + 1
    sys.exit("batch-codecs: did not reach the high watermark within bounds")


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "create-topic":
        create_topic(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 5 and sys.argv[1] == "batch-codecs":
        batch_codecs(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
