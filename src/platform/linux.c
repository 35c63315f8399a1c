/*
 * linux.c: Linux implementations of platform.h.
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform.h"

int
platform_peer_cred(int fd, uid_t *uid, gid_t *gid)
{
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return -1;
	*uid = cred.uid;
	*gid = cred.gid;
	return 0;
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

int
platform_proc_start(pid_t pid, uint64_t *start)
{
	char			 path[64], buf[1024], *p, *end;
	unsigned long long	 v;
	ssize_t			 n;
	int			 fd, field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			errno = ESRCH;
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		errno = ESRCH;
		return -1;
	}
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields count
	 * from after its last ')'.  There, field 3 is the state; the start
	 * time is field 22. */
	if ((p = strrchr(buf, ')')) == NULL) {
		errno = EINVAL;
		return -1;
	}
	p++;
	if (p[0] == ' ' && p[1] == 'Z') {
		errno = ESRCH;		/* a zombie has ended */
		return -1;
	}
	for (field = 3; field < 22; field++) {
		while (*p == ' ')
			p++;
		while (*p != ' ' && *p != '\0')
			p++;
		if (*p == '\0') {
			errno = EINVAL;
			return -1;
		}
	}
	v = strtoull(p, &end, 10);
	if (end == p) {
		errno = EINVAL;
		return -1;
	}
	*start = (uint64_t)v;
	return 0;
}

int
platform_watch_status(int fd, int *status)
{
	(void)fd;
	(void)status;
	return -1;
}

int
platform_signal(int fd, pid_t pid, int sig)
{
#ifdef SYS_pidfd_send_signal
	if (fd != -1)
		return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
#endif
	return kill(pid, sig);
}

pid_t
platform_find_title(const char *title)
{
	struct dirent	*de;
	DIR		*dir;
	char		 path[300], buf[512];
	size_t		 len = strlen(title);
	ssize_t		 n;
	pid_t		 found = 0;
	int		 fd;

	if ((dir = opendir("/proc")) == NULL)
		return -1;
	while (found == 0 && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		n = read(fd, buf, sizeof(buf));
		close(fd);
		/* A retitled process: the title, then NULs (or the end). */
		if (n >= (ssize_t)len && memcmp(buf, title, len) == 0 &&
		    (n == (ssize_t)len || buf[len] == '\0'))
			found = (pid_t)strtol(de->d_name, NULL, 10);
	}
	closedir(dir);
	return found;
}

int
platform_vmm_destroy(const char *name)
{
	(void)name;
	errno = ENOSYS;
	return -1;
}
