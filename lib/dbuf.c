/*
 * dbuf.c: see dbuf.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dbuf.h"

/* Smallest allocation: most users append lines of a few dozen octets. */
#define DBUF_MINCAP	256

void
dbuf_init(struct dbuf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
dbuf_free(struct dbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
dbuf_reset(struct dbuf *b)
{
	b->len = 0;
}

size_t
dbuf_room(const struct dbuf *b)
{
	return b->len >= b->max ? 0 : b->max - b->len;
}

int
dbuf_reserve(struct dbuf *b, size_t n)
{
	unsigned char	*p;
	size_t		 need, ncap;

	if (n > dbuf_room(b)) {
		errno = EMSGSIZE;
		return -1;
	}
	need = b->len + n;	/* cannot wrap: n <= max - len */
	if (need <= b->cap)
		return 0;
	ncap = b->cap < DBUF_MINCAP ? DBUF_MINCAP : b->cap;
	while (ncap < need) {
		if (ncap > b->max / 2) {
			ncap = b->max;
			break;
		}
		ncap *= 2;
	}
	if (ncap > b->max)
		ncap = b->max;
	if ((p = realloc(b->data, ncap)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
dbuf_append(struct dbuf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (dbuf_reserve(b, n) == -1)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
dbuf_putc(struct dbuf *b, unsigned char c)
{
	return dbuf_append(b, &c, 1);
}

void
dbuf_consume(struct dbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}
