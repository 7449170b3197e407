"""test_raw.py PORT - bad input on raw sockets (stdlib only).

Every case speaks the Kafka framing directly on its own connection and
asserts what Apache Kafka 4.0 does with it (observed, see the expectations
in each case): either a precise error response or the connection closed
with nothing sent back. After each case a fresh connection must still get
ApiVersions and Metadata answered. Throughout, a companion thread keeps one
other connection busy (ApiVersions v0, Metadata v1, Produce v3 with acks=-1
and a Fetch v4 of what it wrote) and must never see an error.
"""
import random
import socket
import sys
import threading
import time

import kproto as kp
from itcheck import Checks, expect, expect_eq

PORT = int(sys.argv[1])
MAX_REQUEST = 100 << 20  # socket.request.max.bytes default
COMPANION_TOPIC = "raw-companion"
CLOSE_WAIT_S = 5.0  # how long a case waits for the broker to hang up


def alive(tag):
    """A new connection gets ApiVersions v0 and Metadata v1 answered, and
    Metadata lists this broker."""
    s = kp.connect(PORT)
    try:
        keys = kp.api_versions(s, 1)
        expect(kp.API_METADATA in keys, "%s: ApiVersions lacks Metadata", tag)
        brokers, _ = kp.metadata_v1(s, 2, [])
        expect(any(port == PORT for _, _, port in brokers),
               "%s: Metadata brokers %r do not include port %d", tag, brokers, PORT)
    finally:
        s.close()


def expect_closed(sock, what):
    """The broker closes the connection without sending anything back."""
    closed = kp.wait_closed(sock, CLOSE_WAIT_S)
    expect(closed, "%s: connection still open after %.0f s (Kafka closes it)", what, CLOSE_WAIT_S)


def send_expect_closed(data, what):
    s = kp.connect(PORT)
    try:
        s.sendall(data)
        expect_closed(s, what)
    finally:
        s.close()


class Companion(threading.Thread):
    """Another client on its own connection, working throughout."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.rounds = 0
        self.errors = []
        self.last_ok = 0.0
        self.produced = []  # (offset, value)

    def run(self):
        deadline = time.time() + 240
        corr = 100
        try:
            s = kp.connect(PORT)
        except OSError as e:
            self.errors.append("connect: %s" % e)
            return
        while not self.stop.is_set() and time.time() < deadline and self.rounds < 20000:
            try:
                corr += 3
                keys = kp.api_versions(s, corr)
                expect(18 in keys, "ApiVersions without key 18")
                _, topics = kp.metadata_v1(s, corr + 1, [COMPANION_TOPIC])
                expect_eq(topics.get(COMPANION_TOPIC), (0, 1), "companion topic metadata")
                value = ("round %d" % self.rounds).encode()
                batch = kp.record_batch([(b"companion", value, [("n", str(self.rounds).encode())])],
                                        int(time.time() * 1000))
                err, base = kp.produce_v3(s, corr + 2, COMPANION_TOPIC, 0, batch)
                expect_eq(err, 0, "Produce error")
                expect_eq(base, len(self.produced), "Produce base offset")
                self.produced.append((base, value))
                self.rounds += 1
                self.last_ok = time.time()
            except Exception as e:  # noqa: BLE001 - recorded and asserted later
                self.errors.append("round %d: %s: %s" % (self.rounds, type(e).__name__, e))
                try:
                    s.close()
                    s = kp.connect(PORT)
                except OSError:
                    pass
                time.sleep(0.2)
            time.sleep(0.02)
        s.close()


# ---------------------------------------------------------------- cases

def case_garbage_http():
    # "GET " as a size prefix is 0x47455420 (~1.1 GiB) > socket.request.max.bytes
    send_expect_closed(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "HTTP request")


def case_garbage_in_frame():
    rng = random.Random(20240611)
    for i in range(5):
        junk = b"\xfe\xed" + bytes(rng.randrange(256) for _ in range(62))  # api key -275
        send_expect_closed(kp.frame(junk), "64 random bytes in a frame #%d" % i)


def case_tiny_frames():
    send_expect_closed(kp.i32(0), "size 0")
    send_expect_closed(kp.i32(-5), "negative size")
    send_expect_closed(kp.i32(3) + b"\x00\x12\x00", "frame shorter than a request header")


def case_truncated_then_close():
    for cut in (2, 4, 10, 30):
        s = kp.connect(PORT)
        whole = kp.frame(kp.metadata_v1_request(1, ["a-topic"]))
        s.sendall(whole[:cut])
        s.close()
    # one that stays open, half sent: must not stop the broker serving others
    s = kp.connect(PORT)
    s.sendall(kp.i32(100) + b"\x00\x03\x00\x01")
    alive("with a half-sent frame held open")
    s.close()


def case_oversize():
    for size in (0x7FFFFFFF, 200 << 20, MAX_REQUEST + 1):
        s = kp.connect(PORT)
        try:
            s.sendall(kp.i32(size) + kp.header_v1(kp.API_METADATA, 1, 1))
            expect_closed(s, "size prefix %d (max %d)" % (size, MAX_REQUEST))
        finally:
            s.close()
    # exactly the maximum is allowed: the broker waits for the body
    s = kp.connect(PORT)
    try:
        s.sendall(kp.i32(MAX_REQUEST) + kp.header_v1(kp.API_METADATA, 1, 1))
        expect(not kp.wait_closed(s, 2.0),
               "size prefix of exactly %d (= max) was refused; Kafka waits for the body", MAX_REQUEST)
    finally:
        s.close()


def case_unknown_api_key():
    for key in (9999, 100, 0x7FFF, -2):
        send_expect_closed(kp.frame(kp.header_v1(key, 0, 7)), "api key %d" % key)
    # also after a good request on the same connection
    s = kp.connect(PORT)
    try:
        kp.api_versions(s, 1)
        s.sendall(kp.frame(kp.header_v1(9999, 0, 2)))
        expect_closed(s, "api key 9999 after ApiVersions")
    finally:
        s.close()


def case_unsupported_version():
    send_expect_closed(kp.frame(kp.header_v1(kp.API_METADATA, 99, 7) + kp.i32(-1)), "Metadata v99")
    send_expect_closed(kp.frame(kp.header_v1(kp.API_METADATA, -1, 7) + kp.i32(-1)), "Metadata v-1")
    send_expect_closed(kp.frame(kp.header_v1(1, 99, 7)), "Fetch v99")
    # Produce v0-v2 are advertised (min 0, for librdkafka's feature checks)
    # but refused by Kafka 4.0
    send_expect_closed(kp.frame(kp.header_v1(kp.API_PRODUCE, 0, 7) + kp.i16(1) + kp.i32(1000)
                                + kp.i32(0)), "Produce v0")


def case_api_versions_too_new():
    s = kp.connect(PORT)
    try:
        max18 = kp.api_versions(s, 1)[18][1]
        for corr, version in ((2, 99), (3, max18 + 1), (4, 0x7FFF)):
            r = kp.call(s, kp.header_v2(kp.API_APIVERSIONS, version, corr) + kp.uvarint(0), corr)
            expect(r is not None, "ApiVersions v%d: connection closed (Kafka answers error 35)", version)
            err, keys = kp.parse_api_versions_v0(r)
            expect_eq(err, kp.UNSUPPORTED_VERSION, "ApiVersions v%d error code" % version)
            expect_eq(keys, {18: (0, max18)}, "ApiVersions v%d api_keys (v0 body)" % version)
            expect_eq(r.left(), 0, "ApiVersions v%d bytes after the v0 body" % version)
        # the connection stays usable
        kp.api_versions(s, 5)
        kp.metadata_v1(s, 6, [])
    finally:
        s.close()


def case_api_versions_bad_client_name():
    # KIP-511: client_software_name must match [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
    s = kp.connect(PORT)
    try:
        body = (kp.header_v2(kp.API_APIVERSIONS, 3, 1) + kp.compact_string("bad name!")
                + kp.compact_string("0.1") + kp.uvarint(0))
        r = kp.call(s, body, 1)
        expect(r is not None, "connection closed (Kafka answers INVALID_REQUEST)")
        expect_eq(r.i16(), 42, "ApiVersions v3 with an invalid client_software_name: error code")
        kp.api_versions(s, 2)  # and keeps the connection
    finally:
        s.close()


def case_array_overcount():
    md1 = kp.header_v1(kp.API_METADATA, 1, 7)
    send_expect_closed(kp.frame(md1 + kp.i32(1000000) + kp.kstring("a")),
                       "Metadata v1, topics count 1000000 with 1 present")
    send_expect_closed(kp.frame(md1 + kp.i32(0x7FFFFFFF)), "Metadata v1, topics count 2^31-1, none present")
    send_expect_closed(kp.frame(md1 + kp.i32(1) + kp.i16(30000) + b"abc"),
                       "Metadata v1, topic name length 30000 with 3 bytes present")
    md12 = kp.header_v2(kp.API_METADATA, 12, 7)
    send_expect_closed(kp.frame(md12 + kp.uvarint(1000001) + b"\x00\x00\x00"),
                       "Metadata v12, compact topics count 1000000 with 3 bytes present")
    send_expect_closed(kp.frame(kp.header_v2(kp.API_APIVERSIONS, 3, 7) + kp.uvarint(50)),
                       "ApiVersions v3, client_software_name longer than the frame")
    send_expect_closed(kp.frame(kp.header_v1(19, 4, 7) + kp.i32(5000) + kp.kstring("t")),
                       "CreateTopics v4, topics count 5000 with 1 name present")


def case_pipelined_bad_request():
    """Requests before the bad one are answered in order, then the
    connection closes; nothing after it is answered."""
    s = kp.connect(PORT)
    try:
        s.sendall(kp.frame(kp.api_versions_request(0, 1)) + kp.frame(kp.metadata_v1_request(2, []))
                  + kp.frame(kp.header_v1(kp.API_METADATA, 99, 3) + kp.i32(-1))
                  + kp.frame(kp.api_versions_request(0, 4)))
        for corr in (1, 2):
            resp = kp.read_frame(s)
            expect(resp is not None, "response %d missing before the close", corr)
            expect_eq(kp.Reader(resp).i32(), corr, "correlation id of pipelined response")
        expect_closed(s, "pipelined Metadata v99")
    finally:
        s.close()


CASES = [
    ("garbage bytes (an HTTP request)", case_garbage_http),
    ("garbage inside a frame (unknown api key)", case_garbage_in_frame),
    ("frames of size 0, negative, shorter than a header", case_tiny_frames),
    ("truncated frames then close, and one held open", case_truncated_then_close),
    ("size prefix over socket.request.max.bytes (and exactly at it)", case_oversize),
    ("unknown api keys", case_unknown_api_key),
    ("unsupported versions of Metadata, Fetch, Produce", case_unsupported_version),
    ("ApiVersions too new: error 35 with a v0 body listing key 18", case_api_versions_too_new),
    ("ApiVersions v3 with an invalid client software name: error 42", case_api_versions_bad_client_name),
    ("array/string counts larger than the bytes present", case_array_overcount),
    ("a bad request after pipelined good ones", case_pipelined_bad_request),
]


def setup_topic():
    s = kp.connect(PORT, timeout=15)
    try:
        res = kp.create_topics_v4(s, 1, [(COMPANION_TOPIC, 1, 1, {})])
        expect_eq(res.get(COMPANION_TOPIC, (None,))[0], 0, "CreateTopics error")
        deadline = time.time() + 15
        corr = 2
        while time.time() < deadline:
            corr += 1
            if kp.metadata_v1(s, corr, [COMPANION_TOPIC])[1].get(COMPANION_TOPIC) == (0, 1):
                return
            time.sleep(0.1)
        raise AssertionError("companion topic not in Metadata after 15 s")
    finally:
        s.close()


def check_companion(comp, t_last_case):
    comp.stop.set()
    comp.join(30)
    expect(not comp.is_alive(), "companion did not stop")
    expect(not comp.errors, "companion client saw errors: %s", "; ".join(comp.errors[:5]))
    expect(comp.rounds >= 20, "companion made only %d rounds", comp.rounds)
    expect(comp.last_ok >= t_last_case, "companion's last good round predates the last case")
    # everything it produced is there, in order, exactly
    s = kp.connect(PORT, timeout=15)
    try:
        got = []
        corr = 1
        deadline = time.time() + 20
        while len(got) < len(comp.produced) and time.time() < deadline:
            corr += 1
            err, hwm, records = kp.fetch_v4(s, corr, COMPANION_TOPIC, 0, len(got))
            expect_eq(err, 0, "companion Fetch error")
            expect_eq(hwm, len(comp.produced), "companion high watermark")
            got += [(o, v) for o, _k, v, _h in kp.decode_records(records) if o >= len(got)]
        expect_eq(got, comp.produced, "companion records read back")
    finally:
        s.close()


def main():
    checks = Checks()
    if not checks.run("broker answers ApiVersions and Metadata before the bad input", alive, "start"):
        checks.exit()
    if not checks.run("companion topic created", setup_topic):
        checks.exit()
    comp = Companion()
    comp.start()
    time.sleep(0.5)
    t_last = time.time()
    for name, fn in CASES:
        checks.run(name, fn)
        t_last = time.time()
        checks.run("broker still answers after: " + name, alive, name)
    time.sleep(0.3)
    checks.run("the concurrent client worked throughout (%d rounds)" % comp.rounds,
               check_companion, comp, t_last)
    checks.exit()


if __name__ == "__main__":
    socket.setdefaulttimeout(15)
    main()
