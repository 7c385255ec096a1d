/*
 * smtp_cmd: parse one SMTP command line received by the server.
 *
 *	struct smtp_cmd cmd;
 *	if (smtp_cmd_parse(line, len, &cmd) == -1)
 *		reply(cmd.err.code, cmd.err.enhanced, cmd.err.text);
 *	else switch (cmd.verb) ...
 *
 * line is the command as read from the client, without its CRLF, len
 * octets, not necessarily NUL-terminated.  The parser is pure: it keeps
 * no state between calls, does not log, allocates nothing and cannot
 * fail in any way a client could turn into an exit.  It checks syntax
 * only; what a command means in the session's state (AUTH before EHLO,
 * RCPT before MAIL, SIZE over the limit, BODY=BINARYMIME without BDAT,
 * a non-ASCII RCPT path without SMTPUTF8 on MAIL) is the session's
 * business.
 *
 * Returns 0 with cmd filled in, or -1 with cmd->err set to the reply to
 * send (cmd->verb says which command it was, as far as that was known):
 *
 *	500 5.5.2  the line is longer than SMTP_CMD_MAXLEN (SMTP_AUTH_MAXLEN
 *		   for AUTH, RFC 4954 section 4), holds NUL or another
 *		   control character (TAB included), or malformed UTF-8
 *		   (utf8.h: C1 controls included);
 *		   or the verb is unknown (verb SMTP_UNKNOWN), the empty
 *		   line included
 *	501 5.5.4  the arguments do not fit the command's syntax, a
 *		   parameter is malformed or given twice
 *	501 5.1.7  MAIL: the reverse-path is not a valid <path>
 *	501 5.1.3  RCPT: the forward-path is not a valid <path>, or is <>
 *	553 5.6.7  MAIL: a non-ASCII reverse-path without SMTPUTF8
 *	555 5.5.4  MAIL/RCPT: a parameter this server does not know
 *	552 5.3.4  a SIZE= or BDAT size too large for 64 bits
 *
 * Trailing spaces are ignored, and one or more spaces separate the verb,
 * its argument and each parameter.  What each command yields:
 *
 *	HELO/EHLO domain	domain: the argument, 1 to 255 printable
 *				ASCII characters, no space (a domain or an
 *				address literal; not checked further)
 *	MAIL FROM:<path> [param ...]
 *				path ("" for <>), path_utf8; SIZE=digits
 *				(has_size, size), BODY=7BIT|8BITMIME|
 *				BINARYMIME (body), SMTPUTF8 (smtputf8),
 *				RET=FULL|HDRS (ret), ENVID=xtext (envid, as
 *				received, at most 100 characters), AUTH=
 *				(checked as an esmtp-value, then ignored)
 *	RCPT TO:<path> [param ...]
 *				path, path_utf8; NOTIFY=NEVER or a list of
 *				SUCCESS,FAILURE,DELAY (notify);
 *				ORCPT=addr-type;xtext (orcpt, as received, at
 *				most 500 characters).  <Postmaster> without a
 *				domain is accepted as path "Postmaster" with
 *				postmaster set (RFC 5321 section 4.5.1).
 *	A space after "FROM:" / "TO:" is tolerated, as real clients send it.
 *	BDAT size [LAST]	chunk, last
 *	AUTH mech [initial]	mech (upper-cased, 1 to 20 of A-Z 0-9 - _),
 *				initial/initial_len (NULL when absent; "="
 *				stands for an empty response; not decoded)
 *	VRFY/EXPN string	arg/arglen, required
 *	HELP/NOOP [string]	arg/arglen, may be empty
 *	DATA RSET QUIT STARTTLS	no argument allowed
 *
 * arg/arglen is, for every command, the text after the verb and its
 * spaces, trailing spaces removed; it and initial point into line.
 */
#ifndef POSTERN_SMTP_CMD_H
#define POSTERN_SMTP_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "smtp_err.h"

/*
 * RFC 5321 allows 512 octets and every extension adds to that (SIZE, DSN's
 * ENVID and ORCPT, AUTH=, SMTPUTF8); 2048 leaves room for all of them.
 */
#define SMTP_CMD_MAXLEN		2048
#define SMTP_AUTH_MAXLEN	12288	/* RFC 4954: AUTH lines may be long */
#define SMTP_MECH_MAX		20	/* RFC 4422 sasl-mech */
#define SMTP_ENVID_MAX		100	/* RFC 3461 section 4.4 */
#define SMTP_ORCPT_MAX		500	/* RFC 3461 section 4.2 */

enum smtp_verb {
	SMTP_HELO,
	SMTP_EHLO,
	SMTP_MAIL,
	SMTP_RCPT,
	SMTP_DATA,
	SMTP_BDAT,
	SMTP_RSET,
	SMTP_NOOP,
	SMTP_QUIT,
	SMTP_VRFY,
	SMTP_EXPN,
	SMTP_HELP,
	SMTP_AUTH,
	SMTP_STARTTLS,
	SMTP_UNKNOWN
};

enum smtp_body {
	SMTP_BODY_NONE = 0,	/* no BODY= parameter */
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME
};

enum smtp_ret {
	SMTP_RET_NONE = 0,
	SMTP_RET_FULL,
	SMTP_RET_HDRS
};

/* NOTIFY= bits */
#define SMTP_NOTIFY_NEVER	0x1
#define SMTP_NOTIFY_SUCCESS	0x2
#define SMTP_NOTIFY_FAILURE	0x4
#define SMTP_NOTIFY_DELAY	0x8

struct smtp_cmd {
	enum smtp_verb	 verb;
	const char	*arg;			/* into the line */
	size_t		 arglen;

	char		 domain[MAX_HOST];	/* HELO, EHLO */

	char		 path[MAX_ADDR];	/* MAIL, RCPT */
	int		 path_utf8;		/* path holds non-ASCII */
	int		 postmaster;		/* RCPT TO:<Postmaster> */

	int		 has_size;		/* MAIL parameters */
	uint64_t	 size;
	enum smtp_body	 body;
	int		 smtputf8;
	enum smtp_ret	 ret;
	char		 envid[SMTP_ENVID_MAX + 1];

	unsigned int	 notify;		/* RCPT parameters, 0: none */
	char		 orcpt[SMTP_ORCPT_MAX + 1];

	uint64_t	 chunk;			/* BDAT */
	int		 last;

	char		 mech[SMTP_MECH_MAX + 1];	/* AUTH */
	const char	*initial;		/* into the line, or NULL */
	size_t		 initial_len;

	struct smtp_err	 err;			/* when parsing failed */
};

int	smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *);
/* The verb's name for logs ("EHLO", ... "unknown"). */
const char *smtp_verb_name(enum smtp_verb);

#endif
