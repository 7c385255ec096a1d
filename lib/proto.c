/*
 * proto.c: names of processes and message types, the rule tables of every
 * channel, and the marshalling of the few payloads several processes read.
 */
#include <stdio.h>
#include <string.h>

#include "proto.h"

static const char *const proc_names[PROC_COUNT] = {
	[PROC_NONE] = "none",
	[PROC_MASTER] = "master",
	[PROC_SMTPD] = "smtpd",
	[PROC_AUTHD] = "authd",
	[PROC_QUEUED] = "queued",
	[PROC_SIGND] = "signd",
	[PROC_RELAYD] = "relayd",
	[PROC_CTL] = "posternctl",
};

const char *
proc_name(int p)
{
	if (p < 0 || p >= PROC_COUNT)
		return "unknown";
	return proc_names[p];
}

int
proc_byname(const char *name)
{
	int i;

	for (i = 1; i < PROC_COUNT; i++)
		if (strcmp(proc_names[i], name) == 0)
			return i;
	return PROC_NONE;
}

const char *
proto_name(uint32_t type)
{
	static char buf[32];

	switch (type) {
#define N(t) case t: return #t
	N(MSG_CONF_BEGIN);
	N(MSG_CONF_DATA);
	N(MSG_CONF_END);
	N(MSG_PEER_CHANNEL);
	N(MSG_LISTENER);
	N(MSG_FILE);
	N(MSG_SECRET);
	N(MSG_START);
	N(MSG_RELOAD);
	N(MSG_CLOCK);
	N(MSG_VERBOSE);
	N(MSG_PING);
	N(MSG_CTL_REQ);
	N(MSG_READY);
	N(MSG_PONG);
	N(MSG_CTL_ROW);
	N(MSG_CTL_DONE);
	N(MSG_AUTH_LOGIN);
	N(MSG_AUTH_LOGIN_RES);
	N(MSG_AUTH_CHECK);
	N(MSG_AUTH_CHECK_RES);
	N(MSG_Q_OPEN);
	N(MSG_Q_OPEN_RES);
	N(MSG_Q_RCPT);
	N(MSG_Q_DATA);
	N(MSG_Q_COMMIT);
	N(MSG_Q_COMMIT_RES);
	N(MSG_Q_ABORT);
	N(MSG_SIGN);
	N(MSG_SIGN_RES);
	N(MSG_RELAY_BATCH);
	N(MSG_RELAY_RESULT);
	N(MSG_RELAY_DONE);
	N(MSG_TLS_SIGN);
	N(MSG_TLS_SIGN_RES);
#undef N
	}
	snprintf(buf, sizeof(buf), "type %u", type);
	return buf;
}

const char *
ctl_cmd_name(uint32_t cmd)
{
	switch (cmd) {
	case CTL_TOKEN_ADD: return "token add";
	case CTL_TOKEN_LIST: return "token list";
	case CTL_TOKEN_DELETE: return "token delete";
	case CTL_DKIM_KEYGEN: return "dkim keygen";
	case CTL_DKIM_DNS: return "dkim dns";
	case CTL_QUEUE_LIST: return "queue list";
	case CTL_QUEUE_SHOW: return "queue show";
	case CTL_QUEUE_FLUSH: return "queue flush";
	case CTL_QUEUE_DELETE: return "queue delete";
	case CTL_QUEUE_HOLD: return "queue hold";
	case CTL_QUEUE_RELEASE: return "queue release";
	case CTL_SHOW_STATS: return "show stats";
	case CTL_LOG_VERBOSE: return "log verbose";
	case CTL_LOG_BRIEF: return "log brief";
	case CTL_CLOCK_ADVANCE: return "clock advance";
	case CTL_RELOAD: return "reload";
	case CTL_DKIM_RELOAD: return "dkim reload";
	case CTL_PING: return "ping";
	}
	return "unknown";
}

#define STR(n)	(4 + (n))
#define ANY	IPC_MAX_PAYLOAD

/* What every child accepts from the master. */
const struct ipc_rule rules_child_from_master[] = {
	{ MSG_CONF_BEGIN,	STR(0), STR(4096), IPC_FD_NO },
	{ MSG_CONF_DATA,	STR(0), ANY, IPC_FD_NO },
	{ MSG_CONF_END,		0, 0, IPC_FD_NO },
	{ MSG_PEER_CHANNEL,	4, 4, IPC_FD_MUST },
	{ MSG_LISTENER,		4, 4, IPC_FD_MUST },
	{ MSG_FILE,		4 + STR(0), 4 + STR(4096), IPC_FD_MUST },
	{ MSG_SECRET,		4 + STR(16), 4 + STR(256), IPC_FD_NO },
	{ MSG_START,		0, 0, IPC_FD_NO },
	{ MSG_RELOAD,		0, 0, IPC_FD_NO },
	{ MSG_CLOCK,		8, 8, IPC_FD_NO },
	{ MSG_VERBOSE,		4, 4, IPC_FD_NO },
	{ MSG_PING,		4, 4, IPC_FD_NO },
	{ MSG_CTL_REQ,		8, ANY, IPC_FD_NO },
	{ 0, 0, 0, 0 }
};

const struct ipc_rule rules_master_from_child[] = {
	{ MSG_READY,		0, 0, IPC_FD_NO },
	{ MSG_PONG,		4, 4, IPC_FD_NO },
	{ MSG_CTL_ROW,		4, ANY, IPC_FD_NO },
	{ MSG_CTL_DONE,		4 + STR(0), 4 + STR(MAX_CTL_VAL), IPC_FD_NO },
	{ 0, 0, 0, 0 }
};

const struct ipc_rule rules_master_from_ctl[] = {
	{ MSG_CTL_REQ,		8, ANY, IPC_FD_NO },
	{ 0, 0, 0, 0 }
};

const struct ipc_rule rules_ctl_from_master[] = {
	{ MSG_CTL_ROW,		4, ANY, IPC_FD_NO },
	{ MSG_CTL_DONE,		4 + STR(0), 4 + STR(MAX_CTL_VAL), IPC_FD_NO },
	{ 0, 0, 0, 0 }
};

const struct ipc_rule rules_authd_from_smtpd[] = {
	{ MSG_AUTH_LOGIN,	8 + STR(0) + STR(0) + STR(0),
				8 + STR(MAX_ADDR) + STR(MAX_TOKEN) + STR(64),
				IPC_FD_NO },
	{ MSG_AUTH_CHECK,	16, 16, IPC_FD_NO },
	{ 0, 0, 0, 0 }
};

const struct ipc_rule rules_smtpd_from_authd[] = {
	{ MSG_AUTH_LOGIN_RES,	8 + 4 + 8 + STR(0) + STR(0),
				8 + 4 + 8 + STR(MAX_ADDR) + STR(MAX_TICKET),
				IPC_FD_NO },
	{ MSG_AUTH_CHECK_RES,	12, 12, IPC_FD_NO },
	{ 0, 0, 0, 0 }
};

const struct ipc_rule rules_queued_from_smtpd[] = {
	{ MSG_Q_OPEN,		8 + STR(0) + 8 + STR(0) + STR(0) + STR(0),
				8 + STR(MAX_ADDR) + 8 + STR(MAX_TICKET) +
				STR(MAX_HOST) + STR(MAX_HOST), IPC_FD_NO },
	{ MSG_Q_RCPT,		8 + STR(1), 8 + STR(MAX_ADDR), IPC_FD_NO },
	{ MSG_Q_DATA,		8 + STR(0), ANY, IPC_FD_NO },
	{ MSG_Q_COMMIT,		8 + 4 + 8, 8 + 4 + 8, IPC_FD_NO },
	{ MSG_Q_ABORT,		8, 8, IPC_FD_NO },
	{ 0, 0, 0, 0 }
};

const struct ipc_rule rules_smtpd_from_queued[] = {
	{ MSG_Q_OPEN_RES,	8 + 4 + 8, 8 + 4 + 8, IPC_FD_NO },
	{ MSG_Q_COMMIT_RES,	8 + 4 + STR(0) + STR(0),
				8 + 4 + STR(MAX_QID) + STR(MAX_REPLY),
				IPC_FD_NO },
	{ 0, 0, 0, 0 }
};

const struct ipc_rule rules_signd_from_queued[] = {
	{ MSG_SIGN,		8 + STR(0), 8 + STR(MAX_TICKET), IPC_FD_MUST },
	{ 0, 0, 0, 0 }
};

const struct ipc_rule rules_queued_from_signd[] = {
	{ MSG_SIGN_RES,		8 + 4 + STR(0) + STR(0), ANY, IPC_FD_NO },
	{ 0, 0, 0, 0 }
};

const struct ipc_rule rules_relayd_from_queued[] = {
	{ MSG_RELAY_BATCH,	8 + STR(1) + STR(0) + STR(1) + 4 + 8 + 4, ANY,
				IPC_FD_MUST },
	{ 0, 0, 0, 0 }
};

const struct ipc_rule rules_queued_from_relayd[] = {
	{ MSG_RELAY_RESULT,	8 + 4 + 4 + 4 + 5 * STR(0),
				8 + 4 + 4 + 4 + STR(15) + STR(MAX_HOST - 1) +
				STR(63) + STR(MAX_REPLY - 1) + STR(31),
				IPC_FD_NO },
	{ MSG_RELAY_DONE,	8, 8, IPC_FD_NO },
	{ 0, 0, 0, 0 }
};

const struct ipc_rule rules_signd_from_smtpd[] = {
	{ MSG_TLS_SIGN,		8, ANY, IPC_FD_NO },
	{ 0, 0, 0, 0 }
};

const struct ipc_rule rules_smtpd_from_signd[] = {
	{ MSG_TLS_SIGN_RES,	8, ANY, IPC_FD_NO },
	{ 0, 0, 0, 0 }
};

void
relay_result_write(struct mw *mw, const struct relay_result *r)
{
	mw_u64(mw, r->batch);
	mw_u32(mw, r->index);
	mw_u32(mw, r->status);
	mw_u32(mw, r->code);
	mw_str(mw, r->enhanced);
	mw_str(mw, r->host);
	mw_str(mw, r->addr);
	mw_str(mw, r->text);
	mw_str(mw, r->tls);
}

int
relay_result_read(struct mr *mr, struct relay_result *r)
{
	r->batch = mr_u64(mr);
	r->index = mr_u32(mr);
	r->status = mr_u32(mr);
	r->code = mr_u32(mr);
	mr_str(mr, r->enhanced, sizeof(r->enhanced));
	mr_str(mr, r->host, sizeof(r->host));
	mr_str(mr, r->addr, sizeof(r->addr));
	mr_str(mr, r->text, sizeof(r->text));
	mr_str(mr, r->tls, sizeof(r->tls));
	if (mr_end(mr) == -1)
		return -1;
	if (r->status < RELAY_DELIVERED || r->status > RELAY_PERMFAIL ||
	    r->code > 599)
		return -1;
	return 0;
}

static int
kv_read(struct mr *mr, uint32_t *np, struct ctl_kv *kv)
{
	uint32_t i, n;

	n = mr_u32(mr);
	if (mr->err || n > MAX_CTL_ARGS)
		return -1;
	for (i = 0; i < n; i++) {
		mr_str(mr, kv[i].key, sizeof(kv[i].key));
		mr_str(mr, kv[i].val, sizeof(kv[i].val));
	}
	*np = n;
	return mr_end(mr);
}

static void
kv_write(struct mw *mw, uint32_t n, const struct ctl_kv *kv)
{
	uint32_t i;

	mw_u32(mw, n);
	for (i = 0; i < n; i++) {
		mw_str(mw, kv[i].key);
		mw_str(mw, kv[i].val);
	}
}

static int
kv_add(uint32_t *np, struct ctl_kv *kv, const char *key, const char *val)
{
	if (*np >= MAX_CTL_ARGS)
		return -1;
	if (strlcpy(kv[*np].key, key, sizeof(kv[*np].key)) >=
	    sizeof(kv[*np].key))
		return -1;
	if (strlcpy(kv[*np].val, val, sizeof(kv[*np].val)) >=
	    sizeof(kv[*np].val))
		return -1;
	(*np)++;
	return 0;
}

int
ctl_req_read(struct mr *mr, struct ctl_req *req)
{
	req->cmd = mr_u32(mr);
	return kv_read(mr, &req->n, req->kv);
}

void
ctl_req_write(struct mw *mw, const struct ctl_req *req)
{
	mw_u32(mw, req->cmd);
	kv_write(mw, req->n, req->kv);
}

const char *
ctl_req_get(const struct ctl_req *req, const char *key)
{
	uint32_t i;

	for (i = 0; i < req->n; i++)
		if (strcmp(req->kv[i].key, key) == 0)
			return req->kv[i].val;
	return NULL;
}

int
ctl_req_add(struct ctl_req *req, const char *key, const char *val)
{
	return kv_add(&req->n, req->kv, key, val);
}

int
ctl_row_add(struct ctl_row *row, const char *key, const char *val)
{
	return kv_add(&row->n, row->kv, key, val);
}

void
ctl_row_write(struct mw *mw, const struct ctl_row *row)
{
	kv_write(mw, row->n, row->kv);
}

int
ctl_row_read(struct mr *mr, struct ctl_row *row)
{
	return kv_read(mr, &row->n, row->kv);
}

int
ctl_done_vsend(struct ipc *ipc, uint32_t peerid, uint32_t status,
    const char *fmt, va_list ap)
{
	char text[MAX_CTL_VAL];
	struct mw mw;

	vsnprintf(text, sizeof(text), fmt, ap);
	mw_init(&mw);
	mw_u32(&mw, status);
	mw_str(&mw, text);
	return ipc_send_mw(ipc, MSG_CTL_DONE, peerid, -1, &mw);
}

int
ctl_done_read(struct mr *mr, uint32_t *status, char *text, size_t textsz)
{
	*status = mr_u32(mr);
	mr_str(mr, text, textsz);
	return mr_end(mr);
}
