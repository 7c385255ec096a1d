/*
 * addr: the one parser of mail addresses, shared by smtpd (the envelope
 * sender), signd (the From: check) and queued (bounces).
 *
 * Everything here is a pure function: no allocation, no global state, no
 * locale; every loop is bounded by the input length given, every copy by
 * the output size given.  Inputs are hostile: any byte sequence is safe to
 * pass, and a NUL byte inside an input of explicit length is malformed.
 *
 * The canonical form.  Both parsers return an address as "local@domain"
 * in one canonical form, so that the envelope and the header forms of one
 * mailbox compare equal with addr_equal():
 *   - the local part is written as a dot-string when its content is one
 *     ("john.doe", also when the input quoted it: "\"john.doe\""); else as
 *     a quoted string in which only '"' and '\' are escaped ("\"a b\"");
 *     comments and folding white space are removed;
 *   - the domain is kept as written (case too): a host name of letters,
 *     digits, hyphens and UTF-8 (U-labels are not mapped to A-labels, so
 *     the two forms of one domain compare unequal: a check fails closed),
 *     or an address literal "[192.0.2.1]" / "[IPv6:2001:db8::1]";
 *   - the local part is at most ADDR_LOCAL_MAX octets (canonical form),
 *     the domain at most ADDR_DOMAIN_MAX octets (labels at most 63
 *     octets, U-labels counted in UTF-8 octets), and the whole address at
 *     most ADDR_MAX - 1 octets, so it always fits in char[ADDR_MAX] (and
 *     in proto.h's MAX_ADDR).
 * A canonical address always parses again, as "<addr>", to itself.
 *
 * Errors.  Parsers return -1 and set *err to a short static string fit for
 * an SMTP reply ("malformed address", "address too long", ...).  An err
 * pointer may be NULL when the caller does not want the reason.
 *
 * int addr_parse_path(s, len, out, outsz, utf8, endp, err)
 *	Parse an RFC 5321 Reverse-path or Forward-path that begins at s[0]
 *	== '<' (the text after "MAIL FROM:" or "RCPT TO:").  "<>" gives
 *	out = "" (the null path: the caller decides where it is allowed).
 *	A source route ("<@a,@b:user@dom>") is checked and dropped.  The
 *	local part is a dot-string or a quoted string, the domain a host
 *	name or an address literal; RFC 6531 UTF-8 is allowed in both and
 *	sets *utf8 = 1 (else 0).  UTF-8 must be well formed as lib/utf8.h
 *	checks it: overlong forms, surrogates, values past U+10FFFF and C1
 *	controls are malformed.
 *	"<postmaster>" (no domain) is malformed: a caller accepting RCPT
 *	TO:<Postmaster> must test for it first.  On success *endp points
 *	just after '>' (the parameters follow); utf8 and endp may be NULL.
 *	out must hold outsz >= 1 bytes; it is "" after an error.
 *
 * int addr_parse_bare(s, len, out, outsz, utf8, err)
 *	The same for a whole string that is just an address, without angle
 *	brackets ("scans@example.com": a token's address, a login name, a
 *	config value).  No null path, no route, no trailing bytes.
 *
 * int addr_split(addr, local, lsz, domain, dsz)
 *	Split a canonical address at its last '@' outside quotes into local
 *	part and domain (either output may be NULL with size 0).  Returns 0,
 *	or -1 if there is no such '@', either side is empty, or a side does
 *	not fit its buffer.
 *
 * int addr_equal(a, b, local_nocase)
 *	1 if the canonical addresses a and b name the same mailbox: domains
 *	compared without regard to ASCII case, local parts exactly, or
 *	without regard to ASCII case if local_nocase.  0 otherwise, and
 *	always 0 if either is not an address (no '@', longer than ADDR_MAX,
 *	the null path "").
 *
 * int addr_domain_valid(domain)
 *	1 if domain (NUL-terminated) is a host name or address literal as
 *	accepted in a path, else 0.
 *
 * int addr_hostname_valid(name)
 *	1 if name is a host name as accepted in a path (no literal), else 0.
 *
 * int addr_parse_mailbox_list(value, len, out, max, n, err)
 *	Parse the value of an RFC 5322 address-list field (From:, Sender:,
 *	To:, Cc:, Reply-To:): what follows the colon, folded or not (CRLF
 *	followed by SP or HTAB is white space; any other CR or LF is
 *	malformed).  Accepts display names (atoms, quoted strings with
 *	quoted-pairs, '.' as obs-phrase allows; encoded-words are left as
 *	they are, in display names and addresses alike), angle-addr,
 *	addr-spec without brackets, comments (nested at most
 *	ADDR_COMMENT_DEPTH deep), groups ("team: a@b, c@d;", empty ones
 *	too; groups do not nest), empty list elements (obs-addr-list), the
 *	obs-local-part (words joined by dots, with CFWS around them:
 *	"\"john\" . doe@x" is "john.doe@x"), RFC 6532 UTF-8.  Refused on
 *	purpose, because receivers read them in different ways and a sender
 *	check must see what they see: obs-route ("<@a:u@d>"), CFWS inside a
 *	domain, text after an address that is not ',' (or ';' in a group),
 *	two addresses without a comma between them, "<>".
 *	Mailboxes are counted (group members included) into *n; the first
 *	max are stored in out (out may be NULL to count only).  Returns 0,
 *	or -1 if the value is malformed, if it holds no address at all
 *	(not even an empty group), or if it holds more than max mailboxes
 *	and out is not NULL.  display is the display name, quoted-pairs
 *	undone, runs of white space as one space, cut at a UTF-8 character
 *	boundary to fit; "" if there is none.
 *
 * int addr_parse_mailbox(value, len, out, err)
 *	For the sender rule: the value must be exactly one mailbox, outside
 *	any group (RFC 5322 From: and Sender: do not take groups; RFC 6854
 *	allows them but DMARC then has no author domain).  Returns 0; -1 if
 *	malformed (as above); -2 if well formed but holding no mailbox, more
 *	than one, or a group (*err "must hold exactly one mailbox").
 */
#ifndef POSTERN_ADDR_H
#define POSTERN_ADDR_H

#include <stddef.h>

#define ADDR_MAX 320	    /* buffer size: address + NUL */
#define ADDR_LOCAL_MAX 64   /* RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX 255 /* RFC 5321 4.5.3.1.2 */
#define ADDR_LABEL_MAX 63
#define ADDR_DISPLAY_MAX 256  /* buffer size: display name + NUL */
#define ADDR_COMMENT_DEPTH 16 /* nesting of RFC 5322 comments */

struct mailbox {
	char addr[ADDR_MAX];
	char display[ADDR_DISPLAY_MAX];
};

int addr_parse_path(const char *, size_t, char *, size_t, int *, const char **,
		    const char **);
int addr_parse_bare(const char *, size_t, char *, size_t, int *, const char **);
int addr_split(const char *, char *, size_t, char *, size_t);
int addr_equal(const char *, const char *, int);
int addr_domain_valid(const char *);
int addr_hostname_valid(const char *);
int addr_parse_mailbox_list(const char *, size_t, struct mailbox *, int, int *,
			    const char **);
int addr_parse_mailbox(const char *, size_t, struct mailbox *, const char **);

#endif
