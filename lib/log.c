/*
 * log.c: see log.h for the contract and the error rule.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_name = "postern";
static enum log_dest log_dest = LOG_TO_STDERR;
static int log_verbose;

void
log_init(const char *procname, enum log_dest dest, int verbose)
{
	log_name = procname;
	log_dest = dest;
	log_verbose = verbose;
	if (dest == LOG_TO_SYSLOG)
		openlog("posternd", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

const char *
log_procname(void)
{
	return log_name;
}

/* Replace control characters so that one event stays one line. */
static void
log_sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void
log_emit(int prio, const char *name, int pid, const char *msg)
{
	char ts[32];
	struct timespec now;
	struct tm tm;

	switch (log_dest) {
	case LOG_TO_SYSLOG:
		if (pid > 0)
			syslog(prio, "%s[%d]: %s", name, pid, msg);
		else
			syslog(prio, "%s: %s", name, msg);
		break;
	case LOG_TO_STDERR:
		if (getenv("JOURNAL_STREAM") != NULL) {
			/* journald stamps lines itself. */
			if (pid > 0)
				fprintf(stderr, "<%d>%s[%d]: %s\n", prio, name,
				    pid, msg);
			else
				fprintf(stderr, "<%d>%s: %s\n", prio, name, msg);
			break;
		}
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		if (pid > 0)
			fprintf(stderr, "%s.%03ldZ %s[%d]: %s\n", ts,
			    now.tv_nsec / 1000000, name, pid, msg);
		else
			fprintf(stderr, "%s.%03ldZ %s: %s\n", ts,
			    now.tv_nsec / 1000000, name, msg);
		fflush(stderr);
		break;
	case LOG_TO_PIPE:
		/* One write per line: atomic on a pipe below PIPE_BUF. */
		dprintf(STDERR_FILENO, "<%d>%s\n", prio, msg);
		break;
	}
}

static void	log_vlog(int, int, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

static void
log_vlog(int prio, int with_errno, const char *fmt, va_list ap)
{
	char msg[1024];
	int saved = errno;
	size_t n;

	if (prio == LOG_DEBUG && !log_verbose)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	log_sanitize(msg);
	log_emit(prio, log_name, 0, msg);
	errno = saved;
}

const char *
log_quote(const char *in, char *out, size_t outsz)
{
	size_t i, o = 0;

	for (i = 0; in[i] != '\0' && o + 2 < outsz; i++) {
		if (in[i] == '"' || in[i] == '\\')
			out[o++] = '\\';
		out[o++] = in[i];
	}
	out[o] = '\0';
	return out;
}

void
log_relay(const char *procname, int pid, const char *line)
{
	char msg[1024];
	int prio = LOG_ERR;
	const char *p = line;

	if (p[0] == '<' && p[1] >= '0' && p[1] <= '7' && p[2] == '>') {
		prio = p[1] - '0';
		p += 3;
	}
	if (prio == LOG_DEBUG && !log_verbose)
		return;
	strlcpy(msg, p, sizeof(msg));
	log_sanitize(msg);
	log_emit(prio, procname, pid, msg);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
