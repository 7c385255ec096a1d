/*
 * smtp_cmd.c: see smtp_cmd.h.
 *
 * Everything works on (pointer, length) pairs: the line is not
 * NUL-terminated, and a NUL inside it has been refused before any
 * argument is looked at.
 */
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "smtp_cmd.h"
#include "utf8.h"

/* A span of the line: what the parameter scanner hands around. */
struct span {
	const char	*p;
	size_t		 len;
};

static const struct {
	const char	*name;
	enum smtp_verb	 verb;
} smtp_verbs[] = {
	{ "HELO", SMTP_HELO },
	{ "EHLO", SMTP_EHLO },
	{ "MAIL", SMTP_MAIL },
	{ "RCPT", SMTP_RCPT },
	{ "DATA", SMTP_DATA },
	{ "BDAT", SMTP_BDAT },
	{ "RSET", SMTP_RSET },
	{ "NOOP", SMTP_NOOP },
	{ "QUIT", SMTP_QUIT },
	{ "VRFY", SMTP_VRFY },
	{ "EXPN", SMTP_EXPN },
	{ "HELP", SMTP_HELP },
	{ "AUTH", SMTP_AUTH },
	{ "STARTTLS", SMTP_STARTTLS },
};

/* Parameters of MAIL and RCPT, for duplicate detection. */
enum {
	P_SIZE = 0x01,
	P_BODY = 0x02,
	P_SMTPUTF8 = 0x04,
	P_RET = 0x08,
	P_ENVID = 0x10,
	P_AUTH = 0x20,
	P_NOTIFY = 0x40,
	P_ORCPT = 0x80,
};

static int
cmd_fail(struct smtp_cmd *cmd, int code, const char *enh, const char *text)
{
	cmd->err.code = code;
	cmd->err.enhanced = enh;
	cmd->err.text = text;
	return -1;
}

static int
span_ieq(const struct span *s, const char *word)
{
	size_t	n = strlen(word);

	return s->len == n && strncasecmp(s->p, word, n) == 0;
}

/* Case-insensitive "does s start with word". */
static int
span_iprefix(const struct span *s, const char *word)
{
	size_t	n = strlen(word);

	return s->len >= n && strncasecmp(s->p, word, n) == 0;
}

static void
span_skip(struct span *s, size_t n)
{
	s->p += n;
	s->len -= n;
}

static void
span_skip_sp(struct span *s)
{
	while (s->len > 0 && s->p[0] == ' ')
		span_skip(s, 1);
}

/* Take the next word (up to a space or the end) off s. */
static struct span
span_word(struct span *s)
{
	struct span	w;
	size_t		n;

	for (n = 0; n < s->len && s->p[n] != ' '; n++)
		;
	w.p = s->p;
	w.len = n;
	span_skip(s, n);
	span_skip_sp(s);
	return w;
}

static int
span_has(const struct span *s, int c)
{
	return s->len > 0 && memchr(s->p, c, s->len) != NULL;
}

/* 0 when the line holds only printable ASCII, SP and valid UTF-8. */
static int
line_check(const char *line, size_t len, struct smtp_cmd *cmd)
{
	const unsigned char	*p = (const unsigned char *)line;
	size_t			 i, n;

	for (i = 0; i < len; i += n) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return cmd_fail(cmd, 500, "5.5.2",
			    "Invalid character in command");
		if ((n = utf8_seqlen(p + i, len - i)) == 0)
			return cmd_fail(cmd, 500, "5.5.2",
			    "Invalid UTF-8 in command");
	}
	return 0;
}

static int
span_ascii(const struct span *s)
{
	size_t	i;

	for (i = 0; i < s->len; i++)
		if ((unsigned char)s->p[i] >= 0x80)
			return 0;
	return 1;
}

static int
is_alnum(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9');
}

/*
 * Digits only, no sign, no space; 0, -1 on bad syntax, -2 on overflow.
 */
static int
parse_u64(const struct span *s, uint64_t *v)
{
	size_t	i;
	uint64_t d;

	if (s->len == 0)
		return -1;
	*v = 0;
	for (i = 0; i < s->len; i++) {
		if (s->p[i] < '0' || s->p[i] > '9')
			return -1;
		d = (uint64_t)(s->p[i] - '0');
		if (*v > (UINT64_MAX - d) / 10)
			return -2;
		*v = *v * 10 + d;
	}
	return 0;
}

/* RFC 3461 xtext: 0x21-0x7e but "+" and "=", or "+" two upper-case hex. */
static int
is_hexupper(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static int
is_xtext(const struct span *s)
{
	size_t	i;
	int	c;

	for (i = 0; i < s->len; i++) {
		c = (unsigned char)s->p[i];
		if (c == '+') {
			if (s->len - i < 3 ||
			    !is_hexupper((unsigned char)s->p[i + 1]) ||
			    !is_hexupper((unsigned char)s->p[i + 2]))
				return 0;
			i += 2;
			continue;
		}
		if (c < 0x21 || c > 0x7e || c == '=')
			return 0;
	}
	return 1;
}

static int
copy_span(char *dst, size_t dstsz, const struct span *s)
{
	if (s->len >= dstsz)
		return -1;
	memcpy(dst, s->p, s->len);
	dst[s->len] = '\0';
	return 0;
}

static int
parse_helo(const struct span *arg, struct smtp_cmd *cmd)
{
	if (arg->len == 0)
		return cmd_fail(cmd, 501, "5.5.4",
		    cmd->verb == SMTP_HELO ? "Syntax: HELO hostname" :
		    "Syntax: EHLO hostname");
	if (span_has(arg, ' ') || !span_ascii(arg) ||
	    copy_span(cmd->domain, sizeof(cmd->domain), arg) == -1)
		return cmd_fail(cmd, 501, "5.5.4", "Invalid domain name");
	return 0;
}

/*
 * Split "keyword[=value]"; the keyword is esmtp-keyword, the value a
 * non-empty esmtp-value (RFC 5321 section 4.1.2, with RFC 6531's UTF-8).
 */
static int
param_split(const struct span *w, struct span *kw, struct span *val,
    int *hasval, struct smtp_cmd *cmd)
{
	size_t	i;

	kw->p = w->p;
	for (i = 0; i < w->len && w->p[i] != '='; i++)
		if (!is_alnum((unsigned char)w->p[i]) &&
		    (i == 0 || w->p[i] != '-'))
			return cmd_fail(cmd, 501, "5.5.4",
			    "Invalid parameter syntax");
	kw->len = i;
	*hasval = i < w->len;
	val->p = w->p + (*hasval ? i + 1 : i);
	val->len = w->len - (*hasval ? i + 1 : i);
	if (kw->len == 0 || (*hasval && val->len == 0) ||
	    span_has(val, '='))
		return cmd_fail(cmd, 501, "5.5.4", "Invalid parameter syntax");
	return 0;
}

static int
param_size(const struct span *val, struct smtp_cmd *cmd)
{
	switch (parse_u64(val, &cmd->size)) {
	case 0:
		cmd->has_size = 1;
		return 0;
	case -2:
		return cmd_fail(cmd, 552, "5.3.4",
		    "Message size exceeds fixed maximum message size");
	default:
		return cmd_fail(cmd, 501, "5.5.4", "Invalid SIZE parameter");
	}
}

static int
param_body(const struct span *val, struct smtp_cmd *cmd)
{
	if (span_ieq(val, "7BIT"))
		cmd->body = SMTP_BODY_7BIT;
	else if (span_ieq(val, "8BITMIME"))
		cmd->body = SMTP_BODY_8BITMIME;
	else if (span_ieq(val, "BINARYMIME"))
		cmd->body = SMTP_BODY_BINARYMIME;
	else
		return cmd_fail(cmd, 501, "5.5.4", "Invalid BODY parameter");
	return 0;
}

static int
param_notify(const struct span *val, struct smtp_cmd *cmd)
{
	const char	*p = val->p, *end = val->p + val->len, *comma;
	struct span	 item;
	unsigned int	 bit;

	for (;;) {
		comma = memchr(p, ',', (size_t)(end - p));
		item.p = p;
		item.len = (size_t)((comma != NULL ? comma : end) - p);
		/* an empty item (",," or a trailing comma) matches nothing */
		if (span_ieq(&item, "NEVER"))
			bit = SMTP_NOTIFY_NEVER;
		else if (span_ieq(&item, "SUCCESS"))
			bit = SMTP_NOTIFY_SUCCESS;
		else if (span_ieq(&item, "FAILURE"))
			bit = SMTP_NOTIFY_FAILURE;
		else if (span_ieq(&item, "DELAY"))
			bit = SMTP_NOTIFY_DELAY;
		else
			goto bad;
		if (cmd->notify & bit)
			goto bad;
		cmd->notify |= bit;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	/* NEVER stands alone (RFC 3461 section 4.1). */
	if ((cmd->notify & SMTP_NOTIFY_NEVER) &&
	    cmd->notify != SMTP_NOTIFY_NEVER)
		goto bad;
	return 0;
 bad:
	return cmd_fail(cmd, 501, "5.5.4", "Invalid NOTIFY parameter");
}

/* ORCPT=addr-type;xtext, addr-type an atom ("rfc822", "utf-8"). */
static int
param_orcpt(const struct span *val, struct smtp_cmd *cmd)
{
	struct span	type, addr;
	const char	*semi;
	size_t		i;

	if ((semi = memchr(val->p, ';', val->len)) == NULL)
		goto bad;
	type.p = val->p;
	type.len = (size_t)(semi - val->p);
	addr.p = semi + 1;
	addr.len = val->len - type.len - 1;
	if (type.len == 0 || addr.len == 0)
		goto bad;
	for (i = 0; i < type.len; i++)
		if (!is_alnum((unsigned char)type.p[i]) && type.p[i] != '-')
			goto bad;
	/* utf-8-addr-xtext (RFC 6533) allows UTF-8; rfc822 wants xtext */
	if (span_ieq(&type, "rfc822") && !is_xtext(&addr))
		goto bad;
	if (copy_span(cmd->orcpt, sizeof(cmd->orcpt), val) == -1)
		goto bad;
	return 0;
 bad:
	return cmd_fail(cmd, 501, "5.5.4", "Invalid ORCPT parameter");
}

static int
mail_param(const struct span *kw, const struct span *val, int hasval,
    unsigned int *seen, struct smtp_cmd *cmd)
{
	unsigned int	bit;

	if (span_ieq(kw, "SIZE"))
		bit = P_SIZE;
	else if (span_ieq(kw, "BODY"))
		bit = P_BODY;
	else if (span_ieq(kw, "SMTPUTF8"))
		bit = P_SMTPUTF8;
	else if (span_ieq(kw, "RET"))
		bit = P_RET;
	else if (span_ieq(kw, "ENVID"))
		bit = P_ENVID;
	else if (span_ieq(kw, "AUTH"))
		bit = P_AUTH;
	else
		return cmd_fail(cmd, 555, "5.5.4", "Unsupported parameter");
	if (*seen & bit)
		return cmd_fail(cmd, 501, "5.5.4", "Duplicate parameter");
	*seen |= bit;
	if ((bit == P_SMTPUTF8) == hasval)
		return cmd_fail(cmd, 501, "5.5.4", "Invalid parameter syntax");

	switch (bit) {
	case P_SIZE:
		return param_size(val, cmd);
	case P_BODY:
		return param_body(val, cmd);
	case P_SMTPUTF8:
		cmd->smtputf8 = 1;
		return 0;
	case P_RET:
		if (span_ieq(val, "FULL"))
			cmd->ret = SMTP_RET_FULL;
		else if (span_ieq(val, "HDRS"))
			cmd->ret = SMTP_RET_HDRS;
		else
			return cmd_fail(cmd, 501, "5.5.4",
			    "Invalid RET parameter");
		return 0;
	case P_ENVID:
		if (val->len > SMTP_ENVID_MAX || !is_xtext(val) ||
		    copy_span(cmd->envid, sizeof(cmd->envid), val) == -1)
			return cmd_fail(cmd, 501, "5.5.4",
			    "Invalid ENVID parameter");
		return 0;
	default:
		/*
		 * AUTH=<> or AUTH=xtext (RFC 4954 section 5): we trust no
		 * client's word on who submitted the message, so the value
		 * is only checked to be a well-formed esmtp-value.
		 */
		return 0;
	}
}

static int
rcpt_param(const struct span *kw, const struct span *val, int hasval,
    unsigned int *seen, struct smtp_cmd *cmd)
{
	unsigned int	bit;

	if (span_ieq(kw, "NOTIFY"))
		bit = P_NOTIFY;
	else if (span_ieq(kw, "ORCPT"))
		bit = P_ORCPT;
	else
		return cmd_fail(cmd, 555, "5.5.4", "Unsupported parameter");
	if (*seen & bit)
		return cmd_fail(cmd, 501, "5.5.4", "Duplicate parameter");
	*seen |= bit;
	if (!hasval)
		return cmd_fail(cmd, 501, "5.5.4", "Invalid parameter syntax");
	if (bit == P_NOTIFY)
		return param_notify(val, cmd);
	return param_orcpt(val, cmd);
}

/*
 * MAIL FROM:<path> [params] and RCPT TO:<path> [params].
 */
static int
parse_path_cmd(const struct span *arg, struct smtp_cmd *cmd)
{
	struct span	 rest = *arg, w, kw, val;
	const char	*prefix, *syntax, *enh, *endp = NULL, *err = NULL;
	unsigned int	 seen = 0;
	int		 ismail = cmd->verb == SMTP_MAIL, hasval, utf8 = 0, r;

	prefix = ismail ? "FROM:" : "TO:";
	syntax = ismail ? "Syntax: MAIL FROM:<address>" :
	    "Syntax: RCPT TO:<address>";
	enh = ismail ? "5.1.7" : "5.1.3";
	if (!span_iprefix(&rest, prefix))
		return cmd_fail(cmd, 501, "5.5.4", syntax);
	span_skip(&rest, strlen(prefix));
	span_skip_sp(&rest);
	if (rest.len == 0 || rest.p[0] != '<')
		return cmd_fail(cmd, 501, "5.5.4", syntax);

	if (!ismail && rest.len >= 12 &&
	    strncasecmp(rest.p, "<postmaster>", 12) == 0 &&
	    (rest.len == 12 || rest.p[12] == ' ')) {
		/* the one path that needs no domain (RFC 5321 4.5.1) */
		(void)strlcpy(cmd->path, "Postmaster", sizeof(cmd->path));
		cmd->postmaster = 1;
		span_skip(&rest, 12);
	} else {
		if (addr_parse_path(rest.p, rest.len, cmd->path,
		    sizeof(cmd->path), &utf8, &endp, &err) != 0 ||
		    endp == NULL || endp < rest.p ||
		    endp > rest.p + rest.len)
			return cmd_fail(cmd, 501, enh, err != NULL ? err :
			    "Invalid address");
		span_skip(&rest, (size_t)(endp - rest.p));
		cmd->path_utf8 = utf8 != 0;
	}
	if (!ismail && cmd->path[0] == '\0')
		return cmd_fail(cmd, 501, "5.1.3",
		    "Empty recipient address not allowed");
	if (rest.len > 0 && rest.p[0] != ' ')
		return cmd_fail(cmd, 501, "5.5.4", syntax);
	span_skip_sp(&rest);

	while (rest.len > 0) {
		w = span_word(&rest);
		if (param_split(&w, &kw, &val, &hasval, cmd) == -1)
			return -1;
		r = ismail ? mail_param(&kw, &val, hasval, &seen, cmd) :
		    rcpt_param(&kw, &val, hasval, &seen, cmd);
		if (r == -1)
			return -1;
	}
	if (ismail && cmd->path_utf8 && !cmd->smtputf8)
		return cmd_fail(cmd, 553, "5.6.7",
		    "Non-ASCII address requires SMTPUTF8");
	return 0;
}

static int
parse_bdat(const struct span *arg, struct smtp_cmd *cmd)
{
	struct span	rest = *arg, w;

	w = span_word(&rest);
	switch (parse_u64(&w, &cmd->chunk)) {
	case 0:
		break;
	case -2:
		return cmd_fail(cmd, 552, "5.3.4",
		    "Message size exceeds fixed maximum message size");
	default:
		return cmd_fail(cmd, 501, "5.5.4",
		    "Syntax: BDAT chunk-size [LAST]");
	}
	if (rest.len > 0) {
		w = span_word(&rest);
		if (!span_ieq(&w, "LAST") || rest.len > 0)
			return cmd_fail(cmd, 501, "5.5.4",
			    "Syntax: BDAT chunk-size [LAST]");
		cmd->last = 1;
	}
	return 0;
}

static int
parse_auth(const struct span *arg, struct smtp_cmd *cmd)
{
	struct span	rest = *arg, mech, init;
	size_t		i;
	int		c;

	mech = span_word(&rest);
	if (mech.len == 0)
		return cmd_fail(cmd, 501, "5.5.4",
		    "Syntax: AUTH mechanism [initial-response]");
	if (mech.len > SMTP_MECH_MAX)
		return cmd_fail(cmd, 501, "5.5.4", "Invalid mechanism name");
	for (i = 0; i < mech.len; i++) {
		c = (unsigned char)mech.p[i];
		if (!is_alnum(c) && c != '-' && c != '_')
			return cmd_fail(cmd, 501, "5.5.4",
			    "Invalid mechanism name");
		cmd->mech[i] = (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
	}
	cmd->mech[i] = '\0';
	if (rest.len > 0) {
		init = span_word(&rest);
		if (rest.len > 0)
			return cmd_fail(cmd, 501, "5.5.4",
			    "Syntax: AUTH mechanism [initial-response]");
		cmd->initial = init.p;
		cmd->initial_len = init.len;
	}
	return 0;
}

int
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd)
{
	struct span	rest, verb, arg;
	size_t		i;

	memset(cmd, 0, sizeof(*cmd));
	cmd->verb = SMTP_UNKNOWN;

	if (len > SMTP_AUTH_MAXLEN)
		return cmd_fail(cmd, 500, "5.5.2", "Line too long");
	if (line_check(line, len, cmd) == -1)
		return -1;
	while (len > 0 && line[len - 1] == ' ')
		len--;

	rest.p = line;
	rest.len = len;
	verb = span_word(&rest);
	for (i = 0; i < sizeof(smtp_verbs) / sizeof(smtp_verbs[0]); i++)
		if (span_ieq(&verb, smtp_verbs[i].name))
			cmd->verb = smtp_verbs[i].verb;
	if (cmd->verb == SMTP_UNKNOWN)
		return cmd_fail(cmd, 500, "5.5.2",
		    "Syntax error, command unrecognized");
	if (cmd->verb != SMTP_AUTH && len > SMTP_CMD_MAXLEN)
		return cmd_fail(cmd, 500, "5.5.2", "Line too long");

	arg = rest;
	cmd->arg = arg.p;
	cmd->arglen = arg.len;

	switch (cmd->verb) {
	case SMTP_HELO:
	case SMTP_EHLO:
		return parse_helo(&arg, cmd);
	case SMTP_MAIL:
	case SMTP_RCPT:
		return parse_path_cmd(&arg, cmd);
	case SMTP_BDAT:
		return parse_bdat(&arg, cmd);
	case SMTP_AUTH:
		return parse_auth(&arg, cmd);
	case SMTP_VRFY:
	case SMTP_EXPN:
		if (arg.len == 0)
			return cmd_fail(cmd, 501, "5.5.4",
			    cmd->verb == SMTP_VRFY ? "Syntax: VRFY address" :
			    "Syntax: EXPN list");
		return 0;
	case SMTP_HELP:
	case SMTP_NOOP:
		return 0;
	default:
		/* DATA, RSET, QUIT, STARTTLS */
		if (arg.len > 0)
			return cmd_fail(cmd, 501, "5.5.4",
			    "No parameters allowed");
		return 0;
	}
}

const char *
smtp_verb_name(enum smtp_verb v)
{
	size_t	i;

	for (i = 0; i < sizeof(smtp_verbs) / sizeof(smtp_verbs[0]); i++)
		if (smtp_verbs[i].verb == v)
			return smtp_verbs[i].name;
	return "unknown";
}
