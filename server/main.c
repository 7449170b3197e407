/* main.c - brookd's entry point. The server itself arrives with issue 4; until
 * then brookd says so instead of pretending to serve. */
#include <stdio.h>

int main(void) {
    fprintf(stderr, "brookd: the broker is not built yet: this checkout has the protocol layer "
                    "only (see README.md)\n");
    return 2;
}
