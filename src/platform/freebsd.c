/*
 * freebsd.c: FreeBSD implementations of platform.h.
 */
#include <sys/param.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/proc.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/sysctl.h>
#include <sys/ucred.h>
#include <sys/un.h>
#include <sys/user.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
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

int
platform_proc_start(pid_t pid, uint64_t *start)
{
	struct kinfo_proc	 kp;
	size_t			 len = sizeof(kp);
	int			 mib[4] = { CTL_KERN, KERN_PROC, KERN_PROC_PID,
				    (int)pid };

	if (sysctl(mib, 4, &kp, &len, NULL, 0) == -1)
		return -1;
	if (len == 0 || kp.ki_stat == SZOMB) {
		errno = ESRCH;
		return -1;
	}
	*start = (uint64_t)kp.ki_start.tv_sec * 1000000 +
	    (uint64_t)kp.ki_start.tv_usec;
	return 0;
}

/* kqueue(2): EVFILT_PROC with NOTE_EXIT returns the exit status in data,
 * for any process, child or not. */
int
platform_watch_status(int fd, int *status)
{
	struct kevent	 kev;
	struct timespec	 zero = { 0, 0 };

	if (kevent(fd, NULL, 0, &kev, 1, &zero) == 1 &&
	    kev.filter == EVFILT_PROC && (kev.fflags & NOTE_EXIT)) {
		*status = (int)kev.data;
		return 0;
	}
	return -1;
}

int
platform_signal(int fd, pid_t pid, int sig)
{
	(void)fd;
	return kill(pid, sig);
}

pid_t
platform_find_title(const char *title)
{
	struct kinfo_proc	*kp = NULL;
	char			 args[512];
	size_t			 len = 0, n, i, tlen = strlen(title);
	int			 mib[4] = { CTL_KERN, KERN_PROC, KERN_PROC_PROC,
				    0 };
	pid_t			 found = 0;

	if (sysctl(mib, 3, NULL, &len, NULL, 0) == -1)
		return -1;
	len += len / 8;
	if ((kp = malloc(len)) == NULL)
		return -1;
	if (sysctl(mib, 3, kp, &len, NULL, 0) == -1) {
		free(kp);
		return -1;
	}
	n = len / sizeof(*kp);
	for (i = 0; i < n && found == 0; i++) {
		int amib[4] = { CTL_KERN, KERN_PROC, KERN_PROC_ARGS,
		    (int)kp[i].ki_pid };
		size_t alen = sizeof(args);

		if (sysctl(amib, 4, args, &alen, NULL, 0) == -1)
			continue;
		if (alen >= tlen && memcmp(args, title, tlen) == 0 &&
		    (alen == tlen || args[tlen] == '\0'))
			found = kp[i].ki_pid;
	}
	free(kp);
	return found;
}

/* What libvmmapi's vm_destroy() does on FreeBSD 13 and 14. */
int
platform_vmm_destroy(const char *name)
{
	return sysctlbyname("hw.vmm.destroy", NULL, NULL, name,
	    strlen(name));
}
