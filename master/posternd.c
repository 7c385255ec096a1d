/*
 * posternd: the parent of the postern process tree.
 *
 * Runs as root and keeps root, so it parses nothing that comes from the
 * network: it reads the configuration, prepares the children's
 * directories, opens the listening sockets, makes every channel, starts
 * the five children (smtpd, authd, queued, signd, relayd) from the
 * libexec directory, hands each its configuration, channels, files and
 * secrets, and then only supervises, relays log lines and serves the
 * control socket (control requests are validated here before any child
 * sees them).
 *
 * Holds: the configuration, the token hash key and the login ticket key
 * until they are handed over (then wiped), the listening sockets until
 * smtpd has them.  Peers: every child (MSG_READY, MSG_PONG, control
 * answers) and posternctl over the control socket (MSG_CTL_REQ).
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "master.h"

struct event_base *master_base;
struct config	*master_conf;
int		 master_verbose;
int		 master_debug;

static void
usage(void)
{
	fprintf(stderr, "usage: posternd [-dnv] [-f file]\n");
	exit(2);
}

static void
on_sigchld(evutil_socket_t sig, short ev, void *arg)
{
	pid_t pid;
	int ws, any = 0;

	while ((pid = waitpid(-1, &ws, WNOHANG)) > 0) {
		master_reaped(pid, ws);
		any = 1;
	}
	if (any)
		master_shutdown(1);
}

static void
on_sigterm(evutil_socket_t sig, short ev, void *arg)
{
	log_info("stopping on signal %d", (int)sig);
	master_shutdown(0);
}

static void
master_reload(void)
{
	struct config *conf;
	size_t i;
	static const int procs[] = { PROC_AUTHD, PROC_SIGND, PROC_QUEUED,
	    PROC_RELAYD, PROC_SMTPD };
	struct listener *l, *ol;

	if ((conf = config_parse_file(master_conf->file, stderr)) == NULL) {
		log_warnx("reload: %s has errors, keeping the running "
		    "configuration", master_conf->file);
		return;
	}
	/* Listeners are bound at start; a reload cannot move them. */
	ol = TAILQ_FIRST(&master_conf->listeners);
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (ol == NULL || strcmp(l->addr, ol->addr) != 0 ||
		    l->port != ol->port || l->mode != ol->mode) {
			log_warnx("reload: listeners changed; restart "
			    "posternd to apply that");
			config_free(conf);
			return;
		}
		ol = TAILQ_NEXT(ol, entry);
	}
	for (i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
		struct child *c = &master_children[procs[i]];

		master_send_config(c, conf);
		master_send_files(c, conf);
		ipc_send(c->ipc, MSG_RELOAD, 0, -1, NULL, 0);
	}
	config_free(master_conf);
	master_conf = conf;
	log_info("reloading %s", conf->file);
}

static void
on_sighup(evutil_socket_t sig, short ev, void *arg)
{
	master_reload();
}

/* Health checks: every child answers a ping; three missed is fatal. */
static void
on_ping(evutil_socket_t fd, short ev, void *arg)
{
	static uint32_t seq;
	struct child *c;
	int p;

	seq++;
	for (p = PROC_SMTPD; p <= PROC_RELAYD; p++) {
		c = &master_children[p];
		if (c->ipc == NULL || c->pid == 0)
			continue;
		if (c->missed_pongs++ >= 3) {
			log_warnx("%s does not answer health checks",
			    proc_name(p));
			master_shutdown(1);
		}
		ipc_send(c->ipc, MSG_PING, 0, -1, &seq, sizeof(seq));
	}
}

/*
 * smtpd holds one descriptor per session and relayd one per connection:
 * the children inherit a limit fit for tens of thousands of sessions.
 */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_max < 65536)
		rl.rlim_max = 65536;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit RLIMIT_NOFILE");
}

static void
write_pidfile(const char *path)
{
	char buf[32];
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd == -1)
		fatal("%s", path);
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, n) != n)
		fatal("%s", path);
	close(fd);
}

int
main(int argc, char **argv)
{
	const char *file = "/etc/postern/postern.conf";
	struct event *ev_chld, *ev_term, *ev_int, *ev_hup, *ev_ping;
	struct timeval tv = { 10, 0 };
	int ch, check = 0;

	while ((ch = getopt(argc, argv, "df:nv")) != -1) {
		switch (ch) {
		case 'd':
			master_debug = 1;
			break;
		case 'f':
			file = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			master_verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	log_init("posternd", master_debug || check ? LOG_TO_STDERR :
	    LOG_TO_SYSLOG, master_verbose);
	if ((master_conf = config_parse_file(file, stderr)) == NULL)
		exit(1);
	if (check) {
		fprintf(stderr, "%s: configuration OK\n", file);
		exit(0);
	}
	if (geteuid() != 0)
		fatalx("must be run as root");
	if (!master_debug && daemon(0, 0) == -1)
		fatal("daemon");

	umask(022);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	master_prepare_dirs(master_conf);
	master_open_listeners(master_conf);

	if ((master_base = event_base_new()) == NULL)
		fatalx("event_base_new");
	/* Signals first, so that an early child exit is not missed. */
	ev_chld = evsignal_new(master_base, SIGCHLD, on_sigchld, NULL);
	ev_term = evsignal_new(master_base, SIGTERM, on_sigterm, NULL);
	ev_int = evsignal_new(master_base, SIGINT, on_sigterm, NULL);
	ev_hup = evsignal_new(master_base, SIGHUP, on_sighup, NULL);
	evsignal_add(ev_chld, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	evsignal_add(ev_hup, NULL);

	master_start_children(master_conf);
	master_control_open(master_conf);
	write_pidfile(master_conf->pid_file);

	ev_ping = event_new(master_base, -1, EV_PERSIST, on_ping, NULL);
	event_add(ev_ping, &tv);

	log_info("starting: config=%s pid=%d", master_conf->file,
	    (int)getpid());
	event_base_dispatch(master_base);
	master_shutdown(1);
}
