"""test_limits.py PORT MAX_CONNECTIONS IDLE_MS - connection limits, on raw
sockets (stdlib only):

- connections.max.idle.ms: a connection with nothing in flight is closed by
  the broker some time after the limit, and not long before it;
- max.connections: with the limit reached, a further client's TCP connect
  completes (the backlog) but its request waits unanswered; once another
  connection closes, it is answered. The broker never refuses it outright.

The suite starts the broker with the two settings; expectations are what
Apache Kafka 4.0 does (BROOK_IT_TARGET=kafka).
"""
import sys
import time

import kproto as kp
from itcheck import Checks, expect

PORT = int(sys.argv[1])
MAX_CONN = int(sys.argv[2])
IDLE_MS = int(sys.argv[3])


def idle_reaped():
    s = kp.connect(PORT)
    kp.api_versions(s, 1)
    t0 = time.time()
    closed = kp.wait_closed(s, IDLE_MS / 1000.0 + 20.0)
    took = time.time() - t0
    s.close()
    expect(closed, "an idle connection was still open %.1f s after connections.max.idle.ms", took)
    expect(took >= IDLE_MS / 1000.0 * 0.8, "closed after %.2f s, before connections.max.idle.ms (%d ms)",
           took, IDLE_MS)


def busy_not_reaped():
    """A connection used more often than the limit stays open."""
    s = kp.connect(PORT)
    t_end = time.time() + IDLE_MS / 1000.0 * 2.5
    n = 0
    while time.time() < t_end and n < 1000:
        kp.api_versions(s, 100 + n)
        n += 1
        time.sleep(IDLE_MS / 1000.0 / 4)
    s.close()
    expect(n >= 8, "only %d round trips", n)


def limit_blocks_then_admits():
    held = []
    try:
        for i in range(MAX_CONN):
            s = kp.connect(PORT)
            kp.api_versions(s, 10 + i)
            held.append(s)
        extra = kp.connect(PORT)  # the kernel completes it from the backlog
        extra.sendall(kp.frame(kp.api_versions_request(0, 99)))
        extra.settimeout(2.0)
        try:
            data = extra.recv(4)
        except TimeoutError:
            data = None
        except OSError as e:  # socket.timeout on older Pythons
            if "timed out" not in str(e):
                raise
            data = None
        expect(data is None, "a connection over max.connections was served (or closed) at once: %r", data)
        held.pop().close()
        extra.settimeout(15.0)
        t0 = time.time()
        resp = kp.read_frame(extra)
        expect(resp is not None, "the waiting connection was closed instead of admitted")
        r = kp.Reader(resp)
        expect(r.i32() == 99, "wrong correlation id")
        err, keys = kp.parse_api_versions_v0(r)
        expect(err == 0 and 18 in keys, "ApiVersions answer: error %d", err)
        extra.close()
        return "admitted %.1f s after a slot freed" % (time.time() - t0)
    finally:
        for s in held:
            s.close()


def main():
    checks = Checks()
    checks.run("connections.max.idle.ms: an idle connection is closed", idle_reaped)
    checks.run("connections.max.idle.ms: a busy connection stays open", busy_not_reaped)
    checks.run("max.connections: a further client waits, then is served", limit_blocks_then_admits)
    checks.exit()


if __name__ == "__main__":
    main()
