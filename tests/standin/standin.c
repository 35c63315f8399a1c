/*
 * standin.c: helpers shared by the bhyve and bhyvectl stand-ins.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "standin.h"

extern char **environ;

static const struct {
	const char	*name;
	int		 num;
} standin_signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
	{ "ILL", SIGILL }, { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },
	{ "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },
	{ "URG", SIGURG }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH },
	{ "SYS", SIGSYS },
};

double
standin_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
standin_signum(const char *name)
{
	size_t	 i;

	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (i = 0; i < sizeof(standin_signals) / sizeof(standin_signals[0]);
	    i++)
		if (strcasecmp(name, standin_signals[i].name) == 0)
			return standin_signals[i].num;
	return -1;
}

const char *
standin_signame(int num)
{
	size_t	 i;

	for (i = 0; i < sizeof(standin_signals) / sizeof(standin_signals[0]);
	    i++)
		if (standin_signals[i].num == num)
			return standin_signals[i].name;
	return NULL;
}

void
standin_json_key(struct buf *b, const char *key, bool *first)
{
	if (!*first)
		buf_puts(b, ", ");
	*first = false;
	buf_json_cstr(b, key);
	buf_puts(b, ": ");
}

/*
 * Append one line to a record file.  O_APPEND and a single write(2) keep
 * the lines of concurrent writers whole.  Returns 0, or -1 with errno set.
 */
int
standin_append_line(const char *path, struct buf *line)
{
	ssize_t	 n;
	int	 fd, saved;

	buf_putc(line, '\n');
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	n = write(fd, line->data, line->len);
	saved = errno;
	close(fd);
	if (n != (ssize_t)line->len) {
		errno = n == -1 ? saved : EIO;
		return -1;
	}
	return 0;
}

/*
 * FreeBSD's texts where Linux's differ (lib/libc/gen/errlst.c); bhyve's
 * messages carry them.
 */
const char *
fbsd_strerror(int errnum)
{
	switch (errnum) {
	case 0:		return "No error: 0";
	case EBUSY:	return "Device busy";
	case ENXIO:	return "Device not configured";
	case ENODEV:	return "Operation not supported by device";
	case EXDEV:	return "Cross-device link";
	case ESTALE:	return "Stale NFS file handle";
	case EOVERFLOW:	return "Value too large to be stored in data type";
	default:	return strerror(errnum);
	}
}

#ifndef __FreeBSD__
#define SPT_BUFSIZE	2048	/* setproctitle.c */

static char	**moved_environ;	/* kept reachable: it is environ now */

/* Move the environment strings out of the way so that a long title may
 * use their place, as setproctitle implementations on Linux do. */
static char *
take_environ(char *end)
{
	size_t	 n, i;

	for (n = 0; environ[n] != NULL && environ[n] == end; n++)
		end += strlen(environ[n]) + 1;
	if (n == 0)
		return end;
	for (i = 0; environ[i] != NULL; i++)
		;
	moved_environ = xcalloc(i + 1, sizeof(*moved_environ));
	for (i = 0; environ[i] != NULL; i++)
		moved_environ[i] = xstrdup(environ[i]);
	environ = moved_environ;
	return end;
}

/*
 * Linux reads /proc/PID/cmdline (get_mm_cmdline()) as the whole argv area
 * when its last byte is NUL, NULs included, and as one string up to its
 * first NUL when that byte was overwritten (the setproctitle case).  So
 * the title and its NUL go first, the rest is zeroed, and the last byte of
 * the old argv area is made non-NUL when the title does not reach it.
 */
static void
rewrite_argv(int argc, char **argv, const char *progname, const char *title)
{
	char	 text[SPT_BUFSIZE];
	char	*start, *argv_end, *end;
	size_t	 len;
	int	 i;

	if (argc < 1)
		return;
	snprintf(text, sizeof(text), "%s: %s", progname, title);
	start = argv[0];
	argv_end = argv[0] + strlen(argv[0]) + 1;
	for (i = 1; i < argc && argv[i] == argv_end; i++)
		argv_end += strlen(argv[i]) + 1;
	len = strlen(text) + 1;
	end = argv_end;
	if (len > (size_t)(end - start))
		end = take_environ(argv_end);
	if (len > (size_t)(end - start)) {
		len = (size_t)(end - start);
		text[len - 1] = '\0';
	}
	memset(start, 0, (size_t)(end - start));
	memcpy(start, text, len);
	if (start + len < argv_end)
		argv_end[-1] = ' ';
}
#endif

void
standin_setproctitle(int argc, char **argv, const char *progname,
    const char *title)
{
#ifdef __FreeBSD__
	/* The real thing; "-" leaves out getprogname(), the stand-in's. */
	(void)argc;
	(void)argv;
	setproctitle("-%s: %s", progname, title);
#else
	rewrite_argv(argc, argv, progname, title);
#endif
}

/* What the process inherited: descriptors, stdio, signals, environment. */
static int
compare_ints(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/*
 * The open descriptors above 2 as a JSON array.  Linux lists them in
 * /proc/self/fd, which is much cheaper than asking for each possible one
 * (the benchmark runs this); elsewhere fcntl() asks for each below 1024.
 */
static void
standin_open_fds(struct buf *b)
{
	struct dirent	*de;
	DIR		*dir;
	int		 fds[1024], n, i, fd, self;

	n = 0;
	if ((dir = opendir("/proc/self/fd")) != NULL) {
		self = dirfd(dir);
		while ((de = readdir(dir)) != NULL && n < 1024) {
			fd = atoi(de->d_name);
			if (fd > 2 && fd != self)
				fds[n++] = fd;
		}
		closedir(dir);
	} else {
		for (fd = 3; fd < 1024; fd++)
			if (fcntl(fd, F_GETFD) != -1)
				fds[n++] = fd;
	}
	qsort(fds, (size_t)n, sizeof(fds[0]), compare_ints);
	buf_putc(b, '[');
	for (i = 0; i < n; i++)
		buf_printf(b, "%s%d", i == 0 ? "" : ", ", fds[i]);
	buf_putc(b, ']');
}

void
standin_record_inherited(struct buf *b, bool *first)
{
	struct sigaction sa;
	sigset_t	 blocked;
	char		 link[64], target[PATH_MAX];
	const char	*sep;
	ssize_t		 n;
	int		 fd, sig;
	char		**ep, *eq;

	standin_json_key(b, "fds", first);
	standin_open_fds(b);
	standin_json_key(b, "stdio", first);
	for (fd = 0; fd < 3; fd++) {
		buf_puts(b, fd == 0 ? "[" : ", ");
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n >= 0) {
			target[n] = '\0';
			buf_json_cstr(b, target);
		} else
			buf_puts(b, fcntl(fd, F_GETFD) == -1 ? "\"closed\"" :
			    "null");
	}
	buf_putc(b, ']');
	sigprocmask(SIG_BLOCK, NULL, &blocked);
	standin_json_key(b, "sigblocked", first);
	for (sep = "[", sig = 1; sig < 32; sig++)
		if (standin_signame(sig) != NULL && sigismember(&blocked, sig)) {
			buf_puts(b, sep);
			buf_json_cstr(b, standin_signame(sig));
			sep = ", ";
		}
	buf_puts(b, *sep == '[' ? "[]" : "]");
	standin_json_key(b, "sigignored", first);
	for (sep = "[", sig = 1; sig < 32; sig++)
		if (standin_signame(sig) != NULL &&
		    sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
			buf_puts(b, sep);
			buf_json_cstr(b, standin_signame(sig));
			sep = ", ";
		}
	buf_puts(b, *sep == '[' ? "[]" : "]");
	standin_json_key(b, "env", first);
	buf_putc(b, '{');
	for (sep = "", ep = environ; *ep != NULL; ep++) {
		if ((eq = strchr(*ep, '=')) == NULL)
			continue;
		buf_puts(b, sep);
		buf_json_string(b, *ep, (size_t)(eq - *ep));
		buf_puts(b, ": ");
		buf_json_cstr(b, eq + 1);
		sep = ", ";
	}
	buf_putc(b, '}');
}
