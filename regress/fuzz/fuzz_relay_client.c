/*
 * fuzz_relay_client: relayd's SMTP client against a server that says
 * whatever the fuzzer wants.
 *
 * Each input is everything a remote server sends, written at once on an
 * accepted loopback connection, which is then closed for writing.  The
 * client (pipelining, STARTTLS, AUTH and a two-recipient message all
 * possible, depending on what the input advertises, and with bit 3 of
 * the first octet a second message on the session when the first leaves
 * it reusable, as relayd reuses sessions) runs on the event loop until it
 * reports a result.  Whatever the bytes, it must end with
 * a failure or a result per recipient, never a crash, a hang or a leak.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <tls.h>

#include "relayd/relay_client.h"

static struct event_base *base;
static struct tls_config *tlscfg;
static int	lfd = -1, msgfd = -1;
static struct dns_target target;
static int	finished;
static struct event *deadline;

static void
on_deadline(evutil_socket_t fd, short ev, void *arg)
{
	event_base_loopbreak(base);
}

static void
setup(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char path[] = "/tmp/fuzz-relay-msg.XXXXXX";
	static const char msg[] = "Subject: x\r\n\r\n.body\r\n";
	int fd;

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	deadline = evtimer_new(base, on_deadline, NULL);
	tlscfg = tls_config_new();
	tls_config_insecure_noverifycert(tlscfg);
	tls_config_insecure_noverifyname(tlscfg);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 4) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1)
		abort();
	if (dns_parse_literal("127.0.0.1", ntohs(sin.sin_port), &target) ==
	    -1)
		abort();
	if ((fd = mkstemp(path)) == -1 ||
	    write(fd, msg, sizeof(msg) - 1) != sizeof(msg) - 1)
		abort();
	msgfd = open(path, O_RDONLY);
	close(fd);
	unlink(path);
}

static struct relay_rcpt rcpt[2];
static struct relay_msg message;
static int	second;

static void
rcpts_init(void)
{
	memset(rcpt, 0, sizeof(rcpt));
	strlcpy(rcpt[0].addr, "a@example.com", sizeof(rcpt[0].addr));
	strlcpy(rcpt[1].addr, "b@example.com", sizeof(rcpt[1].addr));
	rcpt[1].index = 1;
}

static void
client_cb(struct relay_client *c, enum relay_client_event ev, void *arg)
{
	if (ev == RC_EV_READY && relay_client_send(c, &message) == 0)
		return;
	/* relayd's invariant: after DONE, every recipient has a result. */
	if (ev == RC_EV_DONE && (rcpt[0].status == 0 || rcpt[1].status == 0))
		abort();
	if (ev == RC_EV_DONE && second && relay_client_reusable(c)) {
		second = 0;
		rcpts_init();
		if (relay_client_send(c, &message) == 0)
			return;
	}
	finished = 1;
	event_base_loopbreak(base);
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_policy pol;
	struct relay_client *c;
	struct timeval tv = { 5, 0 };
	int sfd;
	size_t off = 0;
	ssize_t n;

	if (base == NULL)
		setup();
	rcpts_init();
	second = size > 0 && (data[0] & 8);
	memset(&message, 0, sizeof(message));
	message.qid = "FUZZ";
	message.sender = "s@example.com";
	message.bodyflags = size > 0 ? data[0] & 3 : 0;
	message.fd = msgfd;
	message.size = 24;
	message.rcpt = rcpt;
	message.nrcpt = 2;

	memset(&pol, 0, sizeof(pol));
	pol.helo = "fuzz.test";
	pol.tls = RC_TLS_TRY;
	if (size > 0 && (data[0] & 4)) {
		pol.user = "user";
		pol.pass = "pass";
	}
	pol.to_connect = pol.to_command = pol.to_data_block =
	    pol.to_data_end = 2;
	pol.tls_verify = pol.tls_noverify = tlscfg;

	finished = 0;
	c = relay_client_new(base, &target, &pol, client_cb, NULL);
	if ((sfd = accept(lfd, NULL, NULL)) == -1)
		abort();
	/* Everything at once, then EOF; the kernel buffers enough. */
	fcntl(sfd, F_SETFL, O_NONBLOCK);
	while (off < size && (n = write(sfd, data + off, size - off)) > 0)
		off += n;
	shutdown(sfd, SHUT_WR);
	/* Not loopexit: a stale one would end a later run early. */
	evtimer_add(deadline, &tv);
	event_base_dispatch(base);
	evtimer_del(deadline);
	if (!finished)
		fprintf(stderr, "session did not end\n"), abort();	/* a hang */
	relay_client_free(c);
	close(sfd);
	/* Let deferred frees and closes run. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	return 0;
}
