/*
 * authd_use.c: the last use of each token (time, client address), kept
 * in memory and written to the store in batches.
 *
 * A login must not wait for the disk, and "last used" is a hint for the
 * operator, not a record that has to survive a power cut.  So a login
 * only notes its token here (one entry per token: a device that logs in
 * every minute costs one write per batch, not one per login), and the
 * notes go to the store in one transaction, without fsync, every
 * AUTHD_USE_INTERVAL seconds or as soon as AUTHD_USE_BATCH tokens are
 * waiting, whichever comes first; and once more on shutdown.  Staleness
 * is thus bounded by the interval; a crash of authd loses at most the
 * notes not yet written.
 *
 * The same timer calls store->sync (checkpoints) so that recovery after
 * a crash stays short.  A listing flushes first, so that the operator
 * sees the uses up to that moment.
 */
#include <sys/types.h>
#include <sys/tree.h>

#include <stdlib.h>
#include <string.h>

#include "authd.h"
#include "child.h"
#include "log.h"

#define AUTHD_USE_INTERVAL	5	/* seconds */
#define AUTHD_USE_BATCH		512	/* tokens waiting */

struct use_note {
	RB_ENTRY(use_note) entry;
	struct token_use u;
};

static int
use_cmp(struct use_note *a, struct use_note *b)
{
	return a->u.id < b->u.id ? -1 : a->u.id > b->u.id;
}

RB_HEAD(use_tree, use_note);
/* libbsd's RB_*_STATIC want a __unused that glibc does not define. */
#define USE_TREE_ATTR	static __attribute__((__unused__))
RB_PROTOTYPE_INTERNAL(use_tree, use_note, entry, use_cmp, USE_TREE_ATTR)
RB_GENERATE_INTERNAL(use_tree, use_note, entry, use_cmp, USE_TREE_ATTR)

static struct use_tree	 use_notes = RB_INITIALIZER(&use_notes);
static size_t		 use_count;
static struct event	*use_ev;

static void
use_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct timeval tv = { AUTHD_USE_INTERVAL, 0 };

	authd_use_flush();
	if (authd.store != NULL)
		authd.store->sync(authd.store);
	evtimer_add(use_ev, &tv);
}

void
authd_use_init(void)
{
	struct timeval tv = { AUTHD_USE_INTERVAL, 0 };

	if ((use_ev = evtimer_new(child_base, use_timer, NULL)) == NULL)
		fatalx("evtimer_new");
	evtimer_add(use_ev, &tv);
}

void
authd_use_record(uint64_t id, int64_t when, const char *client)
{
	struct use_note key, *n;

	key.u.id = id;
	if ((n = RB_FIND(use_tree, &use_notes, &key)) == NULL) {
		if ((n = calloc(1, sizeof(*n))) == NULL) {
			log_warn("last use: calloc");
			return;
		}
		n->u.id = id;
		RB_INSERT(use_tree, &use_notes, n);
		use_count++;
	}
	if (when >= n->u.when) {
		n->u.when = when;
		if (strlcpy(n->u.client, client, sizeof(n->u.client)) >=
		    sizeof(n->u.client))
			n->u.client[0] = '\0';
	}
	if (use_count >= AUTHD_USE_BATCH)
		authd_use_flush();
}

void
authd_use_forget(uint64_t id)
{
	struct use_note key, *n;

	key.u.id = id;
	if ((n = RB_FIND(use_tree, &use_notes, &key)) != NULL) {
		RB_REMOVE(use_tree, &use_notes, n);
		free(n);
		use_count--;
	}
}

void
authd_use_flush(void)
{
	struct token_use *batch;
	struct use_note *n, *next;
	size_t i = 0;

	if (use_count == 0 || authd.store == NULL)
		return;
	if ((batch = calloc(use_count, sizeof(*batch))) == NULL) {
		log_warn("last use: calloc");
		return;
	}
	RB_FOREACH_SAFE(n, use_tree, &use_notes, next) {
		batch[i++] = n->u;
		RB_REMOVE(use_tree, &use_notes, n);
		free(n);
	}
	use_count = 0;
	/* On failure the notes are dropped: last use is a hint (above). */
	if (authd.store->record_use(authd.store, batch, i) != STORE_OK)
		log_warnx("last use of %zu tokens not recorded", i);
	else
		log_debug("last use of %zu tokens recorded", i);
	free(batch);
}

void
authd_use_shutdown(void)
{
	authd_use_flush();
	if (use_ev != NULL) {
		event_free(use_ev);
		use_ev = NULL;
	}
}
