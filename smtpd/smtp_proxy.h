/*
 * smtp_proxy: the PROXY protocol header (versions 1 and 2) that a load
 * balancer puts in front of a connection, so that the address of the real
 * client feeds limits, logs and Received: instead of the balancer's.
 *
 * proxy_parse(buf, len, &info) looks at the first len bytes received on a
 * connection.  It returns
 *	> 0	a complete, valid header of that many bytes is at buf; info
 *		holds what it says (info.local: the balancer speaks for
 *		itself -- a health check, "UNKNOWN", or an address family we
 *		do not carry -- and the connection's own addresses stand);
 *	0	every byte so far is a valid beginning of a header, and every
 *		one of them belongs to it (a version 1 line has no LF yet; a
 *		version 2 header is longer): read more;
 *	-1	this is not a PROXY header, or a malformed one.
 * It reads only the len bytes given, keeps no state and never logs: the
 * caller owns the buffer and decides what a failure means.
 *
 * Because a 0 answer means "all of this is header", a caller can peek
 * (MSG_PEEK) at what the socket holds, parse it, and then consume exactly
 * the header and not one byte more: on an implicit-TLS listener the next
 * byte belongs to the TLS handshake, which libtls reads from the socket.
 *
 * smtp_proxy_trusted(listener, peer) says whether a connection's peer is
 * one of the listener's proxy-from addresses: those connections must
 * begin with a header, and no other connection may send one.
 */
#ifndef POSTERN_SMTP_PROXY_H
#define POSTERN_SMTP_PROXY_H

#include <sys/socket.h>
#include <stddef.h>

#define PROXY_V1_MAX	107	/* "PROXY ... CRLF", spec bound */
#define PROXY_V2_FIXED	16
#define PROXY_V2_MAX	(PROXY_V2_FIXED + 2048)	/* we refuse bigger TLVs */
#define PROXY_MAX	PROXY_V2_MAX

struct proxy_info {
	int			 version;	/* 1 or 2 */
	int			 local;		/* keep the real addresses */
	struct sockaddr_storage	 src;		/* the client */
	socklen_t		 srclen;
	struct sockaddr_storage	 dst;		/* what it connected to */
	socklen_t		 dstlen;
};

struct listener;

int	proxy_parse(const unsigned char *, size_t, struct proxy_info *);
int	smtp_proxy_trusted(const struct listener *,
	    const struct sockaddr_storage *);

#endif
