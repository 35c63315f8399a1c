/*
 * log.c: the programs' own messages, to syslog and/or stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static const char	*log_progname = "vmstated";
static int		 log_destinations = LOG_TO_STDERR;
static int		 log_level;

void
log_init(const char *progname, int destinations, int verbosity)
{
	log_progname = progname;
	log_level = verbosity;
	log_set_destinations(destinations);
}

void
log_set_destinations(int destinations)
{
	if ((destinations & LOG_TO_SYSLOG) &&
	    !(log_destinations & LOG_TO_SYSLOG))
		openlog(log_progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_destinations = destinations;
}

int
log_verbosity(void)
{
	return log_level;
}

static void
log_vwrite(int priority, const char *fmt, va_list ap, int errnum)
{
	char	 msg[2048];
	size_t	 n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum != 0) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(errnum));
	}
	if (log_destinations & LOG_TO_SYSLOG)
		syslog(priority, "%s", msg);
	if (log_destinations & LOG_TO_STDERR)
		fprintf(stderr, "%s: %s\n", log_progname, msg);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_level < 1)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, saved);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(1);
}
