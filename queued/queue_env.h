/*
 * queue_env: the envelope of one queued message, in memory and on disk.
 *
 * An envelope file (queue/ID.env) holds everything queued knows about a
 * message except its content (queue/ID): who sent it, over which session,
 * the DKIM header text signd returned, and per recipient its delivery
 * state.  It is rewritten whole (ID.env.tmp, then rename) whenever a
 * result is recorded, so it is always one consistent version.
 *
 * File format, version 1 (all integers little-endian):
 *
 *	8 bytes		magic "PSTNENV\n"
 *	u32		format version (ENV_VERSION)
 *	u32		payload length
 *	u32		CRC-32 (IEEE 802.3, as zlib) of the payload
 *	payload:
 *	  u64 id, i64 created, str sender, u64 token id, str client,
 *	  str helo, u32 body flags, u64 size, u32 flags, u32 inflight,
 *	  bytes dkim header text, u32 n, n x recipient:
 *	    str address, u32 state, u32 flags, u32 attempts, i64 next,
 *	    i64 last attempt, u32 code, str enhanced, str host, str text
 *
 * where str and bytes are a u32 length then the bytes (no NUL).  The
 * checksum and the exact length make a torn or truncated write visible at
 * recovery: env_decode() refuses the file and queued moves it aside.
 *
 * env_encode() and env_decode() are pure (no I/O, no logging); every
 * limit is checked, so env_decode() is safe on hostile bytes.  An
 * envelope owns its recipient array and DKIM text: env_free() releases
 * them.
 */
#ifndef POSTERN_QUEUE_ENV_H
#define POSTERN_QUEUE_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "dbuf.h"
#include "proto.h"

#define ENV_MAGIC	"PSTNENV\n"
#define ENV_VERSION	1
#define ENV_HDR_SIZE	20
#define ENV_MAX_RCPT	10000		/* recipients of one message */
#define ENV_MAX_DKIM	16384		/* signd's header text */
#define ENV_MAX_FILE	(16 * 1024 * 1024)

/* Per-recipient states. */
enum rcpt_state {
	RCPT_PENDING = 0,	/* to be tried at `next' */
	RCPT_DELIVERED,		/* 2xx from the next hop: final */
	RCPT_FAILED,		/* 5xx or expired: final, bounced */
};

#define RCPT_F_DSN	0x1	/* failure notice queued (or none needed) */
#define RCPT_F_WARNED	0x2	/* delay warning queued */
#define RCPT_F_EXPIRED	0x4	/* failed because the lifetime ran out */

/* Message flags. */
#define ENV_F_HOLD	0x1	/* on hold: not scheduled until released */
#define ENV_F_DSN	0x2	/* a notification generated here (null
				   sender, never signed, never bounced) */
#define ENV_F_CRASHHOLD	0x4	/* held after crash-hold crashes */
#define ENV_F_ALL	0x7

struct env_rcpt {
	char		 addr[MAX_ADDR + 1];
	uint32_t	 state;		/* enum rcpt_state */
	uint32_t	 flags;		/* RCPT_F_* */
	uint32_t	 attempts;
	int64_t		 next;		/* next attempt, clock_now() seconds */
	int64_t		 last;		/* last attempt, 0: none yet */
	uint32_t	 code;		/* last reply code, 0: none */
	char		 enhanced[16];
	char		 host[MAX_HOST];
	char		 text[MAX_REPLY];
};

struct envelope {
	uint64_t	 id;
	int64_t		 created;
	char		 sender[MAX_ADDR + 1];	/* "" is the null sender */
	uint64_t	 token;		/* 0: no token (no-auth listener) */
	char		 client[MAX_HOST];
	char		 helo[MAX_HOST];
	uint32_t	 body;		/* BODY_8BIT | BODY_SMTPUTF8 */
	uint64_t	 size;		/* bytes of queue/ID */
	uint32_t	 flags;		/* ENV_F_* */
	uint32_t	 inflight;	/* crashes in a row during a round */
	char		*dkim;		/* header text to prepend, or NULL */
	size_t		 dkimlen;
	uint32_t	 nrcpt;
	uint32_t	 rcptcap;	/* rcpt[] allocated (env_add_rcpt) */
	struct env_rcpt	*rcpt;
};

void	env_init(struct envelope *);
void	env_free(struct envelope *);
/* Add a recipient in state pending: 0, or -1 (too many, too long). */
int	env_add_rcpt(struct envelope *, const char *addr, int64_t next);
/* Replace the DKIM text: 0, or -1 when too long or out of memory. */
int	env_set_dkim(struct envelope *, const void *, size_t);

/* Append the whole file image to b: 0, or -1 (too big, no memory). */
int	env_encode(const struct envelope *, struct dbuf *b);
/* Parse a file image into env (initialised here): 0, or -1 with *why. */
int	env_decode(const void *, size_t, struct envelope *, const char **why);

uint32_t env_crc32(uint32_t crc, const void *, size_t);

/* Queue ids: 16 upper-case hex digits of a u64 (not 0). */
#define QID_LEN		16
void	qid_format(uint64_t, char buf[QID_LEN + 1]);
/* 0 when s is not exactly a queue id. */
uint64_t qid_parse(const char *s);
/* A new id: seconds in the top 36 bits, random below. */
uint64_t qid_new(int64_t now);

/*
 * Token ids as `posternctl token list' prints them (16 lower-case hex
 * digits; 1 to 16 digits of either case are read).  Kept here so that
 * queued does not link the token hashing code and its crypto library.
 */
void	qtok_format(uint64_t, char buf[QID_LEN + 1]);
int	qtok_parse(const char *s, uint64_t *);

/* Counting helpers. */
uint32_t env_count(const struct envelope *, uint32_t state);
/* The domain part of an address (after the last '@'), or "". */
const char *env_rcpt_domain(const char *addr);

#endif
