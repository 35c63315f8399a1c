/*
 * execstamp.c: the program the peers benchmark (bench/peers.py) has every
 * supervisor run, so that each is timed by the same clock:
 *
 *	<path>        a copy of this program, run by a supervisor
 *	<path>.log    where it appends "exec TIME PID" at the start of
 *	              main() (and "exit TIME PID" before it exits), TIME
 *	              being CLOCK_REALTIME in seconds
 *	<path>.real   if it exists: exec it with the same arguments (a
 *	              wrapper for qemu, that stamps the moment qemu is
 *	              exec'd); else sleep <path>.sleep seconds (a number in
 *	              that file, default 0.2), stamp the exit and exit 1,
 *	              as a service that dies
 *
 * Its configuration sits beside it, not in its environment or arguments:
 * libvirt gives qemu an environment of its own, runit and s6 give ./run
 * no arguments.  It links nothing but libc, so that its own start-up adds
 * as little as possible to what is measured.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Append "what TIME PID" to path in one write. */
static void
stamp(const char *path, const char *what)
{
	struct timespec	 ts;
	char		 line[128];
	int		 fd, n;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line), "%s %lld.%09ld %ld\n", what,
	    (long long)ts.tv_sec, ts.tv_nsec, (long)getpid());
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0666)) == -1)
		return;
	if (write(fd, line, (size_t)n) != n)
		(void)0;	/* the figure is lost; nothing else to do */
	close(fd);
}

int
main(int argc, char **argv)
{
	char		 self[PATH_MAX], log[PATH_MAX + 8], other[PATH_MAX + 8];
	char		 text[32];
	struct timespec	 nap;
	double		 seconds = 0.2;
	ssize_t		 n;
	int		 fd;

	(void)argc;
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		return 2;
	self[n] = '\0';
	snprintf(log, sizeof(log), "%s.log", self);
	stamp(log, "exec");

	snprintf(other, sizeof(other), "%s.real", self);
	if (access(other, X_OK) == 0) {
		execv(other, argv);
		return 127;
	}
	snprintf(other, sizeof(other), "%s.sleep", self);
	if ((fd = open(other, O_RDONLY)) != -1) {
		if ((n = read(fd, text, sizeof(text) - 1)) > 0) {
			text[n] = '\0';
			seconds = atof(text);
		}
		close(fd);
	}
	nap.tv_sec = (time_t)seconds;
	nap.tv_nsec = (long)((seconds - (double)nap.tv_sec) * 1e9);
	nanosleep(&nap, NULL);
	stamp(log, "exit");
	return 1;
}
