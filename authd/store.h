/*
 * store: where authd keeps its tokens, behind one small interface.
 *
 * DESIGN.md ("Growing past one machine"): one node uses the embedded
 * Berkeley DB store (store_bdb.c); several nodes will share a replicated
 * database (PostgreSQL) through the same operations.  authd calls only
 * these; nothing else in authd knows which store it has.
 *
 * A token record holds no secret: only the HMAC of the token (token.h).
 * Ids are random 64-bit values made by authd (token_new_id), unique in the
 * store; (address, name) is unique too.  Addresses are stored as authd
 * canonicalised them (authd_addr_canon) and compared byte for byte here.
 *
 * Every operation is synchronous and returns one of enum store_result.
 * STORE_ERROR means the store could not answer (disk, database): it has
 * been logged, nothing was changed, and authd answers "try again later".
 *
 * lookup(st, hash, rec)	find the token whose hash is given; its cost
 *				does not depend on the number of tokens.
 * get(st, id, rec)		find a token by id.
 * add(st, rec)			store a new token, durably: when it returns
 *				STORE_OK the token survives a crash of the
 *				process or the machine.  STORE_EXISTS: that
 *				address already has a token of that name.
 *				STORE_COLLISION: the id or the hash is taken
 *				(pick a new id or token and try again).
 * del_id(st, id, old)		delete, durably; old (may be NULL) receives
 * del_name(st, addr, name, old) the deleted record.  STORE_NOTFOUND.
 * list(st, filter, pos, max, cb, arg)
 *				call cb for at most max records matching the
 *				filter (NULL fields match anything), from
 *				where pos says, and move pos on; pos->done is
 *				set when there are no more.  Start with a
 *				zeroed pos.  A listing in several calls sees
 *				every record present throughout, once, in a
 *				stable order (by address and name with an
 *				address filter, else by id).  Returns the
 *				number delivered or STORE_ERROR.
 * record_use(st, uses, n)	write the last use of n tokens in one go,
 *				without waiting for the disk (a crash may
 *				lose the latest batch: last use is a hint).
 *				Tokens that no longer exist are skipped.
 * count(st, filter, n)		how many tokens match.
 * sync(st)			housekeeping, called every few seconds
 *				(checkpoints, log removal).
 * close(st)			flush and free; st is gone.
 */
#ifndef POSTERN_STORE_H
#define POSTERN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "token.h"

#define MAX_ACCOUNT	MAX_NAME
#define MAX_CLIENT	64	/* "2001:db8::1" or "[unix]" and the like */

struct token_rec {
	uint64_t	 id;
	unsigned char	 hash[TOKEN_HASH_LEN];
	char		 name[MAX_NAME];
	char		 addr[MAX_ADDR];
	char		 account[MAX_ACCOUNT];	/* "" when none */
	int64_t		 created;
	int64_t		 last_used;		/* 0: never */
	char		 last_client[MAX_CLIENT];
};

struct token_use {
	uint64_t	 id;
	int64_t		 when;
	char		 client[MAX_CLIENT];
};

struct store_filter {
	const char	*addr;		/* NULL: any */
	const char	*account;	/* NULL: any */
};

/* Where a listing stands; opaque to callers, start zeroed. */
struct store_pos {
	int		 started;
	int		 done;
	uint64_t	 id;
	size_t		 keylen;
	unsigned char	 key[MAX_ADDR + MAX_NAME + 8];
};

enum store_result {
	STORE_ERROR = -1,
	STORE_OK = 0,
	STORE_NOTFOUND,
	STORE_EXISTS,
	STORE_COLLISION,
};

typedef void (*store_list_cb)(const struct token_rec *, void *);

struct store {
	const char	*kind;		/* "bdb" */
	int	(*lookup)(struct store *, const unsigned char *hash,
		    struct token_rec *);
	int	(*get)(struct store *, uint64_t id, struct token_rec *);
	int	(*add)(struct store *, const struct token_rec *);
	int	(*del_id)(struct store *, uint64_t id, struct token_rec *old);
	int	(*del_name)(struct store *, const char *addr,
		    const char *name, struct token_rec *old);
	int	(*list)(struct store *, const struct store_filter *,
		    struct store_pos *, size_t max, store_list_cb, void *);
	int	(*record_use)(struct store *, const struct token_use *,
		    size_t n);
	int	(*count)(struct store *, const struct store_filter *,
		    uint64_t *n);
	int	(*sync)(struct store *);
	void	(*close)(struct store *);
};

/* store_bdb_open() flags. */
#define STORE_F_NOSYNC	0x1	/* tests and benchmarks: no fsync at all */

/*
 * Open (creating if need be, and running recovery) the Berkeley DB store
 * whose environment is the directory home (inside authd's chroot, "."
 * with the working directory "/": Berkeley DB would turn "/" into "").
 * NULL on failure, with the reason logged.
 */
struct store *store_bdb_open(const char *home, int flags);

#endif
