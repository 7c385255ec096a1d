/*
 * signd.h: the state of the signing process, shared by its files.
 *
 *	signd_keys.c	the key table: loaded from the dkim-dir at start,
 *			on reload and on CTL_DKIM_RELOAD; which keys sign
 *			for a domain; the DNS records of CTL_DKIM_DNS
 *	signd_sign.c	MSG_SIGN from queued: ticket, From: check, signing
 *	signd_ctl.c	control requests forwarded by the master
 */
#ifndef POSTERN_SIGND_H
#define POSTERN_SIGND_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "config.h"
#include "dkim_key.h"
#include "ipc.h"
#include "ticket.h"

/* One configured selector of one domain, and its key if it loaded. */
struct signd_key {
	TAILQ_ENTRY(signd_key) entry;
	char		 domain[256];
	char		 selector[64];
	enum dkim_alg	 alg;
	int		 active;
	EVP_PKEY	*pkey;		/* NULL: missing or unusable */
	char		 why[256];	/* when pkey is NULL */
	char		 record[DKIM_RECORD_MAX];	/* DNS TXT text */
};
TAILQ_HEAD(signd_keys, signd_key);

/* At most this many signatures per message: one per algorithm. */
#define SIGND_MAX_SIGS	2

struct signd_state {
	struct ipc	*queued;
	char		 keydir[PATH_MAX];	/* "" in the chroot; tests */
	unsigned char	 ticket_key[64];
	size_t		 ticket_keylen;
	struct signd_keys keys;
	int		 nkeys;		/* loaded */
	int		 nmissing;	/* configured but not loaded */
	uint64_t	 nsigned;
	uint64_t	 nrefused;
};

extern struct signd_state signd;

/* signd_keys.c */
void	signd_keys_load(const struct config *);
void	signd_keys_free(struct signd_keys *);
/* The active, loaded keys of a domain (at most max); their count. */
int	signd_keys_for(const char *domain, const struct signd_key **, int max);
/* Is any selector configured for the domain? */
int	signd_keys_configured(const char *domain);

/* signd_sign.c */
void	signd_sign_dispatch(struct ipc *, struct ipc_msg *, void *);
/* Steps 1-6 of signd_sign.c on one message: RES_OK with the fields in
 * out, or RES_FAIL / RES_TEMPFAIL with reason. */
int	signd_sign_message(int fd, const unsigned char *ticket, size_t tlen,
	    char *out, size_t outsz, size_t *outlen, char *reason,
	    size_t rsz);

/* signd_ctl.c */
void	signd_ctl(uint32_t reqid, const struct ctl_req *);

#endif
