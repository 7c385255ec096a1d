/*
 * authd_ctl.c: posternctl token add | list | delete.
 *
 * The master checked the command and that every key is one it takes, and
 * that values are printable; authd checks what they mean.  Every request
 * ends with exactly one child_ctl_done(): status 0 and a short message, or
 * status 1 and a sentence that says what was wrong, with nothing stored.
 * No request content can make authd exit.
 *
 * Rows (one per token) carry the keys
 *	id		16 hex digits
 *	name, address, account ("" when none)
 *	created		RFC 3339, UTC
 *	last_used	RFC 3339, UTC, or "never"
 *	last_client	the client address of the last login, or ""
 * and, in the answer to "token add" only, "token": the token itself, which
 * is never stored and never shown again.
 *
 * A listing may be long (a million tokens is a few hundred megabytes of
 * rows): it goes out in pages of LIST_PAGE rows, and the next page waits
 * while more than LIST_HIGH bytes are queued for the master, so authd's
 * memory stays bounded and logins are served between pages.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authd.h"
#include "child.h"
#include "clock.h"
#include "log.h"
#include "token.h"

#define LIST_PAGE	200
#define LIST_HIGH	(1024 * 1024)
#define LIST_WAIT_MS	10
#define ADD_TRIES	5	/* id or token collisions: 2^-64 each */

struct list_job {
	TAILQ_ENTRY(list_job) entry;
	uint32_t	 reqid;
	char		 addr[MAX_ADDR];
	char		 account[MAX_ACCOUNT];
	struct store_filter filter;
	struct store_pos pos;
	uint64_t	 n;
	struct event	*ev;
};

static TAILQ_HEAD(, list_job) list_jobs = TAILQ_HEAD_INITIALIZER(list_jobs);

static void
ctl_time(int64_t t, char *buf, size_t bufsz)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, bufsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy(buf, "?", bufsz);
}

static void
ctl_row_token(struct ctl_row *row, const struct token_rec *r)
{
	char id[TOKEN_ID_HEXLEN + 1], created[32], used[32];

	memset(row, 0, sizeof(*row));
	token_id_format(r->id, id, sizeof(id));
	ctl_time(r->created, created, sizeof(created));
	if (r->last_used == 0)
		strlcpy(used, "never", sizeof(used));
	else
		ctl_time(r->last_used, used, sizeof(used));
	/* Every value fits MAX_CTL_VAL: the store's buffers are smaller. */
	ctl_row_add(row, "id", id);
	ctl_row_add(row, "name", r->name);
	ctl_row_add(row, "address", r->addr);
	ctl_row_add(row, "account", r->account);
	ctl_row_add(row, "created", created);
	ctl_row_add(row, "last_used", used);
	ctl_row_add(row, "last_client", r->last_client);
}

/*
 * The master lets through only the keys a command takes; check again,
 * and refuse a key given twice, so that "which one counts" never arises.
 */
static int
ctl_keys_ok(uint32_t reqid, const struct ctl_req *req,
    const char *const allowed[])
{
	uint32_t i, j;
	int k;

	for (i = 0; i < req->n; i++) {
		for (k = 0; allowed[k] != NULL; k++)
			if (strcmp(req->kv[i].key, allowed[k]) == 0)
				break;
		if (allowed[k] == NULL) {
			child_ctl_done(reqid, 1, "%s does not take \"%s\"",
			    ctl_cmd_name(req->cmd), req->kv[i].key);
			return 0;
		}
		for (j = 0; j < i; j++)
			if (strcmp(req->kv[i].key, req->kv[j].key) == 0) {
				child_ctl_done(reqid, 1, "\"%s\" given twice",
				    req->kv[i].key);
				return 0;
			}
	}
	if (authd.store == NULL) {
		child_ctl_done(reqid, 1, "the token store is not open");
		return 0;
	}
	return 1;
}

static void
ctl_token_add(uint32_t reqid, const struct ctl_req *req)
{
	static const char *const keys[] = { "name", "address", "account",
	    NULL };
	char tok[TOKEN_LEN + 1], addr[MAX_ADDR], why[MAX_CTL_VAL];
	char id[TOKEN_ID_HEXLEN + 1], logname[2 * MAX_NAME];
	const char *name, *address, *account, *err;
	struct token_rec r;
	struct ctl_row row;
	int res = STORE_COLLISION, i;

	if (!ctl_keys_ok(reqid, req, keys))
		return;
	name = ctl_req_get(req, "name");
	address = ctl_req_get(req, "address");
	account = ctl_req_get(req, "account");
	if (name == NULL || address == NULL) {
		child_ctl_done(reqid, 1, "token add needs a name and an "
		    "address");
		return;
	}
	if (authd_name_check(name, &err) == -1 ||
	    (account != NULL && authd_account_check(account, &err) == -1)) {
		child_ctl_done(reqid, 1, "%s", err);
		return;
	}
	if (authd_addr_canon(child_conf, address, addr, sizeof(addr), why,
	    sizeof(why)) == -1) {
		child_ctl_done(reqid, 1, "%s", why);
		return;
	}
	if (authd.token_keylen == 0) {
		child_ctl_done(reqid, 1, "authd has no token key yet; "
		    "try again");
		return;
	}

	memset(&r, 0, sizeof(r));
	strlcpy(r.name, name, sizeof(r.name));
	strlcpy(r.addr, addr, sizeof(r.addr));
	if (account != NULL)
		strlcpy(r.account, account, sizeof(r.account));
	r.created = clock_now();
	for (i = 0; i < ADD_TRIES && res == STORE_COLLISION; i++) {
		token_generate(tok, sizeof(tok));
		token_hash(authd.token_key, authd.token_keylen, tok,
		    TOKEN_LEN, r.hash);
		r.id = token_new_id();
		res = authd.store->add(authd.store, &r);
	}
	switch (res) {
	case STORE_OK:
		break;
	case STORE_EXISTS:
		child_ctl_done(reqid, 1, "%s already has a token named "
		    "\"%s\"", addr, name);
		goto done;
	default:
		child_ctl_done(reqid, 1, "the token store failed (see the "
		    "log); no token was created");
		goto done;
	}

	token_id_format(r.id, id, sizeof(id));
	log_info("token added id=%s address=%s name=\"%s\"%s%s", id, addr,
	    log_quote(name, logname, sizeof(logname)), account ?
	    " account=" : "", account ? account : "");
	ctl_row_token(&row, &r);
	ctl_row_add(&row, "token", tok);
	child_ctl_row(reqid, &row);
	explicit_bzero(&row, sizeof(row));
	child_ctl_done(reqid, 0, "token %s created: log in as %s with this "
	    "token; it is not stored and will not be shown again", id, addr);
 done:
	explicit_bzero(tok, sizeof(tok));
}

static void
list_job_free(struct list_job *job)
{
	TAILQ_REMOVE(&list_jobs, job, entry);
	if (job->ev != NULL)
		event_free(job->ev);
	free(job);
}

static void
list_row_cb(const struct token_rec *r, void *arg)
{
	struct list_job *job = arg;
	struct ctl_row row;

	ctl_row_token(&row, r);
	child_ctl_row(job->reqid, &row);
	job->n++;
}

static void
list_step(evutil_socket_t fd, short ev, void *arg)
{
	struct list_job *job = arg;
	struct timeval tv = { 0, 0 };
	int n;

	/* Let the master take what is queued before making more. */
	if (ipc_queued(child_master) > LIST_HIGH) {
		tv.tv_usec = LIST_WAIT_MS * 1000;
		evtimer_add(job->ev, &tv);
		return;
	}
	n = authd.store->list(authd.store, &job->filter, &job->pos,
	    LIST_PAGE, list_row_cb, job);
	if (n == STORE_ERROR) {
		child_ctl_done(job->reqid, 1, "the token store failed while "
		    "listing (see the log)");
		list_job_free(job);
		return;
	}
	if (job->pos.done) {
		child_ctl_done(job->reqid, 0, "%llu token%s",
		    (unsigned long long)job->n, job->n == 1 ? "" : "s");
		list_job_free(job);
		return;
	}
	evtimer_add(job->ev, &tv);
}

static void
ctl_token_list(uint32_t reqid, const struct ctl_req *req)
{
	static const char *const keys[] = { "address", "account", NULL };
	const char *address, *account, *err;
	char why[MAX_CTL_VAL];
	struct list_job *job;

	if (!ctl_keys_ok(reqid, req, keys))
		return;
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		log_warn("token list: calloc");
		child_ctl_done(reqid, 1, "out of memory");
		return;
	}
	job->reqid = reqid;
	address = ctl_req_get(req, "address");
	account = ctl_req_get(req, "account");
	if (address != NULL) {
		if (authd_addr_norm(child_conf, address, job->addr,
		    sizeof(job->addr), why, sizeof(why)) == -1) {
			child_ctl_done(reqid, 1, "%s", why);
			free(job);
			return;
		}
		job->filter.addr = job->addr;
	}
	if (account != NULL) {
		if (authd_account_check(account, &err) == -1) {
			child_ctl_done(reqid, 1, "%s", err);
			free(job);
			return;
		}
		strlcpy(job->account, account, sizeof(job->account));
		job->filter.account = job->account;
	}
	if ((job->ev = evtimer_new(child_base, list_step, job)) == NULL) {
		log_warnx("token list: evtimer_new");
		child_ctl_done(reqid, 1, "out of memory");
		free(job);
		return;
	}
	TAILQ_INSERT_TAIL(&list_jobs, job, entry);
	/* Show the uses up to now, then the first page. */
	authd_use_flush();
	list_step(-1, 0, job);
}

static void
ctl_token_delete(uint32_t reqid, const struct ctl_req *req)
{
	static const char *const keys[] = { "id", "address", "name", NULL };
	const char *idstr, *address, *name;
	char addr[MAX_ADDR], why[MAX_CTL_VAL], id[TOKEN_ID_HEXLEN + 1];
	char logname[2 * MAX_NAME];
	struct token_rec old;
	struct ctl_row row;
	uint64_t tid;
	int res;

	if (!ctl_keys_ok(reqid, req, keys))
		return;
	idstr = ctl_req_get(req, "id");
	address = ctl_req_get(req, "address");
	name = ctl_req_get(req, "name");
	if (idstr != NULL && (address != NULL || name != NULL)) {
		child_ctl_done(reqid, 1, "give either a token id or an "
		    "address and a name, not both");
		return;
	}
	if (idstr != NULL) {
		if (token_id_parse(idstr, &tid) == -1) {
			child_ctl_done(reqid, 1, "invalid token id \"%s\": "
			    "16 hexadecimal digits expected", idstr);
			return;
		}
		res = authd.store->del_id(authd.store, tid, &old);
		if (res == STORE_NOTFOUND) {
			token_id_format(tid, id, sizeof(id));
			child_ctl_done(reqid, 1, "no token with id %s", id);
			return;
		}
	} else if (address != NULL && name != NULL) {
		if (authd_addr_norm(child_conf, address, addr, sizeof(addr),
		    why, sizeof(why)) == -1) {
			child_ctl_done(reqid, 1, "%s", why);
			return;
		}
		res = authd.store->del_name(authd.store, addr, name, &old);
		if (res == STORE_NOTFOUND) {
			child_ctl_done(reqid, 1, "%s has no token named "
			    "\"%s\"", addr, name);
			return;
		}
	} else {
		child_ctl_done(reqid, 1, "token delete needs a token id, or "
		    "an address and a name");
		return;
	}
	if (res != STORE_OK) {
		child_ctl_done(reqid, 1, "the token store failed (see the "
		    "log); nothing was deleted");
		return;
	}
	authd_use_forget(old.id);
	token_id_format(old.id, id, sizeof(id));
	log_info("token deleted id=%s address=%s name=\"%s\"", id, old.addr,
	    log_quote(old.name, logname, sizeof(logname)));
	ctl_row_token(&row, &old);
	child_ctl_row(reqid, &row);
	child_ctl_done(reqid, 0, "token %s deleted", id);
}

void
authd_ctl(uint32_t reqid, const struct ctl_req *req)
{
	switch (req->cmd) {
	case CTL_TOKEN_ADD:
		ctl_token_add(reqid, req);
		break;
	case CTL_TOKEN_LIST:
		ctl_token_list(reqid, req);
		break;
	case CTL_TOKEN_DELETE:
		ctl_token_delete(reqid, req);
		break;
	default:
		child_ctl_done(reqid, 1, "%s: not handled by authd",
		    ctl_cmd_name(req->cmd));
		break;
	}
}

void
authd_ctl_shutdown(void)
{
	struct list_job *job;

	while ((job = TAILQ_FIRST(&list_jobs)) != NULL)
		list_job_free(job);
}
