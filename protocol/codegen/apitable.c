/* apitable.c - prints the API table of the generated codec as Markdown, for
 * README.md (`make api-table`); tests/readme_check.sh keeps the two equal. */
#include <stdio.h>

#include "protocol/gen/messages.h"

static void range(char *buf, size_t n, bk_vrange r) {
    if (r.lo > r.hi) snprintf(buf, n, "none");
    else if (r.hi == BK_VMAX) snprintf(buf, n, "%d+", r.lo);
    else if (r.lo == r.hi) snprintf(buf, n, "%d", r.lo);
    else snprintf(buf, n, "%d-%d", r.lo, r.hi);
}

int main(void) {
    printf("| key | API | versions | flexible | note |\n");
    printf("| ---: | --- | --- | --- | --- |\n");
    for (int i = 0; i < bk_apis_count; i++) {
        const bk_api *a = &bk_apis[i];
        char valid[32], flex[32];
        range(valid, sizeof valid, a->valid);
        range(flex, sizeof flex, a->flexible);
        printf("| %d | %s | %s | %s | %s |\n", a->key, a->name, valid, flex,
               a->unstable_latest ? "newest version unstable in Kafka 4.0" : "");
    }
    return 0;
}
