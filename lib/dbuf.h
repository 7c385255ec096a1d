/*
 * dbuf: a growable byte buffer with a hard upper bound.
 *
 *	struct dbuf b;
 *	dbuf_init(&b, 65536);		-- never grows past 64 KiB
 *	if (dbuf_append(&b, p, n) == -1)
 *		... errno is EMSGSIZE (over the bound) or ENOMEM ...
 *	send(b.data, b.len); dbuf_reset(&b);
 *	dbuf_free(&b);
 *
 * The buffer owns its memory (data, allocated on first use and grown by
 * doubling, never beyond max).  data is NULL while nothing was ever
 * appended.  An append either takes all of its bytes or none: a failed
 * append leaves the buffer as it was, so a caller may drain it and retry.
 * Nothing here logs or exits; the caller decides what a failure means.
 * The contents are bytes, not a string: no NUL is kept after them.
 */
#ifndef POSTERN_DBUF_H
#define POSTERN_DBUF_H

#include <stddef.h>

struct dbuf {
	unsigned char	*data;
	size_t		 len;	/* bytes held */
	size_t		 cap;	/* bytes allocated */
	size_t		 max;	/* len never exceeds this */
};

void	dbuf_init(struct dbuf *, size_t max);
void	dbuf_free(struct dbuf *);
/* Forget the contents, keep the memory. */
void	dbuf_reset(struct dbuf *);
/* Bytes that may still be appended before max is reached. */
size_t	dbuf_room(const struct dbuf *);
/* Make room for n more bytes: 0, or -1 with errno EMSGSIZE or ENOMEM. */
int	dbuf_reserve(struct dbuf *, size_t n);
/* Append n bytes (all or none): 0, or -1 with errno EMSGSIZE or ENOMEM. */
int	dbuf_append(struct dbuf *, const void *, size_t n);
int	dbuf_putc(struct dbuf *, unsigned char);
/* Drop the first n bytes (n at most len), moving the rest to the front. */
void	dbuf_consume(struct dbuf *, size_t n);

#endif
