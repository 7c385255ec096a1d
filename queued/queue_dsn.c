/*
 * queue_dsn.c: building delivery status notifications.  See queue_dsn.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "queue_dsn.h"

struct dsn_out {
	struct dbuf	*b;
	int		 err;
};

static void
out_printf(struct dsn_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
out_printf(struct dsn_out *o, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		o->err = 1;
		return;
	}
	if (dbuf_append(o->b, line, n) == -1)
		o->err = 1;
}

void
dsn_date(int64_t t, char *buf, size_t bufsz)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, bufsz, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		strlcpy(buf, "Thu, 01 Jan 1970 00:00:00 +0000", bufsz);
}

/*
 * Copy s into dst with every control character and DEL replaced by '?'.
 * Bytes of 0x80 and above stay when utf8 is set (UTF-8 addresses), else
 * they become '?' too.  Returns 1 if a byte >= 0x80 was seen.
 */
static int
dsn_clean(char *dst, size_t dstsz, const char *s, int utf8)
{
	size_t i;
	int high = 0;

	for (i = 0; s[i] != '\0' && i + 1 < dstsz; i++) {
		unsigned char c = s[i];

		if (c >= 0x80) {
			high = 1;
			dst[i] = utf8 ? c : '?';
		} else if (c < 0x20 || c == 0x7f)
			dst[i] = '?';
		else
			dst[i] = c;
	}
	dst[i] = '\0';
	return high;
}

static int
dsn_is_utf8(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* A status "C.S.D" whose class fits the action, else a generic one. */
static void
dsn_status(const struct env_rcpt *r, enum dsn_kind kind, char *buf,
    size_t bufsz)
{
	const char *e = r->enhanced;
	unsigned a, b, c;
	char tail;

	if (kind == DSN_FAILURE && (r->flags & RCPT_F_EXPIRED) &&
	    r->code < 500) {
		strlcpy(buf, "4.4.7", bufsz);
		return;
	}
	if (sscanf(e, "%1u.%3u.%3u%c", &a, &b, &c, &tail) == 3 &&
	    ((kind == DSN_FAILURE && (a == 5 || a == 4)) ||
	    (kind == DSN_DELAY && a == 4))) {
		snprintf(buf, bufsz, "%u.%u.%u", a, b, c);
		return;
	}
	if (kind == DSN_DELAY || (r->code >= 400 && r->code < 500))
		strlcpy(buf, "4.0.0", bufsz);
	else
		strlcpy(buf, "5.0.0", bufsz);
}

static void
dsn_headers(struct dsn_out *o, const struct dsn_req *q, const char *to,
    const char *boundary)
{
	char date[64];

	dsn_date(q->now, date, sizeof(date));
	out_printf(o, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n",
	    q->hostname);
	out_printf(o, "To: <%s>\r\n", to);
	out_printf(o, "Subject: %s\r\n", q->kind == DSN_FAILURE ?
	    "Undeliverable: delivery failure notice" :
	    "Delayed: delivery delay notice");
	out_printf(o, "Date: %s\r\n", date);
	out_printf(o, "Message-ID: <%s.dsn@%s>\r\n", q->dsnid, q->hostname);
	out_printf(o, "Auto-Submitted: auto-replied\r\n");
	out_printf(o, "MIME-Version: 1.0\r\n");
	out_printf(o, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n", boundary);
	out_printf(o, "\r\nThis is a MIME-formatted delivery report.\r\n\r\n");
}

static void
dsn_human(struct dsn_out *o, const struct dsn_req *q, const char *qid,
    int utf8)
{
	const struct env_rcpt *r;
	char date[64], until[64], addr[MAX_ADDR + 1], text[MAX_REPLY];
	char host[MAX_HOST];
	size_t i;

	dsn_date(q->env->created, date, sizeof(date));
	out_printf(o, "Content-Description: Notification\r\n");
	out_printf(o, "Content-Type: text/plain; charset=%s\r\n\r\n",
	    utf8 ? "utf-8" : "us-ascii");
	if (q->kind == DSN_FAILURE) {
		out_printf(o, "The mail system at %s could not deliver your "
		    "message\r\n(queue id %s, received %s)\r\nto the "
		    "recipients listed below.  The attached report has the "
		    "details,\r\nfollowed by the headers of your "
		    "message.\r\n\r\n", q->hostname, qid, date);
	} else {
		dsn_date(q->retry_until, until, sizeof(until));
		out_printf(o, "The mail system at %s has not yet been able "
		    "to deliver your message\r\n(queue id %s, received %s)"
		    "\r\nto the recipients listed below.  It will keep "
		    "trying until\r\n%s; there is no need to send it "
		    "again.\r\n\r\n", q->hostname, qid, date, until);
	}
	for (i = 0; i < q->nrcpts; i++) {
		r = &q->env->rcpt[q->rcpts[i]];
		dsn_clean(addr, sizeof(addr), r->addr, utf8);
		dsn_clean(text, sizeof(text), r->text, 0);
		dsn_clean(host, sizeof(host), r->host, 0);
		out_printf(o, "<%s>:\r\n", addr);
		if (r->code != 0)
			out_printf(o, "    %s said: %u %s%s%s\r\n",
			    host[0] ? host : "the next hop", r->code,
			    r->enhanced, r->enhanced[0] ? " " : "", text);
		else if (text[0] != '\0')
			out_printf(o, "    %s\r\n", text);
	}
	out_printf(o, "\r\n");
}

static void
dsn_report(struct dsn_out *o, const struct dsn_req *q, const char *qid,
    int utf8)
{
	const struct env_rcpt *r;
	char date[64], addr[MAX_ADDR + 1], text[MAX_REPLY], host[MAX_HOST];
	char status[16];
	size_t i;

	out_printf(o, "Content-Description: Delivery report\r\n");
	out_printf(o, "Content-Type: message/%sdelivery-status\r\n\r\n",
	    utf8 ? "global-" : "");
	out_printf(o, "Reporting-MTA: dns; %s\r\n", q->hostname);
	out_printf(o, "X-Postern-Queue-ID: %s\r\n", qid);
	dsn_date(q->env->created, date, sizeof(date));
	out_printf(o, "Arrival-Date: %s\r\n", date);
	for (i = 0; i < q->nrcpts; i++) {
		r = &q->env->rcpt[q->rcpts[i]];
		dsn_clean(addr, sizeof(addr), r->addr, utf8);
		dsn_clean(text, sizeof(text), r->text, 0);
		dsn_clean(host, sizeof(host), r->host, 0);
		dsn_status(r, q->kind, status, sizeof(status));
		out_printf(o, "\r\nFinal-Recipient: %s; %s\r\n",
		    utf8 && dsn_is_utf8(addr) ? "utf-8" : "rfc822", addr);
		out_printf(o, "Action: %s\r\n", q->kind == DSN_FAILURE ?
		    "failed" : "delayed");
		out_printf(o, "Status: %s\r\n", status);
		if (host[0] != '\0')
			out_printf(o, "Remote-MTA: dns; %s\r\n", host);
		if (r->code != 0)
			out_printf(o, "Diagnostic-Code: smtp; %u %s%s%s\r\n",
			    r->code, r->enhanced, r->enhanced[0] ? " " : "",
			    text);
		else if (text[0] != '\0')
			out_printf(o, "Diagnostic-Code: x-postern; %s\r\n",
			    text);
		if (r->last != 0) {
			dsn_date(r->last, date, sizeof(date));
			out_printf(o, "Last-Attempt-Date: %s\r\n", date);
		}
		if (q->kind == DSN_DELAY) {
			dsn_date(q->retry_until, date, sizeof(date));
			out_printf(o, "Will-Retry-Until: %s\r\n", date);
		}
	}
	out_printf(o, "\r\n");
}

/*
 * The original header section, line by line with CRLF ends whatever the
 * original used; returns 1 when it holds 8-bit bytes.
 */
static int
dsn_orig_headers(struct dsn_out *o, const struct dsn_req *q, int utf8)
{
	const char *p = q->headers, *end = q->headers + q->headerslen;
	const char *nl;
	size_t i, n;
	int high = 0;

	out_printf(o, "Content-Description: Headers of the message\r\n");
	out_printf(o, "Content-Type: %s\r\n\r\n", utf8 ?
	    "message/global-headers" : "text/rfc822-headers");
	while (p != NULL && p < end) {
		nl = memchr(p, '\n', end - p);
		n = (nl != NULL ? nl : end) - p;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break;		/* the end of the header section */
		for (i = 0; i < n; i++)
			if ((unsigned char)p[i] >= 0x80)
				high = 1;
		if (dbuf_append(o->b, p, n) == -1 ||
		    dbuf_append(o->b, "\r\n", 2) == -1)
			o->err = 1;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return high;
}

int
dsn_build(const struct dsn_req *q, struct dbuf *b, uint32_t *bodyp)
{
	struct dsn_out o = { b, 0 };
	char qid[QID_LEN + 1], boundary[128], to[MAX_ADDR + 1];
	size_t i;
	int utf8;

	qid_format(q->env->id, qid);
	utf8 = dsn_is_utf8(q->env->sender);
	for (i = 0; i < q->nrcpts; i++)
		if (dsn_is_utf8(q->env->rcpt[q->rcpts[i]].addr))
			utf8 = 1;
	*bodyp = 0;
	if (utf8)
		*bodyp |= BODY_8BIT | BODY_SMTPUTF8;
	snprintf(boundary, sizeof(boundary), "%s/%s", q->dsnid, q->hostname);
	dsn_clean(to, sizeof(to), q->env->sender, utf8);

	dsn_headers(&o, q, to, boundary);
	out_printf(&o, "--%s\r\n", boundary);
	dsn_human(&o, q, qid, utf8);
	out_printf(&o, "--%s\r\n", boundary);
	dsn_report(&o, q, qid, utf8);
	if (q->headers != NULL && q->headerslen > 0) {
		out_printf(&o, "--%s\r\n", boundary);
		if (dsn_orig_headers(&o, q, utf8))
			*bodyp |= BODY_8BIT;
		out_printf(&o, "\r\n");
	}
	out_printf(&o, "--%s--\r\n", boundary);
	return o.err ? -1 : 0;
}
