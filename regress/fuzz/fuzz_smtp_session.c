/*
 * fuzz_smtp_session: a whole smtpd session fed an arbitrary client byte
 * stream, with stub peers.
 *
 * Each input is one connection: a socketpair whose one end becomes a real
 * session of smtpd (smtp_session.c, smtp_io.c, smtp_tx.c, smtp_auth.c on a
 * plain listener), and whose other end writes the input, then closes.  The
 * stub authd refuses every login and confirms every token; the stub
 * queued opens and commits every message.  The event loop runs until the
 * session is gone; a session still waiting after the loop bound is timed
 * out, as its timer would.  Whatever the bytes, nothing may crash, leak or
 * overrun, and the process must not exit (smtpd treats clients' errors as
 * replies, lib/log.h).
 *
 *	make O=build-fuzz CC=clang fuzz
 *	build-fuzz/fuzz/fuzz_smtp_session -close_fd_mask=2 -max_len=16384
 *
 * (-close_fd_mask=2 silences smtpd's log lines on stderr.)
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "child.h"
#include "config.h"
#include "ipc.h"
#include "log.h"
#include "proto.h"
#include "../../smtpd/smtpd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct ipc *stub_authd, *stub_queued;
static uint64_t stub_msgid;

static const char fuzz_conf[] =
    "hostname \"mx.fuzz.test\"\n"
    "listen on 127.0.0.1 port 2525 plain no-auth\n"
    "limit message-size 64K\n"
    "limit recipients 5\n"
    "limit errors 20\n"
    "limit line-length 512\n";

static void
stub_error(struct ipc *ipc, const char *why, void *arg)
{
	/* smtpd sent something its peer would refuse: a real bug. */
	fprintf(stderr, "stub peer: %s\n", why);
	abort();
}

static void
stub_authd_dispatch(struct ipc *ipc, struct ipc_msg *msg, void *arg)
{
	struct mr mr;
	struct mw mw;
	uint64_t sid;

	mr_init(&mr, msg);
	sid = mr_u64(&mr);
	mw_init(&mw);
	mw_u64(&mw, sid);
	if (msg->type == MSG_AUTH_LOGIN) {
		mw_u32(&mw, RES_FAIL);
		mw_u64(&mw, 0);
		mw_str(&mw, "");
		mw_bytes(&mw, NULL, 0);
		ipc_send_mw(ipc, MSG_AUTH_LOGIN_RES, 0, -1, &mw);
	} else {
		mw_u32(&mw, RES_OK);
		ipc_send_mw(ipc, MSG_AUTH_CHECK_RES, 0, -1, &mw);
	}
}

static void
stub_queued_dispatch(struct ipc *ipc, struct ipc_msg *msg, void *arg)
{
	struct mr mr;
	struct mw mw;
	uint64_t id;

	mr_init(&mr, msg);
	id = mr_u64(&mr);
	mw_init(&mw);
	switch (msg->type) {
	case MSG_Q_OPEN:
		mw_u64(&mw, id);
		mw_u32(&mw, RES_OK);
		mw_u64(&mw, ++stub_msgid);
		ipc_send_mw(ipc, MSG_Q_OPEN_RES, 0, -1, &mw);
		break;
	case MSG_Q_COMMIT:
		mw_u64(&mw, id);
		mw_u32(&mw, (id & 1) ? RES_OK : RES_TEMPFAIL);
		mw_str(&mw, "FUZZ");
		mw_str(&mw, "");
		ipc_send_mw(ipc, MSG_Q_COMMIT_RES, 0, -1, &mw);
		break;
	default:
		break;
	}
}

static void
fuzz_init(void)
{
	int a[2], q[2];

	log_init("smtpd", LOG_TO_PIPE, 0);
	if ((child_base = event_base_new()) == NULL)
		abort();
	child_conf = config_parse_buf("fuzz.conf", fuzz_conf,
	    sizeof(fuzz_conf) - 1, stderr);
	if (child_conf == NULL)
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, q) == -1)
		abort();
	smtp_peer_authd(a[0]);
	smtp_peer_queued(q[0]);
	stub_authd = ipc_new(child_base, a[1], "smtpd", rules_authd_from_smtpd,
	    stub_authd_dispatch, stub_error, NULL);
	stub_queued = ipc_new(child_base, q[1], "smtpd",
	    rules_queued_from_smtpd, stub_queued_dispatch, stub_error, NULL);
	if (stub_authd == NULL || stub_queued == NULL)
		abort();
}

static void
fuzz_timeout(struct smtp_session *s)
{
	smtp_session_timeout(s);
	smtp_io_kick(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialized;
	struct sockaddr_in sin;
	char sink[4096];
	size_t off = 0;
	ssize_t n;
	int sp[2], i;

	if (!initialized) {
		fuzz_init();
		initialized = 1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		abort();
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	smtp_session_start(smtp_session_new(sp[0], 0,
	    (struct sockaddr_storage *)&sin, sizeof(sin)));

	for (i = 0; i < 100000 && smtp_session_count() > 0; i++) {
		if (off < size) {
			n = write(sp[1], data + off, size - off);
			if (n > 0)
				off += (size_t)n;
			if (off == size)
				shutdown(sp[1], SHUT_WR);
		} else if (size == 0 && i == 0)
			shutdown(sp[1], SHUT_WR);
		while (read(sp[1], sink, sizeof(sink)) > 0)
			;
		event_base_loop(child_base, EVLOOP_NONBLOCK);
		if (i > 0 && i % 1000 == 0)
			smtp_session_each(fuzz_timeout);
	}
	if (smtp_session_count() > 0)
		abort();
	close(sp[1]);
	/* Let queued's stub see the aborts before the next input. */
	event_base_loop(child_base, EVLOOP_NONBLOCK);
	return 0;
}
