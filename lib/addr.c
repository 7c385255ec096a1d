/*
 * addr.c: mail address parsing.  See addr.h for the contract.
 *
 * Two grammars meet here.  RFC 5321 paths are strict and have no white
 * space; they are parsed byte by byte (path_*).  RFC 5322 header values
 * allow comments, folding and quoting almost anywhere; they go through a
 * small lexer (lex_*) that drops CFWS and yields tokens, and a recursive
 * descent over those tokens (parse_*).  Both end in the same canonical
 * local part (local_canon) and the same domain check (domain_check), so
 * the address a client gives in MAIL FROM and the one in its From: header
 * come out byte for byte alike when they name the same mailbox.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <limits.h>
#include <string.h>

#include "addr.h"
#include "utf8.h"

static const char E_MALFORMED[] = "malformed address";
static const char E_TOOLONG[] = "address too long";
static const char E_LOCALLONG[] = "local part too long";
static const char E_DOMAINLONG[] = "domain too long";
static const char E_BADDOMAIN[] = "invalid domain";
static const char E_LITERAL[] = "invalid address literal";
static const char E_NOLOCAL[] = "empty local part";
static const char E_NODOMAIN[] = "missing domain";
static const char E_NOGT[] = "missing closing '>'";
static const char E_UTF8[] = "invalid UTF-8";
static const char E_CTRL[] = "control character in address";
static const char E_FOLD[] = "bare CR or LF";
static const char E_QUOTE[] = "unterminated quoted string";
static const char E_COMMENT[] = "unterminated comment";
static const char E_NEST[] = "comments nested too deeply";
static const char E_ROUTE[] = "source route not allowed";
static const char E_GROUP[] = "malformed group";
static const char E_EMPTY[] = "empty address list";
static const char E_MANY[] = "too many mailboxes";
static const char E_ONE[] = "must hold exactly one mailbox";

/*
 * Character classes, ASCII only: the C library's are locale dependent.
 */
static int
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* RFC 5322 atext (RFC 6531/6532 add UTF-8, handled by the callers). */
static int
is_atext(unsigned char c)
{
	return is_alnum(c) ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int
is_ctrl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static unsigned char
ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int
ascii_caseeq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return 0;
	return 1;
}

/* The error for a byte that may not stand where it was found. */
static const char *
badchar(unsigned char c)
{
	if (c == '\r' || c == '\n')
		return E_FOLD;
	return is_ctrl(c) ? E_CTRL : E_MALFORMED;
}

/* Length of the character starting with an already validated byte. */
static size_t
unit_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c < 0xe0)
		return 2;
	return c < 0xf0 ? 3 : 4;
}

/*
 * A bounded output string.  A unit (one character) goes in whole or not at
 * all, so a cut never splits a UTF-8 sequence; after the first unit that
 * does not fit, nothing more goes in.
 */
struct sbuf {
	char *p;
	size_t sz;
	size_t len;
	int over;
};

static void
sb_init(struct sbuf *b, char *p, size_t sz)
{
	b->p = p;
	b->sz = sz;
	b->len = 0;
	b->over = 0;
	if (sz > 0)
		p[0] = '\0';
}

static void
sb_put(struct sbuf *b, const void *s, size_t n)
{
	if (b->over || b->sz == 0 || n >= b->sz - b->len) {
		b->over = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Append validated text character by character. */
static void
sb_put_text(struct sbuf *b, const unsigned char *s, size_t n)
{
	size_t i, u;

	for (i = 0; i < n; i += u) {
		u = unit_len(s[i]);
		sb_put(b, s + i, u);
	}
}

/*
 * Local parts.
 */

/* Is s (UTF-8 already validated) an RFC 5321/6531 Dot-string? */
static int
local_is_dotstring(const char *s, size_t n)
{
	size_t i, alen = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (alen == 0)
				return 0;
			alen = 0;
		} else if ((unsigned char)s[i] >= 0x80 || is_atext(s[i]))
			alen++;
		else
			return 0;
	}
	return alen > 0;
}

/*
 * Write the content of a local part (quotes and quoted-pairs undone) in
 * canonical form: bare when it is a dot-string, else quoted with only '"'
 * and '\' escaped (RFC 5321 quoted-pairSMTP).  Tabs and controls have no
 * SMTP form.
 */
static const char *
local_canon(const char *s, size_t n, struct sbuf *b)
{
	size_t i;

	if (n == 0)
		return E_NOLOCAL;
	if (local_is_dotstring(s, n))
		sb_put(b, s, n);
	else {
		sb_put(b, "\"", 1);
		for (i = 0; i < n; i++) {
			if (is_ctrl(s[i]))
				return E_MALFORMED;
			if (s[i] == '"' || s[i] == '\\')
				sb_put(b, "\\", 1);
			sb_put(b, s + i, 1);
		}
		sb_put(b, "\"", 1);
	}
	if (b->over || b->len > ADDR_LOCAL_MAX)
		return E_LOCALLONG;
	return NULL;
}

/*
 * Domains.
 */

static int
ipv4_valid(const unsigned char *s, size_t n)
{
	size_t i, digits = 0, parts = 1;
	unsigned int v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (digits == 0 || ++parts > 4)
				return 0;
			digits = 0;
			v = 0;
		} else if (s[i] >= '0' && s[i] <= '9') {
			v = v * 10 + (s[i] - '0');
			if (++digits > 3 || v > 255)
				return 0;
		} else
			return 0;
	}
	return parts == 4 && digits > 0;
}

/* "[1.2.3.4]" or "[IPv6:...]" (RFC 5321 4.1.3); no general literals. */
static const char *
literal_check(const unsigned char *d, size_t len)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr in6;
	size_t i;

	if (len < 2 || d[0] != '[' || d[len - 1] != ']')
		return E_LITERAL;
	d++;
	len -= 2;
	if (len > 5 && ascii_caseeq((const char *)d, "IPv6:", 5)) {
		d += 5;
		len -= 5;
		if (len >= sizeof(buf))
			return E_LITERAL;
		for (i = 0; i < len; i++)
			if (!is_alnum(d[i]) && d[i] != ':' && d[i] != '.')
				return E_LITERAL;
		memcpy(buf, d, len);
		buf[len] = '\0';
		if (inet_pton(AF_INET6, buf, &in6) != 1)
			return E_LITERAL;
		return NULL;
	}
	return ipv4_valid(d, len) ? NULL : E_LITERAL;
}

/*
 * A host name: labels of letters, digits, hyphens (not first or last)
 * and UTF-8, at most ADDR_LABEL_MAX octets each, no empty label (so no
 * leading, trailing or double dot), ADDR_DOMAIN_MAX octets in all.
 */
static const char *
hostname_check(const unsigned char *d, size_t len, int *utf8)
{
	size_t i, n, label = 0;

	if (len > ADDR_DOMAIN_MAX)
		return E_DOMAINLONG;
	for (i = 0; i < len; i += n) {
		n = 1;
		if (d[i] == '.') {
			if (label == 0 || d[i - 1] == '-')
				return E_BADDOMAIN;
			label = 0;
			continue;
		}
		if (d[i] >= 0x80) {
			if ((n = utf8_seqlen(d + i, len - i)) == 0)
				return E_UTF8;
			*utf8 = 1;
		} else if (d[i] == '-') {
			if (label == 0)
				return E_BADDOMAIN;
		} else if (!is_alnum(d[i]))
			return is_ctrl(d[i]) ? E_CTRL : E_BADDOMAIN;
		label += n;
		if (label > ADDR_LABEL_MAX)
			return E_BADDOMAIN;
	}
	if (label == 0 || d[len - 1] == '-')
		return E_BADDOMAIN;
	return NULL;
}

static const char *
domain_check(const unsigned char *d, size_t len, int literal_ok, int *utf8)
{
	if (len == 0)
		return E_NODOMAIN;
	if (d[0] == '[')
		return literal_ok ? literal_check(d, len) : E_BADDOMAIN;
	return hostname_check(d, len, utf8);
}

/* local "@" domain into out, within ADDR_MAX and outsz. */
static const char *
addr_compose(const char *local, size_t llen, const char *dom, size_t dlen,
	     char *out, size_t outsz)
{
	size_t n = llen + 1 + dlen;

	if (n > ADDR_MAX - 1 || n >= outsz)
		return E_TOOLONG;
	memcpy(out, local, llen);
	out[llen] = '@';
	memcpy(out + llen + 1, dom, dlen);
	out[n] = '\0';
	return NULL;
}

/*
 * RFC 5321 paths.
 */

/* A quoted local part at p[*ip] == '"': its content into c. */
static const char *
path_quoted(const unsigned char *p, size_t len, size_t *ip, struct sbuf *c,
	    int *utf8)
{
	size_t i = *ip + 1, n;

	for (;; i += n) {
		if (i >= len)
			return E_QUOTE;
		n = 1;
		if (p[i] == '"')
			break;
		if (p[i] == '\\') {
			/* quoted-pairSMTP: backslash and %d32-126 */
			if (i + 1 >= len)
				return E_QUOTE;
			if (p[i + 1] < 0x20 || p[i + 1] > 0x7e)
				return badchar(p[i + 1]);
			sb_put(c, p + i + 1, 1);
			n = 2;
		} else if (p[i] >= 0x80) {
			if ((n = utf8_seqlen(p + i, len - i)) == 0)
				return E_UTF8;
			*utf8 = 1;
			sb_put(c, p + i, n);
		} else if (is_ctrl(p[i]))
			return badchar(p[i]);
		else
			sb_put(c, p + i, 1);
		if (c->over)
			return E_LOCALLONG;
	}
	*ip = i + 1;
	return NULL;
}

/* A dot-string local part at p[*ip] into c. */
static const char *
path_dotstring(const unsigned char *p, size_t len, size_t *ip, struct sbuf *c,
	       int *utf8)
{
	size_t i, n;

	for (i = *ip; i < len; i += n) {
		n = 1;
		if (p[i] >= 0x80) {
			if ((n = utf8_seqlen(p + i, len - i)) == 0)
				return E_UTF8;
			*utf8 = 1;
		} else if (p[i] != '.' && !is_atext(p[i]))
			break;
		sb_put(c, p + i, n);
		if (c->over)
			return E_LOCALLONG;
	}
	if (c->len == 0)
		return (i < len && p[i] == '@') ? E_NOLOCAL : E_MALFORMED;
	if (!local_is_dotstring(c->p, c->len))
		return E_MALFORMED;
	*ip = i;
	return NULL;
}

/* An optional source route "@a,@b:" at p[*ip]: checked, skipped. */
static const char *
path_route(const unsigned char *p, size_t len, size_t *ip, int *utf8)
{
	size_t i = *ip, start;
	const char *e;

	if (i >= len || p[i] != '@')
		return NULL;
	for (;;) {
		start = ++i;
		while (i < len && (is_alnum(p[i]) || p[i] == '.' ||
				   p[i] == '-' || p[i] >= 0x80))
			i++;
		if ((e = domain_check(p + start, i - start, 0, utf8)) != NULL)
			return e == E_NODOMAIN ? E_MALFORMED : e;
		if (i >= len)
			return E_NOGT;
		if (p[i] == ':')
			break;
		if (p[i] != ',' || i + 1 >= len || p[i + 1] != '@')
			return badchar(p[i]);
		i++;
	}
	*ip = i + 1;
	return NULL;
}

/*
 * Mailbox = Local-part "@" ( Domain / address-literal ), from p[*ip] up
 * to '>' (path) or to the end of the input (bare).
 */
static const char *
path_mailbox(const unsigned char *p, size_t len, size_t *ip, int bare,
	     char *out, size_t outsz, int *utf8)
{
	char content[ADDR_LOCAL_MAX + 1], local[ADDR_LOCAL_MAX + 1];
	struct sbuf c, l;
	size_t i = *ip, dstart;
	const char *e;

	sb_init(&c, content, sizeof(content));
	sb_init(&l, local, sizeof(local));
	if (i < len && p[i] == '"')
		e = path_quoted(p, len, &i, &c, utf8);
	else
		e = path_dotstring(p, len, &i, &c, utf8);
	if (e != NULL || (e = local_canon(content, c.len, &l)) != NULL)
		return e;
	if (i >= len)
		return bare ? E_NODOMAIN : E_NOGT;
	if (p[i] != '@')
		return (!bare && p[i] == '>') ? E_NODOMAIN : badchar(p[i]);
	dstart = ++i;
	for (; i < len && (bare || p[i] != '>'); i++)
		if (p[i] <= 0x20 || p[i] == 0x7f)
			return badchar(p[i]);
	if (!bare && i >= len)
		return E_NOGT;
	if ((e = domain_check(p + dstart, i - dstart, 1, utf8)) != NULL)
		return e;
	if ((e = addr_compose(local, l.len, (const char *)p + dstart,
			      i - dstart, out, outsz)) != NULL)
		return e;
	*ip = bare ? i : i + 1;
	return NULL;
}

/* The common end of the path parsers: out is "" after an error. */
static int
parse_end(const char *e, char *out, size_t outsz, const char **err)
{
	if (e == NULL)
		return 0;
	if (outsz > 0)
		out[0] = '\0';
	if (err != NULL)
		*err = e;
	return -1;
}

int
addr_parse_path(const char *s, size_t len, char *out, size_t outsz, int *utf8,
		const char **endp, const char **err)
{
	const unsigned char *p = (const unsigned char *)s;
	const char *e = NULL;
	size_t i = 1;
	int u = 0;

	if (outsz == 0)
		e = E_TOOLONG;
	else if (len == 0 || p[0] != '<')
		e = E_MALFORMED;
	else if (len > 1 && p[1] == '>') {
		out[0] = '\0';
		i = 2;
	} else if ((e = path_route(p, len, &i, &u)) == NULL)
		e = path_mailbox(p, len, &i, 0, out, outsz, &u);
	if (utf8 != NULL)
		*utf8 = e == NULL ? u : 0;
	if (endp != NULL)
		*endp = e == NULL ? s + i : s;
	return parse_end(e, out, outsz, err);
}

int
addr_parse_bare(const char *s, size_t len, char *out, size_t outsz, int *utf8,
		const char **err)
{
	const char *e = E_TOOLONG;
	size_t i = 0;
	int u = 0;

	if (outsz > 0)
		e = path_mailbox((const unsigned char *)s, len, &i, 1, out,
				 outsz, &u);
	if (utf8 != NULL)
		*utf8 = e == NULL ? u : 0;
	return parse_end(e, out, outsz, err);
}

/*
 * Canonical addresses.
 */

/* The last '@' outside quotes, or NULL. */
static const char *
addr_at(const char *a, size_t len)
{
	const char *at = NULL;
	size_t i;
	int inq = 0;

	for (i = 0; i < len; i++) {
		if (inq && a[i] == '\\' && i + 1 < len)
			i++;
		else if (a[i] == '"')
			inq = !inq;
		else if (!inq && a[i] == '@')
			at = a + i;
	}
	return at;
}

int
addr_split(const char *addr, char *local, size_t lsz, char *domain, size_t dsz)
{
	const char *at;
	size_t len, llen, dlen;

	if (local != NULL && lsz > 0)
		local[0] = '\0';
	if (domain != NULL && dsz > 0)
		domain[0] = '\0';
	if ((len = strnlen(addr, ADDR_MAX)) == ADDR_MAX)
		return -1;
	if ((at = addr_at(addr, len)) == NULL)
		return -1;
	llen = at - addr;
	dlen = len - llen - 1;
	if (llen == 0 || dlen == 0)
		return -1;
	if (local != NULL) {
		if (llen >= lsz)
			return -1;
		memcpy(local, addr, llen);
		local[llen] = '\0';
	}
	if (domain != NULL) {
		if (dlen >= dsz) {
			if (local != NULL)
				local[0] = '\0';
			return -1;
		}
		memcpy(domain, at + 1, dlen);
		domain[dlen] = '\0';
	}
	return 0;
}

int
addr_equal(const char *a, const char *b, int local_nocase)
{
	const char *ata, *atb;
	size_t la, lb, lla, llb;

	if ((la = strnlen(a, ADDR_MAX)) == ADDR_MAX ||
	    (lb = strnlen(b, ADDR_MAX)) == ADDR_MAX)
		return 0;
	if ((ata = addr_at(a, la)) == NULL || (atb = addr_at(b, lb)) == NULL)
		return 0;
	lla = ata - a;
	llb = atb - b;
	if (lla == 0 || lla != llb || la != lb || lla + 1 == la)
		return 0;
	if (local_nocase ? !ascii_caseeq(a, b, lla) : memcmp(a, b, lla) != 0)
		return 0;
	return ascii_caseeq(ata + 1, atb + 1, la - lla - 1);
}

int
addr_domain_valid(const char *domain)
{
	size_t len = strnlen(domain, ADDR_DOMAIN_MAX + 1);
	int u;

	return domain_check((const unsigned char *)domain, len, 1, &u) == NULL;
}

int
addr_hostname_valid(const char *name)
{
	size_t len = strnlen(name, ADDR_DOMAIN_MAX + 1);
	int u;

	return domain_check((const unsigned char *)name, len, 0, &u) == NULL;
}

/*
 * RFC 5322 header values: the lexer.
 *
 * lex_next() drops CFWS (white space, folding, comments) and returns one
 * token, noting in tok.space whether CFWS came before it.  The parser
 * backtracks by copying struct lex, so every token is read a bounded
 * number of times and the whole parse stays linear.
 */
enum tok_type {
	T_ERR = -1,
	T_END,	/* end of the value */
	T_ATOM, /* 1*atext (UTF-8 included) */
	T_QSTR, /* quoted string, quotes included */
	T_DLIT, /* domain literal, brackets included */
	T_LT,
	T_GT,
	T_AT,
	T_COMMA,
	T_COLON,
	T_SEMI,
	T_DOT,
};

struct lex {
	const unsigned char *s;
	size_t len;
	size_t pos;
	const char *err;
};

struct tok {
	enum tok_type type;
	size_t start;
	size_t end;
	int space;
};

/* CRLF followed by WSP folds: the CRLF is skipped, the WSP is kept. */
static int
lex_is_fold(const struct lex *l, size_t i)
{
	return i + 2 < l->len && l->s[i] == '\r' && l->s[i + 1] == '\n' &&
	       (l->s[i + 2] == ' ' || l->s[i + 2] == '\t');
}

/*
 * One character inside a comment or quoted string at s[i]: text, a
 * quoted-pair, WSP or a fold.  Returns its length, or 0 with l->err set.
 */
static size_t
lex_char(struct lex *l, size_t i)
{
	const unsigned char *s = l->s;
	size_t n, q = 0;

	if (s[i] == '\r') {
		if (lex_is_fold(l, i))
			return 2;
		l->err = E_FOLD;
		return 0;
	}
	if (s[i] == '\\') {
		if (i + 1 >= l->len) {
			l->err = E_MALFORMED;
			return 0;
		}
		q = 1;
	}
	if (s[i + q] == ' ' || s[i + q] == '\t' ||
	    (s[i + q] > 0x20 && s[i + q] < 0x7f))
		return q + 1;
	if (s[i + q] >= 0x80) {
		if ((n = utf8_seqlen(s + i + q, l->len - i - q)) == 0) {
			l->err = E_UTF8;
			return 0;
		}
		return q + n;
	}
	l->err = badchar(s[i + q]);
	return 0;
}

static int
lex_comment(struct lex *l)
{
	size_t i = l->pos, n;
	int depth = 0;

	for (;; i += n) {
		if (i >= l->len) {
			l->err = E_COMMENT;
			return -1;
		}
		n = 1;
		if (l->s[i] == '(') {
			if (++depth > ADDR_COMMENT_DEPTH) {
				l->err = E_NEST;
				return -1;
			}
		} else if (l->s[i] == ')') {
			if (--depth == 0)
				break;
		} else if ((n = lex_char(l, i)) == 0)
			return -1;
	}
	l->pos = i + 1;
	return 0;
}

static int
lex_cfws(struct lex *l, int *space)
{
	while (l->pos < l->len) {
		if (l->s[l->pos] == ' ' || l->s[l->pos] == '\t')
			l->pos++;
		else if (l->s[l->pos] == '\r') {
			if (!lex_is_fold(l, l->pos)) {
				l->err = E_FOLD;
				return -1;
			}
			l->pos += 2;
		} else if (l->s[l->pos] == '(') {
			if (lex_comment(l) == -1)
				return -1;
		} else
			break;
		*space = 1;
	}
	return 0;
}

static int
lex_qstr(struct lex *l, size_t *ip)
{
	size_t i = *ip + 1, n;

	for (;; i += n) {
		if (i >= l->len) {
			l->err = E_QUOTE;
			return -1;
		}
		if (l->s[i] == '"')
			break;
		if ((n = lex_char(l, i)) == 0)
			return -1;
	}
	*ip = i + 1;
	return 0;
}

/* dtext only: no white space, no UTF-8 (no address literal has any). */
static int
lex_dlit(struct lex *l, size_t *ip)
{
	size_t i;

	for (i = *ip + 1; i < l->len && l->s[i] != ']'; i++) {
		if (l->s[i] <= 0x20 || l->s[i] >= 0x7f || l->s[i] == '[' ||
		    l->s[i] == '\\') {
			l->err = E_LITERAL;
			return -1;
		}
	}
	if (i >= l->len) {
		l->err = E_LITERAL;
		return -1;
	}
	*ip = i + 1;
	return 0;
}

static int
lex_atom(struct lex *l, size_t *ip)
{
	size_t i, n;

	for (i = *ip; i < l->len; i += n) {
		n = 1;
		if (l->s[i] >= 0x80) {
			if ((n = utf8_seqlen(l->s + i, l->len - i)) == 0) {
				l->err = E_UTF8;
				return -1;
			}
		} else if (!is_atext(l->s[i]))
			break;
	}
	*ip = i;
	return 0;
}

static enum tok_type
lex_next(struct lex *l, struct tok *t)
{
	static const char single[] = "<>@,:;.";
	static const enum tok_type stype[] = {T_LT,    T_GT,   T_AT, T_COMMA,
					      T_COLON, T_SEMI, T_DOT};
	const char *sp;
	size_t i;
	int r = 0;

	t->space = 0;
	t->type = T_ERR;
	if (lex_cfws(l, &t->space) == -1)
		return T_ERR;
	i = t->start = t->end = l->pos;
	if (i >= l->len)
		return t->type = T_END;
	if (l->s[i] != '\0' && (sp = strchr(single, l->s[i])) != NULL) {
		t->type = stype[sp - single];
		i++;
	} else if (l->s[i] == '"') {
		t->type = T_QSTR;
		r = lex_qstr(l, &i);
	} else if (l->s[i] == '[') {
		t->type = T_DLIT;
		r = lex_dlit(l, &i);
	} else if (l->s[i] >= 0x80 || is_atext(l->s[i])) {
		t->type = T_ATOM;
		r = lex_atom(l, &i);
	} else {
		l->err = badchar(l->s[i]);
		r = -1;
	}
	if (r == -1)
		return t->type = T_ERR;
	t->end = l->pos = i;
	return t->type;
}

/*
 * RFC 5322 header values: the parser.
 */
struct mbstate {
	struct mailbox *out;
	int max;
	int n; /* mailboxes seen */
	int ngroups;
};

static int
tok_is_word(const struct tok *t)
{
	return t->type == T_ATOM || t->type == T_QSTR;
}

/* A word's content (quotes, folds and quoted-pairs undone) into b. */
static void
word_put(const struct lex *l, const struct tok *t, struct sbuf *b)
{
	size_t i, u;

	if (t->type == T_ATOM) {
		sb_put_text(b, l->s + t->start, t->end - t->start);
		return;
	}
	for (i = t->start + 1; i < t->end - 1; i += u) {
		if (l->s[i] == '\r') {
			u = 2;
			continue;
		}
		if (l->s[i] == '\\')
			i++;
		u = unit_len(l->s[i]);
		sb_put(b, l->s + i, u);
	}
}

/*
 * A display name (obs-phrase: word *(word / "." / CFWS)) up to and
 * including the token term.  Only the tokens the caller's look-ahead has
 * already seen come here.
 */
static const char *
parse_phrase(struct lex *l, enum tok_type term, char *disp, size_t dispsz)
{
	struct sbuf b;
	struct tok t;
	int first = 1;

	sb_init(&b, disp, dispsz);
	for (;; first = 0) {
		if (lex_next(l, &t) == T_ERR)
			return l->err;
		if (t.type == term)
			return NULL;
		if (!tok_is_word(&t) && (first || t.type != T_DOT))
			return E_MALFORMED;
		if (t.space && b.len > 0)
			sb_put(&b, " ", 1);
		if (t.type == T_DOT)
			sb_put(&b, ".", 1);
		else
			word_put(l, &t, &b);
	}
}

/* local-part "@" (obs-local-part: word *("." word), CFWS anywhere). */
static const char *
parse_local(struct lex *l, struct sbuf *c)
{
	struct tok t;
	int want_word = 1;

	for (;;) {
		if (lex_next(l, &t) == T_ERR)
			return l->err;
		if (want_word) {
			if (!tok_is_word(&t))
				return (t.type == T_AT && c->len == 0)
					   ? E_NOLOCAL
					   : E_MALFORMED;
			word_put(l, &t, c);
			want_word = 0;
		} else if (t.type == T_DOT) {
			sb_put(c, ".", 1);
			want_word = 1;
		} else if (t.type == T_AT)
			return NULL;
		else
			return E_MALFORMED;
		if (c->over)
			return E_LOCALLONG;
	}
}

/*
 * The domain: a dot-atom (no CFWS between its atoms: "a@b .c" and
 * "a@b.(x)c" are read differently by different receivers) or a literal.
 */
static const char *
parse_domain(struct lex *l, struct sbuf *d, int *utf8)
{
	struct lex save;
	struct tok t, dot;

	if (lex_next(l, &t) == T_ERR)
		return l->err;
	if (t.type == T_DLIT) {
		sb_put(d, l->s + t.start, t.end - t.start);
		if (d->over)
			return E_LITERAL;
		return literal_check((const unsigned char *)d->p, d->len);
	}
	if (t.type != T_ATOM)
		return (t.type == T_END || t.type == T_GT ||
			t.type == T_COMMA || t.type == T_SEMI)
			   ? E_NODOMAIN
			   : E_MALFORMED;
	for (;;) {
		sb_put(d, l->s + t.start, t.end - t.start);
		save = *l;
		if (lex_next(l, &dot) == T_ERR)
			return l->err;
		if (dot.type != T_DOT || dot.space) {
			*l = save;
			break;
		}
		if (lex_next(l, &t) == T_ERR)
			return l->err;
		if (t.type != T_ATOM || t.space)
			return E_BADDOMAIN;
		sb_put(d, ".", 1);
	}
	if (d->over)
		return E_DOMAINLONG;
	return hostname_check((const unsigned char *)d->p, d->len, utf8);
}

/* addr-spec into mb->addr, canonical. */
static const char *
parse_addr_spec(struct lex *l, struct mailbox *mb)
{
	char content[ADDR_LOCAL_MAX + 1], local[ADDR_LOCAL_MAX + 1];
	char dom[ADDR_DOMAIN_MAX + 1];
	struct sbuf c, lc, d;
	const char *e;
	int u = 0;

	sb_init(&c, content, sizeof(content));
	sb_init(&lc, local, sizeof(local));
	sb_init(&d, dom, sizeof(dom));
	if ((e = parse_local(l, &c)) != NULL ||
	    (e = local_canon(content, c.len, &lc)) != NULL ||
	    (e = parse_domain(l, &d, &u)) != NULL)
		return e;
	return addr_compose(local, lc.len, dom, d.len, mb->addr,
			    sizeof(mb->addr));
}

/* "<" addr-spec ">", the '<' already consumed. */
static const char *
parse_angle(struct lex *l, struct mailbox *mb)
{
	struct lex save = *l;
	struct tok t;
	const char *e;

	if (lex_next(l, &t) == T_ERR)
		return l->err;
	if (t.type == T_AT)
		return E_ROUTE;
	if (t.type == T_GT)
		return E_MALFORMED;
	*l = save;
	if ((e = parse_addr_spec(l, mb)) != NULL)
		return e;
	if (lex_next(l, &t) == T_ERR)
		return l->err;
	if (t.type != T_GT)
		return t.type == T_END ? E_NOGT : E_MALFORMED;
	return NULL;
}

static const char *
mb_store(struct mbstate *st, const struct mailbox *mb)
{
	if (st->n == INT_MAX)
		return E_MANY;
	if (st->out != NULL && st->n < st->max)
		memcpy(&st->out[st->n], mb, sizeof(*mb));
	st->n++;
	return NULL;
}

static const char *parse_address(struct lex *, struct mbstate *, int);

/* group members after "name:", up to and including ';'. */
static const char *
parse_group(struct lex *l, struct mbstate *st)
{
	struct lex save;
	struct tok t;
	const char *e;

	st->ngroups++;
	for (;;) {
		save = *l;
		if (lex_next(l, &t) == T_ERR)
			return l->err;
		if (t.type == T_SEMI)
			return NULL;
		if (t.type == T_COMMA)
			continue;
		if (t.type == T_END)
			return E_GROUP;
		*l = save;
		if ((e = parse_address(l, st, 1)) != NULL)
			return e;
		if (lex_next(l, &t) == T_ERR)
			return l->err;
		if (t.type == T_SEMI)
			return NULL;
		if (t.type != T_COMMA)
			return t.type == T_END ? E_GROUP : E_MALFORMED;
	}
}

/*
 * One address: mailbox (name-addr or addr-spec) or, outside a group, a
 * group.  Which one is decided by the first token after the leading run
 * of words and dots: '@' (addr-spec), '<' (name-addr), ':' (group).  The
 * parse then starts again from the beginning with the grammar chosen.
 */
static const char *
parse_address(struct lex *l, struct mbstate *st, int in_group)
{
	struct lex start = *l;
	struct mailbox mb;
	struct tok t;
	const char *e;
	int nwords = 0;
	char gname[ADDR_DISPLAY_MAX];

	for (;;) {
		if (lex_next(l, &t) == T_ERR)
			return l->err;
		if (!tok_is_word(&t) && t.type != T_DOT)
			break;
		nwords++;
	}
	*l = start;
	mb.display[0] = '\0';
	switch (t.type) {
	case T_AT:
		if ((e = parse_addr_spec(l, &mb)) != NULL)
			return e;
		return mb_store(st, &mb);
	case T_LT:
		if ((e = parse_phrase(l, T_LT, mb.display,
				      sizeof(mb.display))) != NULL ||
		    (e = parse_angle(l, &mb)) != NULL)
			return e;
		return mb_store(st, &mb);
	case T_COLON:
		if (in_group || nwords == 0)
			return E_GROUP;
		if ((e = parse_phrase(l, T_COLON, gname, sizeof(gname))) !=
		    NULL)
			return e;
		return parse_group(l, st);
	default:
		return E_MALFORMED;
	}
}

static const char *
parse_list(const char *value, size_t len, struct mbstate *st)
{
	struct lex l, save;
	struct tok t;
	const char *e;
	int naddr = 0;

	l.s = (const unsigned char *)value;
	l.len = len;
	l.pos = 0;
	l.err = NULL;
	for (;;) {
		save = l;
		if (lex_next(&l, &t) == T_ERR)
			return l.err;
		if (t.type == T_END)
			break;
		if (t.type == T_COMMA)
			continue;
		l = save;
		if ((e = parse_address(&l, st, 0)) != NULL)
			return e;
		naddr++;
		if (lex_next(&l, &t) == T_ERR)
			return l.err;
		if (t.type == T_END)
			break;
		if (t.type != T_COMMA)
			return E_MALFORMED;
	}
	return naddr == 0 ? E_EMPTY : NULL;
}

int
addr_parse_mailbox_list(const char *value, size_t len, struct mailbox *out,
			int max, int *n, const char **err)
{
	struct mbstate st;
	const char *e;

	st.out = out;
	st.max = max < 0 ? 0 : max;
	st.n = 0;
	st.ngroups = 0;
	if (n != NULL)
		*n = 0;
	if ((e = parse_list(value, len, &st)) == NULL && out != NULL &&
	    st.n > st.max)
		e = E_MANY;
	if (e != NULL) {
		if (err != NULL)
			*err = e;
		return -1;
	}
	if (n != NULL)
		*n = st.n;
	return 0;
}

int
addr_parse_mailbox(const char *value, size_t len, struct mailbox *out,
		   const char **err)
{
	struct mbstate st;
	const char *e;

	st.out = out;
	st.max = 1;
	st.n = 0;
	st.ngroups = 0;
	if ((e = parse_list(value, len, &st)) != NULL) {
		if (err != NULL)
			*err = e;
		return -1;
	}
	if (st.n != 1 || st.ngroups != 0) {
		if (err != NULL)
			*err = E_ONE;
		return -2;
	}
	return 0;
}
