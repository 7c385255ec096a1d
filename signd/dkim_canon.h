/*
 * dkim_canon: RFC 6376 section 3.4 canonicalization, "simple" and
 * "relaxed", for one header field at a time and for a body fed in
 * chunks of any size.
 *
 *	size_t
 *	dkim_canon_header(enum dkim_canon c, const char *field, size_t len,
 *	    char *out, size_t outsz)
 *
 *	void	dkim_body_init(struct dkim_body *b, enum dkim_canon c,
 *		    dkim_body_out fn, void *arg)
 *	void	dkim_body_feed(struct dkim_body *b, const void *p, size_t n)
 *	void	dkim_body_end(struct dkim_body *b)
 *
 * dkim_canon_header() canonicalizes one header field given without its
 * final CRLF (name, colon, value, folding included) and writes the result,
 * again without the final CRLF, to out.  The signer appends CRLF itself
 * for every field but the DKIM-Signature being made (RFC 6376 3.7).
 * The output is never longer than the input; it returns the number of
 * bytes written, or (size_t)-1 when out is too small or the field has no
 * colon.  Nothing is NUL-terminated.
 *
 * The body canonicalizer is a state machine that never holds the body:
 * stretches that need no change (ordinary text: CRLF lines, single
 * spaces) are found 16 bytes at a time and go out as they lie; the rest
 * goes byte by byte. The only state carried between chunks is a held CR
 * (which may start a CRLF), a pending-whitespace flag (relaxed), whether
 * the current line has content, and a count of empty lines not yet
 * written.  Empty lines are written only when a non-empty line follows, so
 * the empty lines at the end of the body disappear, as both algorithms
 * require.  Output goes through a small internal buffer to fn(arg, p, n),
 * in order; dkim_body_end() flushes it and ends the body:
 *	- simple: an unterminated last line gets a CRLF; an empty body is a
 *	  single CRLF (3.4.3);
 *	- relaxed: an unterminated last line gets a CRLF; an empty body
 *	  stays empty (3.4.4).
 * Lines end with CRLF or with a bare LF; a lone CR is an ordinary byte.
 * queued stores CRLF lines, so this matters only for odd input, and it is
 * how the receivers see such a body: SMTP servers turn a bare LF into a
 * line end, and verifiers (dkimpy, OpenDKIM) read it as one.  Relaxed
 * drops the whitespace at the end of the unterminated last line too,
 * reading 3.4.4's "end of lines" as covering it.
 *
 * No allocation, no failure: any byte sequence is a body.
 */
#ifndef POSTERN_DKIM_CANON_H
#define POSTERN_DKIM_CANON_H

#include <stddef.h>
#include <stdint.h>

enum dkim_canon {
	DKIM_CANON_SIMPLE = 1,
	DKIM_CANON_RELAXED,
};

#define DKIM_BODY_BUFSZ	8192

typedef void (*dkim_body_out)(void *arg, const void *, size_t);

struct dkim_body {
	enum dkim_canon	 canon;
	dkim_body_out	 out;
	void		*arg;
	int		 held_cr;	/* last byte was CR: maybe a CRLF */
	int		 wsp;		/* relaxed: whitespace held back */
	int		 inline_;	/* the current line has content */
	uint64_t	 blank;		/* empty lines not yet written */
	uint64_t	 written;	/* canonical bytes produced */
	size_t		 blen;
	unsigned char	 buf[DKIM_BODY_BUFSZ];
};

size_t	dkim_canon_header(enum dkim_canon, const char *field, size_t len,
	    char *out, size_t outsz);

void	dkim_body_init(struct dkim_body *, enum dkim_canon, dkim_body_out,
	    void *arg);
void	dkim_body_feed(struct dkim_body *, const void *, size_t);
void	dkim_body_end(struct dkim_body *);

/* "simple" / "relaxed" */
const char *dkim_canon_name(enum dkim_canon);

#endif
