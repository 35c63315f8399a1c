/*
 * freebsd.c: FreeBSD implementations of platform.h.
 */
#include <sys/types.h>
#include <sys/event.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/sysctl.h>
#include <sys/ucred.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "platform.h"

int
platform_peer_cred(int fd, uid_t *uid, gid_t *gid)
{
	return getpeereid(fd, uid, gid);
}

int
platform_lock_pidfile(int fd)
{
	return flock(fd, LOCK_EX | LOCK_NB);
}

/*
 * A kqueue with one EVFILT_PROC/NOTE_EXIT filter: it becomes readable when
 * the process exits, which is what the caller's event loop watches.
 */
int
platform_watch_pid(pid_t pid)
{
	struct kevent	 kev;
	int		 kq;

	if ((kq = kqueue()) == -1)
		return -1;
	(void)fcntl(kq, F_SETFD, FD_CLOEXEC);
	EV_SET(&kev, pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0, NULL);
	if (kevent(kq, &kev, 1, NULL, 0, NULL) == -1) {
		int saved = errno;
		close(kq);
		errno = saved;
		return -1;
	}
	return kq;
}

int
platform_pid_cmdline(pid_t pid, char *buf, size_t len)
{
	int	 mib[4] = { CTL_KERN, KERN_PROC, KERN_PROC_ARGS, (int)pid };
	size_t	 n = len - 1, i;

	if (len == 0)
		return -1;
	if (sysctl(mib, 4, buf, &n, NULL, 0) == -1 || n == 0)
		return -1;
	for (i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return 0;
}

void
platform_close_range(int lo, int hi)
{
	if (hi < 0)
		closefrom(lo);
	else if (close_range((unsigned)lo, (unsigned)hi, 0) == -1) {
		int fd;
		for (fd = lo; fd <= hi; fd++)
			close(fd);
	}
}
