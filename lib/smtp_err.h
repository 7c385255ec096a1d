/*
 * smtp_err: the reply a wire parser hands back to the SMTP session.
 *
 * The parsers of client input (smtp_cmd, smtp_data) never talk to the
 * client themselves: when they refuse something they fill one of these
 * and the session sends it as it is, "CODE ENHANCED TEXT".  The strings
 * are static (string literals or the static text of another parser) and
 * never hold CR or LF, so they can go on the wire and into logs unchanged.
 * code 0 means "no error".
 */
#ifndef POSTERN_SMTP_ERR_H
#define POSTERN_SMTP_ERR_H

struct smtp_err {
	int		 code;		/* 0, or a 4xx/5xx reply code */
	const char	*enhanced;	/* RFC 3463 code, "5.5.4" */
	const char	*text;		/* no CR, no LF, no code prefix */
};

#endif
