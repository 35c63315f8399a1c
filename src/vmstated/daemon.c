/*
 * daemon.c: the pidfile and going into the background.
 *
 * The parent of a daemonizing vmstated waits on a pipe until the child has
 * loaded its configuration, locked the pidfile and bound the socket; only
 * then does it exit 0.  Any error the child meets on the way comes back
 * through the pipe and the parent prints it and exits 1.
 *
 * Also the hygiene of the daemon's own files: descriptors 0-2, files
 * opened without following links, and the lock that keeps a second
 * daemon off the same run directory.
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
#include "trust.h"
#include "vmstated.h"

#define RUNDIR_LOCK	"vmstated.lock"

static int	 report_fd = -1;
static char	*pidfile_path;
static int	 pidfile_fd = -1;
static int	 rundir_lock_fd = -1;

/*
 * Descriptors 0, 1 and 2 on /dev/null where they are closed, before
 * anything else is opened: otherwise the pidfile or a socket would become
 * the daemon's standard error, and log lines would land in it.  Without
 * /dev/null there is nowhere safe to write: exit 1.
 */
void
daemon_sanitize_fds(void)
{
	int	 fd, null;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if ((null = open("/dev/null", O_RDWR)) == -1)
			_exit(1);
		if (null != fd) {
			/* A lower one was closed too and is taken now. */
			(void)dup2(null, fd);
			close(null);
		}
	}
}

/*
 * Open (creating it with mode if need be) a file the daemon writes in a
 * place others might reach: what names it ("pidfile", "log"...) for the
 * message.
 * A symbolic link is never followed, a FIFO never waited for, and the file
 * must be a regular file with one link, owned by root or the daemon's
 * user: anything else may have been planted to make root write elsewhere.
 * Returns the descriptor (close-on-exec, blocking), or -1 with a sentence
 * in err.
 */
int
daemon_open_file(const char *path, int flags, mode_t mode, const char *what,
    char *err, size_t errlen)
{
	int		 fd;

	fd = open(path, flags | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
	    mode);
	if (fd == -1 && (errno == ELOOP || errno == EMLINK)) {
		/* EMLINK: FreeBSD's answer for O_NOFOLLOW on a link. */
		snprintf(err, errlen, "%s %s is a symbolic link; vmstated does "
		    "not follow links to the files it writes: remove it",
		    what, path);
		return -1;
	}
	if (fd == -1) {
		snprintf(err, errlen, "cannot open %s %s: %s", what, path,
		    strerror(errno));
		return -1;
	}
	if (daemon_vet_file(fd, path, what, err, errlen, NULL) == -1) {
		close(fd);
		return -1;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

/*
 * A file of the daemon's own, just opened: a regular file with one link,
 * owned by root or the daemon.  0 (its status in *stp, unless NULL), or
 * -1 with a sentence in err (the caller closes fd).
 */
int
daemon_vet_file(int fd, const char *path, const char *what, char *err,
    size_t errlen, struct stat *stp)
{
	struct stat	 st;
	const char	*wrong = NULL;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "cannot open %s %s: %s", what, path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode))
		wrong = "is not a regular file";
	else if (st.st_nlink != 1)
		wrong = "has more than one hard link";
	else if (st.st_uid != 0 && st.st_uid != geteuid())
		wrong = "belongs to another user";
	if (wrong != NULL) {
		snprintf(err, errlen, "%s %s %s (owner uid %ld, mode %04o): "
		    "someone may have put it there to make vmstated write "
		    "elsewhere; remove it", what, path, wrong,
		    (long)st.st_uid, (unsigned)(st.st_mode & 07777));
		errno = EPERM;
		return -1;
	}
	if (stp != NULL)
		*stp = st;
	return 0;
}

/* Replace the contents of fd with our pid. */
static int
write_pid(int fd)
{
	char	 buf[32];

	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 ||
	    pwrite(fd, buf, strlen(buf), 0) != (ssize_t)strlen(buf))
		return -1;
	return 0;
}

/* The pid written in a locked file, for the message; "unknown" if none. */
static void
read_pid(int fd, char *buf, size_t len)
{
	ssize_t	 n;

	n = pread(fd, buf, len - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (buf[0] == '\0')
		snprintf(buf, len, "unknown");
}

/*
 * Lock and write the pidfile.  When another process holds it, say who.
 * Returns 0, or -1 with a sentence in err.
 */
int
daemon_pidfile(const char *path, char *err, size_t errlen)
{
	char	 buf[32];
	int	 fd;

	if ((fd = daemon_open_file(path, O_RDWR, 0644, "pidfile",
	    err, errlen)) == -1)
		return -1;
	if (platform_lock_pidfile(fd) == -1) {
		if (errno != EWOULDBLOCK && errno != EAGAIN)
			snprintf(err, errlen, "cannot lock pidfile %s: %s",
			    path, strerror(errno));
		else {
			read_pid(fd, buf, sizeof(buf));
			snprintf(err, errlen, "vmstated is already running "
			    "as pid %s (pidfile %s is locked)", buf, path);
		}
		close(fd);
		return -1;
	}
	if (write_pid(fd) == -1) {
		snprintf(err, errlen, "cannot write pidfile %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	pidfile_fd = fd;
	pidfile_path = xstrdup(path);
	return 0;
}

/* A directory the daemon writes in must be its own: 0, or -1 and why. */
static int
check_own_dir(const char *what, const char *path, char *err, size_t errlen)
{
	char	 why[TRUST_ERR_MAX];

	if (trust_path(path, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "%s %s is not trusted: %s", what, path, why);
	return -1;
}

/*
 * Make sure the log and run directories are the daemon's alone (nobody
 * else may create, replace or link files where root writes), then lock
 * <rundir>/vmstated.lock for the daemon's life: two daemons on one run
 * directory would both supervise its VMs, whatever their pidfiles and
 * sockets.  The lock file is never removed, so that two daemons starting
 * at once cannot each lock a file of their own.  Call it once the pidfile
 * is taken; on failure the pidfile is given up (the daemon will not run)
 * and err says why, naming the other daemon's pid when there is one.
 */
int
daemon_claim_dirs(const char *logdir, const char *rundir, char *err,
    size_t errlen)
{
	char	*path, buf[32];
	int	 fd;

	if (check_own_dir("logdir", logdir, err, errlen) == -1 ||
	    check_own_dir("rundir", rundir, err, errlen) == -1)
		goto fail;
	xasprintf(&path, "%s/%s", rundir, RUNDIR_LOCK);
	if ((fd = daemon_open_file(path, O_RDWR, 0644, "lock file",
	    err, errlen)) == -1) {
		free(path);
		goto fail;
	}
	if (platform_lock_pidfile(fd) == -1) {
		if (errno != EWOULDBLOCK && errno != EAGAIN)
			snprintf(err, errlen, "cannot lock %s: %s", path,
			    strerror(errno));
		else {
			read_pid(fd, buf, sizeof(buf));
			snprintf(err, errlen, "another vmstated (pid %s) "
			    "supervises the VMs of run directory %s (it holds "
			    "%s): stop it first, or give this one another "
			    "rundir in vmstated.conf", buf, rundir, path);
		}
		close(fd);
		free(path);
		goto fail;
	}
	free(path);
	if (write_pid(fd) == -1)
		log_warn("cannot write the pid into %s/%s", rundir,
		    RUNDIR_LOCK);
	rundir_lock_fd = fd;
	return 0;
fail:
	daemon_pidfile_remove();
	return -1;
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
