"""kproto.py - just enough of the Kafka wire protocol, stdlib only, for the
raw-socket tests: framing, request headers, ApiVersions and Metadata.

Every socket operation has a timeout; a reader reports a closed connection
as None instead of raising, so tests can assert "the broker hung up".
"""
import socket
import struct

API_PRODUCE = 0
API_METADATA = 3
API_APIVERSIONS = 18
UNSUPPORTED_VERSION = 35


def i8(v):
    return struct.pack(">b", v)


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def kstring(s):
    """A nullable STRING (int16 length)."""
    if s is None:
        return i16(-1)
    b = s.encode()
    return i16(len(b)) + b


def compact_string(s):
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


def header_v1(api_key, version, corr, client_id="brook-it-raw"):
    return i16(api_key) + i16(version) + i32(corr) + kstring(client_id)


def header_v2(api_key, version, corr, client_id="brook-it-raw"):
    return header_v1(api_key, version, corr, client_id) + uvarint(0)


def frame(payload):
    return i32(len(payload)) + payload


class Reader:
    """Cursor over a response body."""

    def __init__(self, data):
        self.d = data
        self.p = 0

    def take(self, n):
        if self.p + n > len(self.d):
            raise ValueError("short response: need %d bytes at %d of %d" % (n, self.p, len(self.d)))
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def uvarint(self):
        shift = v = 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    def skip_tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())

    def left(self):
        return len(self.d) - self.p


def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def recv_exact(sock, n):
    """n bytes, or None if the peer closed (or reset) first. A timeout raises."""
    buf = bytearray()
    while len(buf) < n:
        try:
            chunk = sock.recv(n - len(buf))
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def read_frame(sock, limit=64 << 20):
    """The next response frame's payload, or None if the connection closed."""
    head = recv_exact(sock, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">i", head)
    if n < 4 or n > limit:
        raise ValueError("bad response size %d" % n)
    return recv_exact(sock, n)


def wait_closed(sock, timeout=10.0):
    """True if the peer closes the connection within timeout without sending
    anything; False if it stays open; raises if it sends bytes."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(4096)
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    if data:
        raise AssertionError("expected the connection to close, got %d bytes: %r" % (len(data), data[:64]))
    return True


def call(sock, payload, corr):
    """Send one request frame; return the response body after the v0 header
    (correlation id checked), or None if the broker closed the connection."""
    sock.sendall(frame(payload))
    resp = read_frame(sock)
    if resp is None:
        return None
    r = Reader(resp)
    got = r.i32()
    if got != corr:
        raise AssertionError("correlation id %d, expected %d" % (got, corr))
    return r


def api_versions_request(version, corr):
    if version >= 3:
        body = compact_string("brook-it-raw") + compact_string("0.1") + uvarint(0)
        return header_v2(API_APIVERSIONS, version, corr) + body
    return header_v1(API_APIVERSIONS, version, corr)


def parse_api_versions_v0(r):
    """error code and {api_key: (min, max)} of a v0 ApiVersions body."""
    err = r.i16()
    n = r.i32()
    if n < 0 or n > 1000:
        raise AssertionError("api_keys count %d" % n)
    keys = {}
    for _ in range(n):
        k, lo, hi = r.i16(), r.i16(), r.i16()
        keys[k] = (lo, hi)
    return err, keys


def api_versions(sock, corr, version=0):
    """ApiVersions v0 on sock: {api_key: (min, max)}; raises unless error 0."""
    r = call(sock, api_versions_request(version, corr), corr)
    if r is None:
        raise AssertionError("connection closed on ApiVersions v%d" % version)
    err, keys = parse_api_versions_v0(r)
    if err != 0:
        raise AssertionError("ApiVersions error %d" % err)
    return keys


def metadata_v1_request(corr, topics=None):
    """Metadata v1; topics None = all topics."""
    if topics is None:
        body = i32(-1)
    else:
        body = i32(len(topics)) + b"".join(kstring(t) for t in topics)
    return header_v1(API_METADATA, 1, corr) + body


def metadata_v1(sock, corr, topics=None):
    """Metadata v1 on sock: (brokers [(id, host, port)], {topic: (err, nparts)})."""
    r = call(sock, metadata_v1_request(corr, topics), corr)
    if r is None:
        raise AssertionError("connection closed on Metadata v1")
    brokers = []
    for _ in range(r.i32()):
        node, host, port = r.i32(), r.string(), r.i32()
        r.string()  # rack
        brokers.append((node, host, port))
    r.i32()  # controller id
    topics_out = {}
    for _ in range(r.i32()):
        err, name = r.i16(), r.string()
        r.i8()  # is_internal
        nparts = r.i32()
        for _ in range(nparts):
            r.i16(); r.i32(); r.i32()  # error, partition, leader
            for _ in range(r.i32()):  # replicas
                r.i32()
            for _ in range(r.i32()):  # isr
                r.i32()
        topics_out[name] = (err, nparts)
    if r.left():
        raise AssertionError("%d trailing bytes in Metadata v1 response" % r.left())
    return brokers, topics_out


def i64(v):
    return struct.pack(">q", v)


def create_topics_v4(sock, corr, topics, timeout_ms=10000, validate_only=False):
    """CreateTopics v4: topics is [(name, partitions, replication_factor,
    {config: value})]; returns {name: (error_code, error_message)}."""
    body = i32(len(topics))
    for name, parts, rf, configs in topics:
        body += kstring(name) + i32(parts) + i16(rf) + i32(0)  # no manual assignment
        body += i32(len(configs))
        for k, v in configs.items():
            body += kstring(k) + kstring(v)
    body += i32(timeout_ms) + i8(1 if validate_only else 0)
    r = call(sock, header_v1(19, 4, corr) + body, corr)
    if r is None:
        raise AssertionError("connection closed on CreateTopics v4")
    r.i32()  # throttle
    out = {}
    for _ in range(r.i32()):
        name, err, msg = r.string(), r.i16(), r.string()
        out[name] = (err, msg)
    return out


def fetch_v4(sock, corr, topic, partition, offset, max_bytes=8 << 20, max_wait_ms=500):
    """Fetch v4 of one partition: (error, high_watermark, record-set bytes)."""
    body = i32(-1) + i32(max_wait_ms) + i32(1) + i32(max_bytes) + i8(0)
    body += i32(1) + kstring(topic) + i32(1) + i32(partition) + i64(offset) + i32(max_bytes)
    r = call(sock, header_v1(1, 4, corr) + body, corr)
    if r is None:
        raise AssertionError("connection closed on Fetch v4")
    r.i32()  # throttle
    if r.i32() != 1:
        raise AssertionError("Fetch v4: expected one topic in the response")
    r.string()
    if r.i32() != 1:
        raise AssertionError("Fetch v4: expected one partition in the response")
    r.i32()
    err = r.i16()
    hwm = struct.unpack(">q", r.take(8))[0]
    r.take(8)  # last stable offset
    n = r.i32()
    for _ in range(max(n, 0)):
        r.take(16)
    size = r.i32()
    records = r.take(size) if size > 0 else b""
    return err, hwm, records


def batches(records):
    """[(base_offset, last_offset_delta, attributes, record_count)] of the
    complete v2 record batches in a record set (a partial tail is dropped)."""
    out = []
    p = 0
    while p + 61 <= len(records):
        base, length = struct.unpack_from(">qi", records, p)
        if p + 12 + length > len(records):
            break
        magic = records[p + 16]
        if magic != 2:
            raise AssertionError("record batch magic %d at offset %d" % (magic, base))
        attrs, delta = struct.unpack_from(">hi", records, p + 21)
        count = struct.unpack_from(">i", records, p + 57)[0]
        out.append((base, delta, attrs, count))
        p += 12 + length
    return out


# ---------------------------------------------------------------- records

def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def zigzag(v):
    return uvarint((v << 1) ^ (v >> 63))


def _bytes_field(b):
    return zigzag(-1) if b is None else zigzag(len(b)) + b


def record_batch(records, base_ts):
    """An uncompressed v2 record batch (no producer id) of
    [(key, value, [(hkey, hvalue)])], all stamped base_ts (CreateTime)."""
    body = b""
    for i, (key, value, headers) in enumerate(records):
        rec = i8(0) + zigzag(0) + zigzag(i) + _bytes_field(key) + _bytes_field(value)
        rec += zigzag(len(headers))
        for hk, hv in headers:
            hk = hk.encode()
            rec += zigzag(len(hk)) + hk + _bytes_field(hv)
        body += zigzag(len(rec)) + rec
    after_crc = (i16(0) + i32(len(records) - 1) + i64(base_ts) + i64(base_ts) + i64(-1)
                 + i16(-1) + i32(-1) + i32(len(records)) + body)
    tail = i32(-1) + i8(2) + struct.pack(">I", crc32c(after_crc)) + after_crc
    return i64(0) + i32(len(tail)) + tail


def produce_v3(sock, corr, topic, partition, batch, acks=-1, timeout_ms=10000):
    """Produce v3 of one batch: (error_code, base_offset)."""
    body = kstring(None) + i16(acks) + i32(timeout_ms)
    body += i32(1) + kstring(topic) + i32(1) + i32(partition) + i32(len(batch)) + batch
    r = call(sock, header_v1(0, 3, corr) + body, corr)
    if r is None:
        raise AssertionError("connection closed on Produce v3")
    if r.i32() != 1 or r.string() != topic or r.i32() != 1:
        raise AssertionError("Produce v3: unexpected response layout")
    if r.i32() != partition:
        raise AssertionError("Produce v3: wrong partition in the response")
    err = r.i16()
    base = struct.unpack(">q", r.take(8))[0]
    return err, base


def decode_records(records):
    """[(offset, key, value, [(hkey, hvalue)])] of the complete uncompressed v2
    batches of a record set; the CRC of each batch is checked."""
    out = []
    p = 0
    while p + 61 <= len(records):
        base, length = struct.unpack_from(">qi", records, p)
        end = p + 12 + length
        if end > len(records):
            break
        crc = struct.unpack_from(">I", records, p + 17)[0]
        if crc32c(records[p + 21:end]) != crc:
            raise AssertionError("CRC mismatch in the batch at offset %d" % base)
        attrs = struct.unpack_from(">h", records, p + 21)[0]
        if attrs & 7:
            raise AssertionError("decode_records: compressed batch at offset %d" % base)
        r = Reader(records[p + 61:end])

        def svarint():
            v = r.uvarint()
            return (v >> 1) ^ -(v & 1)

        def field():
            n = svarint()
            return None if n < 0 else r.take(n)

        for _ in range(struct.unpack_from(">i", records, p + 57)[0]):
            svarint()  # record length
            r.i8()
            svarint()  # timestamp delta
            off = base + svarint()
            key = field()
            value = field()
            headers = []
            for _ in range(svarint()):
                hk = field().decode()
                headers.append((hk, field()))
            out.append((off, key, value, headers))
        p = end
    return out


# ------------------------------------------------ flexible versions (suite_protocol)
# Additions for tests/integration/py/test_protocol.py: Fetch v12 (sessions),
# ListOffsets v7, OffsetForLeaderEpoch v4, DeleteRecords v2, Produce v3 with
# any acks, record batches with per-record timestamps, pipelining helpers.

API_FETCH = 1
API_LIST_OFFSETS = 2
API_OFFSET_FOR_LEADER_EPOCH = 23
API_DELETE_RECORDS = 21


def _reader_i64(self):
    return struct.unpack(">q", self.take(8))[0]


def _reader_compact_string(self):
    n = self.uvarint()
    return None if n == 0 else self.take(n - 1).decode()


def _reader_compact_bytes(self):
    n = self.uvarint()
    return None if n == 0 else self.take(n - 1)


def _reader_compact_len(self):
    """Element count of a compact (nullable) array; -1 for null."""
    return self.uvarint() - 1


Reader.i64 = _reader_i64
Reader.compact_string = _reader_compact_string
Reader.compact_bytes = _reader_compact_bytes
Reader.compact_len = _reader_compact_len


def compact_array(items):
    """A compact array of already encoded elements."""
    return uvarint(len(items) + 1) + b"".join(items)


def send_frames(sock, payloads):
    """Write several request frames back to back in one send (pipelining)."""
    sock.sendall(b"".join(frame(p) for p in payloads))


def read_response(sock, corr, flexible=False):
    """Read the next response frame: its body after the header (v1 header
    tags skipped when flexible). Raises if the correlation id is not corr or
    the connection closed."""
    resp = read_frame(sock)
    if resp is None:
        raise AssertionError("connection closed waiting for the response to %d" % corr)
    r = Reader(resp)
    got = r.i32()
    if got != corr:
        raise AssertionError("correlation id %d, expected %d" % (got, corr))
    if flexible:
        r.skip_tags()
    return r


def fetch_v12_request(corr, topics, max_wait_ms=500, min_bytes=1, max_bytes=50 << 20,
                      session_id=0, session_epoch=-1, forgotten=None, isolation_level=0):
    """Fetch v12 (flexible, topic names). topics: [(topic, [(partition,
    fetch_offset, partition_max_bytes)])]; forgotten: [(topic, [partition])]."""
    tops = []
    for topic, parts in topics:
        ps = [i32(p) + i32(-1) + i64(off) + i32(-1) + i64(-1) + i32(pmax) + uvarint(0)
              for p, off, pmax in parts]
        tops.append(compact_string(topic) + compact_array(ps) + uvarint(0))
    forg = [compact_string(t) + compact_array([i32(p) for p in ps]) + uvarint(0)
            for t, ps in (forgotten or [])]
    body = (i32(-1) + i32(max_wait_ms) + i32(min_bytes) + i32(max_bytes) + i8(isolation_level)
            + i32(session_id) + i32(session_epoch) + compact_array(tops) + compact_array(forg)
            + compact_string("") + uvarint(0))
    return header_v2(API_FETCH, 12, corr) + body


def parse_fetch_v12(r):
    """A Fetch v12 response body: {"error", "session_id", "throttle_ms",
    "order": [(topic, partition)], "parts": {(topic, partition): {"error",
    "hwm", "lso", "log_start", "aborted", "preferred_replica", "records"}}}."""
    out = {"throttle_ms": r.i32(), "error": r.i16(), "session_id": r.i32(), "order": [], "parts": {}}
    for _ in range(r.compact_len()):
        topic = r.compact_string()
        for _ in range(r.compact_len()):
            p = r.i32()
            d = {"error": r.i16(), "hwm": r.i64(), "lso": r.i64(), "log_start": r.i64()}
            n = r.compact_len()
            d["aborted"] = None if n < 0 else [(r.i64(), r.i64(), r.skip_tags())[:2] for _ in range(n)]
            d["preferred_replica"] = r.i32()
            d["records"] = r.compact_bytes() or b""
            r.skip_tags()
            out["order"].append((topic, p))
            out["parts"][(topic, p)] = d
        r.skip_tags()
    r.skip_tags()
    if r.left():
        raise AssertionError("%d trailing bytes in Fetch v12 response" % r.left())
    return out


def fetch_v12(sock, corr, topics, **kw):
    """Send a Fetch v12 (see fetch_v12_request) and parse the answer."""
    sock.sendall(frame(fetch_v12_request(corr, topics, **kw)))
    return parse_fetch_v12(read_response(sock, corr, flexible=True))


def list_offsets_v7(sock, corr, topic, partitions, isolation_level=0):
    """ListOffsets v7 of [(partition, timestamp)]: {partition: (error,
    timestamp, offset, leader_epoch)}."""
    ps = [i32(p) + i32(-1) + i64(ts) + uvarint(0) for p, ts in partitions]
    body = (i32(-1) + i8(isolation_level)
            + compact_array([compact_string(topic) + compact_array(ps) + uvarint(0)]) + uvarint(0))
    sock.sendall(frame(header_v2(API_LIST_OFFSETS, 7, corr) + body))
    r = read_response(sock, corr, flexible=True)
    r.i32()  # throttle
    out = {}
    for _ in range(r.compact_len()):
        r.compact_string()
        for _ in range(r.compact_len()):
            p = r.i32()
            out[p] = (r.i16(), r.i64(), r.i64(), r.i32())
            r.skip_tags()
        r.skip_tags()
    r.skip_tags()
    return out


def offset_for_leader_epoch_v4(sock, corr, topic, partitions, current_leader_epoch=-1):
    """OffsetForLeaderEpoch v4 (consumer, replica id -2) of [(partition,
    leader_epoch)]: {partition: (error, leader_epoch, end_offset)}."""
    ps = [i32(p) + i32(current_leader_epoch) + i32(e) + uvarint(0) for p, e in partitions]
    body = i32(-2) + compact_array([compact_string(topic) + compact_array(ps) + uvarint(0)]) + uvarint(0)
    sock.sendall(frame(header_v2(API_OFFSET_FOR_LEADER_EPOCH, 4, corr) + body))
    r = read_response(sock, corr, flexible=True)
    r.i32()  # throttle
    out = {}
    for _ in range(r.compact_len()):
        r.compact_string()
        for _ in range(r.compact_len()):
            err, p = r.i16(), r.i32()
            out[p] = (err, r.i32(), r.i64())
            r.skip_tags()
        r.skip_tags()
    r.skip_tags()
    return out


def delete_records_v2(sock, corr, topic, partitions, timeout_ms=10000):
    """DeleteRecords v2 of [(partition, offset)]: {partition: (error, low_watermark)}."""
    ps = [i32(p) + i64(off) + uvarint(0) for p, off in partitions]
    body = (compact_array([compact_string(topic) + compact_array(ps) + uvarint(0)])
            + i32(timeout_ms) + uvarint(0))
    sock.sendall(frame(header_v2(API_DELETE_RECORDS, 2, corr) + body))
    r = read_response(sock, corr, flexible=True)
    r.i32()  # throttle
    out = {}
    for _ in range(r.compact_len()):
        r.compact_string()
        for _ in range(r.compact_len()):
            p, low, err = r.i32(), r.i64(), r.i16()
            out[p] = (err, low)
            r.skip_tags()
        r.skip_tags()
    r.skip_tags()
    return out


def produce_v3_request(corr, topic, partition, batch, acks=-1, timeout_ms=10000):
    """A Produce v3 request of one batch (any acks, including 0 and invalid ones)."""
    body = kstring(None) + i16(acks) + i32(timeout_ms)
    body += i32(1) + kstring(topic) + i32(1) + i32(partition) + i32(len(batch)) + batch
    return header_v1(API_PRODUCE, 3, corr) + body


def parse_produce_v3(r):
    """A Produce v3 response body: {(topic, partition): (error, base_offset,
    log_append_time)}."""
    out = {}
    for _ in range(r.i32()):
        topic = r.string()
        for _ in range(r.i32()):
            p, err = r.i32(), r.i16()
            out[(topic, p)] = (err, r.i64(), r.i64())
    r.i32()  # throttle
    if r.left():
        raise AssertionError("%d trailing bytes in Produce v3 response" % r.left())
    return out


def record_batch_ts(records):
    """An uncompressed v2 record batch (no producer id) of [(key, value,
    timestamp_ms)]: first timestamp = the first record's, max timestamp = the
    largest, per-record deltas (may be negative: CreateTime need not be
    monotonic)."""
    base_ts = records[0][2]
    max_ts = max(ts for _, _, ts in records)
    body = b""
    for i, (key, value, ts) in enumerate(records):
        rec = i8(0) + zigzag(ts - base_ts) + zigzag(i) + _bytes_field(key) + _bytes_field(value)
        rec += zigzag(0)
        body += zigzag(len(rec)) + rec
    after_crc = (i16(0) + i32(len(records) - 1) + i64(base_ts) + i64(max_ts) + i64(-1)
                 + i16(-1) + i32(-1) + i32(len(records)) + body)
    tail = i32(-1) + i8(2) + struct.pack(">I", crc32c(after_crc)) + after_crc
    return i64(0) + i32(len(tail)) + tail


API_DELETE_TOPICS = 20


def delete_topics_v1(sock, corr, names, timeout_ms=10000):
    """DeleteTopics v1: {name: error code}."""
    body = i32(len(names)) + b"".join(kstring(n) for n in names) + i32(timeout_ms)
    r = call(sock, header_v1(API_DELETE_TOPICS, 1, corr) + body, corr)
    if r is None:
        raise AssertionError("connection closed on DeleteTopics v1")
    r.i32()  # throttle
    out = {}
    for _ in range(r.i32()):
        name = r.string()
        out[name] = r.i16()
    return out


# ---------------------------------------------------------------- idempotence

API_INIT_PRODUCER_ID = 22


def init_producer_id(sock, corr, version=1, transactional_id=None, timeout_ms=60000,
                     producer_id=-1, producer_epoch=-1):
    """InitProducerId (v0-v1 classic, v2+ flexible; ProducerId/Epoch from
    v3): (error_code, producer_id, producer_epoch)."""
    flexible = version >= 2
    if flexible:
        body = compact_string(transactional_id) + i32(timeout_ms)
        if version >= 3:
            body += i64(producer_id) + i16(producer_epoch)
        body += uvarint(0)
        payload = header_v2(API_INIT_PRODUCER_ID, version, corr) + body
    else:
        payload = header_v1(API_INIT_PRODUCER_ID, version, corr) + kstring(transactional_id) \
            + i32(timeout_ms)
    sock.sendall(frame(payload))
    r = read_response(sock, corr, flexible)
    r.i32()  # throttle
    return r.i16(), r.i64(), r.i16()


def record_batch_idem(values, base_ts, producer_id, producer_epoch, base_sequence,
                      transactional=False):
    """An uncompressed v2 record batch of values (keyless, no headers) with
    a producer id, epoch and base sequence."""
    body = b""
    for i, value in enumerate(values):
        rec = i8(0) + zigzag(0) + zigzag(i) + _bytes_field(None) + _bytes_field(value) + zigzag(0)
        body += zigzag(len(rec)) + rec
    attrs = 0x10 if transactional else 0
    after_crc = (i16(attrs) + i32(len(values) - 1) + i64(base_ts) + i64(base_ts)
                 + i64(producer_id) + i16(producer_epoch) + i32(base_sequence)
                 + i32(len(values)) + body)
    tail = i32(-1) + i8(2) + struct.pack(">I", crc32c(after_crc)) + after_crc
    return i64(0) + i32(len(tail)) + tail


# ---- classic groups (non-flexible versions), for test_groups_raw.py ----

def kbytes(b):
    return i32(-1) if b is None else i32(len(b)) + b


def _reader_bytes(self):
    n = self.i32()
    return None if n < 0 else self.take(n)


Reader.bytes = _reader_bytes


def join_group_v5(sock, corr, group, member_id="", instance_id=None, session_ms=10000,
                  rebalance_ms=10000, protocols=(("range", b"\x00\x00\x00\x00\x00\x00"),)):
    """JoinGroup v5 -> (error, generation, protocol, leader, member_id, [member ids]).
    None if the connection closed."""
    body = (kstring(group) + i32(session_ms) + i32(rebalance_ms) + kstring(member_id) +
            kstring(instance_id) + kstring("consumer") + i32(len(protocols)) +
            b"".join(kstring(n) + kbytes(m) for n, m in protocols))
    r = call(sock, header_v1(11, 5, corr) + body, corr)
    return None if r is None else parse_join_group_v5(r)


def join_group_v5_send(sock, corr, group, member_id, rebalance_ms=10000, session_ms=10000):
    body = (kstring(group) + i32(session_ms) + i32(rebalance_ms) + kstring(member_id) +
            kstring(None) + kstring("consumer") + i32(1) + kstring("range") +
            kbytes(b"\x00\x00\x00\x00\x00\x00"))
    sock.sendall(frame(header_v1(11, 5, corr) + body))


def parse_join_group_v5(r):
    r.i32()  # throttle
    err, gen = r.i16(), r.i32()
    proto, leader, mid = r.string(), r.string(), r.string()
    members = []
    for _ in range(r.i32()):
        members.append(r.string())
        r.string()
        r.bytes()
    return err, gen, proto, leader, mid, members


def sync_group_v3(sock, corr, group, generation, member_id, assignments=()):
    """SyncGroup v3 -> (error, assignment bytes)."""
    body = (kstring(group) + i32(generation) + kstring(member_id) + kstring(None) +
            i32(len(assignments)) + b"".join(kstring(m) + kbytes(a) for m, a in assignments))
    r = call(sock, header_v1(14, 3, corr) + body, corr)
    r.i32()
    return r.i16(), r.bytes()


def offset_commit_v7(sock, corr, group, generation, member_id, topic, offsets):
    """OffsetCommit v7 of {partition: offset} -> {partition: error}."""
    parts = b"".join(i32(p) + i64(o) + i32(-1) + kstring("") for p, o in sorted(offsets.items()))
    body = (kstring(group) + i32(generation) + kstring(member_id) + kstring(None) + i32(1) +
            kstring(topic) + i32(len(offsets)) + parts)
    r = call(sock, header_v1(8, 7, corr) + body, corr)
    r.i32()
    out = {}
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            p = r.i32()
            out[p] = r.i16()
    return out


def describe_group_v1(sock, corr, group):
    """DescribeGroups v1 of one group -> (error, state, [member ids])."""
    r = call(sock, header_v1(15, 1, corr) + i32(1) + kstring(group), corr)
    r.i32()
    r.i32()  # one group
    err, _gid, state = r.i16(), r.string(), r.string()
    r.string()
    r.string()
    members = []
    for _ in range(r.i32()):
        members.append(r.string())
        r.string()
        r.string()
        r.bytes()
        r.bytes()
    return err, state, members


def find_coordinator_v1(sock, corr, group):
    """FindCoordinator v1 for a group -> (error, node id)."""
    r = call(sock, header_v1(10, 1, corr) + kstring(group) + i8(0), corr)
    r.i32()
    err = r.i16()
    r.string()
    return err, r.i32()
