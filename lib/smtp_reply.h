/*
 * smtp_reply: read the replies a remote SMTP server sends to our client
 * (relayd), one line at a time, and the extensions its EHLO reply names.
 *
 *	struct smtp_reply r;
 *	smtp_reply_init(&r);
 *	for each line read (CRLF removed):
 *		switch (smtp_reply_feed_line(&r, line, len)) {
 *		case SMTP_REPLY_NEED_MORE:	read the next line
 *		case SMTP_REPLY_COMPLETE:	r.code, r.enhanced, lines
 *		case SMTP_REPLY_ERROR:		r.err; drop the connection
 *		}
 *
 * A reply is one or more lines "CODE-text" ending with one "CODE text"
 * (or a bare "CODE"), RFC 5321 section 4.2.  The server is hostile, and
 * everything it sends is checked and bounded:
 *   - CODE is three digits, the first 2 to 5, the same on every line;
 *     the fourth octet is "-", " " or the end of the line;
 *   - a line is at most SMTP_REPLY_LINE_MAX octets, a reply at most
 *     SMTP_REPLY_HARD_LINES lines; NUL, CR or LF inside a line is
 *     garbage; any of this is an ERROR;
 *   - the text of the first SMTP_REPLY_KEEP_LINES lines is kept, up to
 *     SMTP_REPLY_TEXT_MAX octets in all; later lines are read, checked and
 *     counted but not kept, and a line that did not fit whole is kept cut
 *     short and marked truncated;
 *   - kept text is safe for logs and DSNs: control characters and octets
 *     >= 0x80 become '?' (TAB becomes a space).
 * The enhanced status code (RFC 2034/3463) is taken from the start of the
 * first line's text when it has the form class.subject.detail and its
 * class is the first digit of the reply code.
 *
 * After COMPLETE the struct holds the reply until the next line is fed,
 * which starts a new reply; after ERROR every call returns ERROR until
 * smtp_reply_init().  Nothing here allocates or logs.
 *
 * smtp_reply_line(r, i) is the text of kept line i (code and separator
 * removed), NUL-terminated, or NULL when i >= r->nkept.
 * smtp_reply_text() writes the kept lines joined by spaces, each without
 * its enhanced code, into buf (cut to bufsz, NUL-terminated) and returns
 * the length written: the text for relay_result and the logs.
 *
 * smtp_ehlo_parse() reads a complete 250 reply to EHLO: every line after
 * the first that was kept whole starts with an extension keyword
 * (case-insensitive).  Known keywords set bits in flags (and SIZE's
 * number in size, 0 when absent or malformed; AUTH's mechanisms in auth,
 * also from the old "AUTH=" form); unknown ones (PIPECONNECT, XCLIENT...)
 * are ignored.  It returns 0, or -1 when the reply is not a complete 2xx.
 */
#ifndef POSTERN_SMTP_REPLY_H
#define POSTERN_SMTP_REPLY_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_REPLY_LINE_MAX	4096
#define SMTP_REPLY_HARD_LINES	1000
#define SMTP_REPLY_KEEP_LINES	32
#define SMTP_REPLY_TEXT_MAX	4096

#define SMTP_REPLY_ERROR	(-1)
#define SMTP_REPLY_NEED_MORE	0
#define SMTP_REPLY_COMPLETE	1

struct smtp_reply {
	int		 code;		/* 0 before the first line */
	char		 enhanced[16];	/* "5.1.1" or "" */
	size_t		 nlines;	/* lines read so far */
	size_t		 nkept;		/* lines kept in text */
	size_t		 off[SMTP_REPLY_KEEP_LINES];	/* into text */
	uint32_t	 truncated;	/* bit i: kept line i was cut */
	char		 text[SMTP_REPLY_TEXT_MAX];	/* NUL after each */
	size_t		 textlen;
	int		 complete;
	const char	*err;		/* static string after ERROR */
};

/* EHLO extensions */
#define EHLO_PIPELINING		0x001
#define EHLO_SIZE		0x002
#define EHLO_8BITMIME		0x004
#define EHLO_SMTPUTF8		0x008
#define EHLO_STARTTLS		0x010
#define EHLO_AUTH		0x020
#define EHLO_CHUNKING		0x040
#define EHLO_ENHANCEDSTATUSCODES 0x080
#define EHLO_DSN		0x100

/* AUTH mechanisms */
#define EHLO_AUTH_PLAIN		0x01
#define EHLO_AUTH_LOGIN		0x02
#define EHLO_AUTH_CRAM_MD5	0x04
#define EHLO_AUTH_SCRAM_SHA_1	0x08
#define EHLO_AUTH_SCRAM_SHA_256	0x10
#define EHLO_AUTH_XOAUTH2	0x20

struct smtp_ehlo {
	unsigned int	 flags;
	unsigned int	 auth;
	uint64_t	 size;
};

void	smtp_reply_init(struct smtp_reply *);
int	smtp_reply_feed_line(struct smtp_reply *, const char *line, size_t len);
const char *smtp_reply_line(const struct smtp_reply *, size_t i);
size_t	smtp_reply_text(const struct smtp_reply *, char *buf, size_t bufsz);
int	smtp_ehlo_parse(const struct smtp_reply *, struct smtp_ehlo *);

#endif
