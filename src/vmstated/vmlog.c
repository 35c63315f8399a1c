/*
 * vmlog.c: the per-VM log, logdir/<name>.log.  Hypervisor and hooks write
 * to it directly (their stdout and stderr are this descriptor); the daemon
 * adds one timestamped line per event.  A failed write never stops
 * supervision: it is reported once per VM, until a write works again.
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

int
vmlog_open(struct vm *vm)
{
	char	*path;
	int	 fd;

	xasprintf(&path, "%s/%s.log", vmstated_logdir(), vm->name);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_warn("%s: cannot open log %s", vm->name, path);
		free(path);
		return -1;
	}
	free(path);
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

/* SIGHUP: newsyslog/logrotate moved the files; open them anew. */
void
vmlog_reopen_all(void)
{
	size_t	 i;

	for (i = 0; i < sv_count(); i++)
		vmlog_open(sv_vm(i));
}

void
vmlog(struct vm *vm, const char *fmt, ...)
{
	struct buf	 b;
	struct tm	 tm;
	time_t		 now = time(NULL);
	char		 stamp[32];
	va_list		 ap;
	ssize_t		 n;

	if (vm->log_fd == -1 && vmlog_open(vm) == -1)
		return;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_init(&b);
	buf_printf(&b, "%s vmstated: %s: ", stamp, vm->name);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_putc(&b, '\n');
	do
		n = write(vm->log_fd, b.data, b.len);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)b.len) {
		if (!vm->log_error_reported)
			log_warnx("%s: cannot write to its log: %s; "
			    "supervision goes on, further errors are not "
			    "reported until a write succeeds", vm->name,
			    n == -1 ? strerror(errno) : "short write");
		vm->log_error_reported = true;
	} else if (vm->log_error_reported) {
		log_info("%s: writing to its log works again", vm->name);
		vm->log_error_reported = false;
	}
	buf_free(&b);
}
