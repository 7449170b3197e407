/* net.h - what the connection code and the dispatcher share. */
#ifndef BK_NET_H
#define BK_NET_H

#include "server/server.h"

/* Decodes a request that just arrived and starts its handler. */
void bk_dispatch(bk_broker *b, bk_req *req);
void bk_req_free(bk_broker *b, bk_req *req);

bool bk_conn_is_closing(const bk_conn *c);
void bk_conn_mark_closing(bk_conn *c);
const char *bk_conn_peer(const bk_conn *c);
const bk_listener *bk_conn_listener(const bk_conn *c);

/* "ip:port" of the peer of a connected socket. */
void bk_sockaddr_str(int fd, char *out, size_t len);

#endif
