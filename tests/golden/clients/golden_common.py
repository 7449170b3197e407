"""Shared pieces of the Python capture scenarios (tests/golden/clients/py_*.py).

The record set is the same in every client program (see README.md, "Record
set"): N records per codec, about 100 bytes each, with keys, null keys, null
values and headers, so that fixtures from different clients are comparable.
"""

import os
import sys
import time
import traceback

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
FILL = "abcdefghijklmnopqrstuvwxyz0123456789" * 4


def n_records():
    return int(os.environ.get("GOLDEN_RECORDS", "20"))


def records(client, codec, n=None):
    """Yield (key, value, headers) for one codec's batch.

    key:     None for every 4th record (i % 4 == 3), else b"key-NN"
    value:   None for i % 5 == 4 unless the key is None too (i = 4, 9, 14
             of 20; some clients refuse a record with neither), else 100
             ASCII bytes
    headers: on even records: trace-id=tNNNN and an empty-valued "empty"
    """
    for i in range(n if n is not None else n_records()):
        key = None if i % 4 == 3 else b"key-%02d" % i
        value = None
        if i % 5 != 4 or key is None:
            value = ("%s %s record %02d " % (client, codec, i) + FILL)[:100].encode()
        headers = []
        if i % 2 == 0:
            headers = [("trace-id", b"t%04d" % i), ("empty", b"")]
        yield key, value, headers


class Steps:
    """Runs named steps; a failing step is reported and the scenario goes on."""

    def __init__(self, client):
        self.client = client
        self.failed = []
        self.t0 = time.monotonic()

    def log(self, msg):
        print("[%s %6.1fs] %s" % (self.client, time.monotonic() - self.t0, msg),
              file=sys.stderr, flush=True)

    def run(self, name, fn, *args, **kw):
        self.log("step %s" % name)
        try:
            return fn(*args, **kw)
        except Exception as e:  # report and go on: partial captures are useful
            self.failed.append(name)
            self.log("step %s FAILED: %r" % (name, e))
            traceback.print_exc(file=sys.stderr)
            return None

    def finish(self):
        if self.failed:
            self.log("done; failed steps: %s" % ", ".join(self.failed))
            return 1
        self.log("done; all steps passed")
        return 0
