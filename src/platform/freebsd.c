/*
 * freebsd.c: FreeBSD implementations of platform.h.
 */
#include <sys/types.h>
#include <sys/event.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/sysctl.h>
#include <sys/time.h>
#include <sys/user.h>
#include <sys/ucred.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
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

static int
boottime_usec(uint64_t *usec)
{
	int		 mib[2] = { CTL_KERN, KERN_BOOTTIME };
	struct timeval	 tv;
	size_t		 len = sizeof(tv);

	if (sysctl(mib, 2, &tv, &len, NULL, 0) == -1)
		return -1;
	*usec = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
	return 0;
}

/*
 * ki_start is the fork's uptime plus the boot time, which a step of the
 * clock moves: subtract the boot time read around it, again if it moved
 * meanwhile, so that the value does not change while the process lives.
 */
int
platform_proc_start(pid_t pid, uint64_t *start)
{
	int			 mib[4] = { CTL_KERN, KERN_PROC, KERN_PROC_PID,
				    (int)pid };
	struct kinfo_proc	 kp;
	uint64_t		 before, after, started;
	size_t			 len;
	int			 tries;

	for (tries = 0; tries < 10; tries++) {
		len = sizeof(kp);
		if (boottime_usec(&before) == -1 ||
		    sysctl(mib, 4, &kp, &len, NULL, 0) == -1 ||
		    boottime_usec(&after) == -1)
			return -1;
		/* A zombie has ended: only its exit is left. */
		if (len == 0 || (len == sizeof(kp) && kp.ki_stat == SZOMB)) {
			errno = ESRCH;
			return -1;
		}
		if (len != sizeof(kp) || kp.ki_structsize != sizeof(kp)) {
			errno = EINVAL;
			return -1;
		}
		if (before != after)
			continue;
		started = (uint64_t)kp.ki_start.tv_sec * 1000000 +
		    (uint64_t)kp.ki_start.tv_usec;
		*start = started - before;
		return 0;
	}
	errno = EAGAIN;
	return -1;
}

/*
 * The EVFILT_PROC/NOTE_EXIT event carries the exit status in its data,
 * for any process we may see (kqueue(2); filt_proc in kern_event.c).
 */
int
platform_watch_status(int fd, int *status)
{
	struct kevent		 kev;
	struct timespec		 now = { 0, 0 };

	switch (kevent(fd, NULL, 0, &kev, 1, &now)) {
	case -1:
		return -1;
	case 0:
		errno = EAGAIN;
		return -1;
	}
	if (kev.filter != EVFILT_PROC || (kev.fflags & NOTE_EXIT) == 0) {
		errno = EINVAL;
		return -1;
	}
	*status = (int)kev.data;
	return 0;
}

/*
 * FreeBSD has no descriptor to signal through.  A pending exit on the
 * kqueue means the pid may already be someone else's; the window left is
 * between this poll and kill(2).
 */
int
platform_signal(int fd, pid_t pid, int sig)
{
	struct pollfd	 pfd;

	if (fd != -1) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) == 1) {
			errno = ESRCH;
			return -1;
		}
	}
	return kill(pid, sig);
}

/* Is the working directory of pid cwd (kern.proc.cwd)? */
static bool
proc_cwd_is(pid_t pid, const char *cwd)
{
	int			 mib[4] = { CTL_KERN, KERN_PROC, KERN_PROC_CWD,
				    (int)pid };
	struct kinfo_file	 kf;
	size_t			 len = sizeof(kf);

	memset(&kf, 0, sizeof(kf));
	if (sysctl(mib, 4, &kf, &len, NULL, 0) == -1 || len == 0)
		return false;
	return strcmp(kf.kf_path, cwd) == 0;
}

/*
 * The arguments of every process, from the kernel; setproctitle(3) stores
 * its title there as one string.
 */
pid_t
platform_find_title(const char *title, const char *cwd)
{
	int			 mib[4] = { CTL_KERN, KERN_PROC, KERN_PROC_PROC, 0 };
	struct kinfo_proc	*procs = NULL;
	char			 args[4096];
	size_t			 len, n, i, tlen = strlen(title);
	pid_t			 found = 0, first = 0;
	int			 tries;

	for (tries = 0; tries < 10; tries++) {
		if (sysctl(mib, 3, NULL, &len, NULL, 0) == -1)
			return -1;
		len += len / 8;
		free(procs);
		if ((procs = malloc(len)) == NULL)
			return -1;
		if (sysctl(mib, 3, procs, &len, NULL, 0) == 0)
			break;
		if (errno != ENOMEM) {
			free(procs);
			return -1;
		}
	}
	if (tries == 10) {
		free(procs);
		errno = EAGAIN;
		return -1;
	}
	for (i = 0; found == 0 && i < len / sizeof(*procs); i++) {
		int amib[4] = { CTL_KERN, KERN_PROC, KERN_PROC_ARGS,
		    (int)procs[i].ki_pid };

		if (procs[i].ki_stat == SZOMB)
			continue;
		/* A process that ended meanwhile, or hidden from us: skipped. */
		n = sizeof(args);
		if (sysctl(amib, 4, args, &n, NULL, 0) == -1)
			continue;
		while (n > 0 && args[n - 1] == '\0')
			n--;
		if (n != tlen || memcmp(args, title, tlen) != 0)
			continue;
		if (first == 0)
			first = procs[i].ki_pid;
		if (cwd != NULL && proc_cwd_is(procs[i].ki_pid, cwd))
			found = procs[i].ki_pid;
	}
	free(procs);
	return cwd != NULL ? found : first;
}

/* What libvmmapi's vm_destroy() does on FreeBSD 13 and 14.  The kernel
 * knows its instances by name; vmmdir (/dev/vmm) only shows them. */
int
platform_vmm_destroy(const char *vmmdir, const char *name)
{
	(void)vmmdir;
	return sysctlbyname("hw.vmm.destroy", NULL, NULL, name,
	    strlen(name));
}

/*
 * The daemon's side of an nmdm(4) pair, /dev/nmdm-NAME-B: opening it makes
 * the pair if need be (nmdm.c nmdm_clone(): any name "nmdm%s" ending in A
 * or B).  Raw, and deaf to the carrier, as bhyve's ttyopen() makes its
 * side: with CLOCAL, bhyve's comings and goings are not a hang-up.
 * TIOCEXCL keeps others than root from opening it too.
 */
static int
nmdm_open_b(const char *name)
{
	struct termios	 tio;
	char		 path[256];
	int		 fd, saved;

	if ((size_t)snprintf(path, sizeof(path), "/dev/nmdm-%s-B", name) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (tcgetattr(fd, &tio) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	cfmakeraw(&tio);
	tio.c_cflag |= CLOCAL;
	(void)tcsetattr(fd, TCSANOW, &tio);
	(void)ioctl(fd, TIOCEXCL);
	return fd;
}

int
platform_console_pair(const char *name, char *hv_path, size_t len, int *fd,
    int *keep_fd)
{
	if ((size_t)snprintf(hv_path, len, "/dev/nmdm-%s-A", name) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	*keep_fd = -1;
	if ((*fd = nmdm_open_b(name)) == -1)
		return -1;
	return 0;
}

int
platform_console_reattach(const char *name, const char *hv_path,
    int watch_fd)
{
	char	 mine[256];

	(void)watch_fd;
	snprintf(mine, sizeof(mine), "/dev/nmdm-%s-A", name);
	if (strcmp(mine, hv_path) != 0) {
		errno = EINVAL;
		return -1;
	}
	return nmdm_open_b(name);
}

/* jemalloc(3) gives back unused pages by itself. */
void
platform_memory_init(void)
{
}

void
platform_memory_trim(void)
{
}
