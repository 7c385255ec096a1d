/*
 * smtp_data.c: see smtp_data.h.
 *
 * The machine reads one octet at a time and collects a line; every
 * decision (end of data, unstuffing, header or body, limits) is taken
 * when the line ends, on the whole line and how it ended.  Nothing is
 * decided on a partial line, so where the input is cut cannot matter.
 * Octets that mean nothing by themselves (all but CR, LF and NUL) are
 * taken a run at a time (data_add_run), which does to the state exactly
 * what data_add() would do octet by octet, only faster: that is most of
 * every message.
 *
 * Why a line's beginning must be "clean" before its dot means anything:
 * a server that also took a bare LF (or a bare CR) as the line end before
 * "." would see an end of data where the next hop, which sees only CRLF,
 * sees a line of text, and a second transaction hidden after that dot
 * would go out under our name (SMTP smuggling).  With the rule "only
 * CRLF . CRLF ends", we and every RFC-following next hop agree.
 */
#include <errno.h>
#include <string.h>

#include "smtp_data.h"

static void
data_error(struct smtp_data *d, int code, const char *enh, const char *text)
{
	if (d->err.code != 0)
		return;
	d->err.code = code;
	d->err.enhanced = enh;
	d->err.text = text;
}

void
smtp_data_init(struct smtp_data *d, int mode,
    const struct smtp_data_limits *lim)
{
	memset(d, 0, sizeof(*d));
	d->mode = mode;
	d->lim = *lim;
	if (d->lim.max_line == 0 || d->lim.max_line > SMTP_DATA_LINE_MAX)
		d->lim.max_line = SMTP_DATA_LINE_MAX;
	if (d->lim.hdr_max == 0)
		d->lim.hdr_max = SMTP_DATA_HDR_MAX;
	dbuf_init(&d->hdr, d->lim.hdr_max);
	/* The CRLF of the DATA command precedes the first line. */
	d->clean = 1;
}

void
smtp_data_free(struct smtp_data *d)
{
	dbuf_free(&d->hdr);
}

/* Would add more octets keep the message within max_size? */
static int
data_size_ok(const struct smtp_data *d, uint64_t add)
{
	if (d->lim.max_size == 0)
		return 1;
	return d->size <= d->lim.max_size && add <= d->lim.max_size - d->size;
}

static void
data_size_error(struct smtp_data *d)
{
	data_error(d, 552, "5.3.4",
	    "Message size exceeds fixed maximum message size");
}

/* A header field's first line: "Name:" or "Name :" (obs-optional). */
static int
data_is_field(const unsigned char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n && p[i] >= 0x21 && p[i] <= 0x7e && p[i] != ':';
	    i++)
		;
	if (i == 0)
		return 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':';
}

static void
data_add(struct smtp_data *d, unsigned char c)
{
	/* Past the buffer only the count goes on: the line is too long. */
	if (d->linelen < sizeof(d->line))
		d->line[d->linelen] = c;
	d->linelen++;
	if (c >= 0x80)
		d->eightbit = 1;
}

/* Octets that data_add_run() may not take: each has a rule of its own. */
static const unsigned char data_special[256] = {
	['\0'] = 1, ['\n'] = 1, ['\r'] = 1,
};

/* data_add() of n octets none of which is special. */
static void
data_add_run(struct smtp_data *d, const unsigned char *p, size_t n)
{
	size_t		i;
	unsigned char	hi = 0;

	if (d->linelen < sizeof(d->line))
		memcpy(d->line + d->linelen, p, n < sizeof(d->line) -
		    d->linelen ? n : sizeof(d->line) - d->linelen);
	d->linelen += n;
	if (!d->eightbit) {
		for (i = 0; i < n; i++)
			hi |= p[i];
		if (hi & 0x80)
			d->eightbit = 1;
	}
}

static int
data_append_line(struct dbuf *b, const unsigned char *p, size_t n)
{
	/* All or nothing, so that a failure leaves b as it was. */
	if (dbuf_reserve(b, n + 2) == -1)
		return -1;
	if (dbuf_append(b, p, n) == -1 || dbuf_append(b, "\r\n", 2) == -1)
		return -1;
	return 0;
}

/*
 * Store one complete line (content without its end): into the header
 * section while it lasts, else into out.  SMTP_DATA_FULL when out has no
 * room for it yet; nothing has changed then.
 */
static int
data_store(struct smtp_data *d, const unsigned char *p, size_t n,
    struct dbuf *out)
{
	uint64_t	extra = 0;

	if (d->err.code != 0)
		return SMTP_DATA_MORE;

	if (!d->hdr_done) {
		if (n == 0) {
			if (!data_size_ok(d, 2)) {
				data_size_error(d);
				return SMTP_DATA_MORE;
			}
			d->hdr_done = 1;
			d->size += 2;
			return SMTP_DATA_MORE;
		}
		if (data_is_field(p, n) ||
		    (d->in_field && (p[0] == ' ' || p[0] == '\t'))) {
			if (!data_size_ok(d, n + 2)) {
				data_size_error(d);
				return SMTP_DATA_MORE;
			}
			if (data_append_line(&d->hdr, p, n) == -1) {
				if (errno == EMSGSIZE)
					data_error(d, 552, "5.3.4",
					    "Header section too large");
				else
					data_error(d, 451, "4.3.0",
					    "Local error: out of memory");
				return SMTP_DATA_MORE;
			}
			d->in_field = 1;
			d->size += n + 2;
			return SMTP_DATA_MORE;
		}
		/* Neither: the body begins, after an inserted empty line. */
		extra = 2;
	}

	if (!data_size_ok(d, extra + n + 2)) {
		data_size_error(d);
		return SMTP_DATA_MORE;
	}
	if (data_append_line(out, p, n) == -1) {
		if (errno == EMSGSIZE && out->len > 0)
			return SMTP_DATA_FULL;
		data_error(d, 451, "4.3.0", errno == EMSGSIZE ?
		    "Local error: output buffer too small" :
		    "Local error: out of memory");
		return SMTP_DATA_MORE;
	}
	if (extra != 0)
		d->hdr_done = 1;
	d->size += extra + n + 2;
	return SMTP_DATA_MORE;
}

/*
 * The line in d->line has ended, with CRLF (crlf) or a bare LF.  Returns
 * SMTP_DATA_END for the end of data, SMTP_DATA_FULL when out must be
 * drained first (nothing has changed then), else SMTP_DATA_MORE.
 */
static int
data_line_end(struct smtp_data *d, int crlf, struct dbuf *out)
{
	const unsigned char	*p = d->line;
	size_t			 n = d->linelen;
	int			 r;

	if (d->mode == DATA_DOTTED && d->clean && n > 0 && p[0] == '.') {
		if (n == 1 && crlf) {
			d->done = 1;
			d->hdr_done = 1;
			d->linelen = 0;
			return SMTP_DATA_END;
		}
		/* "." + more loses its stuffing dot; "." + bare LF is data. */
		if (n > 1) {
			p++;
			n--;
		}
	}
	if (n > d->lim.max_line)
		data_error(d, 500, "5.5.2", "Line too long");
	else if ((r = data_store(d, p, n, out)) == SMTP_DATA_FULL)
		return r;
	d->clean = crlf;
	d->linelen = 0;
	d->lines++;
	return SMTP_DATA_MORE;
}

static void
data_bare_cr(struct smtp_data *d)
{
	data_error(d, 550, "5.6.0", "Bare CR not allowed in message");
	/*
	 * Kept as a plain octet of the line: the data is refused anyway,
	 * and the line it is on can then be no end of data.
	 */
	data_add(d, '\r');
	d->cr = 0;
}

int
smtp_data_feed(struct smtp_data *d, const unsigned char *in, size_t len,
    size_t *consumed, struct dbuf *out)
{
	size_t		i, j;
	int		r = SMTP_DATA_MORE;
	unsigned char	c;

	*consumed = 0;
	if (d->done)
		return SMTP_DATA_END;

	for (i = 0; i < len; i++) {
		c = in[i];
		if (!d->cr && !data_special[c]) {
			/* A run of plain octets, up to the next special one. */
			for (j = i + 1; j < len && !data_special[in[j]]; j++)
				;
			data_add_run(d, in + i, j - i);
			i = j - 1;
			continue;
		}
		if (d->cr) {
			if (c == '\n') {
				r = data_line_end(d, 1, out);
				if (r == SMTP_DATA_FULL)
					break;
				d->cr = 0;
				if (r == SMTP_DATA_END) {
					i++;
					break;
				}
				continue;
			}
			data_bare_cr(d);
		}
		if (c == '\r') {
			d->cr = 1;
			continue;
		}
		if (c == '\n') {
			if (d->lim.bare_lf_reject)
				data_error(d, 550, "5.6.0",
				    "Bare LF not allowed in message");
			r = data_line_end(d, 0, out);
			if (r == SMTP_DATA_FULL)
				break;
			continue;
		}
		if (c == '\0')
			data_error(d, 550, "5.6.0",
			    "NUL not allowed in message");
		data_add(d, c);
	}
	*consumed = i;
	return r;
}

int
smtp_data_bdat_last(struct smtp_data *d, struct dbuf *out)
{
	if (d->done)
		return SMTP_DATA_END;
	if (d->cr)
		data_bare_cr(d);
	/* A last line without its end gets one. */
	if (d->linelen > 0 &&
	    data_line_end(d, 1, out) == SMTP_DATA_FULL)
		return SMTP_DATA_FULL;
	d->done = 1;
	d->hdr_done = 1;
	return SMTP_DATA_END;
}
