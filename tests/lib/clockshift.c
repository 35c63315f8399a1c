/*
 * clockshift.c: an LD_PRELOAD shim for the tests that steps the wall
 * clock of a program while it runs, as an administrator or NTP would.
 *
 * CLOCK_REALTIME in clock_gettime(), time() and gettimeofday() get an
 * offset in whole seconds (negative: back), read at every call from the
 * file named by $CLOCKSHIFT_FILE; no variable, no file or no number means
 * 0.  CLOCK_MONOTONIC and every other clock are left alone.
 *
 *     make standins      # $(O)/clockshift.so
 *     LD_PRELOAD=build/clockshift.so CLOCKSHIFT_FILE=/tmp/shift prog
 *     echo -3600 > /tmp/shift          # an hour back, from now on
 *
 * The file is read with open(2)/read(2) only, so the shim neither
 * allocates nor recurses, and errno is kept as the caller left it.
 */
#include <sys/types.h>
#include <sys/time.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* glibc declares gettimeofday's second argument as void *. */
#ifdef __GLIBC__
typedef void		*tz_arg;
#else
typedef struct timezone	*tz_arg;
#endif

typedef int	(*clock_gettime_fn)(clockid_t, struct timespec *);
typedef time_t	(*time_fn)(time_t *);
typedef int	(*gettimeofday_fn)(struct timeval *, tz_arg);

/* The offset in seconds, read now. */
static long long
clockshift_offset(void)
{
	const char	*path;
	char		 buf[32], *end;
	long long	 off;
	ssize_t		 n;
	int		 fd, saved = errno;

	off = 0;
	if ((path = getenv("CLOCKSHIFT_FILE")) != NULL &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			off = strtoll(buf, &end, 10);
			if (end == buf)
				off = 0;
		}
	}
	errno = saved;
	return off;
}

static void *
clockshift_next(const char *name)
{
	void	*fn;

	if ((fn = dlsym(RTLD_NEXT, name)) == NULL)
		abort();	/* no such function below us: cannot go on */
	return fn;
}

static int
clockshift_is_wall(clockid_t id)
{
	if (id == CLOCK_REALTIME)
		return 1;
#ifdef CLOCK_REALTIME_COARSE
	if (id == CLOCK_REALTIME_COARSE)
		return 1;
#endif
	return 0;
}

int
clock_gettime(clockid_t id, struct timespec *ts)
{
	static clock_gettime_fn	 next;
	int			 r;

	if (next == NULL)
		next = (clock_gettime_fn)clockshift_next("clock_gettime");
	r = next(id, ts);
	if (r == 0 && clockshift_is_wall(id))
		ts->tv_sec += (time_t)clockshift_offset();
	return r;
}

time_t
time(time_t *t)
{
	static time_fn	 next;
	time_t		 now;

	if (next == NULL)
		next = (time_fn)clockshift_next("time");
	now = next(NULL);
	if (now != (time_t)-1)
		now += (time_t)clockshift_offset();
	if (t != NULL)
		*t = now;
	return now;
}

int
gettimeofday(struct timeval *tv, tz_arg tz)
{
	static gettimeofday_fn	 next;
	int			 r;

	if (next == NULL)
		next = (gettimeofday_fn)clockshift_next("gettimeofday");
	r = next(tv, tz);
	if (r == 0)
		tv->tv_sec += (time_t)clockshift_offset();
	return r;
}
