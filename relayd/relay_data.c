/*
 * relay_data.c: the DATA stream of a message (prefix, dot-stuffing,
 * terminator).  See relay_data.h.
 */
#include <sys/types.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "relay_data.h"

void
relay_data_init(struct relay_data *d, int fd, const unsigned char *prefix,
    size_t prefixlen)
{
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	d->prefix = prefix;
	d->prefixlen = prefix != NULL ? prefixlen : 0;
	d->prev = '\n';
}

size_t
relay_data_stuff(unsigned char *prev, const unsigned char *in, size_t len,
    unsigned char *out)
{
	const unsigned char *p = in, *end = in + len, *dot;
	unsigned char *o = out, before;
	size_t n;

	/* Only a dot can need stuffing: copy what lies between dots. */
	while (p < end) {
		if ((dot = memchr(p, '.', end - p)) == NULL)
			dot = end;
		n = dot - p;
		memcpy(o, p, n);
		o += n;
		if (dot == end)
			break;
		/* After LF, or after a CR that no LF follows: a new line. */
		before = dot > in ? dot[-1] : *prev;
		if (before == '\n' || before == '\r')
			*o++ = '.';
		*o++ = '.';
		p = dot + 1;
	}
	if (len > 0)
		*prev = in[len - 1];
	return o - out;
}

/* The end: CRLF unless the data ended with one, then ".\r\n". */
static size_t
relay_data_end(struct relay_data *d, unsigned char *out)
{
	size_t n = 0;

	if (d->prev == '\r')
		out[n++] = '\n';
	else if (d->prev != '\n') {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	memcpy(out + n, ".\r\n", 3);
	d->done = 1;
	return n + 3;
}

ssize_t
relay_data_read(struct relay_data *d, unsigned char *out, size_t outsz)
{
	unsigned char buf[16384];
	size_t chunk, n;
	ssize_t r;

	if (d->done)
		return 0;
	if (outsz < RELAY_DATA_MIN_OUT) {
		errno = EINVAL;
		return -1;
	}
	/* Leave room for the stuffing (at most doubling) and the end. */
	chunk = (outsz - 8) / 2;
	if (chunk > sizeof(buf))
		chunk = sizeof(buf);
	if (d->prefixoff < d->prefixlen) {
		n = d->prefixlen - d->prefixoff;
		if (n > chunk)
			n = chunk;
		r = relay_data_stuff(&d->prev, d->prefix + d->prefixoff, n,
		    out);
		d->prefixoff += n;
		return r;
	}
	if (!d->eof) {
		do {
			r = pread(d->fd, buf, chunk, d->off);
		} while (r == -1 && errno == EINTR);
		if (r == -1)
			return -1;
		if (r > 0) {
			d->off += r;
			return relay_data_stuff(&d->prev, buf, r, out);
		}
		d->eof = 1;
	}
	return relay_data_end(d, out);
}
