/*
 * test_queue_spool: how queued picks the id of a new spool file, and
 * when a released file may hold a new message (queue_pool.c).
 *
 * Ids are drawn from arc4random(); this file defines its own, so that a
 * test can make the draw collide on purpose.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queued/queued.h"
#include "unit.h"

#define NOW	1700000000

/* queued.c, the entry file, is not in the archive: its channels. */
struct ipc *queue_smtpd, *queue_signd, *queue_relayd;

static uint32_t draws[8];
static int ndraws, idraw;

/* Replaces the C library's for this program: the ids queued draws. */
uint32_t arc4random(void);

uint32_t
arc4random(void)
{
	if (idraw < ndraws)
		return draws[idraw++];
	return 0x0777777;
}

static void
draw(int n, const uint32_t *v)
{
	memcpy(draws, v, n * sizeof(*v));
	ndraws = n;
	idraw = 0;
}

static uint64_t
id_of(uint32_t low)
{
	return (uint64_t)NOW << 28 | low;
}

static void
touch(const char *dir, uint64_t id)
{
	char path[64];
	int fd;

	spool_path(path, sizeof(path), dir, id, "");
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1) {
		perror(path);
		exit(1);
	}
	close(fd);
}

static void
rm(const char *dir, uint64_t id)
{
	char path[64];

	spool_path(path, sizeof(path), dir, id, "");
	unlink(path);
}

/* An id taken in incoming/ (a message being received) is skipped. */
static void
test_open_skips_incoming(void)
{
	static const uint32_t v[] = { 0x11, 0x22 };
	uint64_t id = 0;
	int fd;

	touch(DIR_INCOMING, id_of(0x11));
	draw(2, v);
	fd = spool_open_message(&id, NOW);
	CHECK(fd != -1);
	CHECK(id == id_of(0x22));
	close(fd);
	rm(DIR_INCOMING, id_of(0x11));
	rm(DIR_INCOMING, id_of(0x22));
}

/*
 * An id whose files are already in queue/ -- a commit waiting for its
 * sync, in no table yet -- is skipped too: a new message under that id
 * would be renamed over the first one's content and envelope.
 */
static void
test_open_skips_queue(void)
{
	static const uint32_t v[] = { 0x33, 0x33, 0x44 };
	uint64_t id = 0;
	int fd;

	touch(DIR_QUEUE, id_of(0x33));
	draw(3, v);
	fd = spool_open_message(&id, NOW);
	CHECK(fd != -1);
	CHECK(id == id_of(0x44));
	CHECK_INT(idraw, 3);
	close(fd);
	rm(DIR_QUEUE, id_of(0x33));
	rm(DIR_INCOMING, id_of(0x44));
}

static ino_t
inode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/*
 * A released file is used again only once its removal was synced
 * (pool_settle); a failed sync sees it unlinked instead.
 */
static void
test_pool_reuse_after_settle(void)
{
	char a[64], b[64], c[64], freed[64];
	uint64_t name;
	ino_t ino;
	int fd;

	touch(DIR_QUEUE, id_of(0x55));
	spool_path(a, sizeof(a), DIR_QUEUE, id_of(0x55), "");
	ino = inode_of(a);
	name = pool_release(a);
	CHECK(name != 0);
	CHECK(inode_of(a) == 0);
	/* Not yet settled: a new file is a new inode. */
	spool_path(b, sizeof(b), DIR_INCOMING, id_of(0x66), "");
	CHECK((fd = pool_create(b)) != -1);
	close(fd);
	CHECK(inode_of(b) != ino);
	pool_settle(name, 1);
	spool_path(c, sizeof(c), DIR_INCOMING, id_of(0x77), "");
	CHECK((fd = pool_create(c)) != -1);
	close(fd);
	CHECK(inode_of(c) == ino);
	/* A release whose sync failed is not used again. */
	name = pool_release(c);
	snprintf(freed, sizeof(freed), "%s/%016llX", DIR_FREE,
	    (unsigned long long)name);
	CHECK(inode_of(freed) == ino);
	pool_settle(name, 0);
	CHECK(inode_of(freed) == 0);
	unlink(b);
}

int
main(void)
{
	char dir[] = "/tmp/test_queue_spool.XXXXXX";

	if (mkdtemp(dir) == NULL || chdir(dir) == -1) {
		perror(dir);
		return 1;
	}
	spool_init();
	RUN(test_open_skips_incoming);
	RUN(test_open_skips_queue);
	RUN(test_pool_reuse_after_settle);
	rmdir(DIR_INCOMING);
	rmdir(DIR_QUEUE);
	rmdir(DIR_CORRUPT);
	rmdir(DIR_FREE);
	if (chdir("/") == 0)
		rmdir(dir);
	return unit_done();
}
