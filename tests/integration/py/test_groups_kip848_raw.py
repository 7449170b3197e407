"""test_groups_kip848_raw.py - KIP-848 consumer groups on raw sockets, across
broker restarts (kproto_groups): what a group is after a kill -9, and the
admin APIs on consumer groups.

  test_groups_kip848_raw.py PORT before FILE   two members reach a stable
      assignment and commit; ListGroups / DescribeGroups / DeleteGroups on
      the live group; the members' state is saved to FILE
  test_groups_kip848_raw.py PORT after FILE    (the broker was killed and
      restarted) the members carry on at their epochs with their partitions,
      the group and its offsets are as before; they leave and the group is
      deleted
  test_groups_kip848_raw.py PORT gone FILE     (restarted again) the deleted
      group and its offsets stay deleted
  test_groups_kip848_raw.py PORT migrate FILE  offline migration: an empty
      classic group becomes a consumer group when a KIP-848 member joins and
      back when a classic member joins the empty consumer group; committed
      offsets stay through both
  test_groups_kip848_raw.py PORT migrated FILE (restarted) the same after a
      restart: a classic group with its offset
"""
import json
import sys
import time
import uuid

import kproto as k
import kproto_groups as g
from itcheck import Checks, expect, expect_eq

PORT = int(sys.argv[1])
MODE = sys.argv[2]
STATE = sys.argv[3]
GROUP, TOPIC, NPART = "k848-raw", "k848-raw-t", 4
LOADING = (14, 15, 16)  # COORDINATOR_LOAD_IN_PROGRESS / NOT_AVAILABLE, NOT_COORDINATOR
GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP = 69, 68
corr = [100]


def nc():
    corr[0] += 1
    return corr[0]


def retry_loading(fn, what, limit_s=40):
    """fn() until its error is not a coordinator-loading one."""
    end = time.time() + limit_s
    while True:
        r = fn()
        err = r["error"] if isinstance(r, dict) else r[0]
        if err not in LOADING or time.time() > end:
            return r
        time.sleep(0.3)


class Member:
    def __init__(self, sock, mid):
        self.s, self.id, self.epoch, self.owned = sock, mid, 0, set()

    def beat(self, first=False):
        r = retry_loading(lambda: g.heartbeat(
            self.s, nc(), GROUP, self.id, self.epoch, topics=[TOPIC] if first else None,
            owned=self.owned, rebalance_ms=60000 if first else -1), "heartbeat")
        expect_eq(r["error"], 0, "heartbeat error (%s)" % r["message"])
        self.epoch = r["epoch"]
        if r["assignment"] is not None:
            self.owned = r["assignment"]  # a client revokes/takes at once
        return r


def settle(members, want, limit_s=40):
    """Heartbeats until every member owns `want` partitions at the group's
    assignment epoch and no partition is owned twice."""
    end = time.time() + limit_s
    while time.time() < end:
        for m in members:
            m.beat()
        owned = [p for m in members for p in m.owned]
        if (all(len(m.owned) == want for m in members) and len(set(owned)) == len(owned) and
                len({m.epoch for m in members}) == 1):
            return
        time.sleep(0.2)
    raise AssertionError("not settled: %s" % [(m.epoch, len(m.owned)) for m in members])


def before():
    c = Checks()
    s = k.connect(PORT, timeout=20)
    k.create_topics_v4(s, 1, [(TOPIC, NPART, 1, {})])
    tid = None
    for _ in range(50):
        tid = g.topic_id(s, nc(), TOPIC)
        if tid:
            break
        time.sleep(0.2)
    members = []

    def join_two():
        a = Member(k.connect(PORT, timeout=20), str(uuid.uuid4()))
        a.beat(first=True)
        settle([a], NPART)
        b = Member(k.connect(PORT, timeout=20), str(uuid.uuid4()))
        b.beat(first=True)
        settle([a, b], NPART // 2)
        members.extend([a, b])

    if not c.run("two members, two partitions each, none owned twice", join_two):
        c.exit()
    a, b = members

    def commit():
        got = g.offset_commit(s, nc(), GROUP, a.id, a.epoch, TOPIC,
                              {p: 10 + p for _, p in a.owned})
        expect_eq(set(got.values()), {0}, "commit errors")
        got = g.offset_commit(s, nc(), GROUP, a.id, a.epoch - 1, TOPIC, {0: 1})
        expect_eq(set(got.values()), {113}, "commit with an old member epoch (STALE_MEMBER_EPOCH)")

    c.run("commits with the member epoch; a stale epoch is refused", commit)

    def listed():
        got = g.list_groups(s, nc())
        expect_eq(got.get(GROUP), ("consumer", "Stable", "consumer"), "ListGroups entry")
        expect(GROUP in g.list_groups(s, nc(), types=["consumer"]), "type filter consumer")
        expect(GROUP not in g.list_groups(s, nc(), types=["classic"]), "type filter classic")
        expect(GROUP in g.list_groups(s, nc(), states=["stable"]), "state filter stable")
        expect(GROUP not in g.list_groups(s, nc(), states=["Empty"]), "state filter Empty")

    c.run("ListGroups: a consumer group, with type and state filters", listed)

    def described():
        err, _msg, state, ms = g.describe_groups(s, nc(), GROUP)
        expect_eq((err, state, ms), (GROUP_ID_NOT_FOUND, "Dead", []),
                  "DescribeGroups of a consumer group")
        expect_eq(g.delete_groups(s, nc(), [GROUP]), {GROUP: NON_EMPTY_GROUP},
                  "DeleteGroups of a group with members")

    c.run("DescribeGroups: not a classic group; DeleteGroups: NON_EMPTY_GROUP", described)

    def save():
        d = g.describe_consumer_group(s, nc(), GROUP)
        expect_eq((d["error"], d["state"]), (0, "Stable"), "ConsumerGroupDescribe")
        st = {"epoch": d["epoch"], "assign_epoch": d["assign_epoch"],
              "members": [{"id": m.id, "epoch": m.epoch,
                           "owned": sorted([str(t), p] for t, p in m.owned)} for m in members],
              "committed": {str(p): 10 + p for _, p in a.owned}}
        with open(STATE, "w") as f:
            json.dump(st, f)

    c.run("group state saved", save)
    c.exit()


def load_members():
    with open(STATE) as f:
        st = json.load(f)
    ms = []
    for m in st["members"]:
        mm = Member(k.connect(PORT, timeout=20), m["id"])
        mm.epoch = m["epoch"]
        mm.owned = {(uuid.UUID(t), p) for t, p in m["owned"]}
        ms.append(mm)
    return st, ms


def after():
    c = Checks()
    st, members = load_members()
    s = k.connect(PORT, timeout=20)

    def carry_on():
        for m in members:
            before_epoch, before_owned = m.epoch, set(m.owned)
            r = m.beat()
            expect_eq((r["epoch"], m.owned), (before_epoch, before_owned),
                      "member %s after the restart" % m.id)

    c.run("after kill -9: each member carries on at its epoch with its partitions", carry_on)

    def same_group():
        d = retry_loading(lambda: g.describe_consumer_group(s, nc(), GROUP), "describe")
        expect_eq((d["error"], d["state"], d["epoch"], d["assign_epoch"]),
                  (0, "Stable", st["epoch"], st["assign_epoch"]), "the group after the restart")
        expect_eq(sorted(d["members"]), sorted(m.id for m in members), "its members")
        for m in members:
            expect_eq(d["members"][m.id]["assigned"], m.owned, "assignment of %s" % m.id)
        err, offs = g.offset_fetch(s, nc(), GROUP, TOPIC, list(range(NPART)))
        want = {int(p): o for p, o in st["committed"].items()}
        expect_eq((err, {p: o for p, (o, e) in offs.items() if o >= 0}), (0, want),
                  "committed offsets")

    c.run("ConsumerGroupDescribe and OffsetFetch: the same group and offsets", same_group)

    def leave_and_delete():
        for m in members:
            r = g.heartbeat(m.s, nc(), GROUP, m.id, -1)
            expect_eq(r["error"], 0, "leave")
        expect_eq(g.list_groups(s, nc()).get(GROUP), ("consumer", "Empty", "consumer"),
                  "ListGroups after both left")
        expect_eq(g.delete_groups(s, nc(), [GROUP]), {GROUP: 0}, "DeleteGroups")
        expect(GROUP not in g.list_groups(s, nc()), "listed after DeleteGroups")
        d = g.describe_consumer_group(s, nc(), GROUP)
        expect_eq(d["error"], GROUP_ID_NOT_FOUND, "ConsumerGroupDescribe after DeleteGroups")
        err, offs = g.offset_fetch(s, nc(), GROUP, TOPIC, list(range(NPART)))
        expect_eq({o for o, _ in offs.values()}, {-1}, "offsets after DeleteGroups")

    c.run("members leave; DeleteGroups removes the group and its offsets", leave_and_delete)
    c.exit()


def gone():
    c = Checks()
    s = k.connect(PORT, timeout=20)

    def still_gone():
        d = retry_loading(lambda: g.describe_consumer_group(s, nc(), GROUP), "describe")
        expect_eq(d["error"], GROUP_ID_NOT_FOUND, "ConsumerGroupDescribe after a restart")
        expect(GROUP not in g.list_groups(s, nc()), "listed after a restart")
        err, offs = g.offset_fetch(s, nc(), GROUP, TOPIC, list(range(NPART)))
        expect_eq({o for o, _ in offs.values()}, {-1}, "offsets after a restart")

    c.run("after a restart the deleted group and its offsets stay deleted", still_gone)
    c.exit()


def migrate():
    c = Checks()
    s = k.connect(PORT, timeout=20)
    grp = GROUP + "-mig"

    def classic_then_consumer():
        # A whole ConsumerProtocolSubscription v0 (no topics, null user data),
        # so the group could be upgraded.
        protos = (("range", b"\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff"),)
        err, gen, _, _, mid, _ = retry_loading(
            lambda: k.join_group_v5(s, nc(), grp, member_id="", rebalance_ms=1000,
                                    protocols=protos), "join")
        if err == 79:  # MEMBER_ID_REQUIRED
            err, gen, _, _, mid, _ = k.join_group_v5(s, nc(), grp, member_id=mid,
                                                     rebalance_ms=1000, protocols=protos)
        expect_eq(err, 0, "classic JoinGroup")
        expect_eq(k.sync_group_v3(s, nc(), grp, gen, mid, [(mid, b"")])[0], 0, "SyncGroup")
        expect_eq(k.offset_commit_v7(s, nc(), grp, gen, mid, TOPIC, {0: 7}), {0: 0}, "commit")
        expect_eq(g.list_groups(s, nc()).get(grp, ("",))[2:], ("classic",), "listed as classic")
        # A bad KIP-848 join (no rebalance timeout) is refused and converts nothing.
        bad = g.heartbeat(s, nc(), grp, str(uuid.uuid4()), 0, topics=[TOPIC], owned=set())
        expect_eq(bad["error"], 42, "KIP-848 join without a rebalance timeout (INVALID_REQUEST)")
        expect_eq(g.list_groups(s, nc()).get(grp, ("",))[2:], ("classic",), "still classic")
        expect_eq(g.leave_group_v3(s, nc(), grp, mid), (0, 0), "LeaveGroup")
        m = Member(k.connect(PORT, timeout=20), str(uuid.uuid4()))
        r = g.heartbeat(m.s, nc(), grp, m.id, 0, topics=[TOPIC], owned=set(), rebalance_ms=60000)
        expect_eq(r["error"], 0, "KIP-848 join of the empty classic group")
        expect_eq(g.list_groups(s, nc()).get(grp), ("consumer", "Stable", "consumer"),
                  "listed as a consumer group")
        err, offs = g.offset_fetch(s, nc(), grp, TOPIC, [0])
        expect_eq((err, offs[0][0]), (0, 7), "the classic group's offset")
        expect_eq(g.heartbeat(m.s, nc(), grp, m.id, -1)["error"], 0, "leave")
        err, gen, _, _, mid, _ = k.join_group_v5(s, nc(), grp, member_id="", rebalance_ms=1000)
        if err == 79:
            err, gen, _, _, mid, _ = k.join_group_v5(s, nc(), grp, member_id=mid,
                                                     rebalance_ms=1000)
        expect_eq(err, 0, "classic JoinGroup of the empty consumer group")
        # (Kafka lists what its log has committed: the classic group shows
        # once its SyncGroup wrote the group record.)
        expect_eq(k.sync_group_v3(s, nc(), grp, gen, mid, [(mid, b"")])[0], 0, "SyncGroup")
        expect_eq(g.list_groups(s, nc()).get(grp, ("",))[2:], ("classic",), "classic again")
        err, offs = g.offset_fetch(s, nc(), grp, TOPIC, [0])
        expect_eq((err, offs[0][0]), (0, 7), "the offset is still there")
        expect_eq(g.leave_group_v3(s, nc(), grp, mid), (0, 0), "LeaveGroup")

    c.run("offline migration classic -> consumer -> classic keeps the offsets",
          classic_then_consumer)
    c.exit()


def migrated():
    c = Checks()
    s = k.connect(PORT, timeout=20)
    grp = GROUP + "-mig"

    def same():
        d = retry_loading(lambda: g.describe_consumer_group(s, nc(), grp), "describe")
        expect_eq(d["error"], GROUP_ID_NOT_FOUND, "ConsumerGroupDescribe")
        expect_eq(g.list_groups(s, nc()).get(grp, ("",))[2:], ("classic",), "listed as classic")
        err, offs = g.offset_fetch(s, nc(), grp, TOPIC, [0])
        expect_eq((err, offs[0][0]), (0, 7), "the offset")

    c.run("after a restart: the migrated group is classic with its offset", same)
    c.exit()


{"before": before, "after": after, "gone": gone, "migrate": migrate,
 "migrated": migrated}[MODE]()
