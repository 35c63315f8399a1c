/*
 * conn.c: the client's side of the control socket.
 *
 * Every wait is bounded by a deadline (an absolute ctl_now() time; 0 means
 * none, for the event stream), so that a stuck daemon can never hang a
 * script that calls vmstatedctl.  The descriptor is non-blocking and all
 * waiting happens in poll(2), which also watches a self-pipe so that
 * SIGINT and SIGTERM end an event stream cleanly.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "vmstatedctl.h"

/* Read at least this much at a time: a status reply is some 200 kB. */
#define CTL_READ_CHUNK	(64 * 1024)
#define CTL_READ_FIRST	(512 * 1024)

static int			signal_pipe[2] = { -1, -1 };
static volatile sig_atomic_t	got_signal;

/* Seconds since an arbitrary start, from a clock that never jumps. */
double
ctl_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds left until deadline, for poll(2); -1 when there is none. */
static int
poll_timeout(double deadline)
{
	double	 left;

	if (deadline <= 0)
		return -1;
	left = deadline - ctl_now();
	if (left <= 0)
		return 0;
	if (left > 86400)
		return 86400 * 1000;
	return (int)(left * 1000) + 1;
}

static void
on_signal(int signo)
{
	int	 saved = errno;
	char	 c = 0;
	ssize_t	 n;

	(void)signo;
	got_signal = 1;
	if (signal_pipe[1] != -1) {
		n = write(signal_pipe[1], &c, 1);
		(void)n;	/* a full pipe has woken poll already */
	}
	errno = saved;
}

/*
 * From now on SIGINT, SIGTERM and SIGHUP make ctl_read_line() return
 * CTL_LINE_INTERRUPTED instead of killing the program.
 */
void
ctl_catch_signals(void)
{
	struct sigaction sa;
	int		 i;

	if (pipe(signal_pipe) == -1)
		fatal("pipe");
	for (i = 0; i < 2; i++) {
		fcntl(signal_pipe[i], F_SETFL,
		    fcntl(signal_pipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(signal_pipe[i], F_SETFD, FD_CLOEXEC);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

/* Readable once ctl_catch_signals()'s signals came; -1 before it. */
int
ctl_signal_fd(void)
{
	return signal_pipe[0];
}

bool
ctl_interrupted(void)
{
	return got_signal != 0;
}

/* Print why connecting failed, with what the user can do about it. */
static void
connect_failed(const char *path, int error)
{
	const char	*hint;

	if (error == EACCES || error == EPERM)
		hint = "the socket's mode or group does not let you in";
	else if (error == ETIMEDOUT)
		hint = "vmstated is too busy to accept connections, or hung";
	else
		hint = "is vmstated running? (-s to name another socket)";
	log_warnx("cannot connect to %s: %s; %s", path, strerror(error), hint);
}

/*
 * Connect to the daemon's socket at path before deadline.  Returns 0, or
 * -1 after printing why (the caller exits with CTL_EXIT_UNREACHABLE).
 */
int
ctl_connect(struct ctl_conn *c, const char *path, double deadline)
{
	struct sockaddr_un	 sun;
	struct pollfd		 pfd;
	socklen_t		 len;
	int			 error;

	c->fd = -1;
	c->path = path;
	c->eof = false;
	c->remote = false;
	buf_init(&c->in);
	c->in_off = 0;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("cannot connect to %s: the path is longer than the "
		    "%zu bytes a socket address can hold", path,
		    sizeof(sun.sun_path) - 1);
		return -1;
	}
	strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);

	if ((c->fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1) {
		connect_failed(path, errno);
		return -1;
	}
	fcntl(c->fd, F_SETFD, FD_CLOEXEC);
	if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) == -1) {
		connect_failed(path, errno);
		goto fail;
	}

	for (;;) {
		if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EISCONN)
			return 0;
		/* Linux: the listen queue is full; try again shortly. */
		if (errno == EAGAIN) {
			if (ctl_now() >= deadline) {
				connect_failed(path, ETIMEDOUT);
				goto fail;
			}
			(void)poll(NULL, 0, 20);
			continue;
		}
		if (errno != EINPROGRESS) {
			connect_failed(path, errno);
			goto fail;
		}
		break;
	}

	/* The connection is in progress: wait for it, then ask how it went. */
	pfd.fd = c->fd;
	pfd.events = POLLOUT;
	for (;;) {
		int	 n = poll(&pfd, 1, poll_timeout(deadline));

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			connect_failed(path, errno);
			goto fail;
		}
		if (n == 0) {
			connect_failed(path, ETIMEDOUT);
			goto fail;
		}
		break;
	}
	len = sizeof(error);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		error = errno;
	if (error != 0) {
		connect_failed(path, error);
		goto fail;
	}
	return 0;

fail:
	close(c->fd);
	c->fd = -1;
	return -1;
}

/*
 * Send len bytes before deadline.  Returns 0, or -1 after printing why.
 */
int
ctl_send(struct ctl_conn *c, const char *line, size_t len, double deadline)
{
	struct pollfd	 pfd;
	ssize_t		 n;

	pfd.fd = c->fd;
	pfd.events = POLLOUT;
	while (len > 0) {
		n = send(c->fd, line, len, MSG_NOSIGNAL);
		if (n > 0) {
			line += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
			log_warn("cannot send the request to vmstated on %s",
			    c->path);
			return -1;
		}
		n = poll(&pfd, 1, poll_timeout(deadline));
		if (n == 0) {
			log_warnx("vmstated on %s did not take the request "
			    "in time; is it hung?", c->path);
			return -1;
		}
	}
	return 0;
}

/*
 * Take the first line of c->in past in_off (without its newline) as
 * *line.  Lines are taken by moving in_off, not the bytes behind it: a
 * burst of events read in one chunk would otherwise be moved down once
 * per line, a cost quadratic in the chunk.
 */
static int
take_line(struct ctl_conn *c, const char *nl, char **line, size_t *len)
{
	const char	*start = c->in.data + c->in_off;

	*len = (size_t)(nl - start);
	if (c->in_off + *len + 1 == c->in.len && *len >= 4096) {
		/* A long reply is all there is: hand it over, not a copy.
		 * (Short lines, events, are copied: the buffer stays.) */
		if (c->in_off > 0)
			memmove(c->in.data, start, *len);
		c->in.data[*len] = '\0';
		*line = c->in.data;
		buf_init(&c->in);
		c->in_off = 0;
		return CTL_LINE_OK;
	}
	*line = xstrndup(start, *len);
	c->in_off += *len + 1;
	if (c->in_off == c->in.len)
		ctl_pending_done(c);
	return CTL_LINE_OK;
}

const char *
ctl_pending(struct ctl_conn *c, size_t *len)
{
	*len = c->in.len - c->in_off;
	return c->in.data + c->in_off;
}

void
ctl_pending_done(struct ctl_conn *c)
{
	buf_reset(&c->in);
	c->in_off = 0;
}

/*
 * Make room in c->in to read a chunk straight into it.  The first room
 * is large enough for the status of 1000 VMs: malloc maps a block that
 * large on its own, and only the pages a reply fills cost anything.
 * Growing from a smaller block copied it into fresh pages (32 page
 * faults of the 174 such a status took); a mapped block grows in place.
 */
static void
make_room(struct ctl_conn *c)
{
	if (c->in.cap - c->in.len > CTL_READ_CHUNK)
		return;
	c->in.cap = c->in.cap < CTL_READ_FIRST ? CTL_READ_FIRST :
	    c->in.cap * 2;
	c->in.data = xrealloc(c->in.data, c->in.cap);
	c->in.data[c->in.len] = '\0';
}

/*
 * Read one line from the daemon before deadline (0: wait for ever).
 * Returns CTL_LINE_OK with *line (NUL-terminated, no newline; the caller
 * frees it), or CTL_LINE_EOF, CTL_LINE_TIMEOUT, CTL_LINE_INTERRUPTED, or
 * CTL_LINE_ERROR after printing why.
 */
int
ctl_read_line(struct ctl_conn *c, char **line, size_t *len, double deadline)
{
	struct pollfd	 pfd[2];
	const char	*nl;
	size_t		 scanned = c->in_off;
	ssize_t		 n;
	int		 ready;

	pfd[0].fd = c->fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = signal_pipe[0];
	pfd[1].events = POLLIN;
	for (;;) {
		if (c->in.len > scanned &&
		    (nl = memchr(c->in.data + scanned, '\n',
		    c->in.len - scanned)) != NULL)
			return take_line(c, nl, line, len);
		scanned = c->in.len;
		if (c->in.len > CTL_MAX_REPLY) {
			log_warnx("vmstated on %s sent a line longer than "
			    "%d bytes; giving up", c->path, CTL_MAX_REPLY);
			return CTL_LINE_ERROR;
		}
		if (c->eof && c->in.len > c->in_off) {
			/* A last line without its newline is still a line. */
			buf_putc(&c->in, '\n');
			continue;
		}
		if (c->eof)
			return CTL_LINE_EOF;
		if (got_signal)
			return CTL_LINE_INTERRUPTED;

		ready = poll(pfd, signal_pipe[0] == -1 ? 1 : 2,
		    poll_timeout(deadline));
		if (ready == -1 && errno == EINTR)
			continue;
		if (ready == -1) {
			log_warn("poll");
			return CTL_LINE_ERROR;
		}
		if (ready == 0)
			return CTL_LINE_TIMEOUT;
		if (got_signal)
			return CTL_LINE_INTERRUPTED;

		if (c->in_off > 0) {
			/* What is left is part of one line: move it down
			 * once, before the next chunk. */
			buf_consume(&c->in, c->in_off);
			scanned -= c->in_off;
			c->in_off = 0;
		}
		make_room(c);
		n = read(c->fd, c->in.data + c->in.len,
		    c->in.cap - c->in.len - 1);
		if (n == -1 && (errno == EINTR || errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			continue;
		if (n == -1 && errno == ECONNRESET)
			n = 0;
		if (n == -1) {
			log_warn("cannot read from vmstated on %s", c->path);
			return CTL_LINE_ERROR;
		}
		if (n == 0)
			c->eof = true;
		else {
			c->in.len += (size_t)n;
			c->in.data[c->in.len] = '\0';
		}
	}
}

void
ctl_close(struct ctl_conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
}
