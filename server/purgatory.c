/* purgatory.c - delayed operations: a deadline timer per waiting request.
 * What completes an operation early is an event (the high watermark of a
 * partition moving, see bk_partition_notify), never polling; the timer only
 * answers what is still waiting when the client's wait is over. */
#include "server/server.h"

static void delayed_unlink(bk_delayed *d) {
    bk_broker *b = d->broker;
    if (d->prev)
        d->prev->next = d->next;
    else
        b->delayed = d->next;
    if (d->next) d->next->prev = d->prev;
    d->prev = d->next = NULL;
    b->ndelayed--;
    d->armed = false;
}

static void delayed_fire(uv_timer_t *t) {
    bk_delayed *d = t->data;
    delayed_unlink(d);
    d->expire(d);
}

void bk_delayed_expire_all(bk_broker *b) {
    /* Each expiry may arm or dispose others; restart from the head. */
    for (int guard = 0; b->delayed && guard < 10000000; guard++) {
        bk_delayed *d = b->delayed;
        uv_timer_stop(&d->timer);
        delayed_unlink(d);
        d->expire(d);
    }
}

void bk_delayed_start(bk_broker *b, bk_delayed *d, int64_t timeout_ms,
                      void (*expire)(bk_delayed *d)) {
    d->broker = b;
    d->expire = expire;
    if (!d->inited) uv_timer_init(b->loop, &d->timer);
    d->inited = true;
    d->timer.data = d;
    d->armed = true;
    d->prev = NULL;
    d->next = b->delayed;
    if (b->delayed) b->delayed->prev = d;
    b->delayed = d;
    b->ndelayed++;
    uv_timer_start(&d->timer, delayed_fire, (uint64_t)(timeout_ms > 0 ? timeout_ms : 0), 0);
}

void bk_delayed_cancel(bk_delayed *d) {
    if (!d->armed) return;
    uv_timer_stop(&d->timer);
    delayed_unlink(d);
}

static void delayed_closed(uv_handle_t *h) {
    bk_delayed *d = h->data;
    void (*done)(bk_delayed *) = (void (*)(bk_delayed *))d->expire;
    done(d);
}

void bk_delayed_dispose(bk_delayed *d, void (*done)(bk_delayed *d)) {
    bk_delayed_cancel(d);
    if (!d->inited) {
        done(d);
        return;
    }
    /* The timer handle must be closed before its memory goes. */
    d->expire = done;
    uv_close((uv_handle_t *)&d->timer, delayed_closed);
}
