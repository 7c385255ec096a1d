/*
 * queue_spool.c: the spool on disk, and recovery at start.
 *
 * queued is chrooted to the spool directory, so every path is relative:
 *
 *	incoming/ID, incoming/ID.env	a message being received; nothing
 *					here was ever acknowledged
 *	queue/ID, queue/ID.env		committed: content and envelope
 *	queue/ID.env.tmp		an envelope being rewritten
 *	corrupt/			what recovery could not read, moved
 *					aside (never deleted silently)
 *	free/				empty files kept to be used again
 *					(queue_pool.c)
 *
 * ID is the 16-digit queue id.  Files are 0600, owned by queued's user;
 * queue/ID.env is 0700 while a delivery round of its message is out at
 * relayd (the in-flight mark, below).  Nothing here waits for the disk:
 * durability is queue_sync.c's job, and callers ask for a sync after the
 * renames that matter.
 *
 * The in-flight mark.  Before its batches leave for relayd, a message's
 * envelope gets the owner-execute bit (spool_mark_inflight): one chmod,
 * no new file and no sync.  The bit goes when the round's results are
 * recorded, because that writes a new envelope (0600) or removes it.  The
 * mark is there for recovery after a *process* crash (a message that
 * makes relayd, or any child, die takes the whole tree down): the page
 * cache outlives the processes, so the bit is seen at the restart without
 * having been flushed.  After a power loss or a kernel crash the bit may
 * be lost with everything else not yet synced: such a message is then
 * retried without the back-off and is not counted towards crash-hold,
 * which is right, since no message causes a power loss.  Acknowledged
 * messages do not depend on the mark: they were synced at their commit.
 *
 * Recovery (spool_recover, at start, before any peer is served):
 *   1. incoming/ is emptied: none of it was acknowledged.
 *   2. queue/ID.env.tmp files are removed: the rename that would have
 *      made them current never happened, the previous ID.env stands.
 *   3. Every queue/ID.env is read.  One that does not decode (torn write,
 *      bad checksum) or whose message file is missing or of the wrong size
 *      was never acknowledged (the 250 follows the sync that makes both
 *      whole): both files are moved to corrupt/ with a log line.
 *   4. A queue/ID without an envelope is removed: the crash came between
 *      the two renames of its commit, before its 250.
 *   5. A message whose envelope carries the in-flight mark (a round that
 *      never completed) has the crash counted: env.inflight, the crashes
 *      in a row, goes up by one and is written (a new 0600 envelope, so
 *      the mark goes).  A message with crashes counted gets a back-off of
 *      retry-initial for its pending recipients, not an immediate retry;
 *      at crash-hold such crashes in a row it is put on hold with a log
 *      line, so that one message that kills a process cannot keep the
 *      daemon restarting.  The count goes back to 0 when a round ends.
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

#include "child.h"
#include "log.h"
#include "queued.h"

#define HEADERS_MAX	65536	/* header section kept for a DSN */

void
spool_path(char *buf, size_t bufsz, const char *dir, uint64_t id,
    const char *suffix)
{
	char qid[QID_LEN + 1];

	qid_format(id, qid);
	if ((size_t)snprintf(buf, bufsz, "%s/%s%s", dir, qid, suffix) >= bufsz)
		fatalx("spool path too long");
}

static void
spool_mkdir(const char *dir)
{
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		fatal("mkdir %s", dir);
}

void
spool_init(void)
{
	spool_mkdir(DIR_INCOMING);
	spool_mkdir(DIR_QUEUE);
	spool_mkdir(DIR_CORRUPT);
	pool_init();
}

/*
 * Is id in use?  O_EXCL on incoming/ID covers the messages being
 * received and signed, but not those whose commit has renamed them into
 * queue/ and waits for the sync (they are in no table yet): a second
 * message with that id would rename its files over theirs.  So queue/ID
 * must not exist either, whatever holds it.
 */
static int
spool_id_taken(uint64_t id)
{
	char path[64];
	struct stat st;

	if (msg_find(id) != NULL)
		return 1;
	spool_path(path, sizeof(path), DIR_QUEUE, id, "");
	return lstat(path, &st) == 0 || errno != ENOENT;
}

/* A new incoming/ID, created exclusively: the fd, or -1 with errno. */
int
spool_open_message(uint64_t *idp, int64_t now)
{
	char path[64];
	int fd, tries;

	for (tries = 0; tries < 16; tries++) {
		*idp = qid_new(now);
		if (spool_id_taken(*idp))
			continue;
		spool_path(path, sizeof(path), DIR_INCOMING, *idp, "");
		fd = pool_create(path);
		if (fd != -1 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

int
spool_write_all(int fd, const void *p, size_t len)
{
	const unsigned char *s = p;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, s, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += n;
		len -= n;
	}
	return 0;
}

/*
 * Close a new file of the spool (spool_open_message, or a new envelope)
 * once len bytes were written to it from offset 0: a file taken from
 * free/ may still be longer (queue_pool.c), and is cut to len first.
 * The descriptor is closed in any case.  0, or -1 with errno.
 */
int
spool_close_file(int fd, uint64_t len)
{
	struct stat st;
	int saved;

	if (fstat(fd, &st) == -1 || ((uint64_t)st.st_size > len &&
	    ftruncate(fd, (off_t)len) == -1)) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

/*
 * Write an envelope.  excl: a new DIR/ID.env (the commit path); else
 * rewrite queue/ID.env through ID.env.tmp and a rename, so that a crash
 * leaves either the old or the new version, never half of one.
 * 0, or -1 with errno (ENOSPC: the disk is full).
 */
int
spool_write_env(const char *dir, uint64_t id, const struct envelope *env,
    int excl)
{
	char path[64], final[64];
	struct dbuf b;
	int fd, saved;

	dbuf_init(&b, ENV_MAX_FILE);
	if (env_encode(env, &b) == -1) {
		dbuf_free(&b);
		errno = EFBIG;
		return -1;
	}
	spool_path(final, sizeof(final), dir, id, ".env");
	spool_path(path, sizeof(path), dir, id, excl ? ".env" : ".env.tmp");
	if (excl)
		fd = pool_create(path);
	else
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		goto fail;
	if (spool_write_all(fd, b.data, b.len) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail_unlink;
	}
	if ((excl ? spool_close_file(fd, b.len) : close(fd)) == -1)
		goto fail_unlink;
	if (!excl && rename(path, final) == -1)
		goto fail_unlink;
	dbuf_free(&b);
	return 0;

fail_unlink:
	saved = errno;
	unlink(path);
	errno = saved;
fail:
	saved = errno;
	dbuf_free(&b);
	errno = saved;
	return -1;
}

/* The in-flight mark on queue/ID.env (see above): 0, or -1 with errno. */
int
spool_mark_inflight(uint64_t id)
{
	char path[64];

	spool_path(path, sizeof(path), DIR_QUEUE, id, ".env");
	return chmod(path, SPOOL_MODE_INFLIGHT);
}

/* Move a received message into the queue: content first, then envelope. */
int
spool_commit_files(uint64_t id)
{
	char from[64], to[64];

	spool_path(from, sizeof(from), DIR_INCOMING, id, "");
	spool_path(to, sizeof(to), DIR_QUEUE, id, "");
	if (rename(from, to) == -1)
		return -1;
	spool_path(from, sizeof(from), DIR_INCOMING, id, ".env");
	spool_path(to, sizeof(to), DIR_QUEUE, id, ".env");
	return rename(from, to);
}

/*
 * Remove a message whose files nobody else has open (every batch is
 * done), keeping its inodes for new files (queue_pool.c): envelope
 * first, so no envelope outlives its content.  pooled[] gets their names
 * in free/, for pool_settle() when the caller's sync has returned.
 */
void
spool_remove(uint64_t id, uint64_t pooled[2])
{
	char path[64];

	spool_path(path, sizeof(path), DIR_QUEUE, id, ".env");
	pooled[0] = pool_release(path);
	spool_path(path, sizeof(path), DIR_QUEUE, id, "");
	pooled[1] = pool_release(path);
}

/* Remove a message: envelope first, so no envelope outlives its content. */
void
spool_unlink(const char *dir, uint64_t id)
{
	char path[64];

	spool_path(path, sizeof(path), dir, id, ".env");
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink %s", path);
	spool_path(path, sizeof(path), dir, id, "");
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink %s", path);
}

void
spool_corrupt(uint64_t id, const char *why)
{
	char from[64], to[64], qid[QID_LEN + 1];

	qid_format(id, qid);
	log_warnx("queued: id=%s envelope unusable (%s): moved to %s/",
	    qid, why, DIR_CORRUPT);
	spool_path(from, sizeof(from), DIR_QUEUE, id, ".env");
	spool_path(to, sizeof(to), DIR_CORRUPT, id, ".env");
	if (rename(from, to) == -1 && errno != ENOENT)
		log_warn("rename %s", from);
	spool_path(from, sizeof(from), DIR_QUEUE, id, "");
	spool_path(to, sizeof(to), DIR_CORRUPT, id, "");
	if (rename(from, to) == -1 && errno != ENOENT)
		log_warn("rename %s", from);
}

static int
spool_read_file(const char *path, size_t max, char **bufp, size_t *lenp,
    int whole, mode_t *modep)
{
	struct stat st;
	char *buf;
	size_t len, off = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || (whole && (size_t)st.st_size > max)) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	if (modep != NULL)
		*modep = st.st_mode;
	len = (size_t)st.st_size < max ? (size_t)st.st_size : max;
	if ((buf = malloc(len + 1)) == NULL) {
		close(fd);
		return -1;
	}
	while (off < len) {
		if ((n = read(fd, buf + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			free(buf);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		off += n;
	}
	close(fd);
	buf[off] = '\0';
	*bufp = buf;
	*lenp = off;
	return 0;
}

/* Read queue/ID.env; *markedp (if not NULL): does it carry the mark? */
static int
spool_read_env_marked(uint64_t id, struct envelope *env, int *markedp,
    const char **why)
{
	char path[64], *buf;
	size_t len;
	mode_t mode;
	int rv;

	spool_path(path, sizeof(path), DIR_QUEUE, id, ".env");
	if (spool_read_file(path, ENV_MAX_FILE, &buf, &len, 1, &mode) == -1) {
		*why = strerror(errno);
		env_init(env);
		return -1;
	}
	rv = env_decode(buf, len, env, why);
	free(buf);
	if (rv == 0 && env->id != id) {
		*why = "envelope of another message";
		env_free(env);
		return -1;
	}
	if (markedp != NULL)
		*markedp = (mode & S_IXUSR) != 0;
	return rv;
}

int
spool_read_env(uint64_t id, struct envelope *env, const char **why)
{
	return spool_read_env_marked(id, env, NULL, why);
}

/*
 * The header section of queue/ID (up to the empty line, at most 64 KiB,
 * cut at a line end), for notifications and `queue show'.
 */
int
spool_read_headers(uint64_t id, char **bufp, size_t *lenp)
{
	char path[64], *buf, *p;
	size_t len;

	spool_path(path, sizeof(path), DIR_QUEUE, id, "");
	if (spool_read_file(path, HEADERS_MAX, &buf, &len, 0, NULL) == -1)
		return -1;
	if ((p = strstr(buf, "\r\n\r\n")) != NULL)
		len = p - buf + 2;
	else if ((p = strstr(buf, "\n\n")) != NULL)
		len = p - buf + 1;
	else if ((p = memrchr(buf, '\n', len)) != NULL)
		len = p - buf + 1;
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
}

static void
spool_empty_incoming(void)
{
	struct dirent *de;
	DIR *d;
	char path[PATH_MAX];
	int n = 0;

	if ((d = opendir(DIR_INCOMING)) == NULL)
		fatal("opendir %s", DIR_INCOMING);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", DIR_INCOMING, de->d_name);
		if (unlink(path) == -1)
			log_warn("unlink %s", path);
		else
			n++;
	}
	closedir(d);
	if (n > 0)
		log_info("queued: recovery removed %d unacknowledged "
		    "incoming file(s)", n);
}

/* Recovery step 3 and 5 for one envelope. */
static void
spool_recover_env(uint64_t id, int64_t now)
{
	struct envelope env;
	struct qmsg *m;
	struct stat st;
	const char *why;
	char path[64], qid[QID_LEN + 1];
	uint32_t i;
	int64_t until;
	int marked, rewrite = 0;

	if (spool_read_env_marked(id, &env, &marked, &why) == -1) {
		spool_corrupt(id, why);
		return;
	}
	spool_path(path, sizeof(path), DIR_QUEUE, id, "");
	if (stat(path, &st) == -1 || (uint64_t)st.st_size != env.size) {
		spool_corrupt(id, "message file missing or of the wrong size");
		env_free(&env);
		return;
	}
	qid_format(id, qid);
	if (marked && env.inflight < UINT32_MAX) {
		env.inflight++;
		rewrite = 1;
	}
	if (env.inflight > 0) {
		if (child_conf->crash_hold > 0 &&
		    env.inflight >= (uint32_t)child_conf->crash_hold &&
		    !(env.flags & ENV_F_HOLD)) {
			env.flags |= ENV_F_HOLD | ENV_F_CRASHHOLD;
			log_warnx("queued: id=%s held: in flight at %u crashes "
			    "in a row (release with posternctl queue release)",
			    qid, env.inflight);
			rewrite = 1;
		} else {
			until = now + child_conf->retry_initial;
			for (i = 0; i < env.nrcpt; i++)
				if (env.rcpt[i].state == RCPT_PENDING &&
				    env.rcpt[i].next < until)
					env.rcpt[i].next = until;
			log_info("queued: id=%s was in flight at a crash "
			    "(%u in a row): retry in %llds", qid, env.inflight,
			    (long long)child_conf->retry_initial);
		}
	}
	/* The count, and the hold, outlive the next crash; the mark goes. */
	if (rewrite && spool_write_env(DIR_QUEUE, id, &env, 0) == -1)
		log_warn("queued: id=%s envelope", qid);
	if ((m = msg_add(&env, now)) == NULL)
		fatal("recovery");
	queue_stats.recovered++;
	env_free(&env);
}

void
spool_recover(int64_t now)
{
	struct dirent *de;
	DIR *d;
	char path[PATH_MAX], name[QID_LEN + 1];
	uint64_t id, *bare = NULL, *grown;
	size_t nbare = 0, capbare = 0, i, len;
	int nremoved = 0;

	spool_empty_incoming();
	if ((d = opendir(DIR_QUEUE)) == NULL)
		fatal("opendir %s", DIR_QUEUE);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		len = strlen(de->d_name);
		if (len < QID_LEN)
			goto stray;
		memcpy(name, de->d_name, QID_LEN);
		name[QID_LEN] = '\0';
		if ((id = qid_parse(name)) == 0)
			goto stray;
		if (len == QID_LEN) {
			/* Content: matched with its envelope at the end. */
			if (nbare == capbare) {
				capbare = capbare ? capbare * 2 : 1024;
				grown = reallocarray(bare, capbare,
				    sizeof(*bare));
				if (grown == NULL)
					fatal("recovery");
				bare = grown;
			}
			bare[nbare++] = id;
			continue;
		}
		if (strcmp(de->d_name + QID_LEN, ".env") == 0) {
			spool_recover_env(id, now);
			continue;
		}
		if (strcmp(de->d_name + QID_LEN, ".env.tmp") == 0) {
			snprintf(path, sizeof(path), "%s/%s", DIR_QUEUE,
			    de->d_name);
			unlink(path);
			continue;
		}
 stray:
		log_warnx("queued: stray file %s/%s left alone", DIR_QUEUE,
		    de->d_name);
	}
	closedir(d);

	for (i = 0; i < nbare; i++) {
		if (msg_find(bare[i]) != NULL)
			continue;
		spool_path(path, sizeof(path), DIR_QUEUE, bare[i], "");
		/* Moved to corrupt/ above, or never committed. */
		if (unlink(path) == 0) {
			qid_format(bare[i], name);
			log_info("queued: id=%s removed: never committed (no "
			    "envelope)", name);
			nremoved++;
		}
	}
	free(bare);
	log_info("queued: recovered %llu message(s), %llu recipient(s) "
	    "pending, %d uncommitted removed",
	    (unsigned long long)queue_stats.recovered,
	    (unsigned long long)queue_nrcpt, nremoved);
}
