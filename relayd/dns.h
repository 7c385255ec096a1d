/*
 * dns: where to deliver the mail of a domain, found without blocking.
 *
 * The resolver is libunbound in its threaded asynchronous mode
 * (ub_ctx_async(ctx, 1): a thread, not a forked process, so that the
 * chroot and the dropped privileges are all it ever has); its answers are
 * picked up on the libevent loop through ub_fd() and ub_process().
 *
 * Set-up, in this order, before the first lookup (libunbound freezes its
 * configuration at the first query):
 *	dns_init(base)			once
 *	dns_forwarder("addr@port")	each configured resolver, or
 *	dns_resolvconf(text, len)	the nameserver lines of resolv.conf
 *	dns_trust_anchor(text, len)	DNSSEC anchors (DS/DNSKEY lines)
 * With no forwarder at all libunbound recurses from the root itself.
 * /etc/hosts is never read (there is none in the chroot, and mail routing
 * must not depend on it).
 *
 * dns_lookup_mx(domain, port, cb, arg) follows RFC 5321 section 5.1:
 *   - the MX records in preference order, equal preferences shuffled;
 *   - no MX records (NOERROR, no data): the domain itself is the only
 *     host (the "implicit MX");
 *   - a null MX (RFC 7505: one MX, preference 0, host "."): permanent
 *     failure at once (5.1.10);
 *   - NXDOMAIN: permanent failure (5.1.2);
 *   - SERVFAIL, other error codes, timeouts, DNSSEC "bogus" answers:
 *     temporary failure (4.4.3);
 *   - then the AAAA and A records of every host, IPv6 first within a
 *     host; hosts without an address are skipped; when no host has one,
 *     the failure is temporary if any lookup failed temporarily and
 *     permanent otherwise.
 * A domain literal ("[192.0.2.1]", "[IPv6:2001:db8::1]") is its own
 * target.  dns_lookup_host(host, port, ...) does the address step alone,
 * for a configured next hop (an IP address is used as it is); a name
 * that does not exist is a temporary failure there, because it is the
 * operator's mistake, not the recipient's.
 *
 * The answer is a list of (host, address, port) targets to try in order.
 * The callback runs from the event loop, never from inside the lookup
 * call, exactly once unless the query was cancelled with dns_cancel()
 * first; the answer is only valid during the callback.  The query is
 * freed after the callback returns (do not cancel it from there).
 */
#ifndef POSTERN_RELAYD_DNS_H
#define POSTERN_RELAYD_DNS_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "proto.h"

#define DNS_MAX_HOSTS		8	/* MX hosts looked at, best first */
#define DNS_MAX_HOST_ADDRS	4	/* addresses tried per host */
#define DNS_MAX_TARGETS		16

enum dns_status {
	DNS_OK = 0,
	DNS_TEMPFAIL,
	DNS_PERMFAIL,
};

struct dns_target {
	char			host[MAX_HOST];	/* name, no final dot */
	char			addr[64];	/* numeric, for logs */
	struct sockaddr_storage	ss;		/* with the port set */
	socklen_t		sslen;
	int			pref;		/* MX preference */
};

struct dns_answer {
	enum dns_status		status;
	char			enhanced[16];	/* DSN code when failed */
	char			reason[256];	/* why, when failed */
	int			ntargets;
	struct dns_target	target[DNS_MAX_TARGETS];
};

typedef void (*dns_cb)(const struct dns_answer *, void *arg);

struct dns_query;

void	dns_init(struct event_base *);
int	dns_forwarder(const char *addr_at_port);
int	dns_resolvconf(const char *text, size_t len);
int	dns_trust_anchor(const char *text, size_t len);
struct dns_query *dns_lookup_mx(const char *domain, uint16_t port, dns_cb,
	    void *arg);
struct dns_query *dns_lookup_host(const char *host, uint16_t port, dns_cb,
	    void *arg);
void	dns_cancel(struct dns_query *);

/* Helpers the rest of relayd shares. */
/* 1 when s is a host name we may look up (LDH labels, dots). */
int	dns_valid_name(const char *s);
/* The port of a target. */
int	dns_target_port(const struct dns_target *);
/* Numeric address (v4, v6, or "[v4]"/"[IPv6:v6]") to a target. */
int	dns_parse_literal(const char *s, uint16_t port, struct dns_target *);

#endif
