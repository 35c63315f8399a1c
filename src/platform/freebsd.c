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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform.h"

/*
 * LOCAL_PEERCRED (unix(4)) gives a struct xucred with the credentials the
 * peer held when it called connect(2): cr_uid, the effective uid, and
 * cr_groups[0 .. cr_ngroups), of which [0] is the effective gid and the
 * rest the supplementary groups.  The kernel copies at most XU_NGROUPS
 * (16) of them, so a process in more groups is seen with its first 15
 * supplementary groups only (vmstated(8) says so).  getpeereid(3) is the
 * same call without the groups.
 */
int
platform_peer_cred(int fd, struct peer_cred *cred)
{
	struct xucred	 xuc;
	socklen_t	 len = sizeof(xuc);
	int		 n;

	memset(cred, 0, sizeof(*cred));
	memset(&xuc, 0, sizeof(xuc));
	if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERCRED, &xuc, &len) == -1)
		return -1;
	if (len != sizeof(xuc) || xuc.cr_version != XUCRED_VERSION ||
	    xuc.cr_ngroups < 1) {
		errno = EINVAL;
		return -1;
	}
	n = xuc.cr_ngroups > XU_NGROUPS ? XU_NGROUPS : xuc.cr_ngroups;
	if ((cred->groups = calloc((size_t)n, sizeof(gid_t))) == NULL)
		return -1;
	memcpy(cred->groups, &xuc.cr_groups[1], (size_t)(n - 1) *
	    sizeof(gid_t));
	cred->ngroups = n - 1;
	cred->uid = xuc.cr_uid;
	cred->gid = xuc.cr_groups[0];
	return 0;
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
