/*
 * config.c: postern.conf -> struct config.  The grammar is summarised in
 * config.h and documented in postern.conf(5); the syntax of single values
 * (durations, sizes, next-hop URLs, addresses, names) is config_value.c.
 *
 * Contract.
 *   config_parse_buf() reads `len' bytes of `text' (which need not be
 *   NUL-terminated and may hold any byte at all: the children parse what
 *   the master sends them, and the fuzzer sends worse).  It never reads
 *   past `len', never truncates a value into a fixed buffer (a value that
 *   does not fit is an error), and reports every error on its own line
 *   "name:line: message" to `errf' (which may be NULL).  After an error it
 *   goes on with the next line, so that one run shows every mistake; if
 *   there was any, it frees what it built and returns NULL.  It allocates
 *   nothing that config_free() does not release, and it does no I/O other
 *   than writing to `errf' (addresses are resolved numerically only).
 *   config_parse_file() reads a file and hands it to config_parse_buf().
 *   config_free() releases a configuration; it does not close listener fds.
 *
 * How a line is read.  A line (at most CONF_LINE_MAX bytes, no NUL) is cut
 * into words by conf_tokenize(); an unquoted '{' at its end opens a block,
 * a line made of '}' closes one.  The first word is looked up in the
 * keyword table conf_keywords[], which says where the keyword may stand,
 * how many words follow it, and which function reads them.  A block that
 * cannot be opened (an unknown keyword followed by '{', say) is skipped to
 * its '}' so that one mistake does not make every following brace an
 * error too; a domain whose name is wrong or repeated is still read (into
 * a scratch domain that is thrown away) so that the errors inside it are
 * reported as well.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_value.h"

#define CONF_LINE_MAX		4096	/* bytes in a line, without '\n' */
#define CONF_MAX_TOKENS		(CONF_LINE_MAX + 1)
#define CONF_FILE_MAX		(16 * 1024 * 1024)
#define CONF_MAX_SELECTORS	16	/* per domain */
#define CONF_MAX_LOCAL_PARTS	1024	/* patterns per domain */
#define CONF_MAX_PATTERN	255	/* bytes in one local-part pattern */
#define CONF_MAX_DKIM_HEADERS	64
#define CONF_MAX_HEADER_NAME	64

static const char *const conf_default_headers[] = {
	"From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To",
	"In-Reply-To", "References", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding", "List-Unsubscribe",
	"List-Unsubscribe-Post", "Sender",
};

enum conf_block {
	BLOCK_NONE = 0,
	BLOCK_DOMAIN,
	BLOCK_QUEUE,
};

/* A set of names (domains, routes) to find repeats without O(n^2). */
struct nameset {
	const char	**slot;
	size_t		  cap;		/* 0 or a power of two */
	size_t		  n;
};

struct parser {
	const char	*name;
	FILE		*errf;
	int		 line;
	int		 nerrors;
	struct config	*conf;

	enum conf_block	 block;
	int		 block_line;	/* where the open block began */
	int		 skip;		/* depth of blocks being skipped */
	struct domain	*dom;		/* BLOCK_DOMAIN: the one being read */
	int		 dom_scratch;	/* dom is not in conf->domains */

	int		 relay_line;	/* 0: no relay statement yet */
	int		 resolver_line;
	int		 headers_line;	/* first dkim-headers statement */

	struct nameset	 domains;
	struct nameset	 routes;

	char		 words[4][80];	/* sanitised words for messages */
	int		 wordidx;

	int		 argc;
	char		*argv[CONF_MAX_TOKENS];
	char		 quoted[CONF_MAX_TOKENS];
	/* Every input byte yields at most two bytes here ('{' + NUL). */
	char		 tokbuf[2 * CONF_LINE_MAX + 2];
};

#define IN_TOP		0x1
#define IN_DOMAIN	0x2
#define IN_QUEUE	0x4

struct kw {
	const char	*name;
	const char	*label;		/* for messages, when not name */
	int		 where;		/* IN_* */
	int		 block;		/* must end with '{' */
	int		 minargs;
	int		 maxargs;	/* -1: no limit */
	int		(*fn)(struct parser *, const struct kw *, int, char **);
	size_t		 off;		/* the field in struct config */
	size_t		 size;		/* its size, for strings */
	long long	 min;		/* numbers, durations, sizes */
	long long	 max;
	const char *const *choices;	/* kw_choice: the words, by value */
	const struct kw	*sub;		/* kw_sub: table of the next word */
};

static void	conf_verr(struct parser *, int, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));
static void	conf_err(struct parser *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	conf_err_at(struct parser *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/*
 * Messages.
 */

static void
conf_verr(struct parser *p, int line, const char *fmt, va_list ap)
{
	char msg[512];

	p->nerrors++;
	if (p->errf == NULL)
		return;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(p->errf, "%s:%d: %s\n", p->name, line, msg);
}

static void
conf_err(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_verr(p, p->line, fmt, ap);
	va_end(ap);
}

static void
conf_err_at(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_verr(p, line, fmt, ap);
	va_end(ap);
}

/* A word as it may be shown in a message: printable and short. */
static const char *
conf_word(struct parser *p, const char *s)
{
	char *w = p->words[p->wordidx];
	size_t i, max = sizeof(p->words[0]) - 4;

	p->wordidx = (p->wordidx + 1) % 4;
	for (i = 0; s[i] != '\0' && i < max; i++)
		w[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] != '\0') {
		memcpy(w + i, "...", 3);
		i += 3;
	}
	w[i] = '\0';
	return w;
}

static const char *
kw_label(const struct kw *kw)
{
	return kw->label != NULL ? kw->label : kw->name;
}

/*
 * The set of names.
 */

static uint32_t
nameset_hash(const char *s)
{
	uint32_t h = 2166136261u;
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		h = (h ^ c) * 16777619u;
	}
	return h;
}

static const char *
nameset_find(const struct nameset *ns, const char *s)
{
	size_t i;

	if (ns->cap == 0)
		return NULL;
	for (i = nameset_hash(s) & (ns->cap - 1); ns->slot[i] != NULL;
	    i = (i + 1) & (ns->cap - 1))
		if (strcasecmp(ns->slot[i], s) == 0)
			return ns->slot[i];
	return NULL;
}

/* `s' must live as long as the set (it points into a domain or route). */
static int
nameset_add(struct nameset *ns, const char *s)
{
	const char **old = ns->slot;
	size_t i, j, oldcap = ns->cap;

	if ((ns->n + 1) * 2 > ns->cap) {
		ns->cap = oldcap ? oldcap * 2 : 64;
		if ((ns->slot = calloc(ns->cap, sizeof(*ns->slot))) == NULL) {
			ns->slot = old;
			ns->cap = oldcap;
			return -1;
		}
		for (j = 0; j < oldcap; j++) {
			if (old[j] == NULL)
				continue;
			for (i = nameset_hash(old[j]) & (ns->cap - 1);
			    ns->slot[i] != NULL; i = (i + 1) & (ns->cap - 1))
				;
			ns->slot[i] = old[j];
		}
		free(old);
	}
	for (i = nameset_hash(s) & (ns->cap - 1); ns->slot[i] != NULL;
	    i = (i + 1) & (ns->cap - 1))
		;
	ns->slot[i] = s;
	ns->n++;
	return 0;
}

/*
 * Generic keyword readers.  The field a keyword sets is kw->off bytes
 * into struct config.
 */

#define CONF_FIELD(p, kw, type)	((type *)(void *)((char *)(p)->conf + (kw)->off))

/* Copy a string that must fit: never truncated. */
static int
conf_copy(struct parser *p, const char *what, const char *s, char *dst,
    size_t dstsz)
{
	if (strlen(s) >= dstsz) {
		conf_err(p, "%s: '%s' is too long (at most %zu bytes)", what,
		    conf_word(p, s), dstsz - 1);
		return -1;
	}
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int
conf_path(struct parser *p, const char *what, const char *s, char *dst,
    size_t dstsz)
{
	if (s[0] != '/') {
		conf_err(p, "%s: path must be absolute: '%s'", what,
		    conf_word(p, s));
		return -1;
	}
	return conf_copy(p, what, s, dst, dstsz);
}

static int
kw_path(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	return conf_path(p, kw_label(kw), argv[0], CONF_FIELD(p, kw, char),
	    kw->size);
}

static int
conf_int(struct parser *p, const struct kw *kw, const char *s, long long *v)
{
	if (conf_number(s, v) == -1) {
		conf_err(p, "%s: bad number '%s'", kw_label(kw),
		    conf_word(p, s));
		return -1;
	}
	if (*v < kw->min || *v > kw->max) {
		conf_err(p, "%s: %lld is out of range (%lld-%lld)",
		    kw_label(kw), *v, kw->min, kw->max);
		return -1;
	}
	return 0;
}

static int
kw_int(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	long long v;

	if (conf_int(p, kw, argv[0], &v) == -1)
		return -1;
	*CONF_FIELD(p, kw, int) = (int)v;
	return 0;
}

static int
kw_duration(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	time_t t;

	if (config_parse_duration(argv[0], &t) == -1) {
		conf_err(p, "%s: bad duration '%s'", kw_label(kw),
		    conf_word(p, argv[0]));
		return -1;
	}
	if (t < kw->min || t > kw->max) {
		conf_err(p, "%s: duration '%s' is out of range (%llds-%llds)",
		    kw_label(kw), conf_word(p, argv[0]), kw->min, kw->max);
		return -1;
	}
	*CONF_FIELD(p, kw, time_t) = t;
	return 0;
}

/* DURATION | no; "no" stores 0. */
static int
kw_duration_no(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	if (strcmp(argv[0], "no") == 0) {
		*CONF_FIELD(p, kw, time_t) = 0;
		return 0;
	}
	return kw_duration(p, kw, argc, argv);
}

static int
kw_size(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	uint64_t v;

	if (config_parse_size(argv[0], &v) == -1) {
		conf_err(p, "%s: bad size '%s'", kw_label(kw),
		    conf_word(p, argv[0]));
		return -1;
	}
	if (v < (uint64_t)kw->min || v > (uint64_t)kw->max) {
		conf_err(p, "%s: size '%s' is out of range (%lld-%lld bytes)",
		    kw_label(kw), conf_word(p, argv[0]), kw->min, kw->max);
		return -1;
	}
	*CONF_FIELD(p, kw, uint64_t) = v;
	return 0;
}

/* One of two words; the int field gets its index. */
static int
kw_choice(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	int i;

	for (i = 0; kw->choices[i] != NULL; i++) {
		if (strcmp(argv[0], kw->choices[i]) == 0) {
			*CONF_FIELD(p, kw, int) = i;
			return 0;
		}
	}
	conf_err(p, "%s: expected %s or %s, not '%s'", kw_label(kw),
	    kw->choices[0], kw->choices[1], conf_word(p, argv[0]));
	return -1;
}

static const struct kw *
conf_lookup(const struct kw *table, const char *name)
{
	for (; table->name != NULL; table++)
		if (strcmp(table->name, name) == 0)
			return table;
	return NULL;
}

/* argv[0] is the keyword; check the count of what follows, then read. */
static int
conf_call(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	if (argc - 1 < kw->minargs) {
		conf_err(p, "%s: missing argument", kw_label(kw));
		return -1;
	}
	if (kw->maxargs >= 0 && argc - 1 > kw->maxargs) {
		conf_err(p, "%s: extra argument '%s'", kw_label(kw),
		    conf_word(p, argv[kw->maxargs + 1]));
		return -1;
	}
	return kw->fn(p, kw, argc - 1, argv + 1);
}

/* "limit NAME ..." and "timeout NAME ...": the second word's table. */
static int
kw_sub(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	const struct kw *sub;

	if ((sub = conf_lookup(kw->sub, argv[0])) == NULL) {
		conf_err(p, "%s: unknown %s '%s'", kw->name, kw->name,
		    conf_word(p, argv[0]));
		return -1;
	}
	return conf_call(p, sub, argc, argv);
}

/*
 * Top-level statements.
 */

static int
kw_hostname(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	if (!conf_dns_name(argv[0], 0)) {
		conf_err(p, "hostname: invalid host name '%s'",
		    conf_word(p, argv[0]));
		return -1;
	}
	return conf_copy(p, "hostname", argv[0], p->conf->hostname,
	    sizeof(p->conf->hostname));
}

static int
kw_group(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	if (!conf_user_name(argv[0])) {
		conf_err(p, "%s: invalid group name '%s'", kw_label(kw),
		    conf_word(p, argv[0]));
		return -1;
	}
	return conf_copy(p, kw_label(kw), argv[0], CONF_FIELD(p, kw, char),
	    kw->size);
}

static int
kw_user(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	static const int procs[] = {
		PROC_SMTPD, PROC_AUTHD, PROC_QUEUED, PROC_SIGND, PROC_RELAYD
	};
	size_t i;
	int proc = PROC_NONE;

	for (i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
		if (strcmp(argv[0], proc_name(procs[i])) == 0)
			proc = procs[i];
	if (proc == PROC_NONE) {
		conf_err(p, "user: unknown process '%s' (expected smtpd, "
		    "authd, queued, signd or relayd)", conf_word(p, argv[0]));
		return -1;
	}
	if (!conf_user_name(argv[1])) {
		conf_err(p, "user: invalid user name '%s'",
		    conf_word(p, argv[1]));
		return -1;
	}
	return conf_copy(p, "user", argv[1], p->conf->user[proc],
	    sizeof(p->conf->user[proc]));
}

static int
conf_port(struct parser *p, const char *what, const char *s, uint16_t *port)
{
	long long v;

	if (conf_number(s, &v) == -1) {
		conf_err(p, "%s: bad port number '%s'", what, conf_word(p, s));
		return -1;
	}
	if (v < 1 || v > 65535) {
		conf_err(p, "%s: port %lld out of range (1-65535)", what, v);
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

static int
listen_is_option(const char *s)
{
	static const char *const opts[] = {
		"port", "starttls", "tls", "plain", "certificate", "key",
		"no-auth", "proxy-from", NULL
	};
	int i;

	for (i = 0; opts[i] != NULL; i++)
		if (strcmp(s, opts[i]) == 0)
			return 1;
	return 0;
}

/* The words after the address; -1 on the first error (reported). */
static int
listen_options(struct parser *p, struct listener *l, int argc, char **argv)
{
	socklen_t len;
	int i;

	for (i = 0; i < argc; i++) {
		const char *o = argv[i];

		if (strcmp(o, "no-auth") == 0) {
			l->auth = 0;
			continue;
		}
		if (strcmp(o, "starttls") == 0 || strcmp(o, "tls") == 0 ||
		    strcmp(o, "plain") == 0) {
			if (l->mode != 0) {
				conf_err(p, "listen: more than one of "
				    "starttls, tls and plain");
				return -1;
			}
			l->mode = o[0] == 's' ? LISTEN_STARTTLS :
			    o[0] == 't' ? LISTEN_TLS : LISTEN_PLAIN;
			continue;
		}
		if (strcmp(o, "proxy-from") == 0) {
			if (i + 1 >= argc || listen_is_option(argv[i + 1])) {
				conf_err(p, "listen: proxy-from: missing "
				    "argument");
				return -1;
			}
			for (; i + 1 < argc && !listen_is_option(argv[i + 1]);
			    i++) {
				if (l->nproxy >= CONF_MAX_PROXY_FROM) {
					conf_err(p, "listen: too many "
					    "proxy-from addresses (at most "
					    "%d)", CONF_MAX_PROXY_FROM);
					return -1;
				}
				if (conf_addr(argv[i + 1], 0,
				    &l->proxy[l->nproxy], &len) == -1) {
					conf_err(p, "listen: proxy-from: bad "
					    "address '%s'",
					    conf_word(p, argv[i + 1]));
					return -1;
				}
				l->nproxy++;
			}
			continue;
		}
		if (strcmp(o, "port") != 0 && strcmp(o, "certificate") != 0 &&
		    strcmp(o, "key") != 0) {
			conf_err(p, "listen: unknown option '%s'",
			    conf_word(p, o));
			return -1;
		}
		/* The options that take one word. */
		if (i + 1 >= argc) {
			conf_err(p, "listen: %s: missing argument", o);
			return -1;
		}
		i++;
		if (strcmp(o, "port") == 0) {
			if (l->port != 0) {
				conf_err(p, "listen: port given twice");
				return -1;
			}
			if (conf_port(p, "listen", argv[i], &l->port) == -1)
				return -1;
		} else if (strcmp(o, "certificate") == 0) {
			if (l->cert[0] != '\0') {
				conf_err(p, "listen: certificate given twice");
				return -1;
			}
			if (conf_path(p, "listen: certificate", argv[i],
			    l->cert, sizeof(l->cert)) == -1)
				return -1;
		} else {
			if (l->key[0] != '\0') {
				conf_err(p, "listen: key given twice");
				return -1;
			}
			if (conf_path(p, "listen: key", argv[i], l->key,
			    sizeof(l->key)) == -1)
				return -1;
		}
	}
	return 0;
}

static int
kw_listen(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	static const char *const modes[] = { "", "starttls", "tls", "plain" };
	struct config *conf = p->conf;
	struct listener *l, *o;
	int bad = 0;

	if (strcmp(argv[0], "on") != 0) {
		conf_err(p, "listen: expected 'on' before the address, not "
		    "'%s'", conf_word(p, argv[0]));
		return -1;
	}
	if (conf->nlisteners >= CONF_MAX_LISTENERS) {
		conf_err(p, "listen: too many listeners (at most %d)",
		    CONF_MAX_LISTENERS);
		return -1;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		conf_err(p, "out of memory");
		return -1;
	}
	l->fd = -1;
	l->auth = 1;
	if (conf_addr(argv[1], 0, &l->ss, &l->sslen) == -1) {
		conf_err(p, "listen: bad address '%s' (a numeric IPv4 or IPv6 "
		    "address is expected)", conf_word(p, argv[1]));
		goto fail;
	}
	memcpy(l->addr, argv[1], strlen(argv[1]) + 1);	/* < 64: conf_addr */
	if (listen_options(p, l, argc - 2, argv + 2) == -1)
		goto fail;

	if (l->port == 0) {
		conf_err(p, "listen: missing port");
		bad = 1;
	}
	if (l->mode == 0) {
		conf_err(p, "listen: missing starttls, tls or plain");
		bad = 1;
	}
	if ((l->mode == LISTEN_STARTTLS || l->mode == LISTEN_TLS) &&
	    (l->cert[0] == '\0' || l->key[0] == '\0')) {
		conf_err(p, "listen: %s listener requires certificate and key",
		    modes[l->mode]);
		bad = 1;
	}
	if (l->mode == LISTEN_PLAIN &&
	    (l->cert[0] != '\0' || l->key[0] != '\0')) {
		conf_err(p, "listen: a plain listener takes no certificate "
		    "or key");
		bad = 1;
	}
	if (!l->auth && !config_is_loopback(&l->ss)) {
		conf_err(p, "no-auth is allowed only on loopback addresses");
		bad = 1;
	}
	if (bad)
		goto fail;
	if (conf_addr(l->addr, l->port, &l->ss, &l->sslen) == -1) {
		conf_err(p, "listen: bad address '%s'", conf_word(p, l->addr));
		goto fail;
	}
	TAILQ_FOREACH(o, &conf->listeners, entry) {
		if (conf_same_addr(&o->ss, &l->ss)) {
			conf_err(p, "listen: duplicate listener on %s port %u",
			    conf_word(p, l->addr), l->port);
			goto fail;
		}
	}
	l->index = conf->nlisteners++;
	TAILQ_INSERT_TAIL(&conf->listeners, l, entry);
	return 0;
fail:
	free(l);
	return -1;
}

static int
conf_hop(struct parser *p, const char *what, const char *url, struct hop *hop)
{
	const char *err = "malformed";

	if (config_parse_hop(url, hop, &err) == -1) {
		conf_err(p, "%s: bad relay URL '%s': %s", what,
		    conf_word(p, url), err);
		return -1;
	}
	return 0;
}

/*
 * "required" or "verify" after "tls": route flags (verify implies
 * required: a certificate is only checked on TLS); -1 after an error.
 */
static int
conf_tls_flags(struct parser *p, const char *what, const char *word)
{
	if (strcmp(word, "required") == 0)
		return ROUTE_TLS_REQUIRED;
	if (strcmp(word, "verify") == 0)
		return ROUTE_TLS_REQUIRED | ROUTE_TLS_VERIFY;
	conf_err(p, "%s: tls: expected required or verify, not '%s'", what,
	    conf_word(p, word));
	return -1;
}

static int
kw_relay(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	struct config *conf = p->conf;
	struct hop hop;
	int i, flags = 0, have_creds = 0;

	if (p->relay_line != 0) {
		conf_err(p, "relay: already set at line %d", p->relay_line);
		return -1;
	}
	if (strcmp(argv[0], "via") != 0) {
		conf_err(p, "relay: expected 'via', not '%s'",
		    conf_word(p, argv[0]));
		return -1;
	}
	if (strcmp(argv[1], "mx") == 0) {
		if (argc > 2) {
			conf_err(p, "relay: extra argument '%s'",
			    conf_word(p, argv[2]));
			return -1;
		}
		p->relay_line = p->line;
		conf->relay_mode = RELAY_MX;
		return 0;
	}
	if (conf_hop(p, "relay", argv[1], &hop) == -1)
		return -1;
	/* Then, in any order: credentials PATH, tls (required | verify). */
	for (i = 2; i < argc; i += 2) {
		if (strcmp(argv[i], "credentials") == 0 && i + 1 < argc &&
		    !have_creds) {
			if (conf_path(p, "relay: credentials", argv[i + 1],
			    conf->relay_credentials,
			    sizeof(conf->relay_credentials)) == -1)
				return -1;
			have_creds = 1;
		} else if (strcmp(argv[i], "tls") == 0 && i + 1 < argc &&
		    flags == 0) {
			if ((flags = conf_tls_flags(p, "relay",
			    argv[i + 1])) == -1)
				return -1;
		} else {
			conf_err(p, "relay: expected 'credentials PATH' or "
			    "'tls required|verify' after the URL, not '%s'",
			    conf_word(p, argv[i]));
			return -1;
		}
	}
	p->relay_line = p->line;
	conf->relay_mode = RELAY_SMARTHOST;
	conf->smarthost = hop;
	conf->smarthost_flags = flags;
	return 0;
}

static int
kw_route(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	struct route *r;
	char name[sizeof(r->domain)];
	int flags = 0;

	if (!conf_dns_name(argv[0], 0)) {
		conf_err(p, "route: invalid domain name '%s'",
		    conf_word(p, argv[0]));
		return -1;
	}
	memcpy(name, argv[0], strlen(argv[0]) + 1);	/* <= 253 */
	conf_lower(name);
	if (strcmp(argv[1], "via") != 0) {
		conf_err(p, "route: expected 'via', not '%s'",
		    conf_word(p, argv[1]));
		return -1;
	}
	if (argc == 4 || (argc == 5 && strcmp(argv[3], "tls") != 0)) {
		conf_err(p, "route: expected 'tls required' or 'tls verify' "
		    "after the URL");
		return -1;
	}
	if (argc == 5 && (flags = conf_tls_flags(p, "route", argv[4])) == -1)
		return -1;
	if (nameset_find(&p->routes, name) != NULL) {
		conf_err(p, "route: duplicate route for %s", name);
		return -1;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		conf_err(p, "out of memory");
		return -1;
	}
	if (conf_hop(p, "route", argv[2], &r->hop) == -1) {
		free(r);
		return -1;
	}
	memcpy(r->domain, name, sizeof(r->domain));
	r->flags = flags;
	if (nameset_add(&p->routes, r->domain) == -1) {
		conf_err(p, "out of memory");
		free(r);
		return -1;
	}
	TAILQ_INSERT_TAIL(&p->conf->routes, r, entry);
	return 0;
}

static int
kw_resolver(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	struct config *conf = p->conf;
	struct sockaddr_storage ss;
	socklen_t len;
	uint16_t port;
	int i, a, n = 0;

	if (p->resolver_line != 0) {
		conf_err(p, "resolver: already set at line %d",
		    p->resolver_line);
		return -1;
	}
	if (strcmp(argv[0], "system") == 0) {
		if (argc > 1) {
			conf_err(p, "resolver: extra argument '%s'",
			    conf_word(p, argv[1]));
			return -1;
		}
		p->resolver_line = p->line;
		conf->nresolvers = 0;
		return 0;
	}
	for (i = 0; i < argc; i++) {
		if (n >= CONF_MAX_RESOLVERS) {
			conf_err(p, "resolver: too many addresses (at most "
			    "%d)", CONF_MAX_RESOLVERS);
			return -1;
		}
		a = i;
		if (conf_addr(argv[a], 53, &ss, &len) == -1) {
			conf_err(p, "resolver: bad address '%s'",
			    conf_word(p, argv[i]));
			return -1;
		}
		port = 53;
		if (i + 1 < argc && strcmp(argv[i + 1], "port") == 0) {
			if (i + 2 >= argc) {
				conf_err(p, "resolver: port: missing argument");
				return -1;
			}
			if (conf_port(p, "resolver", argv[i + 2], &port) == -1)
				return -1;
			i += 2;
		}
		/* addr@port, the form unbound's forwarders take. */
		if ((size_t)snprintf(conf->resolver[n],
		    sizeof(conf->resolver[n]), "%s@%u", argv[a], port) >=
		    sizeof(conf->resolver[n])) {
			conf_err(p, "resolver: address '%s' is too long",
			    conf_word(p, argv[a]));
			return -1;
		}
		n++;
	}
	p->resolver_line = p->line;
	conf->nresolvers = n;
	return 0;
}

static int
conf_header_name(const char *s)
{
	size_t i;

	if (s[0] == '\0' || strlen(s) > CONF_MAX_HEADER_NAME)
		return 0;
	/* RFC 5322 ftext: printable US-ASCII but ':'. */
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < 33 || s[i] > 126 || s[i] == ':')
			return 0;
	return 1;
}

static void
conf_free_strings(char **v, int n)
{
	int i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Append copies of argv to the string vector *vp (of *np entries, at
 * most max after); -1 on failure with nothing changed.
 */
static int
conf_append(struct parser *p, const char *what, char ***vp, int *np,
    int max, int argc, char **argv)
{
	char **v;
	int i;

	if (argc > max - *np) {
		conf_err(p, "%s: too many (at most %d)", what, max);
		return -1;
	}
	if ((v = reallocarray(*vp, (size_t)(*np + argc), sizeof(*v))) ==
	    NULL) {
		conf_err(p, "out of memory");
		return -1;
	}
	*vp = v;
	for (i = 0; i < argc; i++) {
		if ((v[*np + i] = strdup(argv[i])) == NULL) {
			while (i-- > 0)
				free(v[*np + i]);
			conf_err(p, "out of memory");
			return -1;
		}
	}
	*np += argc;
	return 0;
}

static int
kw_dkim_headers(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	struct config *conf = p->conf;
	int i;

	for (i = 0; i < argc; i++) {
		if (!conf_header_name(argv[i])) {
			conf_err(p, "dkim-headers: invalid header field name "
			    "'%s'", conf_word(p, argv[i]));
			return -1;
		}
	}
	/* The first statement replaces the default list; later ones add. */
	if (p->headers_line == 0) {
		conf_free_strings(conf->dkim_headers, conf->ndkim_headers);
		conf->dkim_headers = NULL;
		conf->ndkim_headers = 0;
		p->headers_line = p->line;
	}
	return conf_append(p, "dkim-headers", &conf->dkim_headers,
	    &conf->ndkim_headers, CONF_MAX_DKIM_HEADERS, argc, argv);
}

/*
 * Blocks.
 */

static void
domain_free(struct domain *d)
{
	struct dkim_sel *s;

	if (d == NULL)
		return;
	while ((s = TAILQ_FIRST(&d->sels)) != NULL) {
		TAILQ_REMOVE(&d->sels, s, entry);
		free(s);
	}
	conf_free_strings(d->local_parts, d->nlocal);
	free(d);
}

static int
kw_domain(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	struct domain *d;
	int bad = 0;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		conf_err(p, "out of memory");
		return -1;
	}
	TAILQ_INIT(&d->sels);
	if (!conf_dns_name(argv[0], 0)) {
		conf_err(p, "domain: invalid domain name '%s'",
		    conf_word(p, argv[0]));
		bad = 1;
	} else {
		memcpy(d->name, argv[0], strlen(argv[0]) + 1);	/* <= 253 */
		conf_lower(d->name);
		if (nameset_find(&p->domains, d->name) != NULL) {
			conf_err(p, "domain: duplicate domain %s", d->name);
			bad = 1;
		} else if (nameset_add(&p->domains, d->name) == -1) {
			conf_err(p, "out of memory");
			bad = 1;
		}
	}
	if (!bad)
		TAILQ_INSERT_TAIL(&p->conf->domains, d, entry);
	/* Even a bad domain's block is read, to report what is inside. */
	p->dom = d;
	p->dom_scratch = bad;
	p->block = BLOCK_DOMAIN;
	p->block_line = p->line;
	return bad ? -1 : 0;
}

static const char *
dkim_alg_name(enum dkim_alg alg)
{
	return alg == DKIM_RSA ? "rsa" : "ed25519";
}

static int
kw_dkim(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	struct domain *d = p->dom;
	struct dkim_sel *s, *o;
	enum dkim_alg alg;
	int n = 0;

	if (strcmp(argv[0], "selector") != 0 ||
	    strcmp(argv[2], "algorithm") != 0) {
		conf_err(p, "dkim: expected 'selector NAME algorithm "
		    "(rsa | ed25519) [active]'");
		return -1;
	}
	if (strlen(argv[1]) >= sizeof(s->selector) ||
	    !conf_dns_name(argv[1], 1)) {
		conf_err(p, "dkim: invalid selector '%s'",
		    conf_word(p, argv[1]));
		return -1;
	}
	if (strcmp(argv[3], "rsa") == 0)
		alg = DKIM_RSA;
	else if (strcmp(argv[3], "ed25519") == 0)
		alg = DKIM_ED25519;
	else {
		conf_err(p, "dkim: unknown algorithm '%s' (expected rsa or "
		    "ed25519)", conf_word(p, argv[3]));
		return -1;
	}
	if (argc == 5 && strcmp(argv[4], "active") != 0) {
		conf_err(p, "dkim: extra argument '%s'", conf_word(p, argv[4]));
		return -1;
	}
	TAILQ_FOREACH(o, &d->sels, entry) {
		n++;
		if (strcasecmp(o->selector, argv[1]) == 0) {
			conf_err(p, "dkim: duplicate selector '%s'",
			    conf_word(p, argv[1]));
			return -1;
		}
		if (argc == 5 && o->active && o->alg == alg) {
			conf_err(p, "dkim: selectors %s and %s are both "
			    "active for %s", o->selector,
			    conf_word(p, argv[1]), dkim_alg_name(alg));
			return -1;
		}
	}
	if (n >= CONF_MAX_SELECTORS) {
		conf_err(p, "dkim: too many selectors (at most %d)",
		    CONF_MAX_SELECTORS);
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		conf_err(p, "out of memory");
		return -1;
	}
	memcpy(s->selector, argv[1], strlen(argv[1]) + 1);
	s->alg = alg;
	s->active = argc == 5;
	TAILQ_INSERT_TAIL(&d->sels, s, entry);
	return 0;
}

static int
kw_local_parts(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	const char *s;
	int i;

	for (i = 0; i < argc; i++) {
		s = argv[i];
		if (s[0] == '\0' || strlen(s) > CONF_MAX_PATTERN) {
			conf_err(p, "local-parts: pattern '%s' is empty or "
			    "too long", conf_word(p, s));
			return -1;
		}
		for (; *s != '\0'; s++) {
			if (*s < 0x21 || *s > 0x7e) {
				conf_err(p, "local-parts: pattern '%s' is not "
				    "printable ASCII", conf_word(p, argv[i]));
				return -1;
			}
		}
	}
	return conf_append(p, "local-parts", &p->dom->local_parts,
	    &p->dom->nlocal, CONF_MAX_LOCAL_PARTS, argc, argv);
}

static int
kw_queue(struct parser *p, const struct kw *kw, int argc, char **argv)
{
	p->block = BLOCK_QUEUE;
	p->block_line = p->line;
	return 0;
}

/*
 * The end of a domain block: an algorithm with a single selector and
 * none marked active uses that one.
 */
static void
domain_finish(struct parser *p)
{
	struct dkim_sel *s, *only;
	enum dkim_alg alg;
	int n;

	for (alg = DKIM_RSA; alg <= DKIM_ED25519; alg++) {
		n = 0;
		only = NULL;
		TAILQ_FOREACH(s, &p->dom->sels, entry) {
			if (s->alg != alg)
				continue;
			n++;
			only = s;
			if (s->active)
				n = 100;
		}
		if (n == 1)
			only->active = 1;
	}
	if (p->dom_scratch)
		domain_free(p->dom);
	p->dom = NULL;
	p->dom_scratch = 0;
}

/*
 * The keyword tables.
 */

#define F(f)	.off = offsetof(struct config, f), \
		.size = sizeof(((struct config *)0)->f)
#define PATH(n, f) \
	{ .name = n, .where = IN_TOP, .minargs = 1, .maxargs = 1, \
	  .fn = kw_path, F(f) }
#define CHOICE(n, f, c) \
	{ .name = n, .where = IN_TOP, .minargs = 1, .maxargs = 1, \
	  .fn = kw_choice, F(f), .choices = c }
#define NUM(n, l, w, f, fn_, lo, hi) \
	{ .name = n, .label = l, .where = w, .minargs = 1, .maxargs = 1, \
	  .fn = fn_, F(f), .min = lo, .max = hi }
#define DAY	(24 * 60 * 60LL)

static const char *const ch_yesno[] = { "no", "yes", NULL };
static const char *const ch_case[] = { "sensitive", "insensitive", NULL };
static const char *const ch_barelf[] = { "accept", "reject", NULL };
static const char *const ch_canon[] = { "relaxed", "simple", NULL };

static const struct kw conf_limits[] = {
	NUM("message-size", "limit message-size", 0, max_message_size,
	    kw_size, 1024, 1LL << 32),
	NUM("recipients", "limit recipients", 0, max_recipients, kw_int,
	    1, 100000),
	NUM("errors", "limit errors", 0, max_errors, kw_int, 1, 1000),
	NUM("line-length", "limit line-length", 0, max_line, kw_int,
	    512, 65536),
	NUM("sessions", "limit sessions", 0, max_sessions, kw_int,
	    1, 1000000),
	NUM("sessions-per-client", "limit sessions-per-client", 0,
	    max_sessions_client, kw_int, 1, 1000000),
	NUM("auth-failures", "limit auth-failures", 0, max_auth_failures,
	    kw_int, 1, 1000),
	{ .name = NULL }
};

#define TIMEOUT(n, f) \
	NUM(n, "timeout " n, 0, f, kw_duration, 1, CONF_MAX_DURATION)
static const struct kw conf_timeouts[] = {
	TIMEOUT("greeting", to_greeting),
	TIMEOUT("command", to_command),
	TIMEOUT("data-init", to_data_init),
	TIMEOUT("data-block", to_data_block),
	TIMEOUT("data-end", to_data_end),
	TIMEOUT("session", to_session),
	TIMEOUT("connect", to_connect),
	TIMEOUT("relay-command", to_relay_command),
	{ .name = NULL }
};

static const struct kw conf_keywords[] = {
	{ .name = "hostname", .where = IN_TOP, .minargs = 1, .maxargs = 1,
	  .fn = kw_hostname },
	PATH("libexec-dir", libexec_dir),
	PATH("spool-dir", spool_dir),
	PATH("auth-dir", auth_dir),
	PATH("dkim-dir", dkim_dir),
	PATH("empty-dir", empty_dir),
	PATH("control-socket", control_socket),
	PATH("pid-file", pid_file),
	PATH("token-key", token_key),
	PATH("trust-anchor", trust_anchor),
	{ .name = "control-group", .where = IN_TOP, .minargs = 1,
	  .maxargs = 1, .fn = kw_group, F(control_group) },
	{ .name = "user", .where = IN_TOP, .minargs = 2, .maxargs = 2,
	  .fn = kw_user },
	{ .name = "listen", .where = IN_TOP, .minargs = 2, .maxargs = -1,
	  .fn = kw_listen },
	{ .name = "domain", .where = IN_TOP, .block = 1, .minargs = 1,
	  .maxargs = 1, .fn = kw_domain },
	{ .name = "relay", .where = IN_TOP, .minargs = 2, .maxargs = 6,
	  .fn = kw_relay },
	{ .name = "route", .where = IN_TOP, .minargs = 3, .maxargs = 5,
	  .fn = kw_route },
	{ .name = "resolver", .where = IN_TOP, .minargs = 1, .maxargs = -1,
	  .fn = kw_resolver },
	CHOICE("tls-fallback", tls_fallback, ch_yesno),
	{ .name = "queue", .where = IN_TOP, .block = 1, .minargs = 0,
	  .maxargs = 0, .fn = kw_queue },
	{ .name = "limit", .where = IN_TOP, .minargs = 1, .maxargs = -1,
	  .fn = kw_sub, .sub = conf_limits },
	{ .name = "timeout", .where = IN_TOP, .minargs = 1, .maxargs = -1,
	  .fn = kw_sub, .sub = conf_timeouts },
	CHOICE("local-part-case", local_part_nocase, ch_case),
	CHOICE("bare-lf", bare_lf_reject, ch_barelf),
	{ .name = "dkim-headers", .where = IN_TOP, .minargs = 1,
	  .maxargs = -1, .fn = kw_dkim_headers },
	CHOICE("dkim-canon", dkim_simple, ch_canon),
	NUM("dkim-expire", NULL, IN_TOP, dkim_expire, kw_duration_no,
	    1, CONF_MAX_DURATION),
	CHOICE("test-clock", test_clock, ch_yesno),

	/* domain NAME { ... } */
	{ .name = "dkim", .where = IN_DOMAIN, .minargs = 4, .maxargs = 5,
	  .fn = kw_dkim },
	{ .name = "local-parts", .where = IN_DOMAIN, .minargs = 1,
	  .maxargs = -1, .fn = kw_local_parts },

	/* queue { ... } */
	NUM("retry-initial", NULL, IN_QUEUE, retry_initial, kw_duration,
	    1, 7 * DAY),
	NUM("retry-max", NULL, IN_QUEUE, retry_max, kw_duration,
	    1, 30 * DAY),
	NUM("lifetime", NULL, IN_QUEUE, lifetime, kw_duration,
	    60, 365 * DAY),
	NUM("delay-warning", NULL, IN_QUEUE, delay_warning, kw_duration_no,
	    1, 365 * DAY),
	NUM("crash-hold", NULL, IN_QUEUE, crash_hold, kw_int, 1, 100),
	NUM("batch-recipients", NULL, IN_QUEUE, batch_recipients, kw_int,
	    1, 100000),
	NUM("concurrency", NULL, IN_QUEUE, concurrency, kw_int, 1, 100000),
	NUM("concurrency-per-domain", NULL, IN_QUEUE, concurrency_domain,
	    kw_int, 1, 100000),
	{ .name = NULL }
};

/*
 * Lines.
 */

/*
 * Cut a line into p->argv.  Quoted words may hold anything printable,
 * with \" and \\ as the only escapes; braces are words of their own
 * unless quoted; '#' outside quotes ends the line.
 */
static int
conf_tokenize(struct parser *p, const char *s, size_t n)
{
	char *out = p->tokbuf;
	size_t i = 0;
	unsigned char c;

	p->argc = 0;
	while (i < n) {
		c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c == '\r') {
			i++;
			continue;
		}
		if (c == '#')
			break;
		p->argv[p->argc] = out;
		p->quoted[p->argc] = 0;
		p->argc++;
		if (c == '{' || c == '}') {
			*out++ = (char)c;
			*out++ = '\0';
			i++;
			continue;
		}
		if (c == '"') {
			p->quoted[p->argc - 1] = 1;
			for (i++;; i++) {
				if (i >= n) {
					conf_err(p, "unterminated quoted "
					    "string");
					return -1;
				}
				c = (unsigned char)s[i];
				if (c == '"')
					break;
				if (c == '\\') {
					if (i + 1 < n && (s[i + 1] == '"' ||
					    s[i + 1] == '\\')) {
						*out++ = s[++i];
						continue;
					}
					conf_err(p, "bad escape in quoted "
					    "string (only \\\" and \\\\)");
					return -1;
				}
				if (c < 0x20 || c == 0x7f) {
					conf_err(p, "control character in "
					    "quoted string");
					return -1;
				}
				*out++ = (char)c;
			}
			*out++ = '\0';
			i++;
			if (i < n && s[i] != ' ' && s[i] != '\t' &&
			    s[i] != '\r' && s[i] != '#') {
				conf_err(p, "missing space after quoted "
				    "string");
				return -1;
			}
			continue;
		}
		for (; i < n; i++) {
			c = (unsigned char)s[i];
			if (c == ' ' || c == '\t' || c == '\r' || c == '#' ||
			    c == '{' || c == '}')
				break;
			if (c == '"') {
				conf_err(p, "quote inside a word");
				return -1;
			}
			if (c < 0x20 || c == 0x7f) {
				conf_err(p, "control character in line");
				return -1;
			}
			*out++ = (char)c;
		}
		*out++ = '\0';
	}
	p->argv[p->argc] = NULL;
	return 0;
}

static int
conf_is_brace(const struct parser *p, int i, char brace)
{
	return !p->quoted[i] && p->argv[i][0] == brace &&
	    p->argv[i][1] == '\0';
}

static void
conf_close(struct parser *p)
{
	if (p->skip > 0) {
		p->skip--;
		return;
	}
	switch (p->block) {
	case BLOCK_NONE:
		conf_err(p, "unbalanced braces: '}' without an open block");
		return;
	case BLOCK_DOMAIN:
		domain_finish(p);
		break;
	case BLOCK_QUEUE:
		break;
	}
	p->block = BLOCK_NONE;
}

/* Open a block that is only skipped, after an error on its first line. */
static void
conf_skip_block(struct parser *p)
{
	if (p->skip++ == 0 && p->block == BLOCK_NONE)
		p->block_line = p->line;
}

static void
conf_statement(struct parser *p)
{
	static const char *const blocknames[] = { "", "domain", "queue" };
	const struct kw *kw;
	enum conf_block before = p->block;
	int argc = p->argc, opens = 0, closes = 0, i;

	if (argc == 0)
		return;
	if (conf_is_brace(p, 0, '}')) {
		if (argc > 1)
			conf_err(p, "extra argument after '}'");
		conf_close(p);
		return;
	}
	/* "NAME {" opens a block; "NAME { }" opens and closes it. */
	if (argc >= 2 && conf_is_brace(p, argc - 1, '}') &&
	    conf_is_brace(p, argc - 2, '{')) {
		closes = 1;
		argc--;
	}
	if (conf_is_brace(p, argc - 1, '{')) {
		opens = 1;
		argc--;
	}
	for (i = 0; i < argc; i++) {
		if (conf_is_brace(p, i, '{') || conf_is_brace(p, i, '}')) {
			if (p->skip == 0)
				conf_err(p, "unexpected '%s' (braces end a "
				    "line or stand alone)", p->argv[i]);
			if (opens && !closes)
				conf_skip_block(p);
			return;
		}
	}
	if (p->skip > 0) {
		if (opens && !closes)
			p->skip++;
		return;
	}
	if (argc == 0) {
		conf_err(p, "'{' without a keyword");
		if (!closes)
			conf_skip_block(p);
		return;
	}

	kw = conf_lookup(conf_keywords, p->argv[0]);
	if (kw == NULL)
		conf_err(p, "unknown keyword '%s'", conf_word(p, p->argv[0]));
	else if (kw->where == IN_DOMAIN && p->block != BLOCK_DOMAIN)
		conf_err(p, "'%s' is allowed only inside a domain block",
		    kw->name);
	else if (kw->where == IN_QUEUE && p->block != BLOCK_QUEUE)
		conf_err(p, "'%s' is allowed only inside a queue block",
		    kw->name);
	else if (kw->where == IN_TOP && p->block != BLOCK_NONE)
		conf_err(p, "'%s' is not allowed inside a %s block", kw->name,
		    blocknames[p->block]);
	else if (kw->block && !opens)
		conf_err(p, "%s: missing '{' at the end of the line",
		    kw->name);
	else if (!kw->block && opens)
		conf_err(p, "%s: takes no block", kw->name);
	else
		(void)conf_call(p, kw, argc, p->argv);

	if (opens && p->block == before)
		conf_skip_block(p);
	if (closes)
		conf_close(p);
}

static struct config *
config_new(void)
{
	static const struct {
		int		 proc;
		const char	*user;
	} users[] = {
		{ PROC_SMTPD, "_postern-smtpd" },
		{ PROC_AUTHD, "_postern-auth" },
		{ PROC_QUEUED, "_postern-queue" },
		{ PROC_SIGND, "_postern-sign" },
		{ PROC_RELAYD, "_postern-relay" },
	};
	struct config *conf;
	size_t i, nh = sizeof(conf_default_headers) /
	    sizeof(conf_default_headers[0]);

	if ((conf = calloc(1, sizeof(*conf))) == NULL)
		return NULL;
	TAILQ_INIT(&conf->listeners);
	TAILQ_INIT(&conf->domains);
	TAILQ_INIT(&conf->routes);

	if (gethostname(conf->hostname, sizeof(conf->hostname) - 1) == -1 ||
	    conf->hostname[0] == '\0')
		(void)strlcpy(conf->hostname, "localhost",
		    sizeof(conf->hostname));
	conf->hostname[sizeof(conf->hostname) - 1] = '\0';

	/* All of these fit: the buffers are PATH_MAX or 64 bytes. */
	(void)strlcpy(conf->libexec_dir, DEF_LIBEXEC_DIR, PATH_MAX);
	(void)strlcpy(conf->spool_dir, DEF_SPOOL_DIR, PATH_MAX);
	(void)strlcpy(conf->auth_dir, DEF_AUTH_DIR, PATH_MAX);
	(void)strlcpy(conf->dkim_dir, DEF_DKIM_DIR, PATH_MAX);
	(void)strlcpy(conf->empty_dir, DEF_EMPTY_DIR, PATH_MAX);
	(void)strlcpy(conf->control_socket, DEF_CONTROL_SOCKET, PATH_MAX);
	(void)strlcpy(conf->pid_file, DEF_PID_FILE, PATH_MAX);
	(void)strlcpy(conf->token_key, DEF_TOKEN_KEY, PATH_MAX);
	(void)strlcpy(conf->control_group, DEF_CONTROL_GROUP,
	    sizeof(conf->control_group));
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		(void)strlcpy(conf->user[users[i].proc], users[i].user,
		    sizeof(conf->user[0]));

	conf->relay_mode = RELAY_MX;
	conf->nresolvers = 0;
	conf->tls_fallback = 1;

	conf->retry_initial = 5 * 60;
	conf->retry_max = 60 * 60;
	conf->lifetime = 5 * DAY;
	conf->delay_warning = 4 * 60 * 60;
	conf->crash_hold = 3;
	conf->batch_recipients = 100;
	conf->concurrency = 100;
	conf->concurrency_domain = 10;

	conf->max_message_size = DEF_MESSAGE_SIZE;
	conf->max_recipients = DEF_RECIPIENTS;
	conf->max_errors = DEF_ERRORS;
	conf->max_line = DEF_LINE;
	conf->max_sessions = DEF_SESSIONS;
	conf->max_sessions_client = DEF_SESSIONS_CLIENT;
	conf->max_auth_failures = DEF_AUTH_FAILURES;

	/* RFC 5321 4.5.3.2. */
	conf->to_greeting = 5 * 60;
	conf->to_command = 5 * 60;
	conf->to_data_init = 2 * 60;
	conf->to_data_block = 3 * 60;
	conf->to_data_end = 10 * 60;
	conf->to_session = 60 * 60;
	conf->to_connect = 30;
	conf->to_relay_command = 5 * 60;

	conf->local_part_nocase = 1;
	conf->bare_lf_reject = 0;
	conf->dkim_simple = 0;
	conf->dkim_expire = 0;
	conf->test_clock = 0;

	if ((conf->dkim_headers = calloc(nh, sizeof(char *))) == NULL)
		goto fail;
	for (i = 0; i < nh; i++) {
		if ((conf->dkim_headers[i] = strdup(conf_default_headers[i])) ==
		    NULL)
			goto fail;
		conf->ndkim_headers++;
	}
	return conf;
fail:
	config_free(conf);
	return NULL;
}

/* Checks that need the whole file. */
static void
conf_finish(struct parser *p)
{
	struct config *conf = p->conf;
	struct domain *d;
	int i;

	if (p->block != BLOCK_NONE || p->skip > 0) {
		conf_err_at(p, p->block_line, "unbalanced braces: block not "
		    "closed by '}'");
		if (p->block == BLOCK_DOMAIN)
			domain_finish(p);
		p->block = BLOCK_NONE;
		p->skip = 0;
	}
	if (p->headers_line != 0) {
		for (i = 0; i < conf->ndkim_headers; i++)
			if (strcasecmp(conf->dkim_headers[i], "From") == 0)
				break;
		if (i == conf->ndkim_headers)
			conf_err_at(p, p->headers_line, "dkim-headers: From "
			    "must be signed (RFC 6376 5.4)");
	}
	TAILQ_FOREACH(d, &conf->domains, entry)
		d->local_nocase = conf->local_part_nocase;
}

struct config *
config_parse_buf(const char *name, const char *text, size_t len, FILE *errf)
{
	struct parser *p;
	struct config *conf;
	const char *s, *nl;
	size_t n, pos = 0;

	if (name == NULL)
		name = "(config)";
	if (text == NULL)
		len = 0;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->conf = config_new()) == NULL) {
		if (errf != NULL)
			fprintf(errf, "%s: out of memory\n", name);
		free(p);
		return NULL;
	}
	p->name = name;
	p->errf = errf;
	conf = p->conf;
	if (strlcpy(conf->file, name, sizeof(conf->file)) >=
	    sizeof(conf->file)) {
		if (errf != NULL)
			fprintf(errf, "%s: file name too long\n", name);
		p->nerrors++;
	}

	while (pos < len) {
		s = text + pos;
		nl = memchr(s, '\n', len - pos);
		n = nl != NULL ? (size_t)(nl - s) : len - pos;
		pos += n + 1;
		p->line++;
		if (n > CONF_LINE_MAX) {
			conf_err(p, "line too long (more than %d bytes)",
			    CONF_LINE_MAX);
			continue;
		}
		if (memchr(s, '\0', n) != NULL) {
			conf_err(p, "NUL byte in line");
			continue;
		}
		if (conf_tokenize(p, s, n) == -1)
			continue;
		conf_statement(p);
	}
	conf_finish(p);

	free(p->domains.slot);
	free(p->routes.slot);
	if (p->nerrors > 0) {
		free(p);
		config_free(conf);
		return NULL;
	}
	free(p);
	return conf;
}

struct config *
config_parse_file(const char *path, FILE *errf)
{
	struct config *conf;
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errf != NULL)
			fprintf(errf, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		if (errf != NULL)
			fprintf(errf, "%s: %s\n", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		if (errf != NULL)
			fprintf(errf, "%s: not a regular file\n", path);
		goto fail;
	}
	/* The master runs as root: others must not be able to change it. */
	if (st.st_mode & S_IWOTH) {
		if (errf != NULL)
			fprintf(errf, "%s: writable by others\n", path);
		goto fail;
	}
	if (st.st_size > CONF_FILE_MAX) {
		if (errf != NULL)
			fprintf(errf, "%s: file too large\n", path);
		goto fail;
	}
	/* One byte more than its size, to see it grow while we read. */
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		if (errf != NULL)
			fprintf(errf, "%s: out of memory\n", path);
		goto fail;
	}
	while (len < (size_t)st.st_size + 1) {
		r = read(fd, buf + len, (size_t)st.st_size + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			if (errf != NULL)
				fprintf(errf, "%s: %s\n", path,
				    strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > (size_t)st.st_size) {
		if (errf != NULL)
			fprintf(errf, "%s: changed while being read\n", path);
		goto fail;
	}
	close(fd);
	conf = config_parse_buf(path, buf, len, errf);
	free(buf);
	return conf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

void
config_free(struct config *conf)
{
	struct listener *l;
	struct domain *d;
	struct route *r;

	if (conf == NULL)
		return;
	while ((l = TAILQ_FIRST(&conf->listeners)) != NULL) {
		TAILQ_REMOVE(&conf->listeners, l, entry);
		free(l);
	}
	while ((d = TAILQ_FIRST(&conf->domains)) != NULL) {
		TAILQ_REMOVE(&conf->domains, d, entry);
		domain_free(d);
	}
	while ((r = TAILQ_FIRST(&conf->routes)) != NULL) {
		TAILQ_REMOVE(&conf->routes, r, entry);
		free(r);
	}
	conf_free_strings(conf->dkim_headers, conf->ndkim_headers);
	free(conf);
}

struct domain *
config_domain(const struct config *conf, const char *name)
{
	struct domain *d;

	if (conf == NULL || name == NULL)
		return NULL;
	TAILQ_FOREACH(d, &conf->domains, entry)
		if (strcasecmp(d->name, name) == 0)
			return d;
	return NULL;
}

int
config_local_part_ok(const struct domain *d, const char *local)
{
	int i, flags = 0;

	if (d == NULL || local == NULL || local[0] == '\0')
		return 0;
	if (d->nlocal == 0)
		return 1;
	if (d->local_nocase)
		flags |= FNM_CASEFOLD;
	for (i = 0; i < d->nlocal; i++)
		if (fnmatch(d->local_parts[i], local, flags) == 0)
			return 1;
	return 0;
}
