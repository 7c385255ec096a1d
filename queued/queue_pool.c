/*
 * queue_pool.c: spool files used again instead of being freed.
 *
 *	void	pool_init(void)
 *	int	pool_create(const char *path)
 *	uint64_t pool_release(const char *path)
 *	void	pool_settle(uint64_t name, int synced)
 *
 * Why.  A message used to cost two new inodes (its content and its
 * envelope), two freed ones, and the blocks of both allocated and freed.
 * On ext4 without a journal, as on the machine the benchmarks run on,
 * both are dear: the inode allocator skips every free inode whose
 * deletion is recent (find_inode_bit -> recently_deleted, a buffer
 * lookup each), so a new inode costs more the more were freed in the
 * last seconds; and with the `discard' mount option every freed extent
 * is a discard request that the freeing process waits for
 * (ext4_free_blocks -> blkdev_issue_discard -> submit_bio_wait), here in
 * queued's event loop.  With a journal both are cheaper, but an inode
 * made and freed is still metadata written twice.  So the files of a
 * delivered message are kept, as they are, in free/ (at most POOL_MAX of
 * them), and a new message's files are two of those renamed into place
 * and written over from the start: in steady state no inode is made or
 * freed, and a block only when a message is longer or shorter than the
 * one before it in that file.
 *
 * pool_init() (at start, before recovery) makes free/ and takes the
 * files in it (their removal from queue/ is on disk: they are seen
 * there); a name that is not ours is removed.
 *
 * pool_create() opens path for writing at offset 0, mode 0600, with
 * O_CREAT|O_EXCL semantics (EEXIST if path exists): a file from free/
 * when there is one, else a new one.  A file from free/ still holds the
 * bytes of its last message: the caller must cut it to what it wrote
 * (spool_close_file) before anyone reads it; nothing is truncated here,
 * so that no block is freed for nothing.  The descriptor, or -1 with
 * errno.
 *
 * pool_release() is unlink(path) for a file nobody else reads any more
 * (relayd and signd have closed their descriptors: never call it while
 * one may still be held, or that reader would see the next message's
 * bytes).  The file is renamed into free/, or unlinked when the pool is
 * full.  The rename is the removal, and the caller's sync makes it
 * durable as it would an unlink.  It returns the file's name in free/
 * (0 when it was unlinked, or is gone), which the caller hands to
 * pool_settle() once that sync has returned: only then may the file be
 * used again (synced), or it is unlinked (the sync failed).  Why wait: if
 * a new message were written into the file before its removal from
 * queue/ is on disk, a power loss could bring the old message back with
 * the new one's bytes in it, and deliver them to the old recipients.
 * Errors are logged.  The bytes of a delivered message stay in its file
 * until the file is used again: free/ is as private as queue/ (queued's
 * user only).
 *
 * Only new files come from the pool.  A rewritten envelope is still a
 * new file renamed over the old one (queue_spool.c): writing over an
 * acknowledged envelope in place could leave it torn at a power loss.
 * Where renameat2 is not supported (EINVAL), the pool turns itself off
 * and these are open and unlink.  The event loop calls all of them; none
 * waits for the disk.
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
static size_t	 nunsettled;		/* released, not yet synced */
static uint64_t	 pool_seq = 1;		/* the next name; 0 is none */
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
		    name == 0 || npool == POOL_MAX) {
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
pool_create(const char *path)
{
	int fd, saved;

	if (pool_take(path) == -1) {
		if (errno == EEXIST)
			return -1;
		return open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
	}
	/*
	 * No O_TRUNC: ext4 would free the blocks (and wait for their
	 * discard), and mark the file to be flushed at its close, in the
	 * event loop (auto_da_alloc).  A former envelope may carry the
	 * in-flight mark: 0600 again.
	 */
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1 ||
	    fchmod(fd, 0600) == -1) {
		saved = errno;
		if (fd != -1)
			close(fd);
		unlink(path);
		errno = saved;
		return -1;
	}
	return fd;
}

uint64_t
pool_release(const char *path)
{
	char to[64];
	uint64_t name;

	if (!pool_off && npool + nunsettled < POOL_MAX) {
		name = pool_seq++;
		pool_path(to, sizeof(to), name);
		if (rename(path, to) == 0) {
			nunsettled++;
			return name;
		}
		if (errno == ENOENT)
			return 0;
	}
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink %s", path);
	return 0;
}

void
pool_settle(uint64_t name, int synced)
{
	char path[64];

	if (name == 0)
		return;
	nunsettled--;
	if (synced && npool < POOL_MAX) {
		pool[npool++] = name;
		return;
	}
	pool_path(path, sizeof(path), name);
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink %s", path);
}
