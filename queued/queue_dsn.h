/*
 * queue_dsn: delivery status notifications (RFC 3464, RFC 3462/6522).
 *
 * dsn_build() writes a whole notification message, CRLF lines, ready to
 * be queued from the null sender to the original envelope sender:
 *
 *	multipart/report; report-type=delivery-status
 *	  1. text/plain: what happened, for a person
 *	  2. message/delivery-status: Reporting-MTA, Arrival-Date, then per
 *	     recipient Final-Recipient, Action, Status, Remote-MTA,
 *	     Diagnostic-Code, Last-Attempt-Date (Will-Retry-Until for a
 *	     delay warning)
 *	  3. text/rfc822-headers: the original header section
 *
 * When an address is not ASCII (SMTPUTF8 mail) the parts are
 * message/global-delivery-status and message/global-headers (RFC 6533)
 * and the addresses are typed utf-8.  Every string that came from the
 * network (addresses, remote replies, host names) is stripped of
 * control characters first, so it cannot break a header.  The result's
 * body flags (8-bit content, UTF-8 address) come back in *bodyp.
 *
 * Pure: no I/O, no logging; -1 only when the buffer would overflow.
 */
#ifndef POSTERN_QUEUE_DSN_H
#define POSTERN_QUEUE_DSN_H

#include <stddef.h>
#include <stdint.h>

#include "dbuf.h"
#include "queue_env.h"

enum dsn_kind {
	DSN_FAILURE = 1,	/* Action: failed */
	DSN_DELAY,		/* Action: delayed (a warning, once) */
};

struct dsn_req {
	enum dsn_kind	 kind;
	const char	*hostname;	/* the reporting MTA */
	const struct envelope *env;	/* the original message */
	const uint32_t	*rcpts;		/* indexes into env->rcpt */
	size_t		 nrcpts;
	int64_t		 now;		/* Date: */
	int64_t		 retry_until;	/* delay warnings: the expiry */
	const char	*headers;	/* original header section, or NULL */
	size_t		 headerslen;
	const char	*dsnid;		/* queue id of the notification */
};

int	dsn_build(const struct dsn_req *, struct dbuf *, uint32_t *bodyp);
/* "Tue, 26 Nov 2024 13:00:00 +0000" into buf (at least 40 bytes). */
void	dsn_date(int64_t, char *buf, size_t);

#endif
