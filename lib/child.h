/*
 * child: what every chrooted postern process does the same way.
 *
 * The master starts a child as
 *	PROGRAM -r CHROOT -u USER [-v]
 * with fd 2 the log pipe (see log.h) and fd 3 its channel to the master.
 * child_main() then, as root and before reading anything from anyone:
 * looks up USER, chroots to CHROOT, drops to USER (setgroups, setresgid,
 * setresuid) and checks that root cannot be regained; then it runs the
 * event loop on the master channel.  From the master it receives, in
 * order: the configuration text (MSG_CONF_*), its peer channels
 * (MSG_PEER_CHANNEL), listening sockets, files opened for it, secrets,
 * and finally MSG_START.  Each is handed to the program through its
 * child_ops callbacks; the configuration is parsed here, and a parse
 * failure of the master's own text is fatal.
 *
 * Reloads: the master sends new MSG_CONF_* then MSG_RELOAD; the program's
 * reload callback gets the new config (child_conf already points to it)
 * and the old one, which is freed when it returns.
 *
 * Control requests forwarded by the master arrive in ops->ctl with the
 * master's request number; the program answers with child_ctl_row() zero
 * or more times, then child_ctl_done() exactly once, possibly later.
 * A request whose content the program does not like gets an error answer,
 * never an exit.
 *
 * Health: MSG_PING is answered here.  MSG_CLOCK moves lib/clock.c's
 * offset (only when the config says test-clock yes) and then calls
 * ops->clock, if set.  When the master channel closes, the child exits
 * (the master is gone: nothing to do alone).
 */
#ifndef POSTERN_CHILD_H
#define POSTERN_CHILD_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "config.h"
#include "ipc.h"
#include "proto.h"

struct child_ops {
	int	 proc;	/* PROC_* */
	/* after the first configuration, before anything else */
	void	(*init)(struct config *);
	void	(*peer)(int proc, int fd);
	void	(*listener)(int index, int fd);
	void	(*file)(int kind, const char *name, int fd);
	void	(*secret)(int kind, const unsigned char *, size_t);
	void	(*start)(void);
	void	(*reload)(struct config *newconf, struct config *oldconf);
	void	(*ctl)(uint32_t reqid, const struct ctl_req *);
	void	(*clock)(void);
	void	(*shutdown)(void);	/* SIGTERM: finish quickly */
};

extern struct event_base *child_base;
extern struct config	 *child_conf;
extern struct ipc	 *child_master;

int	child_main(int argc, char **argv, const struct child_ops *);
void	child_ctl_row(uint32_t reqid, const struct ctl_row *);
void	child_ctl_done(uint32_t reqid, int status, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Log the reason and exit: a peer daemon broke the protocol. */
void	child_peer_error(struct ipc *, const char *why, void *);

#endif
