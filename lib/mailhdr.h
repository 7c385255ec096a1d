/*
 * mailhdr: reading the header block of a message, as smtpd buffers it and
 * as signd and queued read it from the spool.
 *
 * A header block is bytes: fields, each line ended by CRLF, folded lines
 * beginning with SP or HTAB, and no terminating empty line.  Nothing is
 * copied or allocated: fields point into the caller's block, which must
 * outlive them.  Every function is pure and bounded by the length given.
 *
 * Malformed means any of: a line that is neither a field ("name:" with a
 * name of printable ASCII 33..126 except ':', the colon right after it,
 * so the obsolete "From :" is malformed) nor a continuation of one (a
 * line that starts with SP or HTAB, not as the first line); a CR not
 * followed by LF or an LF not preceded by CR; a NUL byte; a last line
 * without its CRLF; an empty line.  A malformed header is never half
 * read: a receiver may split bare CR or LF into lines, and a header it
 * sees but we do not is how a sender check is bypassed.
 *
 * int mailhdr_next(hdr, len, off, f)
 *	Read the field at hdr + *off into f and move *off past it.  Returns
 *	1 for a field, 0 at the end (*off == len), -1 if the field there is
 *	malformed (*off is then left alone).  f->raw spans the whole field,
 *	continuation lines and final CRLF included; f->value is what follows
 *	the colon up to the final CRLF, still folded (as the parsers of
 *	addr.h take it); f->name is the name without the colon.
 *
 * int mailhdr_name_is(f, name)
 *	1 if the field's name is name (NUL-terminated), ASCII case ignored.
 *
 * int mailhdr_count(hdr, len, name)
 *	How many fields are named name; -1 if the header is malformed
 *	anywhere.
 *
 * int mailhdr_get(hdr, len, name, f)
 *	The first field named name into f: 1 found, 0 none, -1 if the header
 *	is malformed anywhere (also after the field found).
 *
 * int mailhdr_single_mailbox(hdr, len, name, addr, addrsz, err)
 *	The sender rule of smtpd and signd: the field name must occur
 *	exactly once and hold exactly one mailbox, outside any group (see
 *	addr_parse_mailbox); its canonical address is copied to addr.
 *	Returns 0 if so; 1 if the field is absent (*err "no From: header",
 *	so a caller may treat an absent Sender: as fine and an absent From:
 *	as an error); -1 otherwise, with *err one of "malformed header",
 *	"more than one From: header", "From: must hold exactly one
 *	mailbox", "address too long" or the parser's reason.  For From,
 *	Sender, Resent-From and Resent-Sender the messages name the field;
 *	for other names they say "header field".  err may be NULL.
 */
#ifndef POSTERN_MAILHDR_H
#define POSTERN_MAILHDR_H

#include <stddef.h>

struct mailhdr_field {
	const char *name;
	size_t namelen;
	const char *value;
	size_t valuelen;
	const char *raw;
	size_t rawlen;
};

int mailhdr_next(const char *, size_t, size_t *, struct mailhdr_field *);
int mailhdr_name_is(const struct mailhdr_field *, const char *);
int mailhdr_count(const char *, size_t, const char *);
int mailhdr_get(const char *, size_t, const char *, struct mailhdr_field *);
int mailhdr_single_mailbox(const char *, size_t, const char *, char *, size_t,
			   const char **);

#endif
