/* handlers.h - one handler per API, grouped by family (one file each). */
#ifndef BK_HANDLERS_H
#define BK_HANDLERS_H

#include "server/server.h"

/* api_versions.c */
void bk_handle_api_versions(bk_broker *b, bk_req *req);
void bk_api_versions_unsupported(bk_broker *b, bk_req *req);
void bk_api_versions_invalid(bk_broker *b, bk_req *req);
/* metadata.c: Metadata, DescribeCluster, DescribeTopicPartitions */
void bk_handle_metadata(bk_broker *b, bk_req *req);
void bk_handle_describe_cluster(bk_broker *b, bk_req *req);
void bk_handle_describe_topic_partitions(bk_broker *b, bk_req *req);
/* coordinator.c */
void bk_handle_find_coordinator(bk_broker *b, bk_req *req);
/* groups.c: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, ListGroups,
 * DescribeGroups, DeleteGroups (the classic group coordinator) */
void bk_handle_join_group(bk_broker *b, bk_req *req);
void bk_handle_sync_group(bk_broker *b, bk_req *req);
void bk_handle_heartbeat(bk_broker *b, bk_req *req);
void bk_handle_leave_group(bk_broker *b, bk_req *req);
void bk_handle_list_groups(bk_broker *b, bk_req *req);
void bk_handle_describe_groups(bk_broker *b, bk_req *req);
void bk_handle_delete_groups(bk_broker *b, bk_req *req);
/* consumer_group.c: ConsumerGroupHeartbeat, ConsumerGroupDescribe (KIP-848) */
void bk_handle_consumer_group_heartbeat(bk_broker *b, bk_req *req);
void bk_handle_consumer_group_describe(bk_broker *b, bk_req *req);
/* offsets_commit.c: OffsetCommit, OffsetFetch, OffsetDelete */
void bk_handle_offset_commit(bk_broker *b, bk_req *req);
void bk_handle_offset_fetch(bk_broker *b, bk_req *req);
void bk_handle_offset_delete(bk_broker *b, bk_req *req);
/* produce.c */
void bk_handle_produce(bk_broker *b, bk_req *req);
/* fetch.c */
void bk_handle_fetch(bk_broker *b, bk_req *req);
/* offsets.c: ListOffsets, OffsetForLeaderEpoch, DeleteRecords */
void bk_handle_list_offsets(bk_broker *b, bk_req *req);
void bk_handle_offset_for_leader_epoch(bk_broker *b, bk_req *req);
void bk_handle_delete_records(bk_broker *b, bk_req *req);
/* topics_admin.c: CreateTopics, DeleteTopics, CreatePartitions */
void bk_handle_create_topics(bk_broker *b, bk_req *req);
void bk_handle_delete_topics(bk_broker *b, bk_req *req);
void bk_handle_create_partitions(bk_broker *b, bk_req *req);
/* configs.c: DescribeConfigs, AlterConfigs, IncrementalAlterConfigs */
void bk_handle_describe_configs(bk_broker *b, bk_req *req);
void bk_handle_alter_configs(bk_broker *b, bk_req *req);
void bk_handle_incremental_alter_configs(bk_broker *b, bk_req *req);
/* log_dirs.c */
void bk_handle_describe_log_dirs(bk_broker *b, bk_req *req);
/* producer_id.c: InitProducerId */
void bk_handle_init_producer_id(bk_broker *b, bk_req *req);

/* metadata.c: the host and port the client should use for this node. */
void bk_advertised_for(bk_broker *b, const bk_req *req, bk_str *host, int32_t *port);

/* Allocates an array of n default-initialised elements of layout sd in the
 * request's arena and stores it in `arr` (any generated array member).
 * Returns the items, or NULL when the arena is exhausted (count is then 0). */
void *bk_req_array(bk_req *req, void *arr, int32_t n, const bk_struct *sd);

/* Copies a bk_str into a NUL-terminated arena string. */
char *bk_req_cstr(bk_req *req, bk_str s);

#endif
