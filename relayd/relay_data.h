/*
 * relay_data: a message as it goes on the wire after DATA.
 *
 * The message comes from queued as a read-only descriptor (the whole
 * message, CRLF line ends) plus an optional prefix (the DKIM-Signature
 * header lines, CRLF ends) that goes before it.  relay_data_read() hands
 * out the prefix and then the message, dot-stuffed (RFC 5321 4.5.2: a
 * line that begins with "." gets another "."), and ends with CRLF "."
 * CRLF -- adding a CRLF first when the message does not end with one.
 *
 * Nothing inside the message can end the data early: a "." is doubled
 * at the start of every line, and a line starts after every LF and after
 * every CR that is not followed by LF, so even a message with bare CR or
 * LF (which queued should never hand over) cannot smuggle an end of data
 * past a receiver that takes bare line ends as line ends.
 *
 * The file is read with pread() from offset 0 on: the descriptor may be
 * shared with other deliveries of the same message.
 */
#ifndef POSTERN_RELAYD_RELAY_DATA_H
#define POSTERN_RELAYD_RELAY_DATA_H

#include <sys/types.h>
#include <stddef.h>

struct relay_data {
	int			 fd;
	off_t			 off;
	const unsigned char	*prefix;
	size_t			 prefixlen;
	size_t			 prefixoff;
	unsigned char		 prev;	/* last octet sent, LF at first */
	int			 eof;	/* the file is all read */
	int			 done;	/* the terminator went out */
};

#define RELAY_DATA_MIN_OUT	64	/* smallest useful outsz */

void	relay_data_init(struct relay_data *, int fd,
	    const unsigned char *prefix, size_t prefixlen);
/*
 * Put the next piece in out (outsz >= RELAY_DATA_MIN_OUT): the number of
 * octets, 0 once everything including the terminator was returned, -1
 * on a read error (errno set).
 */
ssize_t	relay_data_read(struct relay_data *, unsigned char *out,
	    size_t outsz);
/* Dot-stuff len octets into out (room for 2 * len); the length written. */
size_t	relay_data_stuff(unsigned char *prev, const unsigned char *in,
	    size_t len, unsigned char *out);

#endif
