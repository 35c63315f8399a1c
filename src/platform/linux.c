/*
 * linux.c: Linux implementations of platform.h.
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform.h"

/*
 * SO_PEERCRED gives the effective uid and gid, SO_PEERGROUPS (Linux 4.13)
 * the supplementary groups, both as the peer held them when it called
 * connect(2) (socket(7)).  The group list may be long (NGROUPS_MAX is
 * 65536): when the buffer is too small the kernel fails with ERANGE and
 * says how many bytes it needs.  A kernel without SO_PEERGROUPS
 * (ENOPROTOOPT) leaves the peer with its effective group alone, which
 * refuses too much rather than too little.
 */
int
platform_peer_cred(int fd, struct peer_cred *cred)
{
	struct ucred	 uc;
	socklen_t	 len = sizeof(uc);
	gid_t		*groups = NULL, *bigger;
	size_t		 size = 32 * sizeof(gid_t);
	int		 saved;

	memset(cred, 0, sizeof(*cred));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == -1)
		return -1;
	for (;;) {
		if ((bigger = realloc(groups, size)) == NULL)
			goto fail;
		groups = bigger;
		len = (socklen_t)size;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups,
		    &len) == 0)
			break;
		if (errno == ENOPROTOOPT) {
			len = 0;
			break;
		}
		if (errno != ERANGE || (size_t)len <= size)
			goto fail;
		size = len;
	}
	cred->uid = uc.uid;
	cred->gid = uc.gid;
	cred->groups = groups;
	cred->ngroups = (int)(len / sizeof(gid_t));
	return 0;
fail:
	saved = errno;
	free(groups);
	errno = saved;
	return -1;
}

int
platform_lock_pidfile(int fd)
{
	return flock(fd, LOCK_EX | LOCK_NB);
}

int
platform_watch_pid(pid_t pid)
{
#ifdef SYS_pidfd_open
	int	 fd;

	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd != -1)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
#else
	errno = ENOSYS;
	return -1;
#endif
}

int
platform_pid_cmdline(pid_t pid, char *buf, size_t len)
{
	char	 path[64];
	ssize_t	 n;
	size_t	 i;
	int	 fd;

	if (len == 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	for (i = 0; i < (size_t)n; i++)
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
	long	 max;
	int	 fd;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lo,
	    hi < 0 ? ~0U : (unsigned)hi, 0) == 0)
		return;
#endif
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = lo; fd < max && (hi < 0 || fd <= hi); fd++)
		close(fd);
}
