/*
 * relay.c: a hook's output into the VM log as whole, stamped lines.
 *
 * Runs in the runner of a hook or helper (proc.c), never in the daemon:
 * the runner outlives a daemon that dies, so the output keeps reaching
 * the log.  Each line the program writes becomes one write(2) of
 * "2026-11-26T23:59:30Z hook start_network: text\n" to the log (O_APPEND:
 * never mixed with the daemon's lines), so that a line of a hook can be
 * told from the daemon's and the guest's, and a line left without its
 * newline never glues onto the next one.
 *
 * The runner returns once the program has ended and what it wrote is
 * read, so its lines come before the daemon's next transition line.
 * Children it left behind that still hold its output are relayed by a
 * process of their own until they close it (vmstated(8), LOGS).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

#define RELAY_LINE_MAX	4096	/* longer: cut into several lines */

struct relay {
	int		 out;
	const char	*tag;
	char		 line[RELAY_LINE_MAX];
	size_t		 len;
};

static int	 relay_sigpipe[2] = { -1, -1 };

void
relay_stamp(char *buf, size_t len, const char *tag)
{
	struct tm	 tm;
	time_t		 now = time(NULL);
	size_t		 n;

	gmtime_r(&now, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ ", &tm);
	snprintf(buf + n, len - n, "%s: ", tag);
}

/* The line so far, with its prefix and a newline, in one write. */
static void
relay_flush(struct relay *r)
{
	char	 out[RELAY_LINE_MAX + 128];
	size_t	 n;
	ssize_t	 w;

	if (r->len == 0)
		return;
	relay_stamp(out, sizeof(out) - RELAY_LINE_MAX - 1, r->tag);
	n = strlen(out);
	memcpy(out + n, r->line, r->len);
	n += r->len;
	out[n++] = '\n';
	r->len = 0;
	do
		w = write(r->out, out, n);
	while (w == -1 && errno == EINTR);
}

static void
relay_bytes(struct relay *r, const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			relay_flush(r);
			continue;
		}
		if (r->len == sizeof(r->line))
			relay_flush(r);
		r->line[r->len++] = p[i];
	}
}

/* Read what is there (all of it with block set); 1 at end of file. */
static int
relay_read(struct relay *r, int in, bool block)
{
	char	 buf[4096];
	ssize_t	 n;

	for (;;) {
		n = read(in, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && !block && (errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return 1;
		relay_bytes(r, buf, (size_t)n);
	}
}

static void
relay_on_sigchld(int sig)
{
	int	 saved = errno;

	(void)sig;
	(void)!write(relay_sigpipe[1], "c", 1);
	errno = saved;
}

/* Children left behind hold the pipe: relay for them until they close
 * it, in a process of its own, so that the runner can report now. */
static void
relay_leftover(struct relay *r, int in)
{
	pid_t	 pid;

	if ((pid = fork()) != 0)
		return;		/* the runner (or no fork: given up) */
	signal(SIGCHLD, SIG_DFL);
	(void)fcntl(in, F_SETFL, fcntl(in, F_GETFL) & ~O_NONBLOCK);
	(void)relay_read(r, in, true);
	relay_flush(r);
	_exit(0);
}

int
relay_run(int in, int out, const char *tag, pid_t pid)
{
	struct pollfd	 pfd[2];
	struct relay	 r;
	char		 c;
	int		 status = 0, eof = 0, ended = 0;

	memset(&r, 0, sizeof(r));
	r.out = out;
	r.tag = tag;
	if (pipe(relay_sigpipe) == -1)
		relay_sigpipe[0] = relay_sigpipe[1] = -1;
	else {
		(void)fcntl(relay_sigpipe[0], F_SETFL, O_NONBLOCK);
		(void)fcntl(relay_sigpipe[1], F_SETFL, O_NONBLOCK);
		signal(SIGCHLD, relay_on_sigchld);
	}
	(void)fcntl(in, F_SETFL, fcntl(in, F_GETFL) | O_NONBLOCK);
	while (!ended) {
		/* Checked first: a SIGCHLD before the handler was set. */
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (eof || relay_sigpipe[0] == -1) {
			/* Nothing more to read: just wait for the end. */
			while (waitpid(pid, &status, 0) == -1)
				if (errno != EINTR)
					return status;
			ended = 1;
			break;
		}
		pfd[0].fd = in;
		pfd[0].events = POLLIN;
		pfd[1].fd = relay_sigpipe[0];
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1)
			continue;
		if (pfd[1].revents != 0)
			while (read(relay_sigpipe[0], &c, 1) == 1)
				;
		if (pfd[0].revents != 0)
			eof = relay_read(&r, in, false);
	}
	/* The program has ended: everything it wrote is in the pipe. */
	if (!eof)
		eof = relay_read(&r, in, false);
	relay_flush(&r);
	if (!eof)
		relay_leftover(&r, in);
	close(in);
	return status;
}
