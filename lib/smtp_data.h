/*
 * smtp_data: the message body state machine of DATA and BDAT, built so
 * that no byte sequence can end the data anywhere but where RFC 5321 says
 * (the SMTP smuggling family, CVE-2023-51764 and its kin).
 *
 *	struct smtp_data d;
 *	struct smtp_data_limits lim = { size, 998, bare_lf_reject, 65536 };
 *	smtp_data_init(&d, DATA_DOTTED, &lim);
 *	on input:
 *		r = smtp_data_feed(&d, buf, len, &used, &out);
 *		-- SMTP_DATA_MORE: all used; SMTP_DATA_FULL: send out on,
 *		   empty it, feed buf + used again; SMTP_DATA_END: the data
 *		   ended, buf + used is the next pipelined command
 *	at the end: d.err.code ? reply d.err : commit;
 *	smtp_data_free(&d);
 *
 * The machine is pure and streaming: it keeps every bit of state in the
 * struct, so the result does not depend on how the input is cut into
 * pieces (feeding one byte at a time gives the same output, errors,
 * counts and end position as feeding everything at once).  It does not
 * log and allocates only the header buffer (up to hdr_max).
 *
 * Output.  What it produces is the canonical message: every line ends in
 * CRLF, dot-stuffing is undone, nothing else changes.  The header section
 * (the lines before the first empty line) is kept in d.hdr, the empty
 * line itself is dropped, and every later line is appended to out.  So
 * the caller writes its Received: line and other headers of its own, then
 * d.hdr, then CRLF, then the body it took from out, and the result is the
 * message with the caller's headers on top.  out only grows while
 * hdr_done is set; when end of data comes before any empty line, the
 * whole message was headers and the body is empty.
 *
 * Lines.  A line ends at CRLF, or at a bare LF (an LF without CR before
 * it) when bare LFs are accepted; either way it is written out with CRLF.
 * What each byte sequence becomes:
 *
 *	CR LF		end of line
 *	LF alone	end of line, written as CR LF (policy accept); with
 *			bare_lf_reject, a sticky error 550 5.6.0
 *	CR + other	(a bare CR, a CR that is not followed by LF, also as
 *			the last octet of BDAT data) sticky error 550 5.6.0
 *	NUL		sticky error 550 5.6.0
 *	other octets	kept as they are; any octet >= 0x80 sets eightbit
 *
 * The end of DATA, and dots (DATA_DOTTED only).  A line "begins clean"
 * when it is the first line of the data (the DATA command's CRLF came
 * before it) or when the line before it ended with CR LF; a line after a
 * bare LF does not.  Then, following RFC 5321 section 4.5.2 to the letter:
 *
 *	a clean line that is exactly "." ended by CR LF
 *			is the end of data, and nothing else is: the octets
 *			that follow it are not consumed
 *	a clean line "." ended by a bare LF
 *			data: the line ".", written as "." CR LF (a
 *			relay must dot-stuff it again: it is not an end)
 *	a clean line "." + more
 *			the leading dot is removed ("..x" -> ".x",
 *			".x" -> "x")
 *	a line after a bare LF
 *			kept as it is, dots included: the client did
 *			not dot-stuff it (real clients that send bare LF
 *			send it unstuffed) and it cannot end the data
 *
 * So "\n.\n", "\n.\r\n", "\r.\n", "\r\n.\r" (+ anything but LF),
 * "\r\n.\n", "\r.\r\n" never end the data, and "\r\n.\r\n" always does.
 * Whatever the client sent, out and hdr hold only well-formed CRLF lines,
 * and the dot that a relay later stuffs is on every line that needs it.
 *
 * BDAT (DATA_BDAT).  The chunks are one raw stream: no dot is special and
 * nothing in the data ends it; smtp_data_bdat_last() does, after the
 * chunk of BDAT ... LAST was fed.  Lines are checked and canonicalised as
 * above; a final line without an end gets CR LF added.
 *
 * Limits and errors.  The first error sticks (d.err, an SMTP reply the
 * session sends after the end of data) and from then on the machine only
 * looks for the end of data and discards everything: the session must
 * answer the whole transaction, not the line, and only once the client has
 * stopped sending.  The errors:
 *
 *	550 5.6.0	bare CR, bare LF (policy reject), NUL
 *	500 5.5.2	a line longer than max_line octets (its content, CRLF
 *			and any stuffing dot not counted: RFC 5321
 *			4.5.3.1.6 allows 998); the code many servers use
 *			for over-long lines
 *	552 5.3.4	the message is over max_size: size counts the
 *			canonical octets of hdr, of the empty line between
 *			header and body (also an inserted one) and of the
 *			body, so exactly max_size is still accepted
 *	552 5.3.4	the header section is over hdr_max octets
 *	451 4.3.0	out cannot grow (no memory, or out->max is smaller
 *			than one line: the caller must allow at least
 *			SMTP_DATA_OUT_MIN)
 *
 * Header capture.  A header line is a field ("Name:" or "Name :", the name
 * printable ASCII without ':') or, after one, a continuation (a line
 * beginning with SP or HTAB).  The header section ends at the first empty
 * line, or before the first line that is neither: that line begins the
 * body, and the empty line the caller writes stands in front of it (so a
 * message without headers gets an empty header section).
 */
#ifndef POSTERN_SMTP_DATA_H
#define POSTERN_SMTP_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "dbuf.h"
#include "smtp_err.h"

#define DATA_DOTTED	1	/* after DATA: dot-stuffed, ends with "." */
#define DATA_BDAT	2	/* BDAT chunks: raw */

#define SMTP_DATA_LINE_MAX	998	/* RFC 5321 4.5.3.1.6, CRLF excluded */
#define SMTP_DATA_HDR_MAX	65536
/* The line buffer: the longest line allowed, plus a dot and CRLF. */
#define SMTP_DATA_LINEBUF	(SMTP_DATA_LINE_MAX + 3)
/* out->max must be at least this (the longest line and its CRLF). */
#define SMTP_DATA_OUT_MIN	(SMTP_DATA_LINE_MAX + 2)

/* What smtp_data_feed() and smtp_data_bdat_last() return. */
#define SMTP_DATA_MORE	0	/* all input consumed, feed more */
#define SMTP_DATA_FULL	1	/* out is full: drain it, feed the rest */
#define SMTP_DATA_END	2	/* end of data; the rest is not ours */

struct smtp_data_limits {
	uint64_t	max_size;	/* message octets, 0: no limit */
	size_t		max_line;	/* at most SMTP_DATA_LINE_MAX */
	int		bare_lf_reject;	/* 0: bare LF ends a line */
	size_t		hdr_max;	/* header section octets */
};

struct smtp_data {
	int		 mode;		/* DATA_DOTTED or DATA_BDAT */
	struct smtp_data_limits lim;

	/* The line being read. */
	unsigned char	 line[SMTP_DATA_LINEBUF];
	size_t		 linelen;	/* octets seen, may exceed the buffer */
	int		 clean;		/* began at the start or after CRLF */
	int		 cr;		/* the previous octet was CR */
	int		 done;		/* end of data seen */

	/* The header section. */
	struct dbuf	 hdr;		/* header lines with CRLF, no blank */
	int		 hdr_done;	/* the header section has ended */
	int		 in_field;	/* a header field came: may continue */

	/* What the session needs for the envelope and its replies. */
	uint64_t	 size;		/* canonical octets so far */
	uint64_t	 lines;
	int		 eightbit;	/* an octet >= 0x80 was seen */
	struct smtp_err	 err;		/* code 0 while there is none */
};

void	smtp_data_init(struct smtp_data *, int mode,
	    const struct smtp_data_limits *);
void	smtp_data_free(struct smtp_data *);
int	smtp_data_feed(struct smtp_data *, const unsigned char *in, size_t len,
	    size_t *consumed, struct dbuf *out);
int	smtp_data_bdat_last(struct smtp_data *, struct dbuf *out);

#endif
