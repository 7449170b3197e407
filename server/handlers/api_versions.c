/* api_versions.c - ApiVersions, answered from the dispatch table. */
#include <string.h>

#include "server/handlers/handlers.h"

void *bk_req_array(bk_req *req, void *arr, int32_t n, const bk_struct *sd) {
    bk_array *a = arr;
    a->count = 0;
    a->items = bk_req_alloc(req, (size_t)(n > 0 ? n : 1) * sd->size);
    if (!a->items) return NULL;
    for (int32_t i = 0; i < n; i++)
        bk_struct_init(sd, (char *)a->items + (size_t)i * sd->size);
    a->count = n;
    return a->items;
}

char *bk_req_cstr(bk_req *req, bk_str s) {
    size_t n = s.len > 0 ? (size_t)s.len : 0;
    char *p = bk_req_alloc(req, n + 1);
    if (p && n) memcpy(p, s.ptr, n);
    return p;
}

static void fill_keys(bk_req *req, bk_ApiVersionsResponse *resp, bool only_self) {
    int n;
    const bk_handler *hs = bk_handlers(&n);
    if (only_self) {
        const bk_handler *h = bk_handler_find(BK_API_API_VERSIONS);
        bk_ApiVersionsResponse_ApiVersion *k =
            bk_req_array(req, &resp->ApiKeys, 1, &bk_sd_ApiVersionsResponse_ApiVersion);
        if (k)
            *k = (bk_ApiVersionsResponse_ApiVersion){
                .ApiKey = h->key, .MinVersion = h->advertised_min, .MaxVersion = h->max_version};
        return;
    }
    bk_ApiVersionsResponse_ApiVersion *k =
        bk_req_array(req, &resp->ApiKeys, n, &bk_sd_ApiVersionsResponse_ApiVersion);
    if (!k) return;
    for (int i = 0; i < n; i++) {
        k[i].ApiKey = hs[i].key;
        k[i].MinVersion = hs[i].advertised_min;
        k[i].MaxVersion = hs[i].max_version;
    }
}

/*
 * No feature flags are advertised (FinalizedFeaturesEpoch -1): clients then
 * assume no optional feature, which is the truth until transactions v2 and
 * the new group protocol exist. Advertising transaction.version without
 * implementing it breaks the Java client's transactions.
 */
/* KIP-511: client software name and version are letters, digits, '-' and
 * '.', starting and ending with a letter or digit. */
static bool software_ok(bk_str s) {
    if (s.len <= 0) return false;
    for (int32_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && ((c != '-' && c != '.') || i == 0 || i == s.len - 1)) return false;
    }
    return true;
}

void bk_handle_api_versions(bk_broker *b, bk_req *req) {
    const bk_ApiVersionsRequest *rq = req->body;
    if (req->hdr.api_version >= 3 &&
        (!software_ok(rq->ClientSoftwareName) || !software_ok(rq->ClientSoftwareVersion))) {
        bk_api_versions_invalid(b, req);
        return;
    }
    bk_ApiVersionsResponse resp;
    bk_msg_init(&bk_msg_ApiVersionsResponse, &resp);
    resp.FinalizedFeaturesEpoch = -1;
    fill_keys(req, &resp, false);
    bk_req_respond(b, req, &resp);
}

/* A version newer than ours: Kafka answers UNSUPPORTED_VERSION with a v0
 * body naming ApiVersions' own range, and the client retries with it. */
void bk_api_versions_unsupported(bk_broker *b, bk_req *req) {
    bk_ApiVersionsResponse resp;
    bk_msg_init(&bk_msg_ApiVersionsResponse, &resp);
    resp.ErrorCode = BK_KERR_UNSUPPORTED_VERSION;
    fill_keys(req, &resp, true);
    req->hdr.api_version = 0;
    bk_req_respond(b, req, &resp);
}

/* A v3+ request with a client name or version KIP-511 does not allow:
 * INVALID_REQUEST with the full table, as Kafka answers. (A body that does
 * not parse at all closes the connection, like any other request.) */
void bk_api_versions_invalid(bk_broker *b, bk_req *req) {
    bk_ApiVersionsResponse resp;
    bk_msg_init(&bk_msg_ApiVersionsResponse, &resp);
    resp.ErrorCode = BK_KERR_INVALID_REQUEST;
    fill_keys(req, &resp, false);
    bk_req_respond(b, req, &resp);
}
