/*
 * clock.c: see clock.h.
 */
#include <time.h>

#include "clock.h"

static int64_t clock_off;

time_t
clock_now(void)
{
	return time(NULL) + clock_off;
}

void
clock_set_offset(int64_t off)
{
	clock_off = off;
}

int64_t
clock_offset(void)
{
	return clock_off;
}
