/*
 * relay_sched: what relayd does with the batches queued hands it.
 *
 * A batch is one message for one or more recipients of one domain.  The
 * scheduler finds its destination and delivers it:
 *   - routing: a "route DOMAIN via URL" for the domain wins; else, with
 *     "relay via URL", the smarthost; else the domain's MX (dns.h);
 *   - connections: a destination (a route, the smarthost, or one MX
 *     domain) has at most concurrency-per-domain connections, relayd at
 *     most concurrency in all; a batch that finds no free connection
 *     waits for one (an idle connection of another destination is closed
 *     to make room when only the total limit stands in the way);
 *   - a connection that finished a message stays open, idle, for
 *     RELAY_IDLE_SECS, for the next batch to the same destination (RSET
 *     first), at most RELAY_CONN_MAX_MSGS messages;
 *   - a connection that cannot be set up (refused, greeting or EHLO
 *     refused, TLS failure, timeout) moves on to the next address of the
 *     list; the batch fails temporarily when none is left, permanently
 *     only when every address refused it permanently;
 *   - a failed opportunistic STARTTLS handshake is remembered for that
 *     address (RELAY_NOTLS_SECS) when tls-fallback is on, and the next
 *     attempt goes in the clear -- never when the destination requires
 *     TLS or when credentials are to be sent.
 * Every recipient gets exactly one result, then the batch gets "done",
 * through the two functions given to relay_sched_init(); one log line
 * per recipient says what happened:
 *	id=QID to=<rcpt> relay=host[addr]:port delay=Ns dsn=X.Y.Z
 *	    status=sent|deferred|bounced tls=TLSv1.3|none (reply or reason)
 * (delay counts from the batch's arrival at relayd.)
 *
 * relay_batch_read() decodes MSG_RELAY_BATCH; a malformed payload is a
 * protocol error of queued (NULL, the caller ends the process), but a
 * recipient or sender unfit for an SMTP command is only that recipient's
 * (or the batch's) permanent failure: those come from the network.
 */
#ifndef POSTERN_RELAYD_RELAY_SCHED_H
#define POSTERN_RELAYD_RELAY_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "config.h"
#include "ipc.h"
#include "proto.h"

#define RELAY_MAX_RCPTS		1000	/* per batch */
#define RELAY_IDLE_SECS		10
#define RELAY_CONN_MAX_MSGS	100
#define RELAY_NOTLS_SECS	(6 * 3600)
#define RELAY_NOTLS_MAX		1024	/* addresses remembered */
#define RELAY_MX_PORT		25

struct relay_batch;

typedef void (*relay_result_fn)(const struct relay_result *);
typedef void (*relay_done_fn)(uint64_t batch);

void	relay_sched_init(struct event_base *, relay_result_fn, relay_done_fn);
/* The configuration in force (at start and after each reload). */
void	relay_sched_config(const struct config *);
/* Smarthost credentials: "user password" or "user\npassword". */
int	relay_sched_credentials(const char *text, size_t len);
/* PEM CA certificates for destinations that verify (may be none). */
void	relay_sched_ca(const unsigned char *pem, size_t len);
struct relay_batch *relay_batch_read(struct mr *, int fd);
/* Takes the batch (and its descriptor). */
void	relay_sched_submit(struct relay_batch *);

#endif
