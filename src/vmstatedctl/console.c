/*
 * console.c: `vmstatedctl console` and `vmstatedctl log`, the two commands
 * after whose reply the connection stops carrying JSON lines and carries
 * bytes: the VM's serial console both ways, or its log to us
 * (vmstatedctl(1), PROTOCOL).
 *
 * The console is cu(1)'s: the terminal in raw mode, so that every key
 * (^C included) goes to the guest; "~." at the start of a line detaches,
 * "~?" lists the escapes, "~~" sends one "~".  The terminal is put back
 * however the program ends.
 */
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "vmstatedctl.h"

static struct termios	 saved_tio;
static bool		 tio_saved;
static bool		 mid_line;	/* the guest's last byte was no '\n' */

static void
console_restore_tty(void)
{
	if (tio_saved)
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	tio_saved = false;
}

/* Raw mode on the terminal, when stdin is one: every key to the guest. */
static void
console_raw_tty(void)
{
	struct termios	 tio;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio) == -1)
		return;
	tio = saved_tio;
	cfmakeraw(&tio);
	tio_saved = true;
	atexit(console_restore_tty);
	/* TCSANOW: what was typed ahead goes to the guest, not away. */
	(void)tcsetattr(STDIN_FILENO, TCSANOW, &tio);
}

/* Write all of p to fd (stdout); -1 when it cannot be written. */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A message of ours while the terminal is raw: \r\n line ends, and a
 * line of its own even after a prompt of the guest's. */
static void
console_note(const char *text)
{
	const char	*eol = tio_saved ? "\r\n" : "\n";

	fprintf(stderr, "%s%s%s", mid_line ? eol : "", text, eol);
	fflush(stderr);
	mid_line = false;
}

/* The guest's bytes to the terminal. */
static int
console_show(const char *p, size_t n)
{
	if (n == 0)
		return 0;
	mid_line = p[n - 1] != '\n';
	return write_all(STDOUT_FILENO, p, n);
}

struct escape {
	bool	 bol;		/* at the start of a line */
	bool	 tilde;		/* a "~" at the start of a line, held */
};

static void
console_help(void)
{
	console_note("[vmstatedctl console escapes, at the start of a line:");
	console_note("  ~.  detach (the VM goes on running)");
	console_note("  ~?  this help");
	console_note("  ~~  send one ~]");
}

/*
 * Keys typed: escapes taken out, the rest into out (sent when we may
 * type).  Returns 1 when "~." asks to detach.
 */
static int
console_keys(struct escape *e, const char *p, size_t n, struct buf *out)
{
	size_t	 i;
	char	 b;

	for (i = 0; i < n; i++) {
		b = p[i];
		if (e->tilde) {
			e->tilde = false;
			if (b == '.')
				return 1;
			if (b == '?') {
				console_help();
				continue;
			}
			buf_putc(out, '~');
			if (b == '~') {
				e->bol = false;
				continue;
			}
		}
		if (e->bol && b == '~') {
			e->tilde = true;
			continue;
		}
		buf_putc(out, b);
		e->bol = b == '\r' || b == '\n';
	}
	return 0;
}

/*
 * The console session after the daemon's reply.  Returns CTL_EXIT_OK when
 * the user detached (~., end of input), CTL_EXIT_FAILED when the daemon
 * ended it (the VM stopped; its message was the last thing shown).
 */
int
console_session(struct ctl_conn *c, const struct ctl_opts *o,
    struct reply *reply)
{
	struct escape	 e = { true, false };
	struct pollfd	 pfd[3];
	struct buf	 out;
	const char	*mode, *vm, *pending;
	char		 buf[16384], note[256];
	size_t		 npending;
	bool		 writer, input = true;
	ssize_t		 n;
	int		 status = CTL_EXIT_FAILED;
	const struct reply_value *uid;

	vm = reply_str(reply, NULL, "vm");
	mode = reply_str(reply, NULL, "mode");
	writer = mode != NULL && strcmp(mode, "read-write") == 0;
	/* Raw before the first word: a key typed once it shows is ours. */
	console_raw_tty();
	if (!o->quiet) {
		snprintf(note, sizeof(note), "[connected to the console of "
		    "%s, %s; ~. detaches, ~? lists the escapes]",
		    vm != NULL ? vm : "?", writer ? "read-write" :
		    "read-only");
		console_note(note);
		uid = reply_get(reply, "writer_uid");
		if (!writer && !o->readonly && uid != NULL &&
		    uid->type == REPLY_INT) {
			snprintf(note, sizeof(note), "[read-only: uid %lld "
			    "has the keyboard]", (long long)uid->integer);
			console_note(note);
		}
	}
	/* What came with the reply: the scrollback's start. */
	pending = ctl_pending(c, &npending);
	if (console_show(pending, npending) == -1)
		return CTL_EXIT_FAILED;
	ctl_pending_done(c);
	buf_init(&out);
	for (;;) {
		pfd[0].fd = c->fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = input ? STDIN_FILENO : -1;
		pfd[1].events = POLLIN;
		pfd[2].fd = ctl_signal_fd();
		pfd[2].events = POLLIN;
		if (poll(pfd, 3, -1) == -1 && errno != EINTR) {
			log_warn("poll");
			break;
		}
		if (ctl_interrupted()) {
			/* Killed, or the terminal went: as a detach. */
			status = CTL_EXIT_OK;
			break;
		}
		if (pfd[0].revents != 0) {
			n = read(c->fd, buf, sizeof(buf));
			if (n == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				break;		/* the daemon ended it */
			if (console_show(buf, (size_t)n) == -1)
				break;
		}
		if (pfd[1].revents == 0)
			continue;
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			/* A watcher watches on; a typist is done. */
			input = false;
			if (!writer)
				continue;
			status = CTL_EXIT_OK;
			break;
		}
		buf_reset(&out);
		if (console_keys(&e, buf, (size_t)n, &out) == 1) {
			status = CTL_EXIT_OK;
			break;
		}
		if (writer && out.len > 0 &&
		    ctl_send(c, out.data, out.len, 0) == -1)
			break;
	}
	buf_free(&out);
	console_restore_tty();
	if (status == CTL_EXIT_OK && !o->quiet)
		console_note("[detached]");
	return status;
}

/*
 * The log after the daemon's reply: everything the connection brings,
 * until the daemon closes it (without -f), or until interrupted (-f).
 */
int
log_session(struct ctl_conn *c, const struct ctl_opts *o)
{
	struct pollfd	 pfd[2];
	const char	*pending;
	char		 buf[65536];
	size_t		 npending;
	ssize_t		 n;

	(void)o;
	pending = ctl_pending(c, &npending);
	if (npending > 0 && write_all(STDOUT_FILENO, pending, npending) == -1)
		return CTL_EXIT_FAILED;
	ctl_pending_done(c);
	pfd[0].fd = c->fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = ctl_signal_fd();
	pfd[1].events = POLLIN;
	for (;;) {
		if (ctl_interrupted())
			return CTL_EXIT_OK;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			return CTL_EXIT_FAILED;
		}
		if (pfd[0].revents == 0)
			continue;
		n = read(c->fd, buf, sizeof(buf));
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == 0)
			return CTL_EXIT_OK;
		if (n == -1) {
			log_warn("cannot read the log from vmstated");
			return CTL_EXIT_FAILED;
		}
		if (write_all(STDOUT_FILENO, buf, (size_t)n) == -1) {
			log_warn("cannot write the log");
			return CTL_EXIT_FAILED;
		}
	}
}
