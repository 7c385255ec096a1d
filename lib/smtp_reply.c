/*
 * smtp_reply.c: see smtp_reply.h.
 */
#include <string.h>
#include <strings.h>

#include "smtp_reply.h"

void
smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
}

static int
reply_fail(struct smtp_reply *r, const char *why)
{
	r->err = why;
	return SMTP_REPLY_ERROR;
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/*
 * Length of an enhanced status code "C.SSS.DDD" of class C at the start
 * of p (n octets), followed by a space or the end; 0 when there is none.
 */
static size_t
reply_enh_len(const char *p, size_t n, int class)
{
	size_t	i = 0, k, part;

	if (n < 5 || p[0] != class || p[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (k = 0; k < 3 && i < n && is_digit((unsigned char)p[i]);
		    k++)
			i++;
		if (k == 0)
			return 0;
		if (part == 0) {
			if (i >= n || p[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && p[i] != ' ')
		return 0;
	return i;
}

static void
reply_keep(struct smtp_reply *r, const char *p, size_t n)
{
	size_t	room, i;
	char	*dst;
	int	c;

	if (r->nkept >= SMTP_REPLY_KEEP_LINES ||
	    r->textlen + 1 >= sizeof(r->text))
		return;
	room = sizeof(r->text) - r->textlen - 1;
	if (n > room) {
		n = room;
		r->truncated |= (uint32_t)1 << r->nkept;
	}
	dst = r->text + r->textlen;
	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if (c == '\t')
			c = ' ';
		else if (c < 0x20 || c >= 0x7f)
			c = '?';
		dst[i] = (char)c;
	}
	dst[n] = '\0';
	r->off[r->nkept++] = r->textlen;
	r->textlen += n + 1;
}

int
smtp_reply_feed_line(struct smtp_reply *r, const char *line, size_t len)
{
	const char	*text;
	size_t		 tlen, n;
	int		 code, last;

	if (r->err != NULL)
		return SMTP_REPLY_ERROR;
	if (r->complete)
		smtp_reply_init(r);

	if (len > SMTP_REPLY_LINE_MAX)
		return reply_fail(r, "reply line too long");
	if (len < 3 || line[0] < '2' || line[0] > '5' ||
	    !is_digit((unsigned char)line[1]) ||
	    !is_digit((unsigned char)line[2]) ||
	    (len > 3 && line[3] != '-' && line[3] != ' '))
		return reply_fail(r, "malformed reply line");
	if (memchr(line, '\0', len) != NULL || memchr(line, '\r', len) != NULL ||
	    memchr(line, '\n', len) != NULL)
		return reply_fail(r, "garbage in reply line");
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->nlines > 0 && code != r->code)
		return reply_fail(r, "reply code changes between lines");
	if (r->nlines >= SMTP_REPLY_HARD_LINES)
		return reply_fail(r, "reply too long");
	r->nlines++;
	r->code = code;
	last = len == 3 || line[3] == ' ';
	text = len > 3 ? line + 4 : line + 3;
	tlen = len > 3 ? len - 4 : 0;

	if (r->nlines == 1 && (n = reply_enh_len(text, tlen, line[0])) > 0 &&
	    n < sizeof(r->enhanced)) {
		memcpy(r->enhanced, text, n);
		r->enhanced[n] = '\0';
	}
	reply_keep(r, text, tlen);
	if (!last)
		return SMTP_REPLY_NEED_MORE;
	r->complete = 1;
	return SMTP_REPLY_COMPLETE;
}

const char *
smtp_reply_line(const struct smtp_reply *r, size_t i)
{
	if (i >= r->nkept)
		return NULL;
	return r->text + r->off[i];
}

size_t
smtp_reply_text(const struct smtp_reply *r, char *buf, size_t bufsz)
{
	const char	*s;
	size_t		 i, o = 0, n, skip;
	int		 class = r->code / 100 + '0';

	if (bufsz == 0)
		return 0;
	for (i = 0; i < r->nkept; i++) {
		s = r->text + r->off[i];
		n = strlen(s);
		if ((skip = reply_enh_len(s, n, class)) > 0) {
			while (skip < n && s[skip] == ' ')
				skip++;
			s += skip;
			n -= skip;
		}
		if (n == 0)
			continue;
		if (o > 0 && o + 1 < bufsz)
			buf[o++] = ' ';
		if (n > bufsz - 1 - o)
			n = bufsz - 1 - o;
		memcpy(buf + o, s, n);
		o += n;
	}
	buf[o] = '\0';
	return o;
}

static const struct {
	const char	*name;
	unsigned int	 bit;
} ehlo_keywords[] = {
	{ "PIPELINING", EHLO_PIPELINING },
	{ "SIZE", EHLO_SIZE },
	{ "8BITMIME", EHLO_8BITMIME },
	{ "SMTPUTF8", EHLO_SMTPUTF8 },
	{ "STARTTLS", EHLO_STARTTLS },
	{ "AUTH", EHLO_AUTH },
	{ "CHUNKING", EHLO_CHUNKING },
	{ "ENHANCEDSTATUSCODES", EHLO_ENHANCEDSTATUSCODES },
	{ "DSN", EHLO_DSN },
};

static const struct {
	const char	*name;
	unsigned int	 bit;
} ehlo_mechs[] = {
	{ "PLAIN", EHLO_AUTH_PLAIN },
	{ "LOGIN", EHLO_AUTH_LOGIN },
	{ "CRAM-MD5", EHLO_AUTH_CRAM_MD5 },
	{ "SCRAM-SHA-1", EHLO_AUTH_SCRAM_SHA_1 },
	{ "SCRAM-SHA-256", EHLO_AUTH_SCRAM_SHA_256 },
	{ "XOAUTH2", EHLO_AUTH_XOAUTH2 },
};

static int
word_ieq(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

/* SIZE's argument: digits, else 0 (no limit we can rely on). */
static uint64_t
ehlo_size(const char *p)
{
	uint64_t	v = 0;
	int		d;

	if (!is_digit((unsigned char)*p))
		return 0;
	for (; is_digit((unsigned char)*p); p++) {
		d = *p - '0';
		if (v > (UINT64_MAX - (uint64_t)d) / 10)
			return 0;
		v = v * 10 + (uint64_t)d;
	}
	return *p == '\0' || *p == ' ' ? v : 0;
}

static unsigned int
ehlo_auth(const char *p)
{
	unsigned int	auth = 0;
	size_t		n, i;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return auth;
		n = strcspn(p, " ");
		for (i = 0; i < sizeof(ehlo_mechs) / sizeof(ehlo_mechs[0]); i++)
			if (word_ieq(p, n, ehlo_mechs[i].name))
				auth |= ehlo_mechs[i].bit;
		p += n;
	}
}

int
smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ehlo *e)
{
	const char	*s;
	size_t		 i, k, n;

	memset(e, 0, sizeof(*e));
	if (!r->complete || r->code / 100 != 2)
		return -1;
	/* Line 0 is the greeting ("mx.example.com Hello ..."). */
	for (i = 1; i < r->nkept; i++) {
		if (r->truncated & ((uint32_t)1 << i))
			continue;
		s = r->text + r->off[i];
		/* "AUTH=PLAIN LOGIN" is an old form of "AUTH PLAIN LOGIN" */
		n = strcspn(s, " =");
		for (k = 0; k < sizeof(ehlo_keywords) / sizeof(ehlo_keywords[0]);
		    k++) {
			if (!word_ieq(s, n, ehlo_keywords[k].name))
				continue;
			if (s[n] == '=' && ehlo_keywords[k].bit != EHLO_AUTH)
				break;
			e->flags |= ehlo_keywords[k].bit;
			if (ehlo_keywords[k].bit == EHLO_SIZE && s[n] == ' ')
				e->size = ehlo_size(s + n + 1);
			if (ehlo_keywords[k].bit == EHLO_AUTH && s[n] != '\0')
				e->auth |= ehlo_auth(s + n + 1);
			break;
		}
	}
	return 0;
}
