/* coord.h - the classic group coordinator: group state machine (group.c),
 * committed offsets (offsets.c) and their persistence in __consumer_offsets
 * (store.c). group.c and offsets.c do no I/O: time comes in as `now_ms`
 * arguments and answers that wait (JoinGroup, SyncGroup) go out through
 * the callbacks of bk_group_ops, so tests drive them with a fake clock. */
#ifndef BK_COORD_H
#define BK_COORD_H

#include <stdbool.h>
#include <stdint.h>

#include "server/server.h"

enum {
    BK_GROUP_EMPTY,
    BK_GROUP_PREPARING_REBALANCE,
    BK_GROUP_COMPLETING_REBALANCE,
    BK_GROUP_STABLE,
    BK_GROUP_DEAD
};
/* Kafka's names ("Empty", "PreparingRebalance", ...). */
const char *bk_group_state_name(int state);

typedef struct bk_gproto {
    char *name;
    uint8_t *meta;
    int32_t len;
} bk_gproto;

typedef struct bk_gmember {
    struct bk_gmember *next;
    char *id;
    char *instance_id; /* NULL for a dynamic member */
    char *client_id, *client_host;
    char *protocol_type;
    int32_t session_timeout_ms, rebalance_timeout_ms;
    bk_gproto *protos;
    int nprotos;
    uint8_t *assignment;
    int32_t assignment_len;
    void *join_waiter; /* a JoinGroup waiting for the join phase to end */
    int16_t join_version;
    void *sync_waiter; /* a SyncGroup waiting for the leader's assignment */
    int64_t hb_deadline_ms;
    bool is_new;       /* joined during this rebalance, no join answer yet */
    bool pending_sync; /* got its join answer, has not synced yet */
} bk_gmember;

typedef struct bk_gpending {
    struct bk_gpending *next;
    char *id;
    int64_t deadline_ms;
} bk_gpending;

/* One committed offset. The map key (topic, NUL, partition) lives in key. */
typedef struct bk_goffset {
    char *key;
    size_t klen;
    const char *topic; /* points into key */
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata; /* metadata_len bytes (may hold NULs), NUL-terminated */
    int32_t metadata_len;
    int64_t commit_ms;
} bk_goffset;

typedef struct bk_group {
    char *id;
    int state, prev_state;
    int32_t generation;
    char *protocol_type; /* NULL until the first member (or "" for a simple group) */
    char *protocol_name; /* NULL when none selected */
    char *leader;        /* member id, NULL when none */
    bk_gmember *members;
    int nmembers;
    bk_gpending *pending; /* KIP-394 ids handed out, not yet joined */
    int npending;
    int64_t join_deadline_ms; /* 0: none */
    int64_t init_delay_ms, init_remaining_ms;
    bool initial_join; /* the join deadline is the initial-delay one */
    bool new_member_added;
    int64_t sync_deadline_ms; /* 0: none */
    int64_t state_ms;         /* when the state last changed */
    bk_map offsets;           /* bk_goffset by (topic, partition) */
    int noffsets;
} bk_group;

typedef struct bk_join_req {
    const char *group_id, *member_id, *instance_id, *client_id, *client_host, *protocol_type;
    int32_t session_timeout_ms, rebalance_timeout_ms;
    const bk_gproto *protos;
    int nprotos;
    int16_t version;
    void *waiter; /* handed back to join_done */
} bk_join_req;

/* What a JoinGroup gets. members: the leader gets every member's metadata
 * for the selected protocol, read from g during the callback. */
typedef struct bk_join_result {
    int16_t error;
    const char *member_id;
    int32_t generation;
    const char *protocol_type, *protocol_name, *leader;
    bool skip_assignment;
    bool with_members;
} bk_join_result;

typedef struct bk_group_ops {
    /* Called once per JoinGroup, now or later. g may be NULL on errors. */
    void (*join_done)(void *ud, void *waiter, bk_group *g, const bk_join_result *r);
    /* Called once per SyncGroup, now or later; bytes valid during the call. */
    void (*sync_done)(void *ud, void *waiter, int16_t error, const char *protocol_type,
                      const char *protocol_name, const uint8_t *assignment, int32_t len);
    /* The group's persisted state (generation, members, assignments) changed. */
    void (*group_changed)(void *ud, bk_group *g);
    void *ud;
} bk_group_ops;

typedef struct bk_group_limits {
    int32_t min_session_timeout_ms;     /* group.min.session.timeout.ms, 6000 */
    int32_t max_session_timeout_ms;     /* group.max.session.timeout.ms, 1800000 */
    int32_t max_size;                   /* group.max.size, 2147483647 */
    int64_t initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms, 3000 */
    int64_t new_member_join_timeout_ms; /* Kafka's fixed 300000 */
    int32_t offset_metadata_max_bytes;  /* offset.metadata.max.bytes, 4096 */
    int64_t offsets_retention_ms;       /* offsets.retention.minutes, 7 days */
} bk_group_limits;

void bk_group_limits_defaults(bk_group_limits *l);

typedef struct bk_groups {
    bk_map by_id; /* bk_group by id */
    int ngroups;
    bk_group_limits limits;
    bk_group_ops ops;
    /* for the server glue (store.c) */
    struct bk_broker *broker;
    uv_timer_t timer;
    bool timer_inited;
    int32_t nparts;             /* partitions of __consumer_offsets */
    bool unloaded;              /* the broker stops: no group is served any more */
    struct bk_cgroups *cgroups; /* KIP-848 consumer groups (consumer.h) */
} bk_groups;

bk_groups *bk_groups_new(const bk_group_limits *limits, const bk_group_ops *ops);
void bk_groups_free(bk_groups *gs);
bk_group *bk_groups_find(bk_groups *gs, const char *id);
/* Finds or creates an Empty group. NULL on allocation failure. */
bk_group *bk_groups_get_or_create(bk_groups *gs, const char *id, int64_t now_ms);
/* Removes a group (it must have no waiters) and frees it. */
void bk_groups_remove(bk_groups *gs, bk_group *g);
bk_gmember *bk_group_member(bk_group *g, const char *member_id);
bk_gmember *bk_group_static_member(bk_group *g, const char *instance_id);
const bk_gproto *bk_gmember_proto(const bk_gmember *m, const char *name);

/* Puts back a member read from __consumer_offsets (no waiter; its session
 * timer starts now). */
bk_gmember *bk_groups_restore_member(bk_groups *gs, bk_group *g, const bk_join_req *rq,
                                     const char *member_id, int64_t now_ms);

/* The APIs. Errors are Kafka error codes. */
void bk_groups_join(bk_groups *gs, const bk_join_req *rq, int64_t now_ms);
void bk_groups_sync(bk_groups *gs, const char *group_id, int32_t generation, const char *member_id,
                    const char *instance_id, const char *protocol_type, const char *protocol_name,
                    const char *const *assign_ids, const bk_bytes *assignments, int nassign,
                    void *waiter, int64_t now_ms);
int16_t bk_groups_heartbeat(bk_groups *gs, const char *group_id, int32_t generation,
                            const char *member_id, const char *instance_id, int64_t now_ms);
/* One member leaving (v3+ batches call this per member, then finish). */
int16_t bk_groups_leave_member(bk_groups *gs, bk_group *g, const char *member_id,
                               const char *instance_id, int64_t now_ms);
/* After the members of one LeaveGroup: rebalance or complete the join. */
void bk_groups_leave_done(bk_groups *gs, bk_group *g, int left, int64_t now_ms);
/* The session / join / sync deadlines that passed. */
void bk_groups_tick(bk_groups *gs, int64_t now_ms);
/* The earliest deadline of any group, INT64_MAX when none. */
int64_t bk_groups_next_deadline(const bk_groups *gs);
/* The coordinator stops serving (broker shutdown): waiting JoinGroup and
 * SyncGroup requests are answered NOT_COORDINATOR, later ones too, and
 * deadlines no longer run. */
void bk_groups_unload(bk_groups *gs);

/* The online migration (consumer_migrate.c): the vote for a protocol; all
 * members go (waiting requests get REBALANCE_IN_PROGRESS) and the group is
 * left Empty with its offsets; a rebalance of a group rebuilt from a
 * consumer group. */
const char *bk_group_select_protocol(bk_group *g);
void bk_groups_release(bk_groups *gs, bk_group *g, int64_t now_ms);
void bk_groups_rebalance(bk_groups *gs, bk_group *g, int64_t now_ms);

/* ---- offsets (offsets.c) ---- */
/* Kafka's checks for an OffsetCommit; may create a simple group (generation
 * < 0). Returns 0 with *out, or the error for every partition. */
int16_t bk_groups_commit_check(bk_groups *gs, const char *group_id, int32_t generation,
                               const char *member_id, const char *instance_id, int16_t version,
                               int64_t now_ms, bk_group **out);
bk_goffset *bk_group_offset_get(bk_group *g, const char *topic, int32_t partition);
/* Stores (replaces) a committed offset; the metadata is md_len bytes
 * (md_len < 0: a C string; metadata NULL: empty). Returns 0 or BK_ENOMEM. */
int bk_group_offset_put(bk_group *g, const char *topic, int32_t partition, int64_t offset,
                        int32_t leader_epoch, const char *metadata, int32_t md_len,
                        int64_t commit_ms);
void bk_group_offset_del(bk_group *g, bk_goffset *o);
/* True when a member of a consumer-protocol group subscribes to topic. */
bool bk_group_subscribed(bk_group *g, const char *topic);
/* Empty groups' offsets older than the retention; calls fn for each one
 * before it goes, and gone(g) for an empty group with nothing left (then
 * removed). */
void bk_groups_expire_offsets(bk_groups *gs, int64_t now_ms,
                              void (*fn)(void *ud, bk_group *g, const bk_goffset *o),
                              void (*gone)(void *ud, bk_group *g), void *ud);

/* ---- the broker side (store.c) ---- */
/* The answers to waiting JoinGroup / SyncGroup requests (handlers/groups.c);
 * ud is the broker, waiter the bk_req. */
void bk_group_join_done(void *ud, void *waiter, bk_group *g, const bk_join_result *r);
void bk_group_sync_done(void *ud, void *waiter, int16_t error, const char *protocol_type,
                        const char *protocol_name, const uint8_t *assignment, int32_t len);
/* Creates b->groups with the broker's config and loads __consumer_offsets
 * when it exists. Returns 0 or -1. */
int bk_coord_init(bk_broker *b);
void bk_coord_free(bk_broker *b);
/* The broker stops: answers the requests waiting in groups (bk_groups_unload). */
void bk_coord_stop(bk_broker *b);
/* Housekeeping: offsets retention. */
void bk_coord_housekeeping(bk_broker *b);
/* Re-arms the deadline timer after the state machine ran. */
void bk_coord_reschedule(bk_broker *b);
/* Kafka's partition of __consumer_offsets for a group. */
int32_t bk_coord_partition_for(const char *group_id, int32_t nparts);
/* Appends one record (value NULL: tombstone) per key to the group's
 * partition; creates the topic on first use. *p_out/ *end_out (may be
 * NULL) say where to wait for the flush. Returns 0 or a Kafka error code. */
int16_t bk_coord_append(bk_broker *b, const char *group_id, const bk_bytes *keys,
                        const bk_bytes *values, int n, bk_partition **p_out, int64_t *end_out);
/* Encoded records in Kafka's formats, in w (appended); returns 0 or BK_E*. */
int bk_coord_offset_key(bk_wr *w, const char *group, const char *topic, int32_t partition);
int bk_coord_offset_value(bk_wr *w, const bk_goffset *o);
int bk_coord_group_key(bk_wr *w, const char *group);
int bk_coord_group_value(bk_wr *w, const bk_group *g);
/* Writes the group's metadata record (group_changed hook). */
void bk_coord_persist_group(bk_broker *b, bk_group *g);
/* An empty classic group taken over by a KIP-848 consumer group: its
 * GroupMetadata record is tombstoned (its offsets stay). */
void bk_coord_forget_classic(bk_broker *b, bk_group *g);
/* Tombstones for a group and all its offsets, then removes it. */
int16_t bk_coord_delete_group(bk_broker *b, bk_group *g);
/* KIP-848 consumer groups (consumer_broker.c): 0 or -1. */
int bk_coord_consumer_init(bk_broker *b);
void bk_coord_consumer_free(bk_broker *b);
/* Empty consumer groups with no offsets left, `offsets.retention.minutes`
 * after they became empty, are deleted (consumer_broker.c). */
void bk_coord_consumer_expire(bk_broker *b, int64_t now_ms);
/* Their records in __consumer_offsets (consumer_store.c): writes what the
 * state machine flagged as changed in one group, or in all. */
struct bk_cgroup;
void bk_coord_consumer_persist(bk_broker *b, struct bk_cgroup *cg);
void bk_coord_consumer_persist_all(bk_broker *b);
/* After a consumer group changed (consumer_migrate.c): downgrades it to a
 * classic group when only classic members are left, else persists it. */
void bk_coord_consumer_settle(bk_broker *b, struct bk_cgroup *cg);
void bk_coord_consumer_settle_all(bk_broker *b);
/* A KIP-848 member joins classic group g with members: g becomes a consumer
 * group (0), or cannot (GROUP_ID_NOT_FOUND, as Kafka answers). */
int16_t bk_coord_upgrade(bk_broker *b, bk_group *g);
void bk_coord_downgrade(bk_broker *b, struct bk_cgroup *cg);
/* A partition set as ConsumerProtocolAssignment bytes (version prefix
 * included), topics by name; appended to w. 0 or BK_E*. */
struct bk_cgset;
int bk_coord_assignment_bytes(bk_broker *b, const struct bk_cgset *s, int16_t version, bk_wr *w);
/* Tombstones for every record of the group, then removes it (its offsets
 * are the caller's). Returns 0 or a Kafka error code. */
int16_t bk_coord_consumer_delete(bk_broker *b, struct bk_cgroup *cg);
/* Loading: one record whose key version is kv (3-8); false when kv is not
 * a consumer group record. */
bool bk_coord_consumer_load(bk_groups *gs, int16_t kv, bk_rd *key, bk_bytes value);

#endif
