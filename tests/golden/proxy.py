#!/usr/bin/env python3
"""Recording TCP proxy for the Kafka protocol, and the fixture writer.

Python 3 standard library only.

  proxy.py serve --listen PORT --broker PORT --raw FILE [--max-seconds N]
      Listens on 127.0.0.1:PORT and forwards every connection, unchanged, to
      the broker at 127.0.0.1:PORT. Both directions are cut into Kafka frames
      (int32 big-endian size prefix) and each complete frame is appended to
      FILE as one JSON line: {"t", "conn", "dir": "req"|"resp", "data": b64}
      where data is the frame without its size prefix. Stops on SIGTERM or
      SIGINT, or after --max-seconds (default 3600).

  proxy.py extract --raw FILE [FILE...] --out DIR [--keep N] [--keep-codec N]
                   [--keep-roles N] [--client NAME]
      Pairs each request with its response (same connection, same
      correlation id; a Produce with acks=0 has none) and keeps, per
      (api_key, api_version), one exchange per client id (at most
      --keep-roles, default 6) and for Produce and Fetch one per client id
      and codec set / batch flags / acks=0 (at most --keep-codec, default
      12), so that every compression codec and transactional or control
      batch seen is represented; then tops each up to --keep (default 2)
      with the earliest others. A request that got no response is kept only
      if no exchange of the same api key and version got one. It writes
      DIR/NNNN-<Api>-v<ver>.req/.resp (each a frame without its 4-byte size
      prefix) and DIR/INDEX.tsv, after removing DIR's old *.req, *.resp and
      INDEX.tsv.

      INDEX.tsv columns (tab-separated, "-" for none):
        seq client client_id api_key api_name api_version correlation_id
        codecs batch_flags acks response req_bytes resp_bytes req_file
        resp_file
      codecs: compression codecs of the record batches (Produce request,
      Fetch response); batch_flags: idem (has a producer id), txn
      (transactional), control (transaction markers), aborted (the Fetch
      response lists aborted transactions); acks: Produce only; response:
      yes, none-acks0 (acks=0, none expected) or no (connection closed
      before a response).
"""

import argparse
import asyncio
import base64
import itertools
import json
import os
import signal
import struct
import sys
import time

HOST = "127.0.0.1"
MAX_FRAME = 256 * 1024 * 1024

# API key -> name, as in Kafka's message specs (keys 0-87).
API_NAMES = [
    "Produce", "Fetch", "ListOffsets", "Metadata", "LeaderAndIsr",
    "StopReplica", "UpdateMetadata", "ControlledShutdown", "OffsetCommit",
    "OffsetFetch", "FindCoordinator", "JoinGroup", "Heartbeat", "LeaveGroup",
    "SyncGroup", "DescribeGroups", "ListGroups", "SaslHandshake",
    "ApiVersions", "CreateTopics", "DeleteTopics", "DeleteRecords",
    "InitProducerId", "OffsetForLeaderEpoch", "AddPartitionsToTxn",
    "AddOffsetsToTxn", "EndTxn", "WriteTxnMarkers", "TxnOffsetCommit",
    "DescribeAcls", "CreateAcls", "DeleteAcls", "DescribeConfigs",
    "AlterConfigs", "AlterReplicaLogDirs", "DescribeLogDirs",
    "SaslAuthenticate", "CreatePartitions", "CreateDelegationToken",
    "RenewDelegationToken", "ExpireDelegationToken",
    "DescribeDelegationToken", "DeleteGroups", "ElectLeaders",
    "IncrementalAlterConfigs", "AlterPartitionReassignments",
    "ListPartitionReassignments", "OffsetDelete", "DescribeClientQuotas",
    "AlterClientQuotas", "DescribeUserScramCredentials",
    "AlterUserScramCredentials", "Vote", "BeginQuorumEpoch",
    "EndQuorumEpoch", "DescribeQuorum", "AlterPartition", "UpdateFeatures",
    "Envelope", "FetchSnapshot", "DescribeCluster", "DescribeProducers",
    "BrokerRegistration", "BrokerHeartbeat", "UnregisterBroker",
    "DescribeTransactions", "ListTransactions", "AllocateProducerIds",
    "ConsumerGroupHeartbeat", "ConsumerGroupDescribe",
    "ControllerRegistration", "GetTelemetrySubscriptions", "PushTelemetry",
    "AssignReplicasToDirs", "ListClientMetricsResources",
    "DescribeTopicPartitions", "ShareGroupHeartbeat", "ShareGroupDescribe",
    "ShareFetch", "ShareAcknowledge", "AddRaftVoter", "RemoveRaftVoter",
    "UpdateRaftVoter", "InitializeShareGroupState", "ReadShareGroupState",
    "WriteShareGroupState", "DeleteShareGroupState",
    "ReadShareGroupStateSummary",
]

PRODUCE, FETCH = 0, 1
CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def api_name(key):
    return API_NAMES[key] if 0 <= key < len(API_NAMES) else "Unknown%d" % key


# ---------------------------------------------------------------- serve


class Recorder:
    def __init__(self, path):
        self.f = open(path, "a", encoding="ascii")

    def frame(self, conn, direction, data):
        line = {"t": round(time.time(), 6), "conn": conn, "dir": direction,
                "data": base64.b64encode(data).decode("ascii")}
        self.f.write(json.dumps(line) + "\n")
        self.f.flush()

    def close(self):
        self.f.close()


async def pump(src, dst, conn, direction, rec):
    """Copy src to dst as bytes arrive; record every complete frame."""
    buf = bytearray()
    recording = True
    try:
        while True:
            chunk = await src.read(65536)
            if not chunk:
                break
            dst.write(chunk)
            await dst.drain()
            if not recording:
                continue
            buf += chunk
            while len(buf) >= 4:
                (size,) = struct.unpack_from(">i", buf, 0)
                if size < 0 or size > MAX_FRAME:
                    print("proxy: conn %d %s: bad frame size %d, no longer "
                          "recording this connection" % (conn, direction, size),
                          file=sys.stderr)
                    recording = False
                    break
                if len(buf) < 4 + size:
                    break
                rec.frame(conn, direction, bytes(buf[4:4 + size]))
                del buf[:4 + size]
    except (ConnectionError, OSError, asyncio.CancelledError):
        pass
    finally:
        try:
            dst.close()
        except Exception:
            pass


async def serve(args):
    rec = Recorder(args.raw)
    counter = itertools.count(1)
    tasks = set()

    async def handle(client_r, client_w):
        conn = next(counter)
        try:
            broker_r, broker_w = await asyncio.wait_for(
                asyncio.open_connection(HOST, args.broker), timeout=10)
        except (OSError, asyncio.TimeoutError) as e:
            print("proxy: conn %d: cannot reach broker: %s" % (conn, e),
                  file=sys.stderr)
            client_w.close()
            return
        both = asyncio.gather(
            pump(client_r, broker_w, conn, "req", rec),
            pump(broker_r, client_w, conn, "resp", rec))
        tasks.add(both)
        try:
            await both
        except asyncio.CancelledError:
            pass
        finally:
            tasks.discard(both)

    server = await asyncio.start_server(handle, HOST, args.listen)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(
            sig, lambda: stop.done() or stop.set_result(None))
    print("proxy: 127.0.0.1:%d -> 127.0.0.1:%d, recording to %s"
          % (args.listen, args.broker, args.raw), file=sys.stderr, flush=True)
    try:
        await asyncio.wait_for(stop, timeout=args.max_seconds)
    except asyncio.TimeoutError:
        print("proxy: --max-seconds reached, stopping", file=sys.stderr)
    server.close()
    for t in list(tasks):
        t.cancel()
    await asyncio.sleep(0.1)
    rec.close()


# ---------------------------------------------------------------- parsing


class Reader:
    """Bounds-checked big-endian reader over one frame."""

    def __init__(self, data, pos=0):
        self.d, self.p = data, pos

    def take(self, n):
        if n < 0 or self.p + n > len(self.d):
            raise ValueError("short frame")
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def uvarint(self):
        v = shift = 0
        for _ in range(5):
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7
        raise ValueError("varint too long")

    def string(self, flexible):
        n = self.uvarint() - 1 if flexible else self.i16()
        return None if n < 0 else self.take(n).decode("utf-8", "replace")

    def bytes_(self, flexible):
        n = self.uvarint() - 1 if flexible else self.i32()
        return None if n < 0 else self.take(n)

    def array_len(self, flexible):
        return self.uvarint() - 1 if flexible else self.i32()

    def tagged(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def request_header(data):
    """(api_key, api_version, correlation_id, client_id, body offset).

    The body offset is None when the header's tagged fields could not be
    known (unknown API)."""
    r = Reader(data)
    key, ver, corr = r.i16(), r.i16(), r.i32()
    client_id = r.string(False)
    body = None
    flex = flexible(key, ver)
    if flex is not None:
        if flex:
            r.tagged()
        body = r.p
    return key, ver, corr, client_id, body


# First flexible version per API key (from the 4.0 message specs); None =
# never flexible. Used to find where a request body starts.
FIRST_FLEXIBLE = {
    0: 9, 1: 12, 2: 6, 3: 9, 4: 4, 5: 2, 6: 6, 7: 3, 8: 8, 9: 6, 10: 3,
    11: 6, 12: 4, 13: 4, 14: 4, 15: 5, 16: 3, 17: None, 18: 3, 19: 5, 20: 4,
    21: 2, 22: 2, 23: 4, 24: 3, 25: 3, 26: 3, 27: 1, 28: 3, 29: 2, 30: 2,
    31: 2, 32: 4, 33: 2, 34: 2, 35: 2, 36: 2, 37: 2, 38: 2, 39: 2, 40: 2,
    41: 2, 42: 2, 43: 2, 44: 1, 45: 0, 46: 0, 47: None, 48: 1, 49: 1,
    53: 1, 54: 1,
}


def flexible(key, ver):
    if key in FIRST_FLEXIBLE:
        first = FIRST_FLEXIBLE[key]
        return first is not None and ver >= first
    if 50 <= key <= 87:
        return True
    return None


def batch_info(records):
    """(codecs, flags) of the record batches in a records blob.

    codecs: compression codec names of the magic-2 batches ("magicN" for
    older message sets). flags: "txn" (transactional batch), "control"
    (transaction marker), "idem" (batch has a producer id). A truncated
    last batch (Fetch may cut one) is ignored."""
    codecs, flags = set(), set()
    p = 0
    for _ in range(100000):
        if p + 17 > len(records):
            break
        (length,) = struct.unpack_from(">i", records, p + 8)
        magic = records[p + 16]
        if magic == 2:
            if p + 61 > len(records):
                break
            (attrs,) = struct.unpack_from(">h", records, p + 21)
            (producer_id,) = struct.unpack_from(">q", records, p + 43)
            if attrs & 0x20:
                flags.add("control")
            else:
                codecs.add(CODECS.get(attrs & 7, "codec%d" % (attrs & 7)))
            if attrs & 0x10:
                flags.add("txn")
            if producer_id >= 0:
                flags.add("idem")
        else:
            codecs.add("magic%d" % magic)
        if length <= 0:
            break
        p += 12 + length
    return codecs, flags


def produce_info(req):
    """(acks, codecs, flags) of a Produce request."""
    key, ver, _, _, body = request_header(req)
    flex = ver >= 9
    r = Reader(req, body)
    if ver >= 3:
        r.string(flex)
    acks = r.i16()
    r.i32()
    codecs, flags = set(), set()
    for _ in range(r.array_len(flex)):
        if ver >= 13:
            r.take(16)
        else:
            r.string(flex)
        for _ in range(r.array_len(flex)):
            r.i32()
            recs = r.bytes_(flex)
            if recs:
                c, f = batch_info(recs)
                codecs |= c
                flags |= f
            if flex:
                r.tagged()
        if flex:
            r.tagged()
    return acks, codecs, flags


def fetch_resp_info(ver, resp):
    """(codecs, flags) of the records in a Fetch response (flags also gets
    "aborted" when a partition lists aborted transactions)."""
    flex = ver >= 12
    r = Reader(resp)
    r.i32()  # correlation id
    if flex:
        r.tagged()
    if ver >= 1:
        r.i32()  # throttle_time_ms
    if ver >= 7:
        r.i16()  # error_code
        r.i32()  # session_id
    codecs, flags = set(), set()
    for _ in range(r.array_len(flex)):
        if ver >= 13:
            r.take(16)
        else:
            r.string(flex)
        for _ in range(r.array_len(flex)):
            r.i32(), r.i16(), r.i64()  # partition, error, high watermark
            if ver >= 4:
                r.i64()  # last_stable_offset
            if ver >= 5:
                r.i64()  # log_start_offset
            if ver >= 4:
                n = r.array_len(flex)
                if n > 0:
                    flags.add("aborted")
                for _ in range(max(n, 0)):
                    r.i64(), r.i64()
                    if flex:
                        r.tagged()
            if ver >= 11:
                r.i32()  # preferred_read_replica
            recs = r.bytes_(flex)
            if recs:
                c, f = batch_info(recs)
                codecs |= c
                flags |= f
            if flex:
                r.tagged()
        if flex:
            r.tagged()
    return codecs, flags


# ---------------------------------------------------------------- extract


def load_exchanges(paths):
    """Read raw logs; return exchanges in request order.

    Connections are numbered per raw file, so several files can be merged
    without mixing up their correlation ids."""
    frames = []
    for i, path in enumerate(paths):
        with open(path, encoding="ascii") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    # a proxy killed mid-write leaves a torn last line
                    print("extract: %s:%d: bad JSON line, skipped" % (path, n),
                          file=sys.stderr)
                    continue
                rec["conn"] = (i, rec["conn"])
                frames.append(rec)
    exchanges = []
    pending = {}  # (conn, corr) -> exchange
    for rec in frames:
        data = base64.b64decode(rec["data"])
        if rec["dir"] == "req":
            try:
                key, ver, corr, client_id, _ = request_header(data)
            except ValueError:
                print("extract: unparsable request header, skipped",
                      file=sys.stderr)
                continue
            ex = {"key": key, "ver": ver, "corr": corr, "client_id": client_id,
                  "req": data, "resp": None, "conn": rec["conn"], "acks": None,
                  "codecs": set(), "flags": set()}
            if key == PRODUCE:
                try:
                    ex["acks"], ex["codecs"], ex["flags"] = produce_info(data)
                except ValueError:
                    ex["codecs"] = {"unparsed"}
            exchanges.append(ex)
            if ex["acks"] != 0:
                pending[(rec["conn"], corr)] = ex
        else:
            if len(data) < 4:
                continue
            (corr,) = struct.unpack_from(">i", data, 0)
            ex = pending.pop((rec["conn"], corr), None)
            if ex is None:
                print("extract: response with unknown correlation id %d on "
                      "conn %s" % (corr, rec["conn"]), file=sys.stderr)
                continue
            ex["resp"] = data
            if ex["key"] == FETCH:
                try:
                    ex["codecs"], ex["flags"] = fetch_resp_info(ex["ver"], data)
                except ValueError:
                    ex["codecs"] = {"unparsed"}
    for ex in exchanges:
        if ex["resp"] is None and ex["acks"] != 0:
            ex["unanswered"] = True
    return exchanges


def select(exchanges, keep, keep_codec, keep_roles):
    """Pick which exchanges to keep (sorted indexes).

    Per (api_key, api_version), in capture order: first one exchange per
    distinct signature, at most `keep_codec` of them for Produce and Fetch
    and `keep_roles` for the other APIs; then the earliest others until the
    group has `keep`. The signature is the client id (scenarios give each
    role its own: admin, producer, consumer, transactional producer...), and
    for Produce and Fetch also the codecs, the batch flags and acks=0.
    A request that never got a response (the broker closed the connection,
    or the client went away first) is kept only when no exchange of its
    (api_key, api_version) was answered: its bytes are still a real
    request."""
    groups, unanswered = {}, {}
    for i, ex in enumerate(exchanges):
        target = unanswered if ex.get("unanswered") else groups
        target.setdefault((ex["key"], ex["ver"]), []).append(i)
    chosen = set()
    for kv, idxs in unanswered.items():
        if kv not in groups:
            chosen.update(idxs[:1])
    for (key, _), idxs in groups.items():
        records = key in (PRODUCE, FETCH)
        limit = keep_codec if records else keep_roles
        seen = set()
        for i in idxs:
            ex = exchanges[i]
            sig = (ex["client_id"],)
            if records:
                sig += (frozenset(ex["codecs"]), frozenset(ex["flags"]),
                        ex["resp"] is None)
            if sig not in seen and len(seen) < limit:
                seen.add(sig)
                chosen.add(i)
        for i in idxs:
            if sum(1 for j in idxs if j in chosen) >= max(keep, len(seen)):
                break
            chosen.add(i)
    return sorted(chosen)


INDEX_COLUMNS = ["seq", "client", "client_id", "api_key", "api_name",
                 "api_version", "correlation_id", "codecs", "batch_flags",
                 "acks", "response", "req_bytes", "resp_bytes", "req_file",
                 "resp_file"]


def tsv_field(v):
    v = "-" if v is None or v == "" else str(v)
    return v.replace("\t", " ").replace("\n", " ")


def extract(args):
    exchanges = load_exchanges(args.raw)
    keep = select(exchanges, args.keep, args.keep_codec, args.keep_roles)
    client = args.client or os.path.basename(os.path.normpath(args.out))
    os.makedirs(args.out, exist_ok=True)
    for name in os.listdir(args.out):
        if name.endswith((".req", ".resp")) or name == "INDEX.tsv":
            os.remove(os.path.join(args.out, name))
    rows = ["\t".join(INDEX_COLUMNS)]
    for seq, i in enumerate(keep, 1):
        ex = exchanges[i]
        stem = "%04d-%s-v%d" % (seq, api_name(ex["key"]), ex["ver"])
        with open(os.path.join(args.out, stem + ".req"), "wb") as f:
            f.write(ex["req"])
        resp_file = None
        if ex["resp"] is not None:
            resp_file = stem + ".resp"
            with open(os.path.join(args.out, resp_file), "wb") as f:
                f.write(ex["resp"])
            response = "yes"
        elif ex["acks"] == 0:
            response = "none-acks0"
        else:
            response = "no"
        row = [
            "%04d" % seq, client, ex["client_id"], ex["key"],
            api_name(ex["key"]), ex["ver"], ex["corr"],
            ",".join(sorted(ex["codecs"])), ",".join(sorted(ex["flags"])),
            ex["acks"], response, len(ex["req"]),
            None if ex["resp"] is None else len(ex["resp"]),
            stem + ".req", resp_file,
        ]
        rows.append("\t".join(tsv_field(v) for v in row))
    with open(os.path.join(args.out, "INDEX.tsv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    unanswered = sum(1 for ex in exchanges if ex.get("unanswered"))
    print("extract: %d exchanges captured, %d kept, %d without a response "
          "(not acks=0; connection closed first) -> %s"
          % (len(exchanges), len(keep), unanswered, args.out), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--listen", type=int, required=True)
    s.add_argument("--broker", type=int, required=True)
    s.add_argument("--raw", required=True)
    s.add_argument("--max-seconds", type=float, default=3600)
    e = sub.add_parser("extract")
    e.add_argument("--raw", nargs="+", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--keep", type=int, default=2)
    e.add_argument("--keep-codec", type=int, default=12)
    e.add_argument("--keep-roles", type=int, default=6)
    e.add_argument("--client", default=None,
                   help="client column of INDEX.tsv (default: DIR's name)")
    args = ap.parse_args()
    if args.cmd == "serve":
        asyncio.run(serve(args))
    else:
        extract(args)


if __name__ == "__main__":
    main()
