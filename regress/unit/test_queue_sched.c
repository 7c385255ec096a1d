/*
 * test_queue_sched: the schedule heap against a brute-force model; the
 * backoff rule.
 */
#include <stdint.h>
#include <stdlib.h>

#include "unit.h"
#include "queued/queue_sched.h"

#define N	2000

static int
heap_ok(const struct sched *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (s->v[i]->slot != i)
			return 0;
		if (i > 0 && s->v[(i - 1) / 2]->due > s->v[i]->due)
			return 0;
	}
	return 1;
}

static void
test_sched_order(void)
{
	static struct sched_item it[N];
	struct sched s;
	struct sched_item *p;
	int64_t last = -1;
	size_t i, n = 0;

	sched_init(&s);
	srandom(1);
	for (i = 0; i < N; i++) {
		it[i].slot = SCHED_NONE;
		it[i].due = random() % 1000;
		it[i].tie = i;
		CHECK(sched_insert(&s, &it[i]) == 0);
	}
	CHECK(heap_ok(&s));
	CHECK(sched_pop_due(&s, -1) == NULL);
	while ((p = sched_pop_due(&s, 1000)) != NULL) {
		CHECK(p->due >= last);
		CHECK(p->slot == SCHED_NONE);
		last = p->due;
		n++;
	}
	CHECK_INT(n, N);
	CHECK(sched_peek(&s) == NULL);
	sched_free(&s);
}

static void
test_sched_remove_update(void)
{
	static struct sched_item it[N];
	struct sched s;
	struct sched_item *p;
	size_t i, n = 0;
	int64_t last = -1;

	sched_init(&s);
	srandom(2);
	for (i = 0; i < N; i++) {
		it[i].slot = SCHED_NONE;
		it[i].due = random() % 5000;
		it[i].tie = i;
		sched_insert(&s, &it[i]);
	}
	/* Remove every third, re-key every fifth. */
	for (i = 0; i < N; i += 3)
		sched_remove(&s, &it[i]);
	for (i = 1; i < N; i += 5)
		if (i % 3 != 0)
			sched_update(&s, &it[i], random() % 5000);
	CHECK(heap_ok(&s));
	/* Removing twice is harmless. */
	sched_remove(&s, &it[0]);
	CHECK_INT(sched_count(&s), N - (N + 2) / 3);
	while ((p = sched_pop_due(&s, INT64_MAX)) != NULL) {
		CHECK(p->due >= last);
		CHECK((p - it) % 3 != 0);
		last = p->due;
		n++;
	}
	CHECK_INT(n, N - (N + 2) / 3);
	/* Update of an item that is out inserts it. */
	sched_update(&s, &it[0], 7);
	CHECK(sched_peek(&s) == &it[0]);
	sched_free(&s);
	CHECK(it[0].slot == SCHED_NONE);
}

static void
test_sched_ties(void)
{
	struct sched_item a = { 10, 2, SCHED_NONE }, b = { 10, 1, SCHED_NONE };
	struct sched s;

	sched_init(&s);
	sched_insert(&s, &a);
	sched_insert(&s, &b);
	CHECK(sched_pop_due(&s, 9) == NULL);
	CHECK(sched_pop_due(&s, 10) == &b);
	CHECK(sched_pop_due(&s, 10) == &a);
	sched_free(&s);
}

static void
test_backoff(void)
{
	/* no jitter (rnd 0): doubling from initial, capped at max */
	CHECK_INT(sched_backoff(1, 300, 3600, 0), 300);
	CHECK_INT(sched_backoff(2, 300, 3600, 0), 600);
	CHECK_INT(sched_backoff(3, 300, 3600, 0), 1200);
	CHECK_INT(sched_backoff(4, 300, 3600, 0), 2400);
	CHECK_INT(sched_backoff(5, 300, 3600, 0), 3600);
	CHECK_INT(sched_backoff(500, 300, 3600, 0), 3600);
	CHECK_INT(sched_backoff(0xffffffff, 300, 3600, 0), 3600);
	/* jitter: at most a tenth, never past max */
	CHECK_INT(sched_backoff(1, 300, 3600, 30), 330);
	CHECK_INT(sched_backoff(1, 300, 3600, 31), 300);
	CHECK_INT(sched_backoff(9, 300, 3600, 100), 3500);
	CHECK(sched_backoff(9, 300, 3600, 0xffffffff) <= 3600);
	CHECK(sched_backoff(9, 300, 3600, 0xffffffff) >= 3240);
	/* nonsense configuration still gives a sane positive delay */
	CHECK_INT(sched_backoff(1, 0, 0, 0), 1);
	CHECK_INT(sched_backoff(3, 10, 5, 0), 10);
}

int
main(void)
{
	RUN(test_sched_order);
	RUN(test_sched_remove_update);
	RUN(test_sched_ties);
	RUN(test_backoff);
	return unit_done();
}
