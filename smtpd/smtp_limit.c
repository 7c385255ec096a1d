/*
 * smtp_limit.c: sessions per client address ("limit sessions-per-client").
 *
 * A tree of the client addresses that have sessions, each with a count;
 * an address leaves the tree with its last session, so the tree is as big
 * as the set of clients connected right now.  The address is the real
 * client's, after a PROXY header.  The total ("limit sessions") is
 * checked at accept, in smtpd.c.
 */
#include <sys/types.h>
#include <sys/tree.h>

#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "log.h"
#include "smtpd.h"

/* Sessions per client address (sessions-per-client). */
struct smtp_client {
	RB_ENTRY(smtp_client) entry;
	char		 addr[64];
	int		 n;
};

static int
limit_client_cmp(struct smtp_client *a, struct smtp_client *b)
{
	return strcmp(a->addr, b->addr);
}

RB_HEAD(limit_clients, smtp_client);
RB_PROTOTYPE(limit_clients, smtp_client, entry, limit_client_cmp);
RB_GENERATE(limit_clients, smtp_client, entry, limit_client_cmp);
static struct limit_clients limit_clients = RB_INITIALIZER(&limit_clients);

/* Count the session against its client address; -1 when over the limit. */
int
smtp_limit_add(struct smtp_session *s)
{
	struct smtp_client key, *c;

	(void)strlcpy(key.addr, s->client, sizeof(key.addr));
	if ((c = RB_FIND(limit_clients, &limit_clients, &key)) == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			log_warn("calloc");
			return -1;
		}
		(void)strlcpy(c->addr, s->client, sizeof(c->addr));
		RB_INSERT(limit_clients, &limit_clients, c);
	}
	if (c->n >= child_conf->max_sessions_client) {
		if (c->n == 0) {
			RB_REMOVE(limit_clients, &limit_clients, c);
			free(c);
		}
		return -1;
	}
	c->n++;
	s->climit = c;
	return 0;
}

/* A session ends: release what it counted. */
void
smtp_limit_release(struct smtp_session *s)
{
	struct smtp_client *c = s->climit;

	if (c == NULL)
		return;
	s->climit = NULL;
	if (--c->n == 0) {
		RB_REMOVE(limit_clients, &limit_clients, c);
		free(c);
	}
}
