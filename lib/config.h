/*
 * config: postern.conf, parsed into struct config.
 *
 * The master parses the file (and checks it with -n).  Children are
 * chrooted and never read it: the master sends them the same text over
 * their channel (MSG_CONF_*) and they parse it from memory with
 * config_parse_buf(), so every process sees one configuration.
 *
 * Grammar (postern.conf(5) is the user's manual; this is the summary).
 * One statement per line; '#' starts a comment; words are bare or
 * "double-quoted" (backslash escapes \" and \\); braces open blocks.
 * Durations: 30s, 5m, 1h, 5d (a bare number is seconds).  Sizes: 512,
 * 64K, 35M, 1G (bytes, binary multiples).
 *
 *	hostname NAME
 *	libexec-dir PATH		spool-dir PATH
 *	auth-dir PATH			dkim-dir PATH
 *	empty-dir PATH			control-socket PATH
 *	pid-file PATH			token-key PATH
 *	control-group GROUP
 *	user smtpd|authd|queued|signd|relayd NAME
 *
 *	listen on ADDR port N (starttls | tls | plain)
 *	    [certificate PATH key PATH] [no-auth] [proxy-from ADDR ...]
 *	    -- "plain" listeners carry no TLS; "no-auth" listeners are
 *	       accepted only on loopback addresses (never an open relay).
 *
 *	domain NAME {
 *		dkim selector SEL algorithm (rsa | ed25519) [active]
 *		local-parts PATTERN ...		(fnmatch patterns)
 *	}
 *
 *	relay via mx
 *	relay via URL [credentials PATH] [tls (required | verify)]
 *		URL: smtp://, smtp+starttls://, smtps://  host[:port]
 *	route DOMAIN via URL [tls (required | verify)]
 *	resolver (system | ADDR [port N] ...)
 *	trust-anchor PATH
 *	tls-fallback (yes | no)
 *
 *	queue {
 *		retry-initial DURATION		retry-max DURATION
 *		lifetime DURATION		delay-warning DURATION | no
 *		crash-hold N			batch-recipients N
 *		concurrency N			concurrency-per-domain N
 *	}
 *
 *	limit message-size SIZE		limit recipients N
 *	limit errors N			limit line-length N
 *	limit sessions N		limit sessions-per-client N
 *	limit auth-failures N
 *	timeout (greeting|command|data-init|data-block|data-end|session|
 *	         connect|relay-command) DURATION
 *	local-part-case (insensitive | sensitive)
 *	bare-lf (accept | reject)
 *	dkim-headers NAME ...		dkim-canon (relaxed | simple)
 *	dkim-expire DURATION | no
 *	test-clock (yes | no)		(lets posternctl move the clock)
 *
 * Errors are reported as "file:line: message", every one of them, and the
 * parse fails if there was any.
 */
#ifndef POSTERN_CONFIG_H
#define POSTERN_CONFIG_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "proto.h"

#define CONF_MAX_LISTENERS	16
#define CONF_MAX_PROXY_FROM	16

enum listen_mode {
	LISTEN_STARTTLS = 1,	/* 587: TLS after STARTTLS, then AUTH */
	LISTEN_TLS,		/* 465: implicit TLS */
	LISTEN_PLAIN,		/* no TLS (with no-auth: loopback tests) */
};

struct listener {
	TAILQ_ENTRY(listener) entry;
	int		 index;		/* order in the file, from 0 */
	char		 addr[64];	/* as written: 127.0.0.1, ::1 */
	uint16_t	 port;
	struct sockaddr_storage ss;
	socklen_t	 sslen;
	enum listen_mode mode;
	int		 auth;		/* 1 unless no-auth */
	char		 cert[PATH_MAX];
	char		 key[PATH_MAX];
	int		 nproxy;
	struct sockaddr_storage proxy[CONF_MAX_PROXY_FROM];
	int		 fd;		/* master: the listening socket */
};

enum dkim_alg {
	DKIM_RSA = 1,
	DKIM_ED25519,
};

struct dkim_sel {
	TAILQ_ENTRY(dkim_sel) entry;
	char		 selector[64];
	enum dkim_alg	 alg;
	int		 active;	/* one active per algorithm */
};

struct domain {
	TAILQ_ENTRY(domain) entry;
	char		 name[256];	/* lower case */
	TAILQ_HEAD(, dkim_sel) sels;
	int		 nlocal;
	char		**local_parts;	/* fnmatch patterns; none: any */
	int		 local_nocase;	/* copy of config local_part_nocase */
};

enum relay_mode {
	RELAY_MX = 1,
	RELAY_SMARTHOST,
};

/* A next hop given as a URL: smtp://, smtp+starttls://, smtps:// */
enum hop_tls {
	HOP_PLAIN = 1,		/* smtp://: STARTTLS if offered */
	HOP_STARTTLS,		/* smtp+starttls://: STARTTLS required */
	HOP_SMTPS,		/* smtps://: implicit TLS */
};

struct hop {
	enum hop_tls	 tls;
	char		 host[256];
	uint16_t	 port;
};

#define ROUTE_TLS_REQUIRED	0x1
#define ROUTE_TLS_VERIFY	0x2

struct route {
	TAILQ_ENTRY(route) entry;
	char		 domain[256];
	struct hop	 hop;
	int		 flags;
};

#define CONF_MAX_RESOLVERS	8

struct config {
	char		 file[PATH_MAX];
	char		 hostname[256];

	char		 libexec_dir[PATH_MAX];
	char		 spool_dir[PATH_MAX];
	char		 auth_dir[PATH_MAX];
	char		 dkim_dir[PATH_MAX];
	char		 empty_dir[PATH_MAX];
	char		 control_socket[PATH_MAX];
	char		 pid_file[PATH_MAX];
	char		 token_key[PATH_MAX];
	char		 control_group[64];
	char		 user[PROC_COUNT][64];	/* indexed by PROC_* */

	TAILQ_HEAD(, listener) listeners;
	int		 nlisteners;
	TAILQ_HEAD(, domain) domains;
	TAILQ_HEAD(, route) routes;

	enum relay_mode	 relay_mode;
	struct hop	 smarthost;
	int		 smarthost_flags;	/* ROUTE_TLS_* */
	char		 relay_credentials[PATH_MAX];
	int		 nresolvers;		/* 0: system resolv.conf */
	char		 resolver[CONF_MAX_RESOLVERS][64];	/* addr@port */
	char		 trust_anchor[PATH_MAX];
	int		 tls_fallback;

	/* queue */
	time_t		 retry_initial;
	time_t		 retry_max;
	time_t		 lifetime;
	time_t		 delay_warning;		/* 0: none */
	int		 crash_hold;
	int		 batch_recipients;
	int		 concurrency;
	int		 concurrency_domain;

	/* limits */
	uint64_t	 max_message_size;
	int		 max_recipients;
	int		 max_errors;
	int		 max_line;
	int		 max_sessions;
	int		 max_sessions_client;
	int		 max_auth_failures;

	/* timeouts, seconds */
	time_t		 to_greeting;
	time_t		 to_command;
	time_t		 to_data_init;
	time_t		 to_data_block;
	time_t		 to_data_end;
	time_t		 to_session;
	time_t		 to_connect;
	time_t		 to_relay_command;

	int		 local_part_nocase;	/* default 1 */
	int		 bare_lf_reject;	/* default 0: accept as EOL */
	int		 dkim_simple;		/* default 0: relaxed/relaxed */
	time_t		 dkim_expire;		/* 0: no x= */
	int		 ndkim_headers;
	char		**dkim_headers;
	int		 test_clock;
};

/* Defaults, in one place. */
#define DEF_LIBEXEC_DIR		"/usr/local/libexec/postern"
#define DEF_SPOOL_DIR		"/var/spool/postern"
#define DEF_AUTH_DIR		"/var/lib/postern/auth"
#define DEF_DKIM_DIR		"/etc/postern/dkim"
#define DEF_EMPTY_DIR		"/var/empty/postern"
#define DEF_CONTROL_SOCKET	"/run/postern/control.sock"
#define DEF_PID_FILE		"/run/postern/posternd.pid"
#define DEF_TOKEN_KEY		"/etc/postern/token.key"
#define DEF_CONTROL_GROUP	"postern"
#define DEF_MESSAGE_SIZE	(35ULL * 1024 * 1024)
#define DEF_RECIPIENTS		100
#define DEF_ERRORS		10
#define DEF_LINE		1000	/* command line, octets incl. CRLF */
#define DEF_SESSIONS		10000
#define DEF_SESSIONS_CLIENT	50
#define DEF_AUTH_FAILURES	3

/* Parse a file; errors go to `errf' as file:line: message.  NULL on error. */
struct config *config_parse_file(const char *path, FILE *errf);
/* Parse text that claims to come from `name'. */
struct config *config_parse_buf(const char *name, const char *text,
	    size_t len, FILE *errf);
void	config_free(struct config *);

struct domain *config_domain(const struct config *, const char *name);
/* Is this local part allowed to get a token in that domain? */
int	config_local_part_ok(const struct domain *, const char *local);
int	config_is_loopback(const struct sockaddr_storage *);
/* "smtp+starttls://host:port" -> hop; -1 with *err set when malformed. */
int	config_parse_hop(const char *url, struct hop *, const char **err);
/* "30s" "5m" -> seconds; "35M" -> bytes.  -1 when malformed. */
int	config_parse_duration(const char *, time_t *);
int	config_parse_size(const char *, uint64_t *);

#endif
