/*
 * request.c: time requests to a daemon's UNIX socket, without any
 * client in the way, as the benchmark's figures need them:
 *
 *	bench-request [-n runs] socket line
 *	bench-request -c [-o file] [-t seconds] socket line -- command [arg ...]
 *
 * The first form connects, sends line (a newline is added), reads the
 * one-line reply and closes, runs times; it prints "median p10 p90 min"
 * in microseconds, as bench-spawntime does: it is the daemon's share of
 * `vmstatedctl status`.
 *
 * The second form (cold start) runs command and tries the request every
 * half millisecond until a reply comes; it prints "microseconds pid":
 * the time from the spawn to the end of the first reply, and the pid of
 * the command, left running for the caller to measure and stop.  Its
 * output goes to file (-o, appended) or /dev/null, so that it holds no
 * pipe of the caller open.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char optstring[] =
#ifdef __GLIBC__
    "+"		/* the command's own options are not ours */
#endif
    "cn:o:t:";

static double
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
compare(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * One round trip: connect to path, send req (len bytes), read up to the
 * first newline.  Returns 0, or -1 when the daemon cannot be reached or
 * hangs up first (errno says why).
 */
static int
round_trip(const char *path, const char *req, size_t len)
{
	static char		 reply[1 << 16];
	struct sockaddr_un	 sun;
	ssize_t			 n;
	int			 fd, rv = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    write(fd, req, len) != (ssize_t)len)
		goto out;
	while ((n = read(fd, reply, sizeof(reply))) > 0)
		if (memchr(reply, '\n', (size_t)n) != NULL) {
			rv = 0;
			break;
		}
	if (n == 0)
		errno = ECONNRESET;
out:
	close(fd);
	return rv;
}

/* The first form: n round trips, their spread on stdout. */
static int
time_requests(const char *path, const char *req, size_t len, int n)
{
	double	*t, t0;
	int	 i;

	if ((t = calloc((size_t)n, sizeof(*t))) == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		t0 = now_us();
		if (round_trip(path, req, len) == -1) {
			fprintf(stderr, "bench-request: %s: %s\n", path,
			    strerror(errno));
			return 1;
		}
		t[i] = now_us() - t0;
	}
	qsort(t, (size_t)n, sizeof(*t), compare);
	printf("%.0f %.0f %.0f %.0f\n", t[n / 2], t[n / 10], t[(n * 9) / 10],
	    t[0]);
	free(t);
	return 0;
}

/* The second form: spawn argv, time until the first reply. */
static int
cold_start(const char *path, const char *req, size_t len, char **argv,
    const char *output, double seconds)
{
	posix_spawn_file_actions_t fa;
	struct timespec	 pause = { 0, 500 * 1000 };
	double		 t0, deadline;
	pid_t		 pid;
	int		 status;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, output,
	    O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	t0 = now_us();
	deadline = t0 + seconds * 1e6;
	if ((errno = posix_spawnp(&pid, argv[0], &fa, NULL, argv,
	    environ)) != 0) {
		fprintf(stderr, "bench-request: %s: %s\n", argv[0],
		    strerror(errno));
		return 1;
	}
	while (round_trip(path, req, len) == -1) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "bench-request: %s exited (status %d) "
			    "before it answered\n", argv[0], status);
			return 1;
		}
		if (now_us() > deadline) {
			fprintf(stderr, "bench-request: no answer on %s "
			    "within %g s\n", path, seconds);
			return 1;
		}
		nanosleep(&pause, NULL);
	}
	printf("%.0f %ld\n", now_us() - t0, (long)pid);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *output = "/dev/null";
	char	*req;
	double	 seconds = 60;
	size_t	 len;
	int	 n = 200, c, cold = 0;

	while ((c = getopt(argc, argv, optstring)) != -1) {
		switch (c) {
		case 'c':
			cold = 1;
			break;
		case 'n':
			n = atoi(optarg);
			break;
		case 'o':
			output = optarg;
			break;
		case 't':
			seconds = atof(optarg);
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2 || n < 1 || (cold && (argc < 4 ||
	    strcmp(argv[2], "--") != 0)) || (!cold && argc != 2))
		goto usage;
	len = strlen(argv[1]);
	if ((req = malloc(len + 2)) == NULL)
		return 1;
	memcpy(req, argv[1], len);
	req[len++] = '\n';
	if (cold)
		return cold_start(argv[0], req, len, argv + 3, output,
		    seconds);
	return time_requests(argv[0], req, len, n);
usage:
	fprintf(stderr, "usage: bench-request [-n runs] socket line\n"
	    "       bench-request -c [-o file] [-t seconds] socket line -- "
	    "command [arg ...]\n");
	return 2;
}
