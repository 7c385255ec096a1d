/*
 * dns.c: MX and address lookups on libunbound, driven by libevent.
 * See dns.h for the contract.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unbound.h>

#include "dns.h"
#include "log.h"

#define RR_A		1
#define RR_MX		15
#define RR_AAAA		28
#define RR_CLASS_IN	1
#define RCODE_NXDOMAIN	3

enum dns_mode {
	DNS_MODE_MX = 1,	/* MX first, then the hosts' addresses */
	DNS_MODE_HOST,		/* the addresses of one configured host */
};

struct dns_addr {
	struct sockaddr_storage	ss;
	socklen_t		sslen;
	char			text[64];
};

struct dns_host {
	char		name[MAX_HOST];
	int		pref;
	int		n6, n4;
	struct dns_addr	v6[DNS_MAX_HOST_ADDRS];
	struct dns_addr	v4[DNS_MAX_HOST_ADDRS];
};

/* One outstanding libunbound query. */
struct dns_sub {
	struct dns_query *q;
	int		 host;		/* index into hosts, -1 for the MX */
	int		 rrtype;
	int		 id;		/* libunbound's async id */
	int		 pending;
};

struct dns_query {
	enum dns_mode	 mode;
	dns_cb		 cb;
	void		*arg;
	uint16_t	 port;
	char		 domain[MAX_HOST];
	int		 implicit;	/* no MX: the domain is the host */
	int		 nhosts;
	struct dns_host	 hosts[DNS_MAX_HOSTS];
	struct dns_sub	 mx;
	struct dns_sub	 subs[2 * DNS_MAX_HOSTS];
	int		 npending;
	int		 ntemp;		/* address lookups that failed */
	char		 temp_why[128];	/* the first such failure */
	struct event	*done_ev;
	struct dns_answer ans;
};

static struct ub_ctx	*dns_ctx;
static struct event	*dns_ev;
static struct event_base *dns_base;

static void	dns_sub_start(struct dns_query *, struct dns_sub *,
		    const char *name);
static void	dns_finish(struct dns_query *);

static void
dns_on_readable(evutil_socket_t fd, short ev, void *arg)
{
	int r;

	/* Runs the callbacks of every answer that has arrived. */
	if ((r = ub_process(dns_ctx)) != 0)
		log_warnx("dns: ub_process: %s", ub_strerror(r));
}

void
dns_init(struct event_base *base)
{
	int r;

	dns_base = base;
	if ((dns_ctx = ub_ctx_create()) == NULL)
		fatalx("dns: ub_ctx_create failed");
	/* A thread, not a forked process: nothing outside the chroot. */
	if ((r = ub_ctx_async(dns_ctx, 1)) != 0)
		fatalx("dns: ub_ctx_async: %s", ub_strerror(r));
	/*
	 * Never ub_ctx_hosts(): /etc/hosts is not in the chroot, and a
	 * hosts file must not decide where mail goes.  Be quiet on stderr,
	 * which is the log pipe.
	 */
	ub_ctx_debuglevel(dns_ctx, 0);
	dns_ev = event_new(base, ub_fd(dns_ctx), EV_READ | EV_PERSIST,
	    dns_on_readable, NULL);
	if (dns_ev == NULL || event_add(dns_ev, NULL) == -1)
		fatalx("dns: event_add");
}

int
dns_forwarder(const char *addr)
{
	int r;

	/*
	 * A configured resolver is often on the loopback (a local unbound,
	 * systemd-resolved), which libunbound refuses by default.
	 */
	ub_ctx_set_option(dns_ctx, "do-not-query-localhost:", "no");
	if ((r = ub_ctx_set_fwd(dns_ctx, addr)) != 0) {
		log_warnx("dns: resolver %s: %s", addr, ub_strerror(r));
		return -1;
	}
	log_debug("dns: forwarding to %s", addr);
	return 0;
}

/* Call fn on each line of text (without its end), for small files. */
static int
dns_each_line(const char *text, size_t len, int (*fn)(char *))
{
	char line[1024];
	size_t i, n = 0;
	int failed = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && text[i] != '\n') {
			if (n < sizeof(line) - 1)
				line[n++] = text[i];
			continue;
		}
		line[n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[n - 1] = '\0';
		if (fn(line) == -1)
			failed = 1;
		n = 0;
	}
	return failed ? -1 : 0;
}

static int
dns_resolvconf_line(char *line)
{
	char *p, *addr;

	p = line + strspn(line, " \t");
	if (strncmp(p, "nameserver", 10) != 0 ||
	    (p[10] != ' ' && p[10] != '\t'))
		return 0;
	addr = p + 10 + strspn(p + 10, " \t");
	addr[strcspn(addr, " \t#;")] = '\0';
	if (*addr == '\0')
		return 0;
	return dns_forwarder(addr);
}

int
dns_resolvconf(const char *text, size_t len)
{
	return dns_each_line(text, len, dns_resolvconf_line);
}

static int
dns_anchor_line(char *line)
{
	char *p;
	int r;

	p = line + strspn(line, " \t");
	if (*p == '\0' || *p == ';' || *p == '#')
		return 0;
	if ((r = ub_ctx_add_ta(dns_ctx, p)) != 0) {
		log_warnx("dns: trust anchor: %s", ub_strerror(r));
		return -1;
	}
	return 0;
}

int
dns_trust_anchor(const char *text, size_t len)
{
	return dns_each_line(text, len, dns_anchor_line);
}

int
dns_valid_name(const char *s)
{
	size_t len = strlen(s), label = 0, i;

	if (len == 0 || len >= MAX_HOST - 1)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1;
}

static void
dns_set_addr(struct dns_addr *a, int af, const void *raw, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;

	memset(a, 0, sizeof(*a));
	if (af == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, raw, 4);
		a->sslen = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, raw, 16);
		a->sslen = sizeof(*sin6);
	}
	inet_ntop(af, raw, a->text, sizeof(a->text));
}

int
dns_target_port(const struct dns_target *t)
{
	if (t->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&t->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&t->ss)->sin_port);
}

int
dns_parse_literal(const char *s, uint16_t port, struct dns_target *t)
{
	char buf[64];
	unsigned char raw[16];
	struct dns_addr a;
	size_t len = strlen(s);
	int af;

	if (len >= sizeof(buf))
		return -1;
	if (len > 2 && s[0] == '[' && s[len - 1] == ']') {
		memcpy(buf, s + 1, len - 2);
		buf[len - 2] = '\0';
		if (strncasecmp(buf, "IPv6:", 5) == 0)
			memmove(buf, buf + 5, strlen(buf + 5) + 1);
	} else
		strlcpy(buf, s, sizeof(buf));
	if (inet_pton(AF_INET, buf, raw) == 1)
		af = AF_INET;
	else if (inet_pton(AF_INET6, buf, raw) == 1)
		af = AF_INET6;
	else
		return -1;
	dns_set_addr(&a, af, raw, port);
	memset(t, 0, sizeof(*t));
	strlcpy(t->host, a.text, sizeof(t->host));
	strlcpy(t->addr, a.text, sizeof(t->addr));
	t->ss = a.ss;
	t->sslen = a.sslen;
	return 0;
}

static void
dns_fail(struct dns_query *q, enum dns_status st, const char *enh,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
dns_fail(struct dns_query *q, enum dns_status st, const char *enh,
    const char *fmt, ...)
{
	va_list ap;

	q->ans.status = st;
	q->ans.ntargets = 0;
	strlcpy(q->ans.enhanced, enh, sizeof(q->ans.enhanced));
	va_start(ap, fmt);
	vsnprintf(q->ans.reason, sizeof(q->ans.reason), fmt, ap);
	va_end(ap);
	dns_finish(q);
}

static void
dns_done_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct dns_query *q = arg;

	q->cb(&q->ans, q->arg);
	event_free(q->done_ev);
	free(q);
}

/* Hand the answer over from the event loop, never from a nested call. */
static void
dns_finish(struct dns_query *q)
{
	event_active(q->done_ev, 0, 0);
}

static struct dns_query *
dns_query_new(enum dns_mode mode, const char *name, uint16_t port, dns_cb cb,
    void *arg)
{
	struct dns_query *q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->mode = mode;
	q->cb = cb;
	q->arg = arg;
	q->port = port;
	strlcpy(q->domain, name, sizeof(q->domain));
	if ((q->done_ev = event_new(dns_base, -1, 0, dns_done_cb, q)) ==
	    NULL) {
		free(q);
		return NULL;
	}
	return q;
}

/* Why a lookup failed, in words, or NULL when it did not. */
static const char *
dns_result_error(int err, struct ub_result *res)
{
	static char why[128];

	if (err != 0) {
		snprintf(why, sizeof(why), "%s", ub_strerror(err));
		return why;
	}
	if (res->bogus) {
		snprintf(why, sizeof(why), "DNSSEC validation failed%s%s",
		    res->why_bogus ? ": " : "",
		    res->why_bogus ? res->why_bogus : "");
		return why;
	}
	switch (res->rcode) {
	case 0:
	case RCODE_NXDOMAIN:
		return NULL;
	case 2:
		return "SERVFAIL";
	case 5:
		return "REFUSED";
	default:
		snprintf(why, sizeof(why), "rcode %d", res->rcode);
		return why;
	}
}

/* Build the target list once every address lookup has answered. */
static void
dns_addresses_done(struct dns_query *q)
{
	struct dns_answer *ans = &q->ans;
	struct dns_host *h;
	struct dns_target *t;
	int i, j;

	for (i = 0; i < q->nhosts; i++) {
		h = &q->hosts[i];
		for (j = 0; j < h->n6 + h->n4; j++) {
			struct dns_addr *a = j < h->n6 ? &h->v6[j] :
			    &h->v4[j - h->n6];

			if (ans->ntargets == DNS_MAX_TARGETS)
				break;
			t = &ans->target[ans->ntargets++];
			strlcpy(t->host, h->name, sizeof(t->host));
			strlcpy(t->addr, a->text, sizeof(t->addr));
			t->ss = a->ss;
			t->sslen = a->sslen;
			t->pref = h->pref;
		}
	}
	if (ans->ntargets > 0) {
		ans->status = DNS_OK;
		dns_finish(q);
		return;
	}
	if (q->ntemp > 0)
		dns_fail(q, DNS_TEMPFAIL, "4.4.3", "DNS lookup of the "
		    "address of %s failed: %s", q->mode == DNS_MODE_HOST ||
		    q->implicit ? q->domain : "the mail exchangers",
		    q->temp_why);
	else if (q->mode == DNS_MODE_HOST)
		dns_fail(q, DNS_TEMPFAIL, "4.4.4", "host %s not found",
		    q->domain);
	else if (q->implicit)
		dns_fail(q, DNS_PERMFAIL, "5.4.4", "domain %s has no MX and "
		    "no address", q->domain);
	else
		dns_fail(q, DNS_PERMFAIL, "5.4.4", "no address for the mail "
		    "exchangers of %s", q->domain);
}

static void
dns_addr_cb(void *arg, int err, struct ub_result *res)
{
	struct dns_sub *sub = arg;
	struct dns_query *q = sub->q;
	struct dns_host *h = &q->hosts[sub->host];
	const char *why;
	int i, af, want;

	sub->pending = 0;
	q->npending--;
	if ((why = dns_result_error(err, res)) != NULL) {
		if (q->ntemp++ == 0)
			snprintf(q->temp_why, sizeof(q->temp_why), "%s %s: %s",
			    h->name, sub->rrtype == RR_A ? "A" : "AAAA", why);
	} else if (res->havedata) {
		af = sub->rrtype == RR_A ? AF_INET : AF_INET6;
		want = sub->rrtype == RR_A ? 4 : 16;
		for (i = 0; res->data[i] != NULL; i++) {
			if (res->len[i] != want)
				continue;
			if (af == AF_INET && h->n4 < DNS_MAX_HOST_ADDRS)
				dns_set_addr(&h->v4[h->n4++], af,
				    res->data[i], q->port);
			if (af == AF_INET6 && h->n6 < DNS_MAX_HOST_ADDRS)
				dns_set_addr(&h->v6[h->n6++], af,
				    res->data[i], q->port);
		}
	}
	if (res != NULL)
		ub_resolve_free(res);
	if (q->npending == 0)
		dns_addresses_done(q);
}

static void
dns_mx_cb(void *, int, struct ub_result *);

static void
dns_sub_start(struct dns_query *q, struct dns_sub *sub, const char *name)
{
	int r;

	sub->q = q;
	sub->pending = 1;
	q->npending++;
	r = ub_resolve_async(dns_ctx, name, sub->rrtype, RR_CLASS_IN, sub,
	    sub->rrtype == RR_MX ? dns_mx_cb : dns_addr_cb, &sub->id);
	if (r != 0) {
		/* As if the answer were an error: the same path. */
		sub->pending = 0;
		q->npending--;
		log_warnx("dns: ub_resolve_async %s: %s", name,
		    ub_strerror(r));
		if (sub->rrtype == RR_MX) {
			dns_fail(q, DNS_TEMPFAIL, "4.4.3", "DNS lookup of "
			    "MX for %s failed: %s", q->domain,
			    ub_strerror(r));
			return;
		}
		if (q->ntemp++ == 0)
			snprintf(q->temp_why, sizeof(q->temp_why), "%s: %s",
			    name, ub_strerror(r));
	}
}

static void
dns_start_addresses(struct dns_query *q)
{
	int i, n = 0;

	for (i = 0; i < q->nhosts; i++) {
		q->subs[n].host = i;
		q->subs[n].rrtype = RR_AAAA;
		dns_sub_start(q, &q->subs[n++], q->hosts[i].name);
		q->subs[n].host = i;
		q->subs[n].rrtype = RR_A;
		dns_sub_start(q, &q->subs[n++], q->hosts[i].name);
	}
	if (q->npending == 0)
		dns_addresses_done(q);
}

/* MX rdata: 16-bit preference, then an uncompressed wire-format name. */
static int
dns_mx_parse(const unsigned char *p, size_t len, int *pref, char *name,
    size_t namesz)
{
	size_t off = 2, n = 0, lab, i;

	if (len < 3)
		return -1;
	*pref = (p[0] << 8) | p[1];
	while (off < len) {
		lab = p[off++];
		if (lab == 0)
			break;
		if (lab > 63 || off + lab > len)
			return -1;	/* a compression pointer, or short */
		if (n + lab + 2 > namesz)
			return -1;
		if (n > 0)
			name[n++] = '.';
		for (i = 0; i < lab; i++)
			name[n++] = p[off + i];
		off += lab;
	}
	if (off != len || p[len - 1] != 0)
		return -1;
	name[n] = '\0';
	return 0;
}

static int
dns_host_cmp(const void *a, const void *b)
{
	const struct dns_host *ha = a, *hb = b;

	return ha->pref - hb->pref;
}

/* Sort by preference and shuffle each run of equal preferences. */
static void
dns_order_hosts(struct dns_host *h, int n)
{
	struct dns_host tmp;
	int i, j, start, len;

	qsort(h, n, sizeof(*h), dns_host_cmp);
	for (start = 0; start < n; start += len) {
		for (len = 1; start + len < n &&
		    h[start + len].pref == h[start].pref; len++)
			;
		for (i = len - 1; i > 0; i--) {
			j = arc4random_uniform(i + 1);
			tmp = h[start + i];
			h[start + i] = h[start + j];
			h[start + j] = tmp;
		}
	}
}

static void
dns_mx_cb(void *arg, int err, struct ub_result *res)
{
	struct dns_sub *sub = arg;
	struct dns_query *q = sub->q;
	struct dns_host all[64];
	char name[MAX_HOST];
	const char *why;
	int i, n = 0, nnull = 0, pref;

	sub->pending = 0;
	q->npending--;
	if ((why = dns_result_error(err, res)) != NULL) {
		dns_fail(q, DNS_TEMPFAIL, "4.4.3", "DNS lookup of MX for %s "
		    "failed: %s", q->domain, why);
		goto out;
	}
	if (res->nxdomain || res->rcode == RCODE_NXDOMAIN) {
		dns_fail(q, DNS_PERMFAIL, "5.1.2", "domain %s not found",
		    q->domain);
		goto out;
	}
	if (!res->havedata) {
		/* RFC 5321 5.1: the domain is its own, implicit, MX. */
		q->implicit = 1;
		q->nhosts = 1;
		strlcpy(q->hosts[0].name, q->domain,
		    sizeof(q->hosts[0].name));
		dns_start_addresses(q);
		goto out;
	}
	for (i = 0; res->data[i] != NULL && n < (int)(sizeof(all) /
	    sizeof(all[0])); i++) {
		if (dns_mx_parse((unsigned char *)res->data[i], res->len[i],
		    &pref, name, sizeof(name)) == -1) {
			log_warnx("dns: %s: malformed MX record skipped",
			    q->domain);
			continue;
		}
		if (name[0] == '\0') {
			nnull++;	/* "." */
			continue;
		}
		if (!dns_valid_name(name)) {
			log_warnx("dns: %s: MX host with a bad name "
			    "skipped", q->domain);
			continue;
		}
		memset(&all[n], 0, sizeof(all[n]));
		strlcpy(all[n].name, name, sizeof(all[n].name));
		all[n].pref = pref;
		n++;
	}
	if (n == 0 && nnull > 0) {
		dns_fail(q, DNS_PERMFAIL, "5.1.10", "domain %s accepts no "
		    "mail (null MX)", q->domain);
		goto out;
	}
	if (n == 0) {
		dns_fail(q, DNS_TEMPFAIL, "4.4.3", "no usable MX record for "
		    "%s", q->domain);
		goto out;
	}
	if (nnull > 0)
		log_warnx("dns: %s: null MX among other MX records ignored",
		    q->domain);
	dns_order_hosts(all, n);
	q->nhosts = n < DNS_MAX_HOSTS ? n : DNS_MAX_HOSTS;
	memcpy(q->hosts, all, q->nhosts * sizeof(all[0]));
	dns_start_addresses(q);
out:
	if (res != NULL)
		ub_resolve_free(res);
}

struct dns_query *
dns_lookup_mx(const char *domain, uint16_t port, dns_cb cb, void *arg)
{
	struct dns_query *q;

	if ((q = dns_query_new(DNS_MODE_MX, domain, port, cb, arg)) == NULL)
		return NULL;
	if (domain[0] == '[') {
		if (dns_parse_literal(domain, port, &q->ans.target[0]) == 0) {
			q->ans.ntargets = 1;
			dns_finish(q);
		} else
			dns_fail(q, DNS_PERMFAIL, "5.1.2", "bad address "
			    "literal %s", domain);
		return q;
	}
	if (!dns_valid_name(domain)) {
		dns_fail(q, DNS_PERMFAIL, "5.1.2", "bad domain name");
		return q;
	}
	q->mx.host = -1;
	q->mx.rrtype = RR_MX;
	dns_sub_start(q, &q->mx, domain);
	return q;
}

struct dns_query *
dns_lookup_host(const char *host, uint16_t port, dns_cb cb, void *arg)
{
	struct dns_query *q;

	if ((q = dns_query_new(DNS_MODE_HOST, host, port, cb, arg)) == NULL)
		return NULL;
	if (dns_parse_literal(host, port, &q->ans.target[0]) == 0) {
		q->ans.ntargets = 1;
		dns_finish(q);
		return q;
	}
	if (!dns_valid_name(host)) {
		dns_fail(q, DNS_TEMPFAIL, "4.4.4", "bad host name");
		return q;
	}
	q->nhosts = 1;
	strlcpy(q->hosts[0].name, host, sizeof(q->hosts[0].name));
	dns_start_addresses(q);
	return q;
}

void
dns_cancel(struct dns_query *q)
{
	int i;

	if (q->mx.pending)
		ub_cancel(dns_ctx, q->mx.id);
	for (i = 0; i < 2 * DNS_MAX_HOSTS; i++)
		if (q->subs[i].pending)
			ub_cancel(dns_ctx, q->subs[i].id);
	event_free(q->done_ev);
	free(q);
}
