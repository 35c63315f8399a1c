/*
 * vmlog.c: the per-VM log, logdir/<name>.log.  Hypervisor and hooks write
 * to it directly (their stdout and stderr are this descriptor); the daemon
 * adds one timestamped line per event.
 *
 * A log that cannot be opened or written never stops supervision.  It is
 * reported once, until it works again; meanwhile the daemon's own lines
 * for the VM go to syslog (and stderr with -f) instead of being lost, and
 * the log is tried again after 1 s, then 2, 4, ... at most every 60 s, not
 * at every line.  SIGHUP tries at once.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "vmstated.h"

#define VMLOG_BACKOFF_MAX	60	/* seconds between two tries */

static time_t
monotonic_seconds(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The log failed: say so once, and wait longer before the next try. */
static void
vmlog_failed(struct vm *vm, const char *why)
{
	if (!vm->log_error_reported)
		log_warnx("%s: %s; supervision goes on, the daemon's lines for "
		    "this VM go to syslog meanwhile, and the log is tried "
		    "again after 1 s, then less and less often (at most every "
		    "%d s); not reported again until it works", vm->name, why,
		    VMLOG_BACKOFF_MAX);
	vm->log_error_reported = true;
	vm->log_backoff = vm->log_backoff == 0 ? 1 :
	    vm->log_backoff * 2 > VMLOG_BACKOFF_MAX ? VMLOG_BACKOFF_MAX :
	    vm->log_backoff * 2;
	vm->log_retry_at = monotonic_seconds() + vm->log_backoff;
}

static void
vmlog_works(struct vm *vm)
{
	if (vm->log_error_reported)
		log_info("%s: writing to its log works again", vm->name);
	vm->log_error_reported = false;
	vm->log_backoff = 0;
}

/*
 * Open the log, never through a symbolic link (logdir is root's, and
 * the log is root's: see daemon_open_file).  0, or -1 after reporting.
 */
int
vmlog_open(struct vm *vm)
{
	char	*path, why[2048];
	int	 fd;

	xasprintf(&path, "%s/%s.log", vmstated_logdir(), vm->name);
	fd = daemon_open_file(path, O_WRONLY | O_APPEND, 0640, "log", why,
	    sizeof(why));
	free(path);
	if (fd == -1) {
		vmlog_failed(vm, why);
		return -1;
	}
	if (vm->log_fd != -1)
		close(vm->log_fd);
	vm->log_fd = fd;
	return 0;
}

void
vmlog_close(struct vm *vm)
{
	if (vm->log_fd != -1)
		close(vm->log_fd);
	vm->log_fd = -1;
}

/* SIGHUP: newsyslog/logrotate moved the files; open them anew, now. */
void
vmlog_reopen_all(void)
{
	struct vm	*vm;
	size_t		 i;

	for (i = 0; i < sv_count(); i++) {
		vm = sv_vm(i);
		if (vmlog_open(vm) == 0 && vm->log_backoff > 0)
			vm->log_backoff = 0;	/* the next line tries */
	}
}

/* Write one line; 0, or -1 after reporting. */
static int
vmlog_write(struct vm *vm, const struct buf *line)
{
	char	 why[256];
	ssize_t	 n;

	if (vm->log_backoff > 0 && monotonic_seconds() < vm->log_retry_at)
		return -1;
	if (vm->log_fd == -1 && vmlog_open(vm) == -1)
		return -1;
	do
		n = write(vm->log_fd, line->data, line->len);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)line->len) {
		snprintf(why, sizeof(why), "cannot write to its log: %s",
		    n == -1 ? strerror(errno) : "short write");
		vmlog_failed(vm, why);
		return -1;
	}
	vmlog_works(vm);
	return 0;
}

void
vmlog(struct vm *vm, const char *fmt, ...)
{
	struct buf	 msg, line;
	struct tm	 tm;
	time_t		 now = time(NULL);
	char		 stamp[32];
	va_list		 ap;

	buf_init(&msg);
	buf_puts(&msg, "");
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_init(&line);
	buf_printf(&line, "%s vmstated: %s: %s\n", stamp, vm->name, msg.data);
	if (vmlog_write(vm, &line) == -1)
		log_info("%s: %s", vm->name, msg.data);
	buf_free(&line);
	buf_free(&msg);
}
