/*
 * queue_pool.c: spool files used again instead of being freed.
 *
 *	void	pool_init(void)
 *	int	pool_create(const char *path, int excl)
 *	void	pool_release(const char *path)
 *	int	pool_replace(const char *tmp, const char *path)
 *
 * Why.  A message used to cost two new inodes (its content and its
 * envelope) and two freed ones.  On ext4 without a journal, the inode
 * allocator skips every free inode whose deletion is recent
 * (find_inode_bit -> recently_deleted, a buffer lookup each), so the
 * price of one new inode grows with the number freed in the last
 * seconds: at a thousand messages a second, queued spent most of its
 * time there.  With a journal the allocator does not look, but an inode
 * made and freed is still metadata written twice.  So files whose
 * message is gone are kept, empty, in free/ (at most POOL_MAX of them),
 * and a new spool file is one of those renamed into place when there is
 * one.  In steady state no inode is allocated or freed.
 *
 * pool_init() (at start, before recovery) makes free/ and takes what is
 * in it: every file is emptied again (a crash may have come between the
 * rename and the truncation), a name that is not ours is removed.
 *
 * pool_create() opens path for writing, mode 0600, empty: with excl, as
 * O_CREAT|O_EXCL would (EEXIST if path exists), else as O_CREAT|O_TRUNC.
 * It returns the descriptor, or -1 with errno.
 *
 * pool_release() is unlink(path) for a file nobody else reads any more
 * (relayd and signd have closed their descriptors: never call it while
 * one may still be held, or that reader would see the next message's
 * bytes): the file is renamed into free/ and truncated, or unlinked when
 * the pool is full.  The rename is the removal, and the caller's sync
 * makes it durable as it would an unlink.  Errors are logged.
 *
 * pool_replace() is rename(tmp, path) that keeps the inode path had:
 * the two are exchanged (renameat2 RENAME_EXCHANGE, atomic: path is
 * always the old file or the new one) and the old one, now at tmp, is
 * released.  0, or -1 with errno.
 *
 * Where renameat2 is not supported (EINVAL), the pool turns itself off
 * and these are open, unlink and rename.  The event loop calls all of
 * them; none waits for the disk.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "queued.h"

#define POOL_MAX	4096	/* empty files kept in free/ */

static uint64_t	 pool[POOL_MAX];	/* names in free/, a stack */
static size_t	 npool;
static uint64_t	 pool_seq;		/* the next name */
static int	 pool_off;

static void
pool_path(char *buf, size_t bufsz, uint64_t name)
{
	if ((size_t)snprintf(buf, bufsz, "%s/%016llX", DIR_FREE,
	    (unsigned long long)name) >= bufsz)
		fatalx("pool path too long");
}

void
pool_init(void)
{
	struct dirent *de;
	DIR *d;
	char path[PATH_MAX], *end;
	unsigned long long name;

	if (mkdir(DIR_FREE, 0700) == -1 && errno != EEXIST)
		fatal("mkdir %s", DIR_FREE);
	if ((d = opendir(DIR_FREE)) == NULL)
		fatal("opendir %s", DIR_FREE);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", DIR_FREE, de->d_name);
		errno = 0;
		name = strtoull(de->d_name, &end, 16);
		if (strlen(de->d_name) != 16 || *end != '\0' || errno != 0 ||
		    npool == POOL_MAX || truncate(path, 0) == -1) {
			if (unlink(path) == -1)
				log_warn("unlink %s", path);
			continue;
		}
		pool[npool++] = name;
		if (name >= pool_seq)
			pool_seq = name + 1;
	}
	closedir(d);
}

/* Rename a pooled file to path: 0, or -1 with errno (the pool is empty,
 * path exists, or the file could not be moved). */
static int
pool_take(const char *path)
{
	char from[64];

	while (!pool_off && npool > 0) {
		pool_path(from, sizeof(from), pool[npool - 1]);
		if (renameat2(AT_FDCWD, from, AT_FDCWD, path,
		    RENAME_NOREPLACE) == 0) {
			npool--;
			return 0;
		}
		if (errno == EEXIST)
			return -1;
		if (errno == EINVAL || errno == ENOSYS) {
			pool_off = 1;
			break;
		}
		/* Gone from free/ (or unusable): forget that name. */
		if (errno != ENOENT)
			log_warn("rename %s", from);
		npool--;
	}
	errno = ENOENT;
	return -1;
}

int
pool_create(const char *path, int excl)
{
	int fd;

	if (pool_take(path) == 0) {
		/* Empty already; a recycled envelope may have had the mark. */
		if ((fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)) == -1)
			return -1;
		if (fchmod(fd, 0600) == -1) {
			close(fd);
			return -1;
		}
		return fd;
	}
	if (excl && errno == EEXIST)
		return -1;
	return open(path, O_WRONLY | O_CREAT | O_CLOEXEC |
	    (excl ? O_EXCL : O_TRUNC), 0600);
}

void
pool_release(const char *path)
{
	char to[64];
	uint64_t name;

	if (!pool_off && npool < POOL_MAX) {
		name = pool_seq++;
		pool_path(to, sizeof(to), name);
		if (rename(path, to) == 0) {
			/* Nothing of the message stays behind. */
			if (truncate(to, 0) == 0)
				pool[npool++] = name;
			else if (unlink(to) == -1)
				log_warn("unlink %s", to);
			return;
		}
		if (errno == ENOENT)
			return;
	}
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink %s", path);
}

int
pool_replace(const char *tmp, const char *path)
{
	if (!pool_off) {
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path,
		    RENAME_EXCHANGE) == 0) {
			pool_release(tmp);
			return 0;
		}
		if (errno == EINVAL || errno == ENOSYS)
			pool_off = 1;
		else if (errno != ENOENT)
			return -1;
	}
	return rename(tmp, path);
}
