/*
 * master_setup.c: what posternd prepares as root before any child runs:
 * the directories each child is chrooted to (created, with the right
 * owner and mode), the listening sockets, and the secrets.
 *
 * Directory ownership is the heart of the separation:
 *	spool-dir	queued's user, 0700	only queued sees the spool
 *	auth-dir	authd's user, 0700	only authd sees the tokens
 *	dkim-dir	root, signd's group,	only signd reads the keys, and
 *			0750			cannot write them
 *	empty-dir	root, 0755, empty	smtpd and relayd: nothing
 * The dkim-dir is root's, not signd's: an owner may chmod its directory
 * and then write in it, and root (posternctl dkim keygen) writes keys
 * below it, so a signd that owned it could swap a domain's directory for
 * a link to anywhere and have root put files there.
 * The master fixes owner and mode at every start, so that a directory
 * left readable by accident is closed again.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "master.h"
#include "privsep.h"

const char *
master_child_root(struct config *conf, int proc)
{
	switch (proc) {
	case PROC_AUTHD:
		return conf->auth_dir;
	case PROC_QUEUED:
		return conf->spool_dir;
	case PROC_SIGND:
		return conf->dkim_dir;
	default:
		return conf->empty_dir;
	}
}

/* mkdir -p for the parents of path, root-owned 0755. */
static void
mkdir_parents(const char *path)
{
	char buf[PATH_MAX];
	char *p;

	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
		fatalx("path too long: %s", path);
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			fatal("mkdir %s", buf);
		*p = '/';
	}
}

static void
prepare_dir(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat st;

	mkdir_parents(path);
	if (mkdir(path, mode) == -1 && errno != EEXIST)
		fatal("mkdir %s", path);
	if (lstat(path, &st) == -1)
		fatal("%s", path);
	if (!S_ISDIR(st.st_mode))
		fatalx("%s is not a directory", path);
	if (chown(path, uid, gid) == -1)
		fatal("chown %s", path);
	if (chmod(path, mode) == -1)
		fatal("chmod %s", path);
}

static void
child_ids(struct config *conf, int proc, uid_t *uid, gid_t *gid)
{
	if (privsep_user(conf->user[proc], uid, gid) == -1)
		fatalx("user %s (for %s) does not exist; run postern-setup",
		    conf->user[proc], proc_name(proc));
}

void
master_prepare_dirs(struct config *conf)
{
	uid_t uid;
	gid_t gid;
	DIR *d;
	struct dirent *de;

	child_ids(conf, PROC_QUEUED, &uid, &gid);
	prepare_dir(conf->spool_dir, uid, gid, 0700);
	child_ids(conf, PROC_AUTHD, &uid, &gid);
	prepare_dir(conf->auth_dir, uid, gid, 0700);
	child_ids(conf, PROC_SIGND, &uid, &gid);
	prepare_dir(conf->dkim_dir, 0, gid, 0750);
	/* The users of smtpd and relayd must exist too. */
	child_ids(conf, PROC_SMTPD, &uid, &gid);
	child_ids(conf, PROC_RELAYD, &uid, &gid);

	prepare_dir(conf->empty_dir, 0, 0, 0755);
	if ((d = opendir(conf->empty_dir)) == NULL)
		fatal("%s", conf->empty_dir);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			fatalx("%s must be empty (found %s)", conf->empty_dir,
			    de->d_name);
	closedir(d);

	mkdir_parents(conf->control_socket);
	mkdir_parents(conf->pid_file);
}

void
master_open_listeners(struct config *conf)
{
	struct listener *l;
	int fd, on = 1;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		fd = socket(l->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1)
			fatal("socket");
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on)) == -1)
			fatal("SO_REUSEADDR");
		if (l->ss.ss_family == AF_INET6 && setsockopt(fd,
		    IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
			fatal("IPV6_V6ONLY");
		if (bind(fd, (struct sockaddr *)&l->ss, l->sslen) == -1)
			fatal("bind %s port %u", l->addr, l->port);
		/* A deep backlog: bursts of devices must not be refused. */
		if (listen(fd, 1024) == -1)
			fatal("listen %s port %u", l->addr, l->port);
		l->fd = fd;
		log_info("listening on %s port %u (%s%s)", l->addr, l->port,
		    l->mode == LISTEN_STARTTLS ? "starttls" :
		    l->mode == LISTEN_TLS ? "tls" : "plain",
		    l->auth ? "" : ", no auth");
	}
}

/*
 * The token hash key is the same on every node of a cluster, so it is a
 * file the operator distributes.  A single machine gets one made at its
 * first start.
 */
void
master_load_secrets(struct config *conf, unsigned char *key, size_t *keylen)
{
	unsigned char buf[256];
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(conf->token_key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1 && errno == ENOENT) {
		mkdir_parents(conf->token_key);
		fd = open(conf->token_key, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
		if (fd == -1)
			fatal("create %s", conf->token_key);
		arc4random_buf(buf, 32);
		if (write(fd, buf, 32) != 32 || fsync(fd) == -1)
			fatal("write %s", conf->token_key);
		close(fd);
		explicit_bzero(buf, sizeof(buf));
		log_info("created a new token key in %s", conf->token_key);
		fd = open(conf->token_key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd == -1)
		fatal("%s", conf->token_key);
	if (fstat(fd, &st) == -1)
		fatal("%s", conf->token_key);
	if (st.st_uid != 0 || (st.st_mode & 077) != 0)
		fatalx("%s must be owned by root and not readable by others",
		    conf->token_key);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 16)
		fatalx("%s: a token key needs at least 16 bytes",
		    conf->token_key);
	memcpy(key, buf, n);
	*keylen = n;
	explicit_bzero(buf, sizeof(buf));
}
