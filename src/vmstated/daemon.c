/*
 * daemon.c: the pidfile and going into the background.
 *
 * The parent of a daemonizing vmstated waits on a pipe until the child has
 * loaded its configuration, locked the pidfile and bound the socket; only
 * then does it exit 0.  Any error the child meets on the way comes back
 * through the pipe and the parent prints it and exits 1.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "platform.h"
#include "vmstated.h"

static int	 report_fd = -1;
static char	*pidfile_path;
static int	 pidfile_fd = -1;

/*
 * Lock and write the pidfile.  When another process holds it, say who.
 * Returns 0, or -1 with a sentence in err.
 */
int
daemon_pidfile(const char *path, char *err, size_t errlen)
{
	char	 buf[32];
	ssize_t	 n;
	int	 fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1) {
		snprintf(err, errlen, "cannot open pidfile %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (platform_lock_pidfile(fd) == -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (errno == EWOULDBLOCK || errno == EAGAIN || n >= 0)
			snprintf(err, errlen, "vmstated is already running "
			    "as pid %s (pidfile %s is locked)",
			    buf[0] ? buf : "unknown", path);
		close(fd);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 ||
	    pwrite(fd, buf, strlen(buf), 0) != (ssize_t)strlen(buf)) {
		snprintf(err, errlen, "cannot write pidfile %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	pidfile_fd = fd;
	pidfile_path = xstrdup(path);
	return 0;
}

void
daemon_pidfile_remove(void)
{
	if (pidfile_path == NULL)
		return;
	unlink(pidfile_path);
	close(pidfile_fd);
	free(pidfile_path);
	pidfile_path = NULL;
	pidfile_fd = -1;
}

/*
 * Fork.  The parent waits for the child's report and exits with it; the
 * child returns 0 and must call daemon_report() once it is ready or has
 * failed.
 */
int
daemon_detach(void)
{
	char	 msg[2048];
	size_t	 got = 0;
	ssize_t	 n;
	pid_t	 pid;
	int	 p[2];

	if (pipe(p) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(p[0]);
		fcntl(p[1], F_SETFD, FD_CLOEXEC);
		report_fd = p[1];
		if (setsid() == -1)
			fatal("setsid");
		return 0;
	}
	close(p[1]);
	while (got < sizeof(msg) - 1) {
		n = read(p[0], msg + got, sizeof(msg) - 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	msg[got] = '\0';
	if (got > 0 && msg[0] == '0')
		_exit(0);
	if (got > 1)
		fprintf(stderr, "vmstated: %s\n", msg + 1);
	else
		fprintf(stderr, "vmstated: the daemon exited during start-up "
		    "without saying why; see syslog\n");
	_exit(1);
}

/* Tell the waiting parent (if any) how start-up went. */
void
daemon_report(int ok, const char *msg)
{
	int	 fd;

	if (report_fd == -1)
		return;
	(void)!write(report_fd, ok ? "0" : "1", 1);
	if (!ok && msg != NULL)
		(void)!write(report_fd, msg, strlen(msg));
	close(report_fd);
	report_fd = -1;
	if (ok && (fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}
