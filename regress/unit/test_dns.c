/*
 * test_dns: relayd's MX resolution against a real unbound server.
 *
 * The test starts unbound(8) on 127.0.0.1 and a free port, with a local
 * zone that holds each case (MX order, implicit MX, null MX, NXDOMAIN,
 * CNAME, hosts without addresses), and points the dns module at it as its
 * forwarder.  One zone is forwarded to a responder inside this process
 * that answers SERVFAIL to everything: a dead upstream would take unbound
 * half a minute to give up on.  Without unbound installed the lookups
 * are skipped and only the offline checks run.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "unit.h"
#include "relayd/dns.h"

static char	tmpdir[] = "/tmp/postern-dns.XXXXXX";
static pid_t	unbound_pid = -1;
static int	unbound_port, servfail_port;
static int	servfail_fd = -1;
static struct event *servfail_ev;
static struct event_base *base;

static const char zone[] =
	"	local-zone: \"ptest.\" static\n"
	"	local-data: \"mx.ptest. MX 10 a.mx.ptest.\"\n"
	"	local-data: \"mx.ptest. MX 20 b.mx.ptest.\"\n"
	"	local-data: \"mx.ptest. MX 20 c.mx.ptest.\"\n"
	"	local-data: \"mx.ptest. MX 30 d.mx.ptest.\"\n"
	"	local-data: \"a.mx.ptest. A 127.0.0.2\"\n"
	"	local-data: \"a.mx.ptest. AAAA ::2\"\n"
	"	local-data: \"b.mx.ptest. A 127.0.0.3\"\n"
	"	local-data: \"c.mx.ptest. A 127.0.0.4\"\n"
	"	local-data: \"d.mx.ptest. AAAA ::5\"\n"
	"	local-data: \"nomx.ptest. A 127.0.0.6\"\n"
	"	local-data: \"nomx.ptest. AAAA ::6\"\n"
	"	local-data: \"null.ptest. MX 0 .\"\n"
	"	local-data: \"mixnull.ptest. MX 0 .\"\n"
	"	local-data: \"mixnull.ptest. MX 10 b.mx.ptest.\"\n"
	"	local-data: \"noaddr.ptest. MX 10 gone.ptest.\"\n"
	"	local-data: \"noaddr.ptest. MX 20 gone2.ptest.\"\n"
	"	local-data: \"empty.ptest. TXT nothing\"\n"
	"	local-data: \"alias.ptest. CNAME mx.ptest.\"\n"
	"	local-data: \"host.ptest. A 127.0.0.7\"\n"
	"	local-zone: \"sf.example.\" transparent\n"
	"forward-zone:\n"
	"	name: \"sf.example.\"\n"
	"	forward-addr: 127.0.0.1@%d\n";

/* Try to bind (or connect to) a TCP socket on 127.0.0.1:port. */
static int
loopback_try(int type, int port, int do_connect)
{
	struct sockaddr_in sin;
	int s, ok;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s = socket(AF_INET, type, 0)) == -1)
		return 0;
	if (do_connect)
		ok = connect(s, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	else
		ok = bind(s, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(s);
	return ok;
}

static int
port_free(int port)
{
	return loopback_try(SOCK_STREAM, port, 0) &&
	    loopback_try(SOCK_DGRAM, port, 0);
}

static int
port_listening(int port)
{
	return loopback_try(SOCK_STREAM, port, 1);
}

/* Answer every query with SERVFAIL: flip QR, keep the rest. */
static void
servfail_answer(evutil_socket_t fd, short ev, void *arg)
{
	unsigned char pkt[512];
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	ssize_t n;

	n = recvfrom(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&ss, &sslen);
	if (n < 12)
		return;
	pkt[2] = 0x80 | (pkt[2] & 0x01);
	pkt[3] = 0x82;
	sendto(fd, pkt, n, 0, (struct sockaddr *)&ss, sslen);
}

static int
servfail_start(void)
{
	struct sockaddr_in sin;
	int i;

	if ((servfail_fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 100; i++) {
		servfail_port = 20000 + random() % 30000;
		sin.sin_port = htons(servfail_port);
		if (bind(servfail_fd, (struct sockaddr *)&sin,
		    sizeof(sin)) == 0)
			break;
	}
	servfail_ev = event_new(base, servfail_fd, EV_READ | EV_PERSIST,
	    servfail_answer, NULL);
	return event_add(servfail_ev, NULL);
}

static int
unbound_start(void)
{
	char conf[512], path[600];
	FILE *f;
	int i;

	if (access("/usr/sbin/unbound", X_OK) == -1)
		return -1;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	srandom(getpid() ^ time(NULL));
	if (servfail_start() == -1)
		return -1;
	for (i = 0; i < 100; i++) {
		unbound_port = 20000 + random() % 30000;
		if (port_free(unbound_port))
			break;
	}
	snprintf(conf, sizeof(conf), "%s/unbound.conf", tmpdir);
	if ((f = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(f, "server:\n"
	    "	chroot: \"\"\n	username: \"\"\n"
	    "	directory: \"%s\"\n	pidfile: \"%s/pid\"\n"
	    "	interface: 127.0.0.1\n	port: %d\n"
	    "	do-daemonize: no\n	use-syslog: no\n"
	    "	logfile: \"%s/log\"\n	verbosity: 0\n"
	    "	do-not-query-localhost: no\n"
	    "	access-control: 127.0.0.0/8 allow\n"
	    "	auto-trust-anchor-file: \"\"\n"
	    "	num-threads: 1\n"
	    , tmpdir, tmpdir, unbound_port, tmpdir);
	fprintf(f, zone, servfail_port);
	fclose(f);
	if ((unbound_pid = fork()) == -1)
		return -1;
	if (unbound_pid == 0) {
		execl("/usr/sbin/unbound", "unbound", "-d", "-c", conf,
		    (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100; i++) {
		if (port_listening(unbound_port))
			return 0;
		usleep(50000);
	}
	snprintf(path, sizeof(path), "%s/log", tmpdir);
	printf("# unbound did not start, see %s\n", path);
	return -1;
}

static void
unbound_stop(void)
{
	char cmd[600];

	if (unbound_pid > 0) {
		kill(unbound_pid, SIGTERM);
		waitpid(unbound_pid, NULL, 0);
	}
	if (tmpdir[strlen(tmpdir) - 1] != 'X') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
	}
}

/* One lookup, run to completion (or 20 seconds). */
static struct dns_answer answer;
static int answered;

static void
got_answer(const struct dns_answer *a, void *arg)
{
	answer = *a;
	answered = 1;
	event_base_loopbreak(base);
}

static void
lookup(int mx, const char *name)
{
	struct timeval tv = { 20, 0 };
	struct dns_query *q;

	answered = 0;
	memset(&answer, 0, sizeof(answer));
	if (mx)
		q = dns_lookup_mx(name, 25, got_answer, NULL);
	else
		q = dns_lookup_host(name, 2525, got_answer, NULL);
	if (q == NULL)
		return;
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	if (!answered) {
		dns_cancel(q);
		printf("#   %s: no answer in time\n", name);
	}
}

/* A lookup that must fail with this status and DSN code. */
static void
expect_failure(const char *name, int status, const char *enhanced)
{
	lookup(1, name);
	CHECK_INT(answer.status, status);
	CHECK_STR(answer.enhanced, enhanced);
}

static void
test_mx_order(void)
{
	int i, seen_b_first = 0, seen_c_first = 0;

	for (i = 0; i < 40; i++) {
		lookup(1, "mx.ptest");
		CHECK_INT(answer.status, DNS_OK);
		CHECK_INT(answer.ntargets, 5);
		if (answer.ntargets != 5)
			return;
		/* a first, IPv6 before IPv4; then b and c shuffled; d. */
		CHECK_STR(answer.target[0].host, "a.mx.ptest");
		CHECK_STR(answer.target[0].addr, "::2");
		CHECK_STR(answer.target[1].addr, "127.0.0.2");
		CHECK_INT(answer.target[0].pref, 10);
		if (strcmp(answer.target[2].host, "b.mx.ptest") == 0) {
			seen_b_first++;
			CHECK_STR(answer.target[3].host, "c.mx.ptest");
		} else {
			seen_c_first++;
			CHECK_STR(answer.target[2].host, "c.mx.ptest");
			CHECK_STR(answer.target[3].host, "b.mx.ptest");
		}
		CHECK_STR(answer.target[4].host, "d.mx.ptest");
		CHECK_STR(answer.target[4].addr, "::5");
		CHECK_INT(ntohs(((struct sockaddr_in6 *)
		    &answer.target[4].ss)->sin6_port), 25);
	}
	/* 40 draws: both orders of the equal preferences show up. */
	CHECK(seen_b_first > 0);
	CHECK(seen_c_first > 0);
}

static void
test_implicit_mx(void)
{
	lookup(1, "nomx.ptest");
	CHECK_INT(answer.status, DNS_OK);
	CHECK_INT(answer.ntargets, 2);
	CHECK_STR(answer.target[0].host, "nomx.ptest");
	CHECK_STR(answer.target[0].addr, "::6");
	CHECK_STR(answer.target[1].addr, "127.0.0.6");
}

static void
test_null_mx(void)
{
	expect_failure("null.ptest", DNS_PERMFAIL, "5.1.10");
	CHECK(strstr(answer.reason, "null MX") != NULL);

	/* A null MX next to a real one is ignored (RFC 7505 3). */
	lookup(1, "mixnull.ptest");
	CHECK_INT(answer.status, DNS_OK);
	CHECK_INT(answer.ntargets, 1);
	CHECK_STR(answer.target[0].host, "b.mx.ptest");
}

static void
test_nxdomain(void)
{
	expect_failure("nx.ptest", DNS_PERMFAIL, "5.1.2");
}

static void
test_no_address(void)
{
	expect_failure("noaddr.ptest", DNS_PERMFAIL, "5.4.4");
	/* The name exists, but has neither MX nor address. */
	expect_failure("empty.ptest", DNS_PERMFAIL, "5.4.4");
}

static void
test_cname(void)
{
	lookup(1, "alias.ptest");
	CHECK_INT(answer.status, DNS_OK);
	CHECK_INT(answer.ntargets, 5);
	CHECK_STR(answer.target[0].host, "a.mx.ptest");
}

static void
test_servfail(void)
{
	expect_failure("x.sf.example", DNS_TEMPFAIL, "4.4.3");
	printf("#   servfail: %s\n", answer.reason);
}

static void
test_host(void)
{
	lookup(0, "host.ptest");
	CHECK_INT(answer.status, DNS_OK);
	CHECK_INT(answer.ntargets, 1);
	CHECK_STR(answer.target[0].addr, "127.0.0.7");
	CHECK_INT(ntohs(((struct sockaddr_in *)
	    &answer.target[0].ss)->sin_port), 2525);

	/* A configured host that does not exist: the operator's error. */
	lookup(0, "nothere.ptest");
	CHECK_INT(answer.status, DNS_TEMPFAIL);
}

static void
test_literals(void)
{
	struct dns_target t;

	CHECK(dns_parse_literal("192.0.2.1", 25, &t) == 0);
	CHECK_STR(t.addr, "192.0.2.1");
	CHECK(dns_parse_literal("[192.0.2.1]", 25, &t) == 0);
	CHECK(dns_parse_literal("[IPv6:2001:db8::1]", 25, &t) == 0);
	CHECK_STR(t.addr, "2001:db8::1");
	CHECK(dns_parse_literal("::1", 25, &t) == 0);
	CHECK(dns_parse_literal("[example.com]", 25, &t) == -1);
	CHECK(dns_parse_literal("example.com", 25, &t) == -1);

	/* Through the lookup, with no DNS at all. */
	lookup(1, "[192.0.2.9]");
	CHECK_INT(answer.status, DNS_OK);
	CHECK_STR(answer.target[0].addr, "192.0.2.9");
	lookup(0, "127.0.0.9");
	CHECK_INT(answer.status, DNS_OK);
	CHECK_STR(answer.target[0].addr, "127.0.0.9");
	lookup(1, "[bogus]");
	CHECK_INT(answer.status, DNS_PERMFAIL);
}

static void
test_names(void)
{
	char long_label[80];

	CHECK(dns_valid_name("example.com"));
	CHECK(dns_valid_name("a-b.example.com"));
	CHECK(!dns_valid_name(""));
	CHECK(!dns_valid_name("a..b"));
	CHECK(!dns_valid_name(".a"));
	CHECK(!dns_valid_name("a b"));
	CHECK(!dns_valid_name("a\r\nb"));
	memset(long_label, 'a', 64);
	long_label[64] = '\0';
	CHECK(!dns_valid_name(long_label));
	lookup(1, "bad name");
	CHECK_INT(answer.status, DNS_PERMFAIL);
}

int
main(void)
{
	char fwd[64];
	int have_unbound;

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	dns_init(base);
	have_unbound = unbound_start() == 0;
	if (have_unbound) {
		snprintf(fwd, sizeof(fwd), "127.0.0.1@%d", unbound_port);
		CHECK(dns_forwarder(fwd) == 0);
	} else
		printf("# unbound not available: lookups skipped\n");

	RUN(test_names);
	RUN(test_literals);
	if (have_unbound) {
		RUN(test_mx_order);
		RUN(test_implicit_mx);
		RUN(test_null_mx);
		RUN(test_nxdomain);
		RUN(test_no_address);
		RUN(test_cname);
		RUN(test_host);
		RUN(test_servfail);
	}
	unbound_stop();
	return unit_done();
}
