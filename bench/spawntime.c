/*
 * spawntime.c: run a command many times and print the wall time of each
 * run's fork, exec, work and exit, as the benchmark's figures need them:
 *
 *	bench-spawntime [-F] [-n runs] command [argument ...]
 *
 * prints "median p10 p90 min" in microseconds on one line.  With -F, each
 * run is preceded by a run of /bin/true, and the median of those (the
 * floor, taken under the same load as the command) follows as a fifth
 * number: a machine's load changes from second to second.  The command's
 * output goes to /dev/null; a run that fails (exit status not 0) makes the
 * program exit 1 after saying which.  Timing from C rather than from the
 * shell or Python keeps their own start-up out of the figures.
 */
#include <sys/wait.h>

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
    "Fn:";

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

/* Run argv once; return its wall time in microseconds, or -1 if it
 * could not be run or did not exit 0. */
static double
run_once(char **argv, posix_spawn_file_actions_t *fa)
{
	double	 t0, t1;
	pid_t	 pid;
	int	 status;

	t0 = now_us();
	if (posix_spawnp(&pid, argv[0], fa, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &status, 0) == -1)
		return -1;
	t1 = now_us();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench-spawntime: %s: status %d\n", argv[0],
		    status);
		return -1;
	}
	return t1 - t0;
}

int
main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	char		*floor_argv[] = { "/bin/true", NULL };
	double		*t, *f = NULL;
	int		 n, i, c, with_floor = 0;

	n = 200;
	while ((c = getopt(argc, argv, optstring)) != -1) {
		switch (c) {
		case 'F':
			with_floor = 1;
			break;
		case 'n':
			n = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || n < 1)
		goto usage;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if ((t = calloc((size_t)n, sizeof(*t))) == NULL ||
	    (with_floor && (f = calloc((size_t)n, sizeof(*f))) == NULL))
		return 1;
	for (i = 0; i < n; i++) {
		if (with_floor && (f[i] = run_once(floor_argv, &fa)) < 0)
			return 1;
		if ((t[i] = run_once(argv, &fa)) < 0)
			return 1;
	}
	qsort(t, (size_t)n, sizeof(*t), compare);
	printf("%.0f %.0f %.0f %.0f", t[n / 2], t[n / 10], t[(n * 9) / 10],
	    t[0]);
	if (with_floor) {
		qsort(f, (size_t)n, sizeof(*f), compare);
		printf(" %.0f", f[n / 2]);
	}
	printf("\n");
	return 0;
usage:
	fprintf(stderr, "usage: bench-spawntime [-F] [-n runs] command "
	    "[argument ...]\n");
	return 2;
}
