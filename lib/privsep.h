/*
 * privsep: leaving root for good.
 *
 * privsep_drop(user, root) is called by every child before it reads a
 * single byte from anyone: it looks up the user (while /etc/passwd is
 * still reachable), chroots to root, changes to "/", sets the supplementary
 * groups to the user's primary group only, then the real, effective and
 * saved gid and uid.  It then checks that root cannot be regained
 * (setuid(0) and setgid(0) must fail) and that the directory outside the
 * chroot is out of reach.  Any failure is fatal: a child that kept
 * privileges must not run.
 */
#ifndef POSTERN_PRIVSEP_H
#define POSTERN_PRIVSEP_H

#include <sys/types.h>

void	privsep_drop(const char *user, const char *root);
/* Look a user up: 0 and the ids, or -1 when unknown. */
int	privsep_user(const char *user, uid_t *, gid_t *);

#endif
