/* apitable.c - prints the API table of the generated codec, with what
 * brookd's dispatch table serves and advertises, as Markdown for README.md
 * (`make api-table`); tests/readme_check.sh keeps the two equal. */
#include <stdio.h>
#include <string.h>

#include "protocol/gen/messages.h"
#include "server/server.h"

static void range(char *buf, size_t n, bk_vrange r) {
    if (r.lo > r.hi) snprintf(buf, n, "none");
    else if (r.hi == BK_VMAX) snprintf(buf, n, "%d+", r.lo);
    else if (r.lo == r.hi) snprintf(buf, n, "%d", r.lo);
    else snprintf(buf, n, "%d-%d", r.lo, r.hi);
}

int main(void) {
    printf("| key | API | codec versions | flexible | brookd serves | note |\n");
    printf("| ---: | --- | --- | --- | --- | --- |\n");
    for (int i = 0; i < bk_apis_count; i++) {
        const bk_api *a = &bk_apis[i];
        char valid[32], flex[32], served[64] = "-";
        range(valid, sizeof valid, a->valid);
        range(flex, sizeof flex, a->flexible);
        const bk_handler *h = bk_handler_find(a->key);
        if (h) {
            range(served, sizeof served, (bk_vrange){h->min_version, h->max_version});
            if (h->advertised_min != h->min_version) {
                char adv[32];
                range(adv, sizeof adv, (bk_vrange){h->advertised_min, h->max_version});
                snprintf(served + strlen(served), sizeof served - strlen(served),
                         " (advertised %s)", adv);
            }
        }
        printf("| %d | %s | %s | %s | %s | %s |\n", a->key, a->name, valid, flex, served,
               a->unstable_latest ? "newest version unstable in Kafka 4.0" : "");
    }
    return 0;
}
