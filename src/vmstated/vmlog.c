/*
 * vmlog.c: the per-VM log, logdir/<name>.log.
 *
 * Everything in it is a whole line that says where it comes from:
 *
 *	2026-11-26T23:59:30Z vmstated: vm1: running -> stopping (...)
 *	2026-11-26T23:59:30Z hook stopping: what the hook printed
 *	2026-11-26T23:59:30Z console: what the guest printed
 *
 * The daemon writes its own lines and the guest's (console.c); hooks and
 * helpers write theirs through their runner (relay.c), with a file
 * description of their own; so does the hypervisor, whose own messages
 * (bhyve's, qemu's) are the only lines without a prefix.  A guest can thus
 * never write a line that starts like the daemon's.
 *
 * The daemon keeps a VM's log open only while it writes to it and the VM
 * is active: a thousand stopped VMs cost no descriptor.  SIGUSR1, SIGHUP,
 * `reopen` and `reload` close every log, so that the next line goes to a
 * new file after newsyslog or logrotate moved the old one; with
 * log_max_size (vmstated.conf) the daemon moves them itself.
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
	struct vm_rare	*rare;

	if (!vm->log_error_reported)
		log_warnx("%s: %s; supervision goes on, the daemon's lines for "
		    "this VM go to syslog meanwhile, and the log is tried "
		    "again after 1 s, then less and less often (at most every "
		    "%d s); not reported again until it works", vm->name, why,
		    VMLOG_BACKOFF_MAX);
	vm->log_error_reported = true;
	rare = vm_rare(vm);
	rare->log_backoff = rare->log_backoff == 0 ? 1 :
	    rare->log_backoff * 2 > VMLOG_BACKOFF_MAX ? VMLOG_BACKOFF_MAX :
	    rare->log_backoff * 2;
	rare->log_retry_at = monotonic_seconds() + rare->log_backoff;
}

static void
vmlog_works(struct vm *vm)
{
	if (vm->log_error_reported)
		log_info("%s: writing to its log works again", vm->name);
	vm->log_error_reported = false;
	if (vm->rare != NULL)
		vm->rare->log_backoff = 0;
}

/* logdir/<name>.log, malloc'd. */
char *
vmlog_path(const char *name)
{
	char	*path;

	xasprintf(&path, "%s/%s.log", vmstated_logdir(), name);
	return path;
}

/*
 * Open the log for appending, never through a symbolic link (logdir is
 * root's, and the log is root's: see daemon_open_file).  A new file
 * description each time.  The descriptor, or -1 with a sentence in why.
 */
static int
vmlog_open_new(const struct vm *vm, char *why, size_t len)
{
	char	*path = vmlog_path(vm->name);
	int	 fd;

	fd = daemon_open_file(path, O_WRONLY | O_APPEND, 0640, "log", why,
	    len);
	free(path);
	return fd;
}

/* The daemon's descriptor of the log, opened if need be: 0 or -1. */
static int
vmlog_open(struct vm *vm)
{
	char	 why[2048];
	int	 fd;

	if (vm->log_fd != -1)
		return 0;
	if ((fd = vmlog_open_new(vm, why, sizeof(why))) == -1) {
		vmlog_failed(vm, why);
		return -1;
	}
	vm->log_fd = fd;
	return 0;
}

/*
 * A descriptor of the log for a child (hypervisor, hook runner): a file
 * description of its own, so that what the child does to it -- bhyve's
 * "stdio" console sets O_NONBLOCK with F_SETFL, which also clears
 * O_APPEND -- never reaches the daemon's.  -1 when the log cannot be
 * opened (reported; the child's output then goes to /dev/null).
 */
int
vmlog_child_fd(struct vm *vm)
{
	char	 why[2048];
	int	 fd;

	if ((fd = vmlog_open_new(vm, why, sizeof(why))) == -1)
		vmlog_failed(vm, why);
	return fd;
}

void
vmlog_close(struct vm *vm)
{
	if (vm->log_fd != -1)
		close(vm->log_fd);
	vm->log_fd = -1;
}

/*
 * SIGUSR1, SIGHUP, `reopen`: newsyslog/logrotate moved the files; the
 * next line of each VM opens its log anew, now, not after a back-off.
 */
void
vmlog_reopen_all(void)
{
	struct vm	*vm;
	size_t		 i;

	for (i = 0; i < sv_count(); i++) {
		vm = sv_vm(i);
		vmlog_close(vm);
		if (vm->rare != NULL)
			vm->rare->log_backoff = 0;
	}
}

/*
 * log_max_size: the log would grow past it; move it to .1 (.1 to .2, ...,
 * dropping .log_keep) and start a new one.  Best effort: a failed rename
 * is reported once like any failure of the log.
 */
static void
vmlog_rotate(struct vm *vm, size_t adding)
{
	const struct daemon_config	*dc = vmstated_config();
	struct stat			 st;
	char				*path, *from, *to, why[512];
	int64_t				 i;

	if (dc->log_max_size <= 0 || fstat(vm->log_fd, &st) == -1 ||
	    st.st_size == 0 || st.st_size + (off_t)adding <=
	    (off_t)dc->log_max_size)
		return;
	vmlog_close(vm);
	path = vmlog_path(vm->name);
	for (i = dc->log_keep; i > 1; i--) {
		xasprintf(&from, "%s.%lld", path, (long long)i - 1);
		xasprintf(&to, "%s.%lld", path, (long long)i);
		(void)rename(from, to);
		free(from);
		free(to);
	}
	if (dc->log_keep > 0) {
		xasprintf(&to, "%s.1", path);
		if (rename(path, to) == -1) {
			snprintf(why, sizeof(why), "cannot rename its log %s "
			    "to %s: %s", path, to, strerror(errno));
			vmlog_failed(vm, why);
		}
		free(to);
	} else
		(void)unlink(path);
	free(path);
	(void)vmlog_open(vm);
}

/* Write one line; 0, or -1 after reporting. */
static int
vmlog_write(struct vm *vm, const struct buf *line)
{
	char	 why[256];
	ssize_t	 n;

	if (vm_rare_peek(vm)->log_backoff > 0 &&
	    monotonic_seconds() < vm->rare->log_retry_at)
		return -1;
	if (vmlog_open(vm) == -1)
		return -1;
	vmlog_rotate(vm, line->len);
	if (vm->log_fd == -1)
		return -1;
	do
		n = write(vm->log_fd, line->data, line->len);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)line->len) {
		snprintf(why, sizeof(why), "cannot write to its log: %s",
		    n == -1 ? strerror(errno) : "short write");
		vmlog_failed(vm, why);
		vmlog_close(vm);
		return -1;
	}
	vmlog_works(vm);
	/* A VM at rest writes seldom: no descriptor kept for it. */
	if (vm_at_rest(vm))
		vmlog_close(vm);
	return 0;
}

/* "2026-11-26T23:59:30Z " */
static void
vmlog_stamp(struct buf *line)
{
	struct tm	 tm;
	time_t		 now = time(NULL);
	char		 stamp[32];

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	buf_puts(line, stamp);
}

/*
 * A line of another source than the daemon: "TIME source: text".  Lost
 * when the log fails (the guest's output is not for syslog).
 */
void
vmlog_source(struct vm *vm, const char *source, const char *text,
    size_t len)
{
	struct buf	 line;

	buf_init(&line);
	vmlog_stamp(&line);
	buf_printf(&line, "%s: ", source);
	buf_append(&line, text, len);
	buf_putc(&line, '\n');
	(void)vmlog_write(vm, &line);
	buf_free(&line);
}

/* A line of the daemon's; a message of several lines is several lines,
 * each with the prefix. */
void
vmlogv(struct vm *vm, const char *fmt, va_list ap)
{
	struct buf	 msg, line;
	const char	*p, *nl;

	buf_init(&msg);
	buf_puts(&msg, "");
	buf_vprintf(&msg, fmt, ap);
	buf_init(&line);
	for (p = msg.data; ; p = nl + 1) {
		nl = strchr(p, '\n');
		vmlog_stamp(&line);
		buf_printf(&line, "vmstated: %s: %.*s\n", vm->name,
		    nl != NULL ? (int)(nl - p) : (int)strlen(p), p);
		if (nl == NULL || nl[1] == '\0')
			break;
	}
	if (vmlog_write(vm, &line) == -1)
		log_info("%s: %s", vm->name, msg.data);
	buf_free(&line);
	buf_free(&msg);
}

void
vmlog(struct vm *vm, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vmlogv(vm, fmt, ap);
	va_end(ap);
}
