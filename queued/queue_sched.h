/*
 * queue_sched: the in-memory schedule of the queue, and the retry policy.
 *
 * The schedule is a binary min-heap of items keyed by their due time
 * (clock_now() seconds).  Each item sits inside the caller's own record
 * (one per queued message) and remembers its slot, so an item can be
 * removed or re-keyed in O(log n) when the operator holds, deletes or
 * flushes a message.  Finding what is due next is sched_peek(): O(1),
 * whatever the size of the queue.  The heap owns only its array of
 * pointers; the items belong to the caller.  Nothing here logs, sleeps
 * or does I/O.
 *
 * sched_backoff() is the retry policy: after the Nth failed attempt
 * (N >= 1) wait d = initial * 2^(N-1), at most max, then add a jitter of
 * up to d/10 (from the caller's random number, so tests are exact), or
 * subtract it where adding would pass max.  Jitter spreads the retries of a burst of messages
 * that failed together.
 */
#ifndef POSTERN_QUEUE_SCHED_H
#define POSTERN_QUEUE_SCHED_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SCHED_NONE	((size_t)-1)	/* item not in the heap */

struct sched_item {
	int64_t		 due;
	uint64_t	 tie;		/* equal due times: lower first */
	size_t		 slot;		/* SCHED_NONE when out */
};

struct sched {
	struct sched_item **v;
	size_t		 n;
	size_t		 cap;
};

void	sched_init(struct sched *);
void	sched_free(struct sched *);
/* Insert (the item must be out): 0, or -1 when out of memory. */
int	sched_insert(struct sched *, struct sched_item *);
/* Remove an item that is in; no-op when it is out. */
void	sched_remove(struct sched *, struct sched_item *);
/* Change an item's due time (in or out: an out item is inserted). */
int	sched_update(struct sched *, struct sched_item *, int64_t due);
/* The earliest item, or NULL when empty. */
struct sched_item *sched_peek(const struct sched *);
/* Remove and return the earliest item if it is due at `now', else NULL. */
struct sched_item *sched_pop_due(struct sched *, int64_t now);
size_t	sched_count(const struct sched *);

/* Seconds to wait after the attempts-th failure; rnd is any 32-bit value. */
time_t	sched_backoff(uint32_t attempts, time_t initial, time_t max,
	    uint32_t rnd);

#endif
