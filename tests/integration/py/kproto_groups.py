"""kproto_groups.py - the flexible group APIs on raw sockets, for tests that
need exact control of what a member sends: ConsumerGroupHeartbeat v1,
ConsumerGroupDescribe v1, ListGroups v5, DescribeGroups v6, DeleteGroups v2,
OffsetCommit v9 and OffsetFetch v9 (member epochs). Built on kproto."""
import uuid

from kproto import (call, compact_array, compact_string, header_v1, header_v2, i8, i32, i64,
                    kstring, uvarint)

NULL_ARRAY = uvarint(0)


def _flex(sock, api, version, corr, body):
    r = call(sock, header_v2(api, version, corr) + body, corr)
    if r is None:
        raise AssertionError("connection closed (api %d v%d)" % (api, version))
    r.skip_tags()  # the response header's tags
    return r


def _strings(names):
    return NULL_ARRAY if names is None else compact_array([compact_string(n) for n in names])


def _uuid(r):
    return uuid.UUID(bytes=r.take(16))


def _tp_list(r):
    """[TopicId, [Partition]] -> set of (uuid, partition)."""
    out = set()
    for _ in range(r.compact_len()):
        tid = _uuid(r)
        for _ in range(r.compact_len()):
            out.add((tid, r.i32()))
        r.skip_tags()
    return out


def heartbeat(sock, corr, group, member_id, epoch, topics=None, owned=None, rebalance_ms=-1,
              instance_id=None, regex=None):
    """ConsumerGroupHeartbeat v1 -> dict(error, message, member_id, epoch, interval,
    assignment: set of (topic uuid, partition) or None when not sent).
    owned: set of (topic uuid, partition), or None for a null field."""
    if owned is None:
        tps = NULL_ARRAY
    else:
        by = {}
        for t, p in owned:
            by.setdefault(t, []).append(p)
        tps = compact_array([t.bytes + compact_array([i32(p) for p in sorted(ps)]) + uvarint(0)
                             for t, ps in sorted(by.items())])
    body = (compact_string(group) + compact_string(member_id) + i32(epoch) +
            compact_string(instance_id) + compact_string(None) + i32(rebalance_ms) +
            _strings(topics) + compact_string(regex) + compact_string(None) + tps + uvarint(0))
    r = _flex(sock, 68, 1, corr, body)
    r.i32()
    out = {"error": r.i16(), "message": r.compact_string(), "member_id": r.compact_string(),
           "epoch": r.i32(), "interval": r.i32(), "assignment": None}
    if r.i8() >= 0:
        out["assignment"] = _tp_list(r)
        r.skip_tags()
    return out


def describe_consumer_group(sock, corr, group):
    """ConsumerGroupDescribe v1 of one group -> dict(error, state, epoch,
    assign_epoch, assignor, members: {member id: dict(epoch, assigned,
    target, topics)})."""
    r = _flex(sock, 69, 1, corr, compact_array([compact_string(group)]) + i8(0) + uvarint(0))
    r.i32()
    assert r.compact_len() == 1
    g = {"error": r.i16(), "message": r.compact_string(), "group": r.compact_string(),
         "state": r.compact_string(), "epoch": r.i32(), "assign_epoch": r.i32(),
         "assignor": r.compact_string(), "members": {}}
    for _ in range(r.compact_len()):
        mid = r.compact_string()
        r.compact_string()  # instance id
        r.compact_string()  # rack
        m = {"epoch": r.i32()}
        r.compact_string()  # client id
        r.compact_string()  # client host
        m["topics"] = [r.compact_string() for _ in range(r.compact_len())]
        r.compact_string()  # regex
        for key in ("assigned", "target"):
            tps = set()
            for _ in range(r.compact_len()):
                tid = _uuid(r)
                r.compact_string()  # topic name
                for _ in range(r.compact_len()):
                    tps.add((tid, r.i32()))
                r.skip_tags()
            r.skip_tags()
            m[key] = tps
        r.i8()  # member type
        r.skip_tags()
        g["members"][mid] = m
    r.i32()
    return g


def list_groups(sock, corr, states=(), types=()):
    """ListGroups v5 -> {group id: (protocol type, state, type)}."""
    body = _strings(list(states)) + _strings(list(types)) + uvarint(0)
    r = _flex(sock, 16, 5, corr, body)
    r.i32()
    err = r.i16()
    if err:
        raise AssertionError("ListGroups error %d" % err)
    out = {}
    for _ in range(r.compact_len()):
        gid, ptype, state, gtype = (r.compact_string(), r.compact_string(), r.compact_string(),
                                    r.compact_string())
        r.skip_tags()
        out[gid] = (ptype, state, gtype)
    return out


def describe_groups(sock, corr, group):
    """DescribeGroups v6 of one group -> (error, message, state, [member ids])."""
    r = _flex(sock, 15, 6, corr, compact_array([compact_string(group)]) + i8(0) + uvarint(0))
    r.i32()
    assert r.compact_len() == 1
    err, msg, _gid, state = r.i16(), r.compact_string(), r.compact_string(), r.compact_string()
    r.compact_string()
    r.compact_string()
    members = []
    for _ in range(r.compact_len()):
        members.append(r.compact_string())
        r.compact_string()
        r.compact_string()
        r.compact_string()
        r.compact_bytes()
        r.compact_bytes()
        r.skip_tags()
    return err, msg, state, members


def delete_groups(sock, corr, groups):
    """DeleteGroups v2 -> {group id: error}."""
    r = _flex(sock, 42, 2, corr, _strings(groups) + uvarint(0))
    r.i32()
    out = {}
    for _ in range(r.compact_len()):
        gid, err = r.compact_string(), r.i16()
        r.skip_tags()
        out[gid] = err
    return out


def offset_commit(sock, corr, group, member_id, epoch, topic, offsets):
    """OffsetCommit v9 of {partition: offset} -> {partition: error}."""
    parts = [i32(p) + i64(o) + i32(-1) + compact_string("") + uvarint(0)
             for p, o in sorted(offsets.items())]
    body = (compact_string(group) + i32(epoch) + compact_string(member_id) +
            compact_string(None) + compact_array([compact_string(topic) + compact_array(parts) +
                                                  uvarint(0)]) + uvarint(0))
    r = _flex(sock, 8, 9, corr, body)
    r.i32()
    out = {}
    for _ in range(r.compact_len()):
        r.compact_string()
        for _ in range(r.compact_len()):
            p, err = r.i32(), r.i16()
            r.skip_tags()
            out[p] = err
        r.skip_tags()
    return out


def offset_fetch(sock, corr, group, topic, partitions, member_id=None, epoch=-1):
    """OffsetFetch v9 of one group -> (group error, {partition: (offset, error)})."""
    g = (compact_string(group) + compact_string(member_id) + i32(epoch) +
         compact_array([compact_string(topic) + compact_array([i32(p) for p in partitions]) +
                        uvarint(0)]) + uvarint(0))
    r = _flex(sock, 9, 9, corr, compact_array([g]) + i8(0) + uvarint(0))
    r.i32()
    assert r.compact_len() == 1
    r.compact_string()
    out = {}
    for _ in range(r.compact_len()):
        r.compact_string()
        for _ in range(r.compact_len()):
            p, off = r.i32(), r.i64()
            r.i32()
            r.compact_string()
            out[p] = (off, r.i16())
            r.skip_tags()
        r.skip_tags()
    err = r.i16()
    return err, out


def topic_id(sock, corr, topic):
    """The topic's id from Metadata v12 (flexible, topic ids)."""
    body = compact_array([bytes(16) + compact_string(topic) + uvarint(0)]) + i8(0) + i8(0) + uvarint(0)
    r = _flex(sock, 3, 12, corr, body)
    r.i32()
    for _ in range(r.compact_len()):  # brokers
        r.i32()
        r.compact_string()
        r.i32()
        r.compact_string()
        r.skip_tags()
    r.compact_string()  # cluster id
    r.i32()  # controller
    tid = None
    for _ in range(r.compact_len()):
        err, name, t = r.i16(), r.compact_string(), _uuid(r)
        r.i8()
        for _ in range(r.compact_len()):
            r.i16()
            r.i32()
            r.i32()
            r.i32()
            for _ in range(3):
                for _ in range(r.compact_len()):
                    r.i32()
            r.skip_tags()
        r.i32()
        r.skip_tags()
        if name == topic and not err:
            tid = t
    return tid



def leave_group_v3(sock, corr, group, member_id):
    """LeaveGroup v3 of one member -> (error, member error)."""
    body = kstring(group) + i32(1) + kstring(member_id) + kstring(None)
    r = call(sock, header_v1(13, 3, corr) + body, corr)
    r.i32()
    err, merr = r.i16(), None
    for _ in range(r.i32()):
        r.string()
        r.string()
        merr = r.i16()
    return err, merr
