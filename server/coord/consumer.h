/* consumer.h - the KIP-848 consumer group coordinator: member epochs, the
 * group epoch, server-side target assignment (consumer_assign.c) and the
 * reconciliation of each member towards its target, partitions revoked
 * from their owner before they are given to another (consumer.c). No I/O:
 * time comes in as now_ms, topics through bk_cg_ops, so tests drive it
 * with a fake clock. Every change is flagged on the group and its members
 * (dirty_*, gone) so consumer_store.c can write it to __consumer_offsets
 * in Kafka's record formats and read it back at start. */
#ifndef BK_COORD_CONSUMER_H
#define BK_COORD_CONSUMER_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "protocol/buf.h"
#include "server/server.h"

/* One topic partition by topic id; sets are sorted (id, partition) arrays. */
typedef struct bk_cgpart {
    bk_uuid topic;
    int32_t partition;
} bk_cgpart;

typedef struct bk_cgset {
    bk_cgpart *v;
    int n, cap;
} bk_cgset;

int bk_cgset_add(bk_cgset *s, const bk_uuid *topic, int32_t partition); /* 0 or BK_ENOMEM */
bool bk_cgset_has(const bk_cgset *s, const bk_uuid *topic, int32_t partition);
int bk_cgset_copy(bk_cgset *dst, const bk_cgset *src);
bool bk_cgset_eq(const bk_cgset *a, const bk_cgset *b);
void bk_cgset_free(bk_cgset *s);

/* Kafka's MemberState. */
enum { BK_CGM_STABLE, BK_CGM_UNREVOKED_PARTITIONS, BK_CGM_UNRELEASED_PARTITIONS };

#define BK_CG_LEAVE_EPOCH        (-1)
#define BK_CG_STATIC_LEAVE_EPOCH (-2)

/* A JoinGroup protocol: name and ConsumerProtocolSubscription bytes. */
typedef struct bk_cgproto {
    char *name;
    uint8_t *meta;
    int32_t len;
} bk_cgproto;

/* A member that speaks the classic protocol inside a consumer group (Kafka
 * 4.0's online migration, consumer_classic.c): what its JoinGroup said, and
 * the deadlines of the classic rebalance (0: none). */
typedef struct bk_cgclassic {
    int32_t session_timeout_ms;
    bk_cgproto *protos;
    int nprotos;
    int64_t join_deadline_ms; /* told to rejoin: must by then */
    int64_t sync_deadline_ms; /* joined: must sync by then */
} bk_cgclassic;

typedef struct bk_cgmember {
    struct bk_cgmember *next;
    char *id, *instance_id, *rack_id, *client_id, *client_host;
    char **topics; /* subscribed topic names */
    int ntopics;
    char *regex; /* SubscribedTopicRegex, NULL when none */
    regex_t re;
    char *assignor; /* ServerAssignor, NULL: the group's default */
    int32_t rebalance_timeout_ms;
    int32_t epoch, prev_epoch;
    int state;
    bk_cgset assigned, revoking; /* what it owns; what it must give back */
    bk_cgset target;             /* its part of the target assignment */
    int64_t session_deadline_ms;
    int64_t rebalance_deadline_ms; /* 0: none (not revoking) */
    /* Not yet persisted: ConsumerGroupMemberMetadata, ...TargetAssignmentMember,
     * ...CurrentMemberAssignment. */
    bool dirty_meta, dirty_target, dirty_current;
    bool loaded_meta;      /* loading: its metadata record was seen */
    bk_cgclassic *classic; /* NULL: it speaks the consumer protocol */
} bk_cgmember;

typedef struct bk_cgroup {
    char *id;
    int32_t epoch;        /* the group epoch */
    int32_t assign_epoch; /* the epoch of the target assignment */
    bk_cgmember *members;
    int nmembers;
    uint64_t topics_hash; /* the subscribed topics' ids and partition counts */
    const char *assignor; /* of the last target assignment (static string) */
    int64_t empty_ms;     /* when the last member went (or the group was made) */
    /* Not yet persisted: the group epoch, the target assignment epoch, and
     * the members removed (their records get tombstones). */
    bool dirty, dirty_epoch, dirty_assign, dirty_topics;
    char **gone;
    int ngone, gone_cap;
    /* A consumer-protocol member went and only classic members are left:
     * the broker turns the group back into a classic group. */
    bool downgrade;
} bk_cgroup;

typedef struct bk_cg_ops {
    /* A topic by name: 0 with its id and partition count, -1 when absent. */
    int (*topic)(void *ud, const char *name, bk_uuid *id, int32_t *nparts);
    /* Calls fn for every topic name (regex subscriptions). */
    void (*each_topic)(void *ud, void (*fn)(void *arg, const char *name), void *arg);
    void *ud;
} bk_cg_ops;

typedef struct bk_cg_limits {
    int32_t heartbeat_interval_ms; /* group.consumer.heartbeat.interval.ms, 5000 */
    int32_t session_timeout_ms;    /* group.consumer.session.timeout.ms, 45000 */
    int32_t max_size;              /* group.consumer.max.size */
    const char *assignors[2];      /* group.consumer.assignors; [0] is the default */
    int nassignors;
} bk_cg_limits;

void bk_cg_limits_defaults(bk_cg_limits *l);

typedef struct bk_cgroups {
    bk_map by_id; /* bk_cgroup by id */
    int ngroups;
    bk_cg_limits limits;
    bk_cg_ops ops;
} bk_cgroups;

bk_cgroups *bk_cgroups_new(const bk_cg_limits *limits, const bk_cg_ops *ops);
void bk_cgroups_free(bk_cgroups *cgs);
bk_cgroup *bk_cgroups_find(bk_cgroups *cgs, const char *id);
bk_cgmember *bk_cgroup_member(bk_cgroup *cg, const char *member_id);
/* Kafka's ConsumerGroupState names: Empty, Assigning, Reconciling, Stable. */
const char *bk_cgroup_state_name(const bk_cgroup *cg);
/* Removes and frees a group (DeleteGroups, expiry, a classic join). */
void bk_cgroups_remove(bk_cgroups *cgs, bk_cgroup *cg);
/* The existing topics the members subscribe to, by name: fn for each. */
int bk_cgroup_each_topic(bk_cgroups *cgs, bk_cgroup *cg,
                         void (*fn)(void *ud, const char *name, const bk_uuid *id, int32_t nparts),
                         void *ud);
/* The changes were persisted: clears the dirty flags and the gone list. */
void bk_cgroup_changes_done(bk_cgroup *cg);

/* ---- loading from __consumer_offsets (consumer_store.c drives these) ---- */
/* Finds or creates a group, or a member by id, without flagging changes. */
bk_cgroup *bk_cgroups_restore_group(bk_cgroups *cgs, const char *id);
bk_cgmember *bk_cgroup_restore_member(bk_cgroup *cg, const char *member_id);
/* Drops a member whose records were tombstoned (no epoch change). */
void bk_cgroup_restore_drop(bk_cgroup *cg, bk_cgmember *m);
/* A member's subscription from its metadata record; 0 or a Kafka error. */
int16_t bk_cgmember_restore_regex(bk_cgmember *m, const char *regex);
int bk_cgmember_restore_topics(bk_cgmember *m, const char *const *topics, int n);
/* The subscribed topics' hash from a ConsumerGroupPartitionMetadata record. */
int bk_cgroup_restore_topics(bk_cgroup *cg, const char *const *names, const bk_uuid *ids,
                             const int32_t *nparts, int n);
/* After the last record: members without metadata go, sessions and
 * revocation timers start at now_ms, and nothing is left flagged. */
void bk_cgroups_restore_done(bk_cgroups *cgs, int64_t now_ms);

/* One ConsumerGroupHeartbeat. Null request fields (unchanged since the last
 * heartbeat) are NULL / has_* false. Everything is borrowed for the call. */
typedef struct bk_cghb_req {
    const char *group_id, *member_id, *instance_id, *rack_id, *client_id, *client_host;
    int32_t member_epoch, rebalance_timeout_ms;
    const char *const *topics;
    int ntopics;
    bool has_topics;
    const char *regex, *assignor;
    const bk_cgpart *owned;
    int nowned;
    bool has_owned;
    int16_t version;
    /* A classic member's JoinGroup (consumer_classic.c): joins or updates
     * the member whatever its epoch; owned is what its subscription says. */
    const bk_cgclassic *classic;
} bk_cghb_req;

typedef struct bk_cghb_resp {
    int16_t error;
    const char *message;   /* static, NULL when none */
    const char *member_id; /* valid until the next call */
    int32_t member_epoch;
    int32_t heartbeat_interval_ms;
    const bk_cgset *assignment; /* NULL: not sent (unchanged) */
    char new_id[40];            /* a v0 member id the coordinator made */
} bk_cghb_resp;

void bk_cgroups_heartbeat(bk_cgroups *cgs, const bk_cghb_req *rq, bk_cghb_resp *out,
                          int64_t now_ms);
/* The request's own checks, which the heartbeat starts with (so a bad
 * request can be refused before it changes anything): 0 or the error,
 * also in *out. */
int16_t bk_cgroups_validate(bk_cgroups *cgs, const bk_cghb_req *rq, bk_cghb_resp *out);
/* Session and rebalance timeouts that passed: those members are fenced. */
void bk_cgroups_tick(bk_cgroups *cgs, int64_t now_ms);
int64_t bk_cgroups_next_deadline(const bk_cgroups *cgs);

/* OffsetCommit / OffsetFetch checks for a consumer group (ConsumerGroup.
 * validateOffsetCommit): 0, UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH or
 * UNSUPPORTED_VERSION. *is_cg false: no consumer group has this id (the
 * classic checks apply). */
int16_t bk_cgroups_commit_check(bk_cgroups *cgs, const char *group_id, const char *member_id,
                                int32_t member_epoch, int16_t version, bool fetch, bool *is_cg);

/* A subscription regex in Kafka's (RE2J) syntax compiled to match whole
 * topic names (consumer_regex.c): 0, or -1 when invalid or using RE2
 * features POSIX regexps lack. */
int bk_cg_regex_compile(regex_t *re, const char *re2);

/* ---- classic members in consumer groups (consumer_classic.c) ---- */
/* Frees a member's classic state (member_free calls it). */
void bk_cgclassic_free(bk_cgclassic *c);
/* Copies what a JoinGroup said into m->classic: 0 or BK_ENOMEM. Flags the
 * member's metadata when it changed. */
int bk_cgclassic_set(bk_cgmember *m, const bk_cgclassic *c);
/* Removes a member; `fenced` (left by heartbeat, timed out) lets the group
 * be downgraded when only classic members remain. */
void bk_cgroup_remove_member(bk_cgroup *cg, bk_cgmember *m, int64_t now_ms, bool fenced);

/* A ConsumerProtocolSubscription read from a JoinGroup protocol: topic
 * names, and owned partitions by topic id (unknown topics skipped), all in
 * `ar`, which the caller frees (also on error). 0 or a Kafka error. */
typedef struct bk_cgsub {
    bk_arena ar;
    const char **topics;
    int ntopics;
    bk_cgpart *owned;
    int nowned;
    const char *rack;
} bk_cgsub;
int16_t bk_cg_parse_subscription(bk_cgroups *cgs, const bk_cgproto *p, bk_cgsub *s);

typedef struct bk_cgjoin_req {
    const char *group_id, *member_id, *instance_id, *client_id, *client_host, *protocol_type;
    int32_t session_timeout_ms, rebalance_timeout_ms;
    const bk_cgproto *protos;
    int nprotos;
    int16_t version;
} bk_cgjoin_req;

typedef struct bk_cgjoin_resp {
    int16_t error;
    const char *member_id; /* valid until the next call */
    int32_t generation;    /* the member epoch */
    const char *protocol_name;
    char new_id[40];
} bk_cgjoin_resp;

/* JoinGroup, SyncGroup, Heartbeat and LeaveGroup of a classic member, to a
 * consumer group with members (Kafka's classicGroup*ToConsumerGroup). */
void bk_cgroups_classic_join(bk_cgroups *cgs, bk_cgroup *cg, const bk_cgjoin_req *rq,
                             bk_cgjoin_resp *out, int64_t now_ms);
/* 0 with *assigned (the member's partitions) and *version (of the
 * ConsumerProtocolAssignment to answer with), or the error. */
int16_t bk_cgroups_classic_sync(bk_cgroups *cgs, bk_cgroup *cg, const char *member_id,
                                const char *instance_id, int32_t generation,
                                const char *protocol_type, const char *protocol_name,
                                const bk_cgset **assigned, int16_t *version, int64_t now_ms);
int16_t bk_cgroups_classic_heartbeat(bk_cgroups *cgs, bk_cgroup *cg, const char *member_id,
                                     const char *instance_id, int32_t generation, int64_t now_ms);
int16_t bk_cgroups_classic_leave(bk_cgroups *cgs, bk_cgroup *cg, const char *member_id,
                                 const char *instance_id, int64_t now_ms);

/* ---- server-side assignors (consumer_assign.c) ---- */
typedef struct bk_cga_topic {
    bk_uuid id;
    int32_t nparts;
} bk_cga_topic;

typedef struct bk_cga_member {
    const char *id;
    const bool *subscribed; /* one per topic */
    const bk_cgset *prev;   /* its previous target (stickiness) */
    bk_cgset *out;          /* filled (cleared first) */
} bk_cga_member;

/* Members sorted by id. Return 0 or BK_ENOMEM. */
int bk_cg_assign_uniform(const bk_cga_topic *topics, int ntopics, bk_cga_member *members,
                         int nmembers);
int bk_cg_assign_range(const bk_cga_topic *topics, int ntopics, bk_cga_member *members,
                       int nmembers);

#endif
