/*
 * log: the one way every postern process reports events.
 *
 * The error rule, followed everywhere:
 *   - start-up failures and broken invariants are fatal (fatal/fatalx):
 *     the process cannot go on, the master then stops the whole tree and
 *     the service manager restarts it;
 *   - runtime trouble (a full disk, a peer that is down, a timeout) is
 *     logged with log_warn/log_warnx and becomes a temporary failure;
 *   - an error a network client caused becomes an SMTP reply, never a
 *     fatal;
 *   - a malformed message from a peer *daemon* is a protocol error and ends
 *     the receiving process (fatalx with the reason);
 *   - nothing a network client or a posternctl user sends may make any
 *     process exit: control requests with bad content get an error reply.
 *
 * Where lines go.  The master logs to syslog (LOG_MAIL), or to stderr with
 * a timestamp when started with -d.  Children are chrooted and cannot
 * reopen /dev/log, so their stderr is a pipe that the master reads: a child
 * writes one line per event, prefixed "<N>" with the syslog priority, and
 * the master re-emits it under the child's name.  Anything else a child
 * prints on stderr (a sanitizer report, say) arrives as an error line.
 *
 * Line format: "proc: event key=value key=value ...", one line per event,
 * no newlines inside (log_* replaces control characters by '?').
 */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_dest {
	LOG_TO_SYSLOG,	/* master, daemon mode */
	LOG_TO_STDERR,	/* master with -d: timestamped lines */
	LOG_TO_PIPE,	/* children: "<prio>line" to stderr for the master */
};

void	log_init(const char *procname, enum log_dest, int verbose);
void	log_setverbose(int);
int	log_getverbose(void);
const char *log_procname(void);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Text for a quoted value (key="..."): '"' and '\\' get a backslash, so
 * that text from outside cannot end the quotes and add fields of its own.
 * Cut to fit out (outsz >= 1); returns out.  2 * strlen + 1 always fits.
 */
const char *log_quote(const char *in, char *out, size_t outsz);

/* Master only: emit a line received from a child's log pipe. */
void	log_relay(const char *procname, int pid, const char *line);

#endif
