/*
 * privsep.c: see privsep.h.
 */
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "log.h"
#include "privsep.h"

int
privsep_user(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL)
		return -1;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

void
privsep_drop(const char *user, const char *root)
{
	uid_t uid;
	gid_t gid;

	if (privsep_user(user, &uid, &gid) == -1)
		fatalx("unknown user %s", user);
	if (uid == 0 || gid == 0)
		fatalx("user %s has uid or gid 0: refusing to run as root",
		    user);
	/*
	 * chroot first, while we still may; then groups before uids, since
	 * once the uid is gone we could no longer change groups.
	 */
	if (chroot(root) == -1)
		fatal("chroot %s", root);
	if (chdir("/") == -1)
		fatal("chdir /");
	if (setgroups(1, &gid) == -1)
		fatal("setgroups");
	if (setresgid(gid, gid, gid) == -1)
		fatal("setresgid");
	if (setresuid(uid, uid, uid) == -1)
		fatal("setresuid");
	/* There must be no way back. */
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("could regain root after dropping privileges");
	if (setgid(0) != -1 || setegid(0) != -1)
		fatalx("could regain gid 0 after dropping privileges");
	if (chdir("..") == -1 || chroot(".") != -1)
		fatalx("chroot %s is not a prison", root);
	if (chdir("/") == -1)
		fatal("chdir /");
}
