/*
 * proto: the one list of message types for the whole system, grouped by
 * channel, and the rule table each channel reads with (see ipc.h).
 *
 * Payload layouts are written next to each type as the sequence of mw_*
 * calls that builds it: u32, u64, i64, str (u32 length + bytes, no NUL),
 * bytes (u32 length + bytes).  Identifiers that must be unique across a
 * cluster (sessions, tokens, messages) are u64; the header's peerid is
 * only a local request number.
 */
#ifndef POSTERN_PROTO_H
#define POSTERN_PROTO_H

#include <stdarg.h>
#include <stdint.h>

#include "ipc.h"

enum proc_id {
	PROC_NONE = 0,
	PROC_MASTER,
	PROC_SMTPD,
	PROC_AUTHD,
	PROC_QUEUED,
	PROC_SIGND,
	PROC_RELAYD,
	PROC_CTL,
	PROC_COUNT
};

const char *proc_name(int);
int	proc_byname(const char *);

/* Bounds shared by every channel. */
#define MAX_ADDR	320	/* local@domain, RFC 5321 path bound plus slack */
#define MAX_TOKEN	128
#define MAX_TICKET	512
#define MAX_REPLY	512	/* remote reply text kept per recipient */
#define MAX_HOST	256
#define MAX_QID		32
#define MAX_NAME	128	/* token names and the like */
#define MAX_CTL_ARGS	16
#define MAX_CTL_KEY	32
#define MAX_CTL_VAL	1024

enum msg_type {
	MSG_NONE = 0,

	/*
	 * master -> every child, at start and on reload.
	 */
	MSG_CONF_BEGIN = 100,	/* str file name */
	MSG_CONF_DATA,		/* bytes: a piece of the config text */
	MSG_CONF_END,		/* (empty) parse what came */
	MSG_PEER_CHANNEL,	/* u32 proc + fd: channel to that peer */
	MSG_LISTENER,		/* u32 listener index + fd (smtpd) */
	MSG_FILE,		/* u32 file kind, str name + fd (read only) */
	MSG_SECRET,		/* u32 secret kind, bytes */
	MSG_START,		/* (empty) everything was sent: begin */
	MSG_RELOAD,		/* (empty) the config just sent replaces */
	MSG_CLOCK,		/* i64 offset in seconds (test clock) */
	MSG_VERBOSE,		/* u32 level */
	MSG_PING,		/* u32 sequence */
	MSG_CTL_REQ,		/* control request, see below */

	/* child -> master */
	MSG_READY = 150,	/* (empty) started and chrooted */
	MSG_PONG,		/* u32 sequence */
	MSG_CTL_ROW,		/* one record of a control answer */
	MSG_CTL_DONE,		/* u32 status, str message: end of answer */

	/*
	 * smtpd <-> authd
	 */
	MSG_AUTH_LOGIN = 200,	/* u64 session, str user, bytes token,
				   str client address */
	MSG_AUTH_LOGIN_RES,	/* u64 session, u32 result, u64 token id,
				   str address, bytes ticket */
	MSG_AUTH_CHECK,		/* u64 session, u64 token id */
	MSG_AUTH_CHECK_RES,	/* u64 session, u32 result */

	/*
	 * smtpd <-> queued
	 */
	MSG_Q_OPEN = 300,	/* u64 session, str sender, u64 token id,
				   bytes ticket, str client, str helo */
	MSG_Q_OPEN_RES,		/* u64 session, u32 result, u64 msgid */
	MSG_Q_RCPT,		/* u64 msgid, str recipient */
	MSG_Q_DATA,		/* u64 msgid, bytes chunk */
	MSG_Q_COMMIT,		/* u64 msgid, u32 body flags, u64 size */
	MSG_Q_COMMIT_RES,	/* u64 msgid, u32 result, str queue id,
				   str reason */
	MSG_Q_ABORT,		/* u64 msgid */

	/*
	 * queued <-> signd
	 */
	MSG_SIGN = 400,		/* u64 request, bytes ticket + fd (read-only
				   message, CRLF lines, headers first) */
	MSG_SIGN_RES,		/* u64 request, u32 result, str reason,
				   bytes header lines to prepend (CRLF) */

	/*
	 * queued <-> relayd
	 */
	MSG_RELAY_BATCH = 500,	/* u64 batch, str queue id, str sender,
				   str domain, u32 body flags, u64 size,
				   u32 n, n x (u32 index, str recipient),
				   bytes DKIM header text to send before
				   the message (CRLF lines, may be empty)
				   + fd (read-only message, CRLF lines,
				   headers first; size counts both the
				   prefix and the file; index is echoed
				   in MSG_RELAY_RESULT) */
	MSG_RELAY_RESULT,	/* u64 batch, u32 index, struct relay_result
				   fields (see relay_result_write) */
	MSG_RELAY_DONE,		/* u64 batch: no more results for it */

	/* smtpd <-> signd: TLS handshake signatures (containment issue). */
	MSG_TLS_SIGN = 600,
	MSG_TLS_SIGN_RES,
};

const char *proto_name(uint32_t);

/* MSG_FILE kinds. */
enum file_kind {
	FILE_TLS_CERT = 1,	/* u32 listener index in the name field */
	FILE_TLS_KEY,
	FILE_RELAY_CREDENTIALS,
	FILE_TRUST_ANCHOR,
	FILE_RESOLV_CONF,	/* relayd: the system's resolv.conf */
};

/* MSG_SECRET kinds. */
enum secret_kind {
	SECRET_TICKET_KEY = 1,	/* authd and signd: login ticket HMAC key */
	SECRET_TOKEN_KEY,	/* authd: token hash HMAC key */
};

/* Results carried by the *_RES messages. */
enum result {
	RES_OK = 0,
	RES_FAIL,		/* permanent: refused */
	RES_TEMPFAIL,		/* try again later */
};

/* Body flags (envelope): what the next hop must support. */
#define BODY_8BIT	0x1
#define BODY_SMTPUTF8	0x2

/*
 * The delivery result of one recipient, relayd -> queued.  Defined here
 * because queued, relayd, the logs and the DSNs all read it.
 */
enum relay_status {
	RELAY_DELIVERED = 1,	/* 2xx from the next hop */
	RELAY_TEMPFAIL,		/* 4xx, network error, timeout, TLS failure */
	RELAY_PERMFAIL,		/* 5xx, null MX, capability missing */
};

struct relay_result {
	uint64_t	batch;
	uint32_t	index;		/* recipient index within the batch */
	uint32_t	status;		/* enum relay_status */
	uint32_t	code;		/* SMTP reply code, 0 when none */
	char		enhanced[16];	/* "5.1.1", empty when none */
	char		host[MAX_HOST];	/* remote host name, or "" */
	char		addr[64];	/* remote address, or "" */
	char		text[MAX_REPLY];/* reply text or local reason */
	char		tls[32];	/* "TLSv1.3" or "" */
};

void	relay_result_write(struct mw *, const struct relay_result *);
int	relay_result_read(struct mr *, struct relay_result *);

/*
 * Control requests.  posternctl sends MSG_CTL_REQ to the master:
 *	u32 command, u32 n, n x (str key, str value)
 * The master checks the command, every key and every value, then forwards
 * the same payload (to authd, queued or signd) with its own request number
 * as peerid, or answers itself.  Answers are zero or more MSG_CTL_ROW
 *	u32 n, n x (str key, str value)
 * then one MSG_CTL_DONE (u32 status: 0 success, else failure; str message).
 */
enum ctl_cmd {
	CTL_TOKEN_ADD = 1,
	CTL_TOKEN_LIST,
	CTL_TOKEN_DELETE,
	CTL_DKIM_KEYGEN,
	CTL_DKIM_DNS,
	CTL_QUEUE_LIST,
	CTL_QUEUE_SHOW,
	CTL_QUEUE_FLUSH,
	CTL_QUEUE_DELETE,
	CTL_QUEUE_HOLD,
	CTL_QUEUE_RELEASE,
	CTL_SHOW_STATS,
	CTL_LOG_VERBOSE,
	CTL_LOG_BRIEF,
	CTL_CLOCK_ADVANCE,	/* tests only: "test-clock yes" in config */
	CTL_RELOAD,
	CTL_DKIM_RELOAD,
	CTL_PING,
};

struct ctl_kv {
	char	key[MAX_CTL_KEY];
	char	val[MAX_CTL_VAL];
};

struct ctl_req {
	uint32_t	cmd;
	uint32_t	n;
	struct ctl_kv	kv[MAX_CTL_ARGS];
};

int	ctl_req_read(struct mr *, struct ctl_req *);
void	ctl_req_write(struct mw *, const struct ctl_req *);
const char *ctl_req_get(const struct ctl_req *, const char *key);
int	ctl_req_add(struct ctl_req *, const char *key, const char *val);
const char *ctl_cmd_name(uint32_t);

/* Rows: a small builder, the same kv layout. */
struct ctl_row {
	uint32_t	n;
	struct ctl_kv	kv[MAX_CTL_ARGS];
};
int	ctl_row_add(struct ctl_row *, const char *key, const char *val);
void	ctl_row_write(struct mw *, const struct ctl_row *);
int	ctl_row_read(struct mr *, struct ctl_row *);

/* MSG_CTL_DONE: send one (the text cut to MAX_CTL_VAL - 1 bytes), read one. */
int	ctl_done_vsend(struct ipc *, uint32_t peerid, uint32_t status,
	    const char *fmt, va_list) __attribute__((format(printf, 4, 0)));
int	ctl_done_read(struct mr *, uint32_t *status, char *text, size_t textsz);

/* The rule table a process uses for messages from a given peer. */
extern const struct ipc_rule rules_master_from_child[];
extern const struct ipc_rule rules_child_from_master[];
extern const struct ipc_rule rules_master_from_ctl[];
extern const struct ipc_rule rules_ctl_from_master[];
extern const struct ipc_rule rules_authd_from_smtpd[];
extern const struct ipc_rule rules_smtpd_from_authd[];
extern const struct ipc_rule rules_queued_from_smtpd[];
extern const struct ipc_rule rules_smtpd_from_queued[];
extern const struct ipc_rule rules_signd_from_queued[];
extern const struct ipc_rule rules_queued_from_signd[];
extern const struct ipc_rule rules_relayd_from_queued[];
extern const struct ipc_rule rules_queued_from_relayd[];
extern const struct ipc_rule rules_signd_from_smtpd[];
extern const struct ipc_rule rules_smtpd_from_signd[];

#endif
