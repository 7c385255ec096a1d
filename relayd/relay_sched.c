/*
 * relay_sched.c: routing, connection limits and reuse, MX fallback, and
 * the results of every batch.  See relay_sched.h.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/tree.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <tls.h>

#include "dns.h"
#include "log.h"
#include "relay_client.h"
#include "relay_sched.h"

struct relay_batch {
	TAILQ_ENTRY(relay_batch) entry;		/* in its dest's waitq */
	uint64_t	 id;
	char		 qid[MAX_QID];
	char		 sender[MAX_ADDR];
	char		 domain[MAX_HOST];
	uint32_t	 bodyflags;
	int		 fd;
	unsigned char	*prefix;
	size_t		 prefixlen;
	int		 nrcpt;
	struct relay_rcpt *rcpt;
	struct relay_msg msg;
	struct timespec	 arrived;
	int		 fresh_tries;	/* reused sessions found dead */
	struct relay_dest *dest;
};

enum dest_kind {
	DEST_MX = 1,	/* the domain's mail exchangers */
	DEST_HOP,	/* a configured next hop (route or smarthost) */
};

struct relay_conn;

struct relay_dest {
	RB_ENTRY(relay_dest) node;
	char		 key[MAX_HOST + 64];
	enum dest_kind	 kind;
	char		 domain[MAX_HOST];	/* DEST_MX */
	struct hop	 hop;			/* DEST_HOP */
	int		 flags;			/* ROUTE_TLS_* */
	int		 auth;			/* send the credentials */
	int		 nconn;			/* slots held */
	TAILQ_HEAD(, relay_batch) waitq;
	TAILQ_HEAD(, relay_conn) idle;
	TAILQ_ENTRY(relay_dest) ready;		/* in sched_ready */
	int		 in_ready;
};

/*
 * A connection slot: from the DNS lookup for its first batch until its
 * session is closed.  It tries the targets in order for that batch.
 */
struct relay_conn {
	TAILQ_ENTRY(relay_conn) entry;		/* in dest->idle */
	struct relay_dest *dest;
	struct relay_batch *batch;		/* NULL while idle */
	struct relay_client *client;
	struct dns_query *dnsq;
	struct dns_answer targets;
	int		 next;			/* next target to try */
	int		 ntemp;			/* temporary failures */
	struct relay_failure last;
	struct dns_target last_target;
	int		 have_last;
};

struct notls {
	TAILQ_ENTRY(notls) entry;
	char		 key[96];
	struct timespec	 until;
};

static int	dest_cmp(struct relay_dest *, struct relay_dest *);
RB_HEAD(dest_tree, relay_dest);
RB_PROTOTYPE(dest_tree, relay_dest, node, dest_cmp);
RB_GENERATE(dest_tree, relay_dest, node, dest_cmp);

static struct event_base *sched_base;
static const struct config *sched_conf;
static relay_result_fn sched_result;
static relay_done_fn sched_done;
static struct dest_tree sched_dests = RB_INITIALIZER(&sched_dests);
static TAILQ_HEAD(, relay_dest) sched_ready =
    TAILQ_HEAD_INITIALIZER(sched_ready);
static TAILQ_HEAD(, notls) sched_notls = TAILQ_HEAD_INITIALIZER(sched_notls);
static int	sched_nnotls;
static int	sched_nconn;
static struct event *sched_kick_ev;
static struct tls_config *tls_noverify, *tls_verify;
static char	cred_user[257], cred_pass[257];
static int	have_creds;

static void	conn_try_next(struct relay_conn *);
static void	conn_start(struct relay_conn *);
static void	conn_client_cb(struct relay_client *, enum relay_client_event,
		    void *);

static int
dest_cmp(struct relay_dest *a, struct relay_dest *b)
{
	return strcmp(a->key, b->key);
}

static void
now_mono(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

/* Run the scheduler from the event loop, once, after things changed. */
static void
sched_kick(void)
{
	event_active(sched_kick_ev, 0, 0);
}

/*
 * Start-up.
 */

static void	sched_run(evutil_socket_t, short, void *);

void
relay_sched_init(struct event_base *base, relay_result_fn result,
    relay_done_fn done)
{
	sched_base = base;
	sched_result = result;
	sched_done = done;
	if ((sched_kick_ev = event_new(base, -1, 0, sched_run, NULL)) == NULL)
		fatalx("relay_sched: event_new");
	/*
	 * Opportunistic TLS to MX hosts checks no certificate (RFC 7435:
	 * some encryption beats none); destinations that say "tls verify"
	 * use the CA certificates loaded before the chroot.
	 */
	if ((tls_noverify = tls_config_new()) == NULL ||
	    (tls_verify = tls_config_new()) == NULL)
		fatalx("relay_sched: tls_config_new");
	tls_config_insecure_noverifycert(tls_noverify);
	tls_config_insecure_noverifyname(tls_noverify);
	tls_config_insecure_noverifytime(tls_noverify);
}

void
relay_sched_config(const struct config *conf)
{
	sched_conf = conf;
	sched_kick();
}

void
relay_sched_ca(const unsigned char *pem, size_t len)
{
	if (pem == NULL || len == 0) {
		log_warnx("no CA certificates: destinations with \"tls "
		    "verify\" will fail");
		return;
	}
	if (tls_config_set_ca_mem(tls_verify, pem, len) == -1)
		log_warnx("CA certificates: %s", tls_config_error(tls_verify));
}

int
relay_sched_credentials(const char *text, size_t len)
{
	char buf[600], *user, *pass, *nl;
	int ok = 0;

	if (len >= sizeof(buf) || memchr(text, '\0', len) != NULL)
		return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	/* Trailing line ends are not part of the password. */
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	user = buf;
	if ((nl = strchr(buf, '\n')) != NULL) {
		/* "user\npassword": the password may hold spaces. */
		*nl = '\0';
		if (nl > buf && nl[-1] == '\r')
			nl[-1] = '\0';
		pass = nl + 1;
		if (strchr(pass, '\n') != NULL)
			goto out;
	} else {
		/* "user password" */
		if ((pass = strpbrk(buf, " \t")) == NULL)
			goto out;
		*pass++ = '\0';
		pass += strspn(pass, " \t");
	}
	if (*user == '\0' || *pass == '\0' || strlen(user) >=
	    sizeof(cred_user) || strlen(pass) >= sizeof(cred_pass))
		goto out;
	/* Only a good file replaces what is in use. */
	strlcpy(cred_user, user, sizeof(cred_user));
	strlcpy(cred_pass, pass, sizeof(cred_pass));
	have_creds = 1;
	ok = 1;
out:
	explicit_bzero(buf, sizeof(buf));
	return ok ? 0 : -1;
}

/*
 * Remembered TLS failures, by address and port.
 */

static void
notls_key(const struct dns_target *t, char *key, size_t keysz)
{
	snprintf(key, keysz, "%s %d", t->addr, dns_target_port(t));
}

static struct notls *
notls_find(const struct dns_target *t)
{
	struct notls *n, *tmp;
	struct timespec now;
	char key[96];

	now_mono(&now);
	notls_key(t, key, sizeof(key));
	TAILQ_FOREACH_SAFE(n, &sched_notls, entry, tmp) {
		if (n->until.tv_sec <= now.tv_sec) {
			TAILQ_REMOVE(&sched_notls, n, entry);
			sched_nnotls--;
			free(n);
			continue;
		}
		if (strcmp(n->key, key) == 0)
			return n;
	}
	return NULL;
}

static void
notls_add(const struct dns_target *t)
{
	struct notls *n;

	if ((n = notls_find(t)) == NULL) {
		if (sched_nnotls >= RELAY_NOTLS_MAX) {
			n = TAILQ_FIRST(&sched_notls);
			TAILQ_REMOVE(&sched_notls, n, entry);
			sched_nnotls--;
		} else if ((n = calloc(1, sizeof(*n))) == NULL)
			return;
		notls_key(t, n->key, sizeof(n->key));
	} else
		TAILQ_REMOVE(&sched_notls, n, entry);
	now_mono(&n->until);
	n->until.tv_sec += RELAY_NOTLS_SECS;
	TAILQ_INSERT_TAIL(&sched_notls, n, entry);
	sched_nnotls++;
	log_info("TLS with %s[%s] failed: the next attempts go without TLS",
	    t->host, t->addr);
}

/*
 * Batches.
 */

/* Fit to stand between <> in MAIL or RCPT: no controls, no <>. */
static int
addr_ok(const char *a)
{
	for (; *a != '\0'; a++)
		if ((unsigned char)*a < 0x20 || *a == 0x7f || *a == '<' ||
		    *a == '>')
			return 0;
	return 1;
}

static int
qid_ok(const char *q)
{
	if (*q == '\0')
		return 0;
	for (; *q != '\0'; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
			return 0;
	return 1;
}

static void
batch_free(struct relay_batch *b)
{
	if (b->fd != -1)
		close(b->fd);
	free(b->prefix);
	free(b->rcpt);
	free(b);
}

struct relay_batch *
relay_batch_read(struct mr *mr, int fd)
{
	struct relay_batch *b;
	const unsigned char *p;
	struct stat st;
	uint64_t size;
	uint32_t n, i;
	size_t plen = 0;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatal("calloc");
	b->fd = fd;
	b->id = mr_u64(mr);
	mr_str(mr, b->qid, sizeof(b->qid));
	mr_str(mr, b->sender, sizeof(b->sender));
	mr_str(mr, b->domain, sizeof(b->domain));
	b->bodyflags = mr_u32(mr);
	size = mr_u64(mr);
	n = mr_u32(mr);
	if (mr->err || n == 0 || n > RELAY_MAX_RCPTS || !qid_ok(b->qid))
		goto bad;
	/* One destination per domain, whatever its case. */
	for (i = 0; b->domain[i] != '\0'; i++)
		b->domain[i] = tolower((unsigned char)b->domain[i]);
	if ((b->rcpt = calloc(n, sizeof(*b->rcpt))) == NULL)
		fatal("calloc");
	b->nrcpt = n;
	for (i = 0; i < n; i++) {
		b->rcpt[i].index = mr_u32(mr);
		mr_str(mr, b->rcpt[i].addr, sizeof(b->rcpt[i].addr));
	}
	/* The DKIM header lines to prepend, when queued sends them. */
	if (!mr->err && mr->off < mr->len) {
		p = mr_bytes(mr, &plen, IPC_MAX_PAYLOAD);
		if (!mr->err && plen > 0) {
			if ((b->prefix = malloc(plen)) == NULL)
				fatal("malloc");
			memcpy(b->prefix, p, plen);
			b->prefixlen = plen;
		}
	}
	if (mr_end(mr) == -1)
		goto bad;
	b->msg.qid = b->qid;
	b->msg.sender = b->sender;
	b->msg.bodyflags = b->bodyflags;
	b->msg.fd = fd;
	b->msg.prefix = b->prefix;
	b->msg.prefixlen = b->prefixlen;
	b->msg.rcpt = b->rcpt;
	b->msg.nrcpt = b->nrcpt;
	/* What goes on the wire, for SIZE: the prefix and the file. */
	if (fstat(fd, &st) == 0)
		size = st.st_size;
	b->msg.size = size + b->prefixlen;
	now_mono(&b->arrived);
	return b;
bad:
	b->fd = -1;	/* the caller still owns it */
	batch_free(b);
	return NULL;
}

static const char *
status_word(uint32_t status)
{
	switch (status) {
	case RELAY_DELIVERED:
		return "sent";
	case RELAY_PERMFAIL:
		return "bounced";
	default:
		return "deferred";
	}
}

/*
 * Every recipient has its result: tell queued, log, and forget the
 * batch.  t is the host the results come from (NULL when none).
 */
static void
batch_finish(struct relay_batch *b, const struct dns_target *t,
    const char *tls)
{
	struct relay_result res;
	struct relay_rcpt *r;
	struct timespec now;
	char relay[MAX_HOST + 80];
	int i;

	now_mono(&now);
	if (t != NULL)
		snprintf(relay, sizeof(relay), "%s[%s]:%d", t->host, t->addr,
		    dns_target_port(t));
	else
		strlcpy(relay, "none", sizeof(relay));
	for (i = 0; i < b->nrcpt; i++) {
		r = &b->rcpt[i];
		if (r->status == 0)
			fatalx("relay_sched: recipient without a result");
		memset(&res, 0, sizeof(res));
		res.batch = b->id;
		res.index = r->index;
		res.status = r->status;
		res.code = r->code;
		strlcpy(res.enhanced, r->enhanced, sizeof(res.enhanced));
		strlcpy(res.text, r->text, sizeof(res.text));
		if (t != NULL) {
			strlcpy(res.host, t->host, sizeof(res.host));
			strlcpy(res.addr, t->addr, sizeof(res.addr));
		}
		if (tls != NULL)
			strlcpy(res.tls, tls, sizeof(res.tls));
		sched_result(&res);
		if (r->code != 0)
			log_info("id=%s to=<%s> relay=%s delay=%llds dsn=%s "
			    "status=%s tls=%s (%u %s%s%s)", b->qid, r->addr,
			    relay, (long long)(now.tv_sec - b->arrived.tv_sec),
			    r->enhanced, status_word(r->status),
			    tls ? tls : "none", r->code, r->enhanced,
			    r->enhanced[0] ? " " : "", r->text);
		else
			log_info("id=%s to=<%s> relay=%s delay=%llds dsn=%s "
			    "status=%s tls=%s (%s)", b->qid, r->addr, relay,
			    (long long)(now.tv_sec - b->arrived.tv_sec),
			    r->enhanced, status_word(r->status),
			    tls ? tls : "none", r->text);
	}
	sched_done(b->id);
	batch_free(b);
}

/* Every recipient still pending gets this result. */
static void
batch_fail_rest(struct relay_batch *b, uint32_t status, uint32_t code,
    const char *enh, const char *text)
{
	struct relay_rcpt *r;
	int i;

	for (i = 0; i < b->nrcpt; i++) {
		r = &b->rcpt[i];
		if (r->status != 0)
			continue;
		r->status = status;
		r->code = code;
		strlcpy(r->enhanced, enh, sizeof(r->enhanced));
		strlcpy(r->text, text, sizeof(r->text));
	}
}

/*
 * Destinations.
 */

static struct relay_dest *
dest_get(const struct relay_batch *b)
{
	struct relay_dest key, *d;
	const struct route *rt;
	int found = 0;

	memset(&key, 0, sizeof(key));
	TAILQ_FOREACH(rt, &sched_conf->routes, entry)
		if (strcasecmp(rt->domain, b->domain) == 0)
			break;
	if (rt != NULL) {
		key.kind = DEST_HOP;
		key.hop = rt->hop;
		key.flags = rt->flags;
		found = 1;
	} else if (sched_conf->relay_mode == RELAY_SMARTHOST) {
		key.kind = DEST_HOP;
		key.hop = sched_conf->smarthost;
		key.flags = sched_conf->smarthost_flags;
		key.auth = have_creds;
		found = 1;
	}
	if (found)
		snprintf(key.key, sizeof(key.key), "hop %d %s %u %d %d",
		    key.hop.tls, key.hop.host, key.hop.port, key.flags,
		    key.auth);
	else {
		key.kind = DEST_MX;
		strlcpy(key.domain, b->domain, sizeof(key.domain));
		snprintf(key.key, sizeof(key.key), "mx %s", b->domain);
	}
	if ((d = RB_FIND(dest_tree, &sched_dests, &key)) != NULL)
		return d;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("calloc");
	*d = key;
	TAILQ_INIT(&d->waitq);
	TAILQ_INIT(&d->idle);
	RB_INSERT(dest_tree, &sched_dests, d);
	return d;
}

static void
dest_maybe_free(struct relay_dest *d)
{
	/* One in sched_ready is sched_run()'s to free. */
	if (d->nconn > 0 || !TAILQ_EMPTY(&d->waitq) ||
	    !TAILQ_EMPTY(&d->idle) || d->in_ready)
		return;
	RB_REMOVE(dest_tree, &sched_dests, d);
	free(d);
}

static int
limit_total(void)
{
	return sched_conf->concurrency > 0 ? sched_conf->concurrency : 100;
}

static int
limit_dest(void)
{
	return sched_conf->concurrency_domain > 0 ?
	    sched_conf->concurrency_domain : 10;
}

/*
 * Connections.
 */

static void
conn_release(struct relay_conn *conn)
{
	struct relay_dest *d = conn->dest;

	if (conn->dnsq != NULL)
		dns_cancel(conn->dnsq);
	if (conn->client != NULL)
		relay_client_free(conn->client);
	d->nconn--;
	sched_nconn--;
	free(conn);
	dest_maybe_free(d);
	sched_kick();
}

/* Close an idle connection, politely. */
static void
conn_close_idle(struct relay_conn *conn)
{
	TAILQ_REMOVE(&conn->dest->idle, conn, entry);
	relay_client_quit(conn->client);
	conn->client = NULL;
	conn_release(conn);
}

static void
conn_policy(struct relay_conn *conn, const struct dns_target *t,
    struct relay_policy *pol)
{
	const struct relay_dest *d = conn->dest;
	int cmd = sched_conf->to_relay_command;

	memset(pol, 0, sizeof(*pol));
	pol->helo = sched_conf->hostname;
	pol->to_connect = sched_conf->to_connect;
	/*
	 * RFC 5321 4.5.3.2 asks for at least 5 minutes per command, 3 per
	 * data block and 10 for the end of data.  One setting (timeout
	 * relay-command, 5m by default) gives all three: itself for
	 * commands and data blocks, twice itself for the end of data; so
	 * the defaults meet the RFC and a test can make them short.
	 */
	pol->to_command = cmd;
	pol->to_data_block = cmd;
	pol->to_data_end = 2 * cmd;
	pol->tls_verify = tls_verify;
	pol->tls_noverify = tls_noverify;
	pol->tls = RC_TLS_TRY;
	if (d->kind == DEST_HOP) {
		if (d->hop.tls == HOP_SMTPS)
			pol->tls = RC_TLS_IMPLICIT;
		else if (d->hop.tls == HOP_STARTTLS ||
		    (d->flags & ROUTE_TLS_REQUIRED))
			pol->tls = RC_TLS_REQUIRE;
		pol->verify = (d->flags & ROUTE_TLS_VERIFY) != 0;
		if (d->auth) {
			pol->user = cred_user;
			pol->pass = cred_pass;
		}
	}
	if (pol->tls == RC_TLS_TRY && pol->user == NULL &&
	    sched_conf->tls_fallback && notls_find(t) != NULL)
		pol->tls = RC_TLS_NO;
}

/* The batch is over for this slot: results out, slot idle or closed. */
static void
conn_batch_done(struct relay_conn *conn, const struct dns_target *t,
    const char *tls)
{
	struct relay_batch *b = conn->batch;

	conn->batch = NULL;
	batch_finish(b, t, tls);
}

/* No address left: the batch fails with what the last one said. */
static void
conn_exhausted(struct relay_conn *conn)
{
	struct relay_batch *b = conn->batch;
	uint32_t status = conn->last.status;
	char enh[16];

	if (!conn->have_last) {
		batch_fail_rest(b, RELAY_TEMPFAIL, 0, "4.4.0", "no address "
		    "to deliver to");
		conn_batch_done(conn, NULL, NULL);
		conn_release(conn);
		return;
	}
	/* Permanent only when no address failed temporarily. */
	strlcpy(enh, conn->last.enhanced, sizeof(enh));
	if (conn->ntemp > 0) {
		status = RELAY_TEMPFAIL;
		if (enh[0] == '5')
			enh[0] = '4';
	}
	batch_fail_rest(b, status, conn->last.code, enh, conn->last.text);
	conn_batch_done(conn, &conn->last_target, NULL);
	conn_release(conn);
}

static void
conn_try_next(struct relay_conn *conn)
{
	struct relay_policy pol;
	const struct dns_target *t;

	if (conn->next >= conn->targets.ntargets) {
		conn_exhausted(conn);
		return;
	}
	t = &conn->targets.target[conn->next++];
	conn_policy(conn, t, &pol);
	conn->client = relay_client_new(sched_base, t, &pol, conn_client_cb,
	    conn);
	if (conn->client == NULL)
		fatal("relay_client_new");
}

static void
conn_dns_cb(const struct dns_answer *ans, void *arg)
{
	struct relay_conn *conn = arg;

	conn->dnsq = NULL;
	if (ans->status != DNS_OK) {
		batch_fail_rest(conn->batch, ans->status == DNS_PERMFAIL ?
		    RELAY_PERMFAIL : RELAY_TEMPFAIL, 0, ans->enhanced,
		    ans->reason);
		conn_batch_done(conn, NULL, NULL);
		conn_release(conn);
		return;
	}
	conn->targets = *ans;
	conn->next = 0;
	conn_try_next(conn);
}

static void
conn_start(struct relay_conn *conn)
{
	struct relay_dest *d = conn->dest;

	conn->next = conn->ntemp = conn->have_last = 0;
	if (d->kind == DEST_MX)
		conn->dnsq = dns_lookup_mx(d->domain, RELAY_MX_PORT,
		    conn_dns_cb, conn);
	else
		conn->dnsq = dns_lookup_host(d->hop.host, d->hop.port,
		    conn_dns_cb, conn);
	if (conn->dnsq == NULL)
		fatal("dns lookup");
}

static void
conn_on_failed(struct relay_conn *conn, struct relay_client *client)
{
	const struct relay_failure *f = relay_client_failure(client);
	struct relay_batch *b = conn->batch;

	if (f->reuse && b->fresh_tries++ < 2) {
		/* The idle session had died: a fresh one, not an attempt. */
		log_debug("id=%s: reused session failed (%s), reconnecting",
		    b->qid, f->text);
		relay_client_free(client);
		conn->client = NULL;
		conn_start(conn);
		return;
	}
	conn->last = *f;
	conn->last_target = *relay_client_target(client);
	conn->have_last = 1;
	if (f->status != RELAY_PERMFAIL)
		conn->ntemp++;
	if (f->tls_failed && sched_conf->tls_fallback)
		notls_add(&conn->last_target);
	log_info("id=%s: %s", b->qid, f->text);
	relay_client_free(client);
	conn->client = NULL;
	if (f->next) {
		conn_try_next(conn);
		return;
	}
	conn_exhausted(conn);
}

static void
conn_on_done(struct relay_conn *conn, struct relay_client *client)
{
	struct relay_dest *d = conn->dest;

	conn_batch_done(conn, relay_client_target(client),
	    relay_client_tls(client));
	if (!relay_client_reusable(client) ||
	    relay_client_nmsgs(client) >= RELAY_CONN_MAX_MSGS) {
		relay_client_quit(client);
		conn->client = NULL;
		conn_release(conn);
		return;
	}
	relay_client_idle(client, RELAY_IDLE_SECS);
	TAILQ_INSERT_TAIL(&d->idle, conn, entry);
	sched_kick();
}

static void
conn_client_cb(struct relay_client *client, enum relay_client_event ev,
    void *arg)
{
	struct relay_conn *conn = arg;

	switch (ev) {
	case RC_EV_READY:
		if (relay_client_send(client, &conn->batch->msg) == -1)
			fatalx("relay_sched: a batch with nothing to send");
		break;
	case RC_EV_FAILED:
		conn_on_failed(conn, client);
		break;
	case RC_EV_DONE:
		conn_on_done(conn, client);
		break;
	case RC_EV_CLOSED:
		/* An idle session went away. */
		TAILQ_REMOVE(&conn->dest->idle, conn, entry);
		relay_client_free(client);
		conn->client = NULL;
		conn_release(conn);
		break;
	}
}

/*
 * The scheduler proper.
 */

static void
sched_ready_add(struct relay_dest *d)
{
	if (!d->in_ready) {
		TAILQ_INSERT_TAIL(&sched_ready, d, ready);
		d->in_ready = 1;
	}
}

/* An idle connection of another destination, to close for room. */
static struct relay_conn *
sched_idle_victim(const struct relay_dest *except)
{
	struct relay_dest *d;

	RB_FOREACH(d, dest_tree, &sched_dests)
		if (d != except && !TAILQ_EMPTY(&d->idle))
			return TAILQ_FIRST(&d->idle);
	return NULL;
}

/* Start what can start for one destination; 0 when it must wait. */
static int
sched_dest(struct relay_dest *d)
{
	struct relay_batch *b;
	struct relay_conn *conn, *victim;

	while ((b = TAILQ_FIRST(&d->waitq)) != NULL) {
		if ((conn = TAILQ_FIRST(&d->idle)) != NULL) {
			TAILQ_REMOVE(&d->idle, conn, entry);
			TAILQ_REMOVE(&d->waitq, b, entry);
			conn->batch = b;
			conn->have_last = conn->ntemp = 0;
			relay_client_idle(conn->client, 0);
			if (relay_client_send(conn->client, &b->msg) == -1)
				fatalx("relay_sched: idle session not ready");
			continue;
		}
		if (d->nconn >= limit_dest())
			return 0;
		if (sched_nconn >= limit_total()) {
			if ((victim = sched_idle_victim(d)) == NULL)
				return 0;
			conn_close_idle(victim);
			continue;
		}
		TAILQ_REMOVE(&d->waitq, b, entry);
		if ((conn = calloc(1, sizeof(*conn))) == NULL)
			fatal("calloc");
		conn->dest = d;
		conn->batch = b;
		d->nconn++;
		sched_nconn++;
		conn_start(conn);
	}
	return 1;
}

static void
sched_run(evutil_socket_t fd, short ev, void *arg)
{
	struct relay_dest *d, *tmp;

	TAILQ_FOREACH_SAFE(d, &sched_ready, ready, tmp) {
		if (!sched_dest(d))
			continue;
		TAILQ_REMOVE(&sched_ready, d, ready);
		d->in_ready = 0;
		dest_maybe_free(d);
	}
}

void
relay_sched_submit(struct relay_batch *b)
{
	int i;

	if (!addr_ok(b->sender)) {
		batch_fail_rest(b, RELAY_PERMFAIL, 0, "5.1.7", "invalid "
		    "sender address");
		batch_finish(b, NULL, NULL);
		return;
	}
	for (i = 0; i < b->nrcpt; i++)
		if (!addr_ok(b->rcpt[i].addr) || b->rcpt[i].addr[0] == '\0') {
			b->rcpt[i].status = RELAY_PERMFAIL;
			strlcpy(b->rcpt[i].enhanced, "5.1.3",
			    sizeof(b->rcpt[i].enhanced));
			strlcpy(b->rcpt[i].text, "invalid recipient address",
			    sizeof(b->rcpt[i].text));
		}
	for (i = 0; i < b->nrcpt; i++)
		if (b->rcpt[i].status == 0)
			break;
	if (i == b->nrcpt) {
		batch_finish(b, NULL, NULL);
		return;
	}
	b->dest = dest_get(b);
	TAILQ_INSERT_TAIL(&b->dest->waitq, b, entry);
	sched_ready_add(b->dest);
	sched_kick();
}
