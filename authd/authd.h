/*
 * authd.h: what authd's files share.  See authd.c for the process.
 *
 *	authd.c		entry, child_ops callbacks, secrets, timers
 *	authd_login.c	the smtpd channel: MSG_AUTH_LOGIN, MSG_AUTH_CHECK
 *	authd_ctl.c	posternctl token add|list|delete (via the master)
 *	authd_use.c	last use of each token, kept in memory and written
 *			to the store in batches
 *	authd_addr.c	token addresses and names: checks, canonical form
 *	store.h, store_bdb.c
 *			the token store
 */
#ifndef POSTERN_AUTHD_H
#define POSTERN_AUTHD_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ipc.h"
#include "store.h"

/* Limits of what "token add" accepts, in bytes (see authd_addr.c). */
#define TOKEN_NAME_MAX		127	/* MAX_NAME - 1 */
#define TOKEN_ACCOUNT_MAX	127	/* MAX_ACCOUNT - 1 */
#if TOKEN_NAME_MAX >= MAX_NAME || TOKEN_ACCOUNT_MAX >= MAX_ACCOUNT
#error "token limits must fit the store's buffers"
#endif
#define STRINGIFY_(x)		#x
#define STRINGIFY(x)		STRINGIFY_(x)

#define AUTHD_KEY_MAX		256	/* MSG_SECRET carries at most 256 */
/*
 * A login ticket lasts as long as the session it is made for can (timeout
 * session), plus AUTHD_TICKET_MARGIN for the last message's commit and
 * signing; never more than AUTHD_TICKET_LIFETIME.
 */
#define AUTHD_TICKET_LIFETIME	86400
#define AUTHD_TICKET_MARGIN	300

struct authd_state {
	struct store	*store;
	struct ipc	*smtpd;
	unsigned char	 token_key[AUTHD_KEY_MAX];
	size_t		 token_keylen;		/* 0: not received yet */
	unsigned char	 ticket_key[AUTHD_KEY_MAX];
	size_t		 ticket_keylen;
};

extern struct authd_state authd;

/* authd_login.c */
void	authd_login_dispatch(struct ipc *, struct ipc_msg *, void *);

/* authd_ctl.c */
void	authd_ctl(uint32_t reqid, const struct ctl_req *);
void	authd_ctl_shutdown(void);

/* authd_use.c */
void	authd_use_init(void);
void	authd_use_record(uint64_t id, int64_t when, const char *client);
void	authd_use_forget(uint64_t id);
void	authd_use_flush(void);
void	authd_use_shutdown(void);

/* authd_addr.c */
int	authd_addr_canon(const struct config *, const char *in, char *out,
	    size_t outsz, char *why, size_t whysz);
int	authd_addr_norm(const struct config *, const char *in, char *out,
	    size_t outsz, char *why, size_t whysz);
int	authd_user_matches(const struct config *, const char *user,
	    const char *tokaddr);
int	authd_name_check(const char *name, const char **why);
int	authd_account_check(const char *account, const char **why);
int	authd_client_check(const char *client);

#endif
