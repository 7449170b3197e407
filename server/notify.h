/* notify.h - readiness and liveness reports to a service manager (systemd's
 * sd_notify protocol), without linking libsystemd. */
#ifndef BK_NOTIFY_H
#define BK_NOTIFY_H

#include <stdint.h>

/*
 * Sends `state` as one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET
 * (a path, or "@name" for an abstract socket). `state` is newline-separated
 * assignments, e.g. "READY=1\nSTATUS=serving on 127.0.0.1:9092", "STOPPING=1",
 * "WATCHDOG=1".
 *
 * Returns 0 when the datagram was sent, 0 as well when NOTIFY_SOCKET is unset
 * or empty (not started by a service manager: nothing to do), and a negative
 * errno value on failure (-EINVAL for an address that is neither a path nor
 * "@name", or too long; -EAFNOSUPPORT for vsock addresses, which brook does
 * not speak; whatever socket() or sendto() failed with otherwise).
 *
 * Allocates nothing, keeps errno, and uses only async-signal-safe calls apart
 * from getenv() (which only reads environ), so it may run on a shutdown path.
 */
int bk_notify(const char *state);

/*
 * The watchdog interval the service manager asked for (WatchdogSec=), in
 * microseconds, or 0 when there is none: WATCHDOG_USEC unset, not a positive
 * decimal number, or WATCHDOG_PID set to some other process (the variables
 * were inherited, not meant for us). Send "WATCHDOG=1" about twice per
 * interval.
 */
uint64_t bk_notify_watchdog_usec(void);

#endif
