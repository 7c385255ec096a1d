/*
 * clock: the one source of wall-clock time for scheduling, expiry and
 * timestamps.  Tests move it forward with `posternctl clock advance N'
 * (only when the configuration says test-clock yes): the master sends
 * MSG_CLOCK with the new offset to every child.  Timeouts of network
 * sessions use libevent's monotonic timers and are not affected.
 */
#ifndef POSTERN_CLOCK_H
#define POSTERN_CLOCK_H

#include <stdint.h>
#include <time.h>

time_t	clock_now(void);
void	clock_set_offset(int64_t);
int64_t	clock_offset(void);

#endif
