/*
 * linux.c: Linux implementations of platform.h.
 */
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
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

/*
 * Read /proc/PID/<name> into buf, NUL-terminated; a process that is gone
 * (ENOENT, or ESRCH while reading) is ESRCH.  Returns the length or -1.
 */
static ssize_t
read_proc_file(pid_t pid, const char *name, char *buf, size_t len)
{
	char	 path[64];
	ssize_t	 n;
	int	 fd, saved;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			errno = ESRCH;
		return -1;
	}
	n = read(fd, buf, len - 1);
	saved = errno;
	close(fd);
	if (n == -1) {
		errno = saved;
		return -1;
	}
	buf[n] = '\0';
	return n;
}

/*
 * Field 22 (starttime) of /proc/PID/stat.  The command name (field 2) is
 * in parentheses and may itself hold ')' and spaces: count the fields
 * from the last ')', which is followed by field 3.
 */
int
platform_proc_start(pid_t pid, uint64_t *start)
{
	char			 stat[1024], *p, *end;
	unsigned long long	 value;
	int			 field;

	if (read_proc_file(pid, "stat", stat, sizeof(stat)) == -1)
		return -1;
	if ((p = strrchr(stat, ')')) == NULL)
		goto bad;
	p++;
	/* Field 3, the state: a zombie has ended, only its exit is left. */
	if (p[0] == ' ' && (p[1] == 'Z' || p[1] == 'X')) {
		errno = ESRCH;
		return -1;
	}
	for (field = 3; field < 22; field++) {
		while (*p == ' ')
			p++;
		if ((p = strchr(p, ' ')) == NULL)
			goto bad;
	}
	errno = 0;
	value = strtoull(p, &end, 10);
	if (end == p || (*end != ' ' && *end != '\0') || errno != 0)
		goto bad;
	*start = value;
	return 0;
 bad:
	errno = EINVAL;
	return -1;
}

/* Linux tells the exit status of our children only, through wait(2). */
int
platform_watch_status(int fd, int *status)
{
	errno = ENOTSUP;
	return -1;
}

int
platform_signal(int fd, pid_t pid, int sig)
{
#ifdef SYS_pidfd_send_signal
	if (fd != -1) {
		if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) == 0)
			return 0;
		if (errno != ENOSYS)
			return -1;
	}
#endif
	return kill(pid, sig);
}

/*
 * Whether the command line `cmd` (n bytes, arguments separated by NULs)
 * is `title` alone: setproctitle(3)'s emulations leave NULs after it.
 */
static int
cmdline_is(const char *cmd, size_t n, const char *title)
{
	size_t	 len = strlen(title);

	while (n > 0 && cmd[n - 1] == '\0')
		n--;
	return n == len && memcmp(cmd, title, len) == 0;
}

pid_t
platform_find_title(const char *title, const char *cwd)
{
	struct dirent	*de;
	DIR		*dir;
	char		 cmd[4096], link[64], where[4096], *end;
	ssize_t		 n;
	long		 pid;
	pid_t		 found = 0, first = 0;

	if ((dir = opendir("/proc")) == NULL)
		return -1;
	while (found == 0 && (de = readdir(dir)) != NULL) {
		errno = 0;
		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 0 || errno != 0)
			continue;
		/* A process that ended meanwhile is skipped. */
		n = read_proc_file((pid_t)pid, "cmdline", cmd, sizeof(cmd));
		if (n <= 0 || !cmdline_is(cmd, (size_t)n, title))
			continue;
		if (first == 0)
			first = (pid_t)pid;
		snprintf(link, sizeof(link), "/proc/%ld/cwd", pid);
		if (cwd != NULL && (n = readlink(link, where,
		    sizeof(where) - 1)) > 0) {
			where[n] = '\0';
			if (strcmp(where, cwd) == 0)
				found = (pid_t)pid;
		}
	}
	closedir(dir);
	return cwd != NULL ? found : first;
}

/*
 * Linux has no vmm(4).  The only bhyve here is the test suite's stand-in,
 * whose kernel keeps each instance as the file vmmdir/NAME
 * (tests/standin/vmm.c).  Where that kernel is said to have FreeBSD's
 * hw.vmm.destroy sysctl (VMSTATED_STANDIN_VMM_SYSCTL=1 in the daemon's
 * environment), this does what the sysctl does (sysctl_vmm_destroy() in
 * sys/amd64/vmm/vmm_dev.c): the instance goes whether or not a bhyve
 * still holds it (that bhyve's next call fails with ENXIO), and a name
 * with no instance is EINVAL.  So FreeBSD's path, with no helper
 * process, runs in the tests and the benchmark here.  Otherwise ENOSYS,
 * as where the sysctl is missing, and the back end's bhyvectl runs.
 */
int
platform_vmm_destroy(const char *vmmdir, const char *name)
{
	const char	*sysctl;
	char		 path[PATH_MAX];

	sysctl = getenv("VMSTATED_STANDIN_VMM_SYSCTL");
	if (sysctl == NULL || strcmp(sysctl, "1") != 0) {
		errno = ENOSYS;
		return -1;
	}
	if (*name == '\0' || strchr(name, '/') != NULL ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", vmmdir, name) >=
	    sizeof(path)) {
		errno = EINVAL;
		return -1;
	}
	if (unlink(path) == -1) {
		if (errno == ENOENT)
			errno = EINVAL;
		return -1;
	}
	return 0;
}

/*
 * Raw, no echo, and deaf to the carrier: what bhyve's uart_emul.c
 * ttyopen() makes of its side.  A Linux pty has one set of terminal
 * settings, the slave's, which the master changes too.
 */
static void
console_raw(int fd)
{
	struct termios	 tio;

	if (tcgetattr(fd, &tio) == 0) {
		cfmakeraw(&tio);
		tio.c_cflag |= CLOCAL;
		(void)tcsetattr(fd, TCSANOW, &tio);
	}
}

/*
 * A pty stands in for nmdm(4): bhyve gets the slave, the daemon the master
 * (and the hypervisor a second descriptor of it, see platform.h).
 */
int
platform_console_pair(const char *name, char *hv_path, size_t len, int *fd,
    int *keep_fd)
{
	int	 m, keep, saved;

	(void)name;
	if ((m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1)
		return -1;
	if (grantpt(m) == -1 || unlockpt(m) == -1 ||
	    ptsname_r(m, hv_path, len) != 0 ||
	    fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK) == -1 ||
	    (keep = fcntl(m, F_DUPFD_CLOEXEC, 3)) == -1) {
		saved = errno;
		close(m);
		errno = saved;
		return -1;
	}
	console_raw(m);
	*fd = m;
	*keep_fd = keep;
	return 0;
}

int
platform_console_reattach(const char *name, const char *hv_path,
    int watch_fd)
{
#ifdef SYS_pidfd_getfd
	char	 slave[128];
	int	 fd, n, saved;

	(void)name;
	if (strncmp(hv_path, "/dev/pts/", 9) != 0) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = (int)syscall(SYS_pidfd_getfd, watch_fd, 3, 0)) == -1)
		return -1;
	/* Only the master of the very pty the hypervisor was given. */
	if (ioctl(fd, TIOCGPTN, &n) == -1 ||
	    ptsname_r(fd, slave, sizeof(slave)) != 0 ||
	    strcmp(slave, hv_path) != 0) {
		saved = errno;
		close(fd);
		errno = saved == 0 || saved == ENOTTY ? EINVAL : saved;
		return -1;
	}
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
#else
	(void)name;
	(void)hv_path;
	(void)watch_fd;
	errno = ENOSYS;
	return -1;
#endif
}

/*
 * glibc: a block of at least 128 KiB is mmap'd and unmapped when freed;
 * setting the thresholds fixes them there (mallopt(3): the dynamic
 * adjustment stops), and the top of the heap is given back once 128 KiB
 * of it are free.  Other C libraries: nothing (musl returns large blocks
 * itself).
 */
void
platform_memory_init(void)
{
#ifdef __GLIBC__
	(void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	(void)mallopt(M_TRIM_THRESHOLD, 128 * 1024);
#endif
}

/* malloc_trim(3) also gives back the free pages inside the heap. */
void
platform_memory_trim(void)
{
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
}
