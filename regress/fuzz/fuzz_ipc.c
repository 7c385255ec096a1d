/*
 * fuzz_ipc.c: arbitrary bytes from a peer daemon into the framing layer
 * and, for each message that passes the rules, into the decoders that
 * several processes share (relay results, control requests and rows).
 * Whatever arrives, the reader must reject it cleanly or deliver whole
 * messages within their bounds.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "ipc.h"
#include "proto.h"

static int dead;

static void
on_msg(struct ipc *ipc, struct ipc_msg *m, void *arg)
{
	struct relay_result r;
	struct ctl_req q;
	struct ctl_row row;
	struct mr mr;

	if (m->len > IPC_MAX_PAYLOAD)
		abort();
	if (m->fd != -1)
		close(m->fd);
	mr_init(&mr, m);
	switch (m->type) {
	case MSG_RELAY_RESULT:
		(void)relay_result_read(&mr, &r);
		break;
	case MSG_CTL_REQ:
		(void)ctl_req_read(&mr, &q);
		break;
	case MSG_CTL_ROW:
		(void)ctl_row_read(&mr, &row);
		break;
	}
}

static void
on_err(struct ipc *ipc, const char *why, void *arg)
{
	dead = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ipc_rule *const tables[] = {
		rules_queued_from_relayd, rules_master_from_ctl,
		rules_master_from_child, rules_queued_from_smtpd,
	};
	struct event_base *base;
	struct ipc *ipc;
	struct timeval tv = { 0, 0 };
	int sp[2];

	if (size < 1)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		return 0;
	base = event_base_new();
	dead = 0;
	ipc = ipc_new(base, sp[1], "fuzz", tables[data[0] % 4], on_msg, on_err,
	    NULL);
	data++;
	size--;
	while (size > 0 && !dead) {
		size_t n = size > 4096 ? 4096 : size;

		if (write(sp[0], data, n) != (ssize_t)n)
			break;
		data += n;
		size -= n;
		event_base_loopexit(base, &tv);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	close(sp[0]);
	event_base_loop(base, EVLOOP_NONBLOCK);
	ipc_free(ipc);
	event_base_free(base);
	return 0;
}
