/*
 * queue_sched.c: a binary min-heap with slot tracking; the backoff rule.
 * See queue_sched.h.
 */
#include <stdlib.h>

#include "queue_sched.h"

void
sched_init(struct sched *s)
{
	s->v = NULL;
	s->n = 0;
	s->cap = 0;
}

void
sched_free(struct sched *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		s->v[i]->slot = SCHED_NONE;
	free(s->v);
	sched_init(s);
}

static int
sched_less(const struct sched_item *a, const struct sched_item *b)
{
	if (a->due != b->due)
		return a->due < b->due;
	return a->tie < b->tie;
}

static void
sched_place(struct sched *s, size_t i, struct sched_item *it)
{
	s->v[i] = it;
	it->slot = i;
}

static void
sched_up(struct sched *s, size_t i)
{
	struct sched_item *it = s->v[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!sched_less(it, s->v[parent]))
			break;
		sched_place(s, i, s->v[parent]);
		i = parent;
	}
	sched_place(s, i, it);
}

static void
sched_down(struct sched *s, size_t i)
{
	struct sched_item *it = s->v[i];
	size_t child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= s->n)
			break;
		if (child + 1 < s->n && sched_less(s->v[child + 1],
		    s->v[child]))
			child++;
		if (!sched_less(s->v[child], it))
			break;
		sched_place(s, i, s->v[child]);
		i = child;
	}
	sched_place(s, i, it);
}

int
sched_insert(struct sched *s, struct sched_item *it)
{
	struct sched_item **v;
	size_t cap;

	if (s->n == s->cap) {
		cap = s->cap ? s->cap * 2 : 64;
		if ((v = reallocarray(s->v, cap, sizeof(*v))) == NULL)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n] = it;
	it->slot = s->n++;
	sched_up(s, it->slot);
	return 0;
}

void
sched_remove(struct sched *s, struct sched_item *it)
{
	struct sched_item *last;
	size_t i = it->slot;

	if (i == SCHED_NONE || i >= s->n || s->v[i] != it)
		return;
	it->slot = SCHED_NONE;
	last = s->v[--s->n];
	if (i == s->n)
		return;
	sched_place(s, i, last);
	/* The moved item may belong above or below its new slot. */
	if (i > 0 && sched_less(last, s->v[(i - 1) / 2]))
		sched_up(s, i);
	else
		sched_down(s, i);
}

int
sched_update(struct sched *s, struct sched_item *it, int64_t due)
{
	sched_remove(s, it);
	it->due = due;
	return sched_insert(s, it);
}

struct sched_item *
sched_peek(const struct sched *s)
{
	return s->n > 0 ? s->v[0] : NULL;
}

struct sched_item *
sched_pop_due(struct sched *s, int64_t now)
{
	struct sched_item *it;

	if (s->n == 0 || s->v[0]->due > now)
		return NULL;
	it = s->v[0];
	sched_remove(s, it);
	return it;
}

size_t
sched_count(const struct sched *s)
{
	return s->n;
}

time_t
sched_backoff(uint32_t attempts, time_t initial, time_t max, uint32_t rnd)
{
	time_t d, jitter;
	uint32_t i;

	if (initial < 1)
		initial = 1;
	if (max < initial)
		max = initial;
	d = initial;
	for (i = 1; i < attempts && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	jitter = rnd % (d / 10 + 1);
	/* Spread upwards, or downwards once at the ceiling. */
	if (d + jitter <= max)
		return d + jitter;
	return d - jitter;
}
