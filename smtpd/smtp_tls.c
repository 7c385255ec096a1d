/*
 * smtp_tls.c: the TLS server contexts of smtpd's listeners.
 *
 * The master opens each listener's certificate and key files (smtpd is
 * chrooted to an empty directory and could not) and sends them as
 * read-only descriptors, MSG_FILE FILE_TLS_CERT / FILE_TLS_KEY, with the
 * listener index in decimal as the name.  smtp_tls_file() reads them into
 * memory; smtp_tls_setup() turns each complete pair into a libtls server
 * context: TLS 1.2 and 1.3 only, libtls's default ciphers, the keypair
 * from memory, and then wipes the key bytes it read.
 *
 * Reload.  On SIGHUP the master sends the files again and then
 * MSG_RELOAD; smtp_tls_setup() builds new contexts and makes them current.
 * A session keeps a reference to the context it was accepted with (struct
 * smtp_tlsctx counts them), so established sessions go on undisturbed and
 * only new sessions use the new certificate; an old context is freed when
 * its last session ends.  A reload whose files do not make a context is
 * logged and the old context stays: a typo in a certificate path must not
 * take the service down.
 *
 * Handshake slots.  At most SMTP_TLS_HANDSHAKES handshakes are under way
 * at once; a session that would start one more waits in line (its timer
 * still runs).  A handshake allocates and frees tens of kilobytes; ten
 * thousand of them in flight together (a client fleet reconnecting after
 * an outage, or an attack) would leave the heap so fragmented that idle
 * sessions cost twice what they use, and would let handshakes alone eat
 * the memory.  Served in turn, they cost no more time in all.
 *
 * The line must not become a way to shut TLS out: clients that start a
 * handshake and stall would hold every slot.  So a handshake has at most
 * SMTP_TLS_HANDSHAKE_MAX seconds (smtp_session_timeout_set), and when the
 * first in line has waited SMTP_TLS_WAIT_MS, it is let in over the limit,
 * a few sessions per tick: the limit paces bursts, it never stops service.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tls.h>

#include "child.h"
#include "log.h"
#include "smtpd.h"

/* A certificate chain or a key file bigger than this is a mistake. */
#define TLS_FILE_MAX	(1024 * 1024)

struct smtp_tlsctx {
	struct tls	*tls;
	int		 refs;		/* sessions, plus one while current */
};

struct tls_files {
	unsigned char	*cert;
	size_t		 certlen;
	unsigned char	*key;
	size_t		 keylen;
};

static struct smtp_tlsctx *tls_current[CONF_MAX_LISTENERS];
static int tls_inflight;
static TAILQ_HEAD(, smtp_session) tls_waiting =
    TAILQ_HEAD_INITIALIZER(tls_waiting);
static struct event *tls_ev_line;

#define TLS_LINE_TICK_MS	100
#define TLS_LINE_GRANTS		4	/* per tick, over the limit */

static uint64_t
tls_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Let the first in line in, with its own slot. */
static void
tls_line_grant(void)
{
	struct smtp_session *next;

	if ((next = TAILQ_FIRST(&tls_waiting)) == NULL)
		return;
	TAILQ_REMOVE(&tls_waiting, next, tls_entry);
	next->flags &= ~SMTP_F_HWAIT;
	next->flags |= SMTP_F_HSLOT;
	tls_inflight++;
	smtp_io_kick(next);
}

static void
tls_line_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct smtp_session *first = TAILQ_FIRST(&tls_waiting);
	struct timeval tv = { 0, TLS_LINE_TICK_MS * 1000 };

	uint64_t now = tls_now_ms();
	int i;

	for (i = 0; i < TLS_LINE_GRANTS && first != NULL &&
	    now - first->hwait_ms >= SMTP_TLS_WAIT_MS; i++) {
		tls_line_grant();
		first = TAILQ_FIRST(&tls_waiting);
	}
	if (!TAILQ_EMPTY(&tls_waiting))
		evtimer_add(tls_ev_line, &tv);
}
static struct tls_files tls_pending[CONF_MAX_LISTENERS];

static void
tls_buf_free(unsigned char **p, size_t *len)
{
	if (*p != NULL) {
		explicit_bzero(*p, *len);
		free(*p);
	}
	*p = NULL;
	*len = 0;
}

/* Read a whole descriptor into memory; NULL on error (logged). */
static unsigned char *
tls_read_fd(int fd, size_t *lenp)
{
	unsigned char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0;
	ssize_t n;

	for (;;) {
		if (len == cap) {
			if (cap >= TLS_FILE_MAX) {
				log_warnx("tls: file larger than %d bytes",
				    TLS_FILE_MAX);
				goto fail;
			}
			cap = cap ? cap * 2 : 8192;
			if ((nbuf = malloc(cap)) == NULL) {
				log_warn("tls: malloc");
				goto fail;
			}
			if (buf != NULL) {
				memcpy(nbuf, buf, len);
				explicit_bzero(buf, len);
				free(buf);
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("tls: read");
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*lenp = len;
	return buf;
fail:
	tls_buf_free(&buf, &len);
	return NULL;
}

void
smtp_tls_file(int kind, const char *name, int fd)
{
	struct tls_files *f;
	const char *errstr;
	unsigned char *buf;
	size_t len;
	long long idx;

	idx = strtonum(name, 0, CONF_MAX_LISTENERS - 1, &errstr);
	if (errstr != NULL || (kind != FILE_TLS_CERT && kind != FILE_TLS_KEY))
		fatalx("unexpected file kind %d name \"%s\"", kind, name);
	buf = tls_read_fd(fd, &len);
	close(fd);
	if (buf == NULL)
		return;
	f = &tls_pending[idx];
	if (kind == FILE_TLS_CERT) {
		tls_buf_free(&f->cert, &f->certlen);
		f->cert = buf;
		f->certlen = len;
	} else {
		tls_buf_free(&f->key, &f->keylen);
		f->key = buf;
		f->keylen = len;
	}
}

static struct tls *
tls_make(int idx, struct tls_files *f)
{
	struct tls_config *cfg;
	struct tls *ctx = NULL;

	if ((cfg = tls_config_new()) == NULL) {
		log_warnx("tls: listener %d: tls_config_new failed", idx);
		return NULL;
	}
	if (tls_config_set_protocols(cfg,
	    TLS_PROTOCOL_TLSv1_2 | TLS_PROTOCOL_TLSv1_3) == -1 ||
	    tls_config_set_keypair_mem(cfg, f->cert, f->certlen, f->key,
	    f->keylen) == -1) {
		log_warnx("tls: listener %d: %s", idx, tls_config_error(cfg));
		goto done;
	}
	if ((ctx = tls_server()) == NULL) {
		log_warnx("tls: listener %d: tls_server failed", idx);
		goto done;
	}
	if (tls_configure(ctx, cfg) == -1) {
		log_warnx("tls: listener %d: %s", idx, tls_error(ctx));
		tls_free(ctx);
		ctx = NULL;
	}
done:
	/* The context keeps what it needs; our copy of the key goes. */
	tls_config_clear_keys(cfg);
	tls_config_free(cfg);
	return ctx;
}

void
smtp_tls_setup(int fatal_errors)
{
	struct smtp_tlsctx *c;
	struct tls_files *f;
	struct tls *ctx;
	int i;

	for (i = 0; i < CONF_MAX_LISTENERS; i++) {
		f = &tls_pending[i];
		if (f->cert == NULL && f->key == NULL)
			continue;
		ctx = NULL;
		if (f->cert == NULL || f->key == NULL)
			log_warnx("tls: listener %d: certificate or key "
			    "missing", i);
		else
			ctx = tls_make(i, f);
		tls_buf_free(&f->cert, &f->certlen);
		tls_buf_free(&f->key, &f->keylen);
		if (ctx == NULL) {
			if (fatal_errors)
				fatalx("tls: listener %d: no usable "
				    "certificate", i);
			log_warnx("tls: listener %d: keeping the old "
			    "certificate", i);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL)
			fatal("calloc");
		c->tls = ctx;
		c->refs = 1;
		if (tls_current[i] != NULL)
			smtp_tls_unref(tls_current[i]);
		tls_current[i] = c;
		log_debug("tls: listener %d: certificate loaded", i);
	}
}

int
smtp_tls_available(int lindex)
{
	return lindex >= 0 && lindex < CONF_MAX_LISTENERS &&
	    tls_current[lindex] != NULL;
}

/* A reference to the listener's current context, or NULL. */
struct smtp_tlsctx *
smtp_tls_get(int lindex)
{
	struct smtp_tlsctx *c;

	if (!smtp_tls_available(lindex))
		return NULL;
	c = tls_current[lindex];
	c->refs++;
	return c;
}

struct tls *
smtp_tls_ctx(struct smtp_tlsctx *c)
{
	return c->tls;
}

void
smtp_tls_unref(struct smtp_tlsctx *c)
{
	if (c == NULL)
		return;
	if (--c->refs > 0)
		return;
	tls_free(c->tls);
	free(c);
}

/* "version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384" for a session. */
void
smtp_tls_describe(struct smtp_session *s, char *buf, size_t sz)
{
	const char *v = NULL, *c = NULL;

	if (s->tls != NULL) {
		v = tls_conn_version(s->tls);
		c = tls_conn_cipher(s->tls);
	}
	(void)snprintf(buf, sz, "version=%s cipher=%s", v ? v : "unknown",
	    c ? c : "unknown");
}

/*
 * May this session start its handshake now?  If not, it waits in line;
 * the slot of a handshake that ends goes straight to the first in line
 * (smtp_tls_slot_release), so no slot stays idle while anyone waits.
 */
int
smtp_tls_slot(struct smtp_session *s)
{
	if (s->flags & SMTP_F_HSLOT)
		return 1;
	if (tls_inflight < SMTP_TLS_HANDSHAKES && TAILQ_EMPTY(&tls_waiting)) {
		s->flags |= SMTP_F_HSLOT;
		tls_inflight++;
		return 1;
	}
	if (!(s->flags & SMTP_F_HWAIT)) {
		TAILQ_INSERT_TAIL(&tls_waiting, s, tls_entry);
		s->flags |= SMTP_F_HWAIT;
		s->hwait_ms = tls_now_ms();
		if (tls_ev_line == NULL &&
		    (tls_ev_line = evtimer_new(child_base, tls_line_tick,
		    NULL)) == NULL)
			fatalx("evtimer_new");
		if (!evtimer_pending(tls_ev_line, NULL)) {
			struct timeval tv = { 0, TLS_LINE_TICK_MS * 1000 };

			evtimer_add(tls_ev_line, &tv);
		}
	}
	return 0;
}

/* The handshake ended (or the session did): its slot passes on. */
void
smtp_tls_slot_release(struct smtp_session *s)
{
	if (s->flags & SMTP_F_HWAIT) {
		TAILQ_REMOVE(&tls_waiting, s, tls_entry);
		s->flags &= ~SMTP_F_HWAIT;
	}
	if (!(s->flags & SMTP_F_HSLOT))
		return;
	s->flags &= ~SMTP_F_HSLOT;
	tls_inflight--;
	/* Over the limit (after grants from the line), a slot just goes. */
	if (tls_inflight < SMTP_TLS_HANDSHAKES)
		tls_line_grant();
}
