/*
 * log.h: the daemon's and the tools' own messages.
 *
 * log_init() chooses the destinations: syslog, stderr, or both (vmstated -f).
 * log_warn* append strerror(errno); fatal* log and exit.
 */
#ifndef VMSTATED_LOG_H
#define VMSTATED_LOG_H

#include <stdarg.h>

#define LOG_TO_STDERR	0x1
#define LOG_TO_SYSLOG	0x2

void	log_init(const char *progname, int destinations, int verbosity);
void	log_set_destinations(int destinations);
int	log_verbosity(void);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
