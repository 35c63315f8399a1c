/*
 * console.c: each VM's serial console, owned by the daemon.
 *
 * While the hypervisor runs, the daemon holds its end of the VM's first
 * serial port (a back end's console(): an nmdm(4) side for bhyve, a
 * connection to qemu's chardev socket), reads everything the guest
 * prints, and:
 *
 *   - keeps the last CONSOLE_SCROLLBACK bytes, which a client sees first
 *     when it attaches;
 *   - writes it to the VM log as whole lines "TIME console: text", with
 *     control characters made visible, so that a guest can never write a
 *     line that looks like the daemon's;
 *   - sends it to every attached client (`vmstatedctl console`), of which
 *     one at a time may type.
 *
 * A client is a control connection that a `console` request switched
 * over (switch.c): from then on it carries the console's bytes both ways.
 * Nothing here blocks: a client that does not read is dropped once its
 * backlog passes CONSOLE_CLIENT_BACKLOG; what a client types waits in a
 * bounded buffer, and the client is not read while that is full.
 *
 * The console outlives the hypervisor's restarts (a guest reboot): the
 * clients stay attached and the scrollback is kept.  When the VM comes to
 * rest the clients are told and let go, and everything is freed.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "vmstated.h"

#define CONSOLE_SCROLLBACK	(64 * 1024)	/* what an attach shows */
#define CONSOLE_READ		16384		/* per read, per loop pass */
#define CONSOLE_LINE_MAX	1024		/* longer: several log lines */
#define CONSOLE_LINE_WAIT	2		/* s a partial line waits */
#define CONSOLE_CLIENT_BACKLOG	(1024 * 1024)	/* unread: dropped */
#define CONSOLE_INPUT_MAX	(64 * 1024)	/* typed, not yet taken */
#define CONSOLE_MAX_CLIENTS	32		/* per VM */
#define CONSOLE_CLOSE_WAIT	5		/* s to flush a goodbye */

struct console_client {
	struct console		*con;
	struct bufferevent	*bev;
	uid_t			 uid;
	bool			 closing;
	struct console_client	*next;
};

struct console {
	struct vm		*vm;
	int			 fd;		/* the hypervisor's end, or -1 */
	struct event		*ev_read;
	struct event		*ev_write;
	char			*none;		/* why the daemon has none */
	char			*ring;		/* the scrollback */
	size_t			 ring_start, ring_len;
	struct buf		 line;		/* not yet a whole log line */
	struct event		*line_timer;
	struct buf		 input;		/* typed, not yet written */
	struct console_client	*clients;
	int			 nclients;
	struct console_client	*writer;
};

static void	console_on_read(evutil_socket_t, short, void *);
static void	console_on_write(evutil_socket_t, short, void *);
static void	console_client_read(struct bufferevent *, void *);
static void	console_client_free(struct console_client *);

static struct console *
console_get(struct vm *vm)
{
	struct console	*con = vm_run(vm)->console;

	if (con == NULL) {
		con = xcalloc(1, sizeof(*con));
		con->vm = vm;
		con->fd = -1;
		buf_init(&con->line);
		buf_init(&con->input);
		vm->run->console = con;
	}
	return con;
}

/* ---- The log. ---- */

static void
console_log_line(struct console *con)
{
	if (con->line.len > 0)
		vmlog_source(con->vm, "console", con->line.data,
		    con->line.len);
	buf_reset(&con->line);
	if (con->line_timer != NULL)
		evtimer_del(con->line_timer);
}

static void
console_line_timeout(evutil_socket_t fd, short what, void *arg)
{
	console_log_line(arg);
}

/*
 * The guest's bytes into log lines: a newline ends one, a carriage return
 * is dropped, and other control characters are written as ^X (ESC as ^[)
 * so that nothing the guest prints can move a terminal that shows the
 * log.  A line without its end is written after CONSOLE_LINE_WAIT
 * seconds (a prompt) or CONSOLE_LINE_MAX bytes.
 */
static void
console_log_bytes(struct console *con, const unsigned char *p, size_t n)
{
	struct timeval	 tv = { CONSOLE_LINE_WAIT, 0 };
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			console_log_line(con);
			continue;
		}
		if (p[i] == '\r')
			continue;
		if (p[i] < 0x20 && p[i] != '\t') {
			buf_putc(&con->line, '^');
			buf_putc(&con->line, (char)(p[i] + '@'));
		} else if (p[i] == 0x7f)
			buf_puts(&con->line, "^?");
		else
			buf_putc(&con->line, (char)p[i]);
		if (con->line.len >= CONSOLE_LINE_MAX)
			console_log_line(con);
	}
	if (con->line.len == 0)
		return;
	if (con->line_timer == NULL)
		con->line_timer = evtimer_new(vmstated_base(),
		    console_line_timeout, con);
	if (con->line_timer != NULL && !evtimer_pending(con->line_timer, NULL))
		evtimer_add(con->line_timer, &tv);
}

/* ---- The scrollback. ---- */

static void
console_ring_add(struct console *con, const char *p, size_t n)
{
	size_t	 at, part;

	if (con->ring == NULL)
		con->ring = xmalloc(CONSOLE_SCROLLBACK);
	if (n > CONSOLE_SCROLLBACK) {
		p += n - CONSOLE_SCROLLBACK;
		n = CONSOLE_SCROLLBACK;
	}
	while (n > 0) {
		at = (con->ring_start + con->ring_len) % CONSOLE_SCROLLBACK;
		part = CONSOLE_SCROLLBACK - at < n ? CONSOLE_SCROLLBACK - at : n;
		memcpy(con->ring + at, p, part);
		p += part;
		n -= part;
		if (con->ring_len + part > CONSOLE_SCROLLBACK) {
			con->ring_start = (con->ring_start + con->ring_len +
			    part - CONSOLE_SCROLLBACK) % CONSOLE_SCROLLBACK;
			con->ring_len = CONSOLE_SCROLLBACK;
		} else
			con->ring_len += part;
	}
}

static void
console_ring_send(struct console *con, struct bufferevent *bev)
{
	size_t	 first;

	if (con->ring_len == 0)
		return;
	first = CONSOLE_SCROLLBACK - con->ring_start;
	if (first > con->ring_len)
		first = con->ring_len;
	bufferevent_write(bev, con->ring + con->ring_start, first);
	if (first < con->ring_len)
		bufferevent_write(bev, con->ring, con->ring_len - first);
}

/* ---- The hypervisor's end. ---- */

/* What the guest printed: scrollback, log, clients. */
static void
console_output(struct console *con, const char *p, size_t n)
{
	struct console_client	*c, *next;
	struct evbuffer		*out;

	console_ring_add(con, p, n);
	console_log_bytes(con, (const unsigned char *)p, n);
	for (c = con->clients; c != NULL; c = next) {
		next = c->next;
		if (c->closing)
			continue;
		out = bufferevent_get_output(c->bev);
		if (evbuffer_get_length(out) > CONSOLE_CLIENT_BACKLOG) {
			log_warnx("%s: console client uid %ld does not read; "
			    "dropping it", con->vm->name, (long)c->uid);
			console_client_free(c);
			continue;
		}
		evbuffer_add(out, p, n);
	}
}

/* Stop watching the hypervisor's end, and close it. */
static void
console_close_fd(struct console *con)
{
	if (con->ev_read != NULL)
		event_free(con->ev_read);
	if (con->ev_write != NULL)
		event_free(con->ev_write);
	con->ev_read = con->ev_write = NULL;
	if (con->fd != -1)
		close(con->fd);
	con->fd = -1;
	buf_reset(&con->input);
}

/*
 * One read per pass of the loop: a guest that prints without pause
 * cannot keep the daemon from the rest.  The end of the hypervisor's
 * side (qemu gone, a pty whose slave closed) stops the watch.
 */
static void
console_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct console	*con = arg;
	char		 buf[CONSOLE_READ];
	ssize_t		 n;

	n = read(con->fd, buf, sizeof(buf));
	if (n > 0) {
		console_output(con, buf, (size_t)n);
		return;
	}
	if (n == -1 && (errno == EINTR || errno == EAGAIN ||
	    errno == EWOULDBLOCK))
		return;
	console_log_line(con);
	console_close_fd(con);
}

/* What a client typed, to the hypervisor, as much as it takes now. */
static void
console_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct console	*con = arg;
	ssize_t		 n;

	while (con->fd != -1 && con->input.len > 0) {
		n = write(con->fd, con->input.data, con->input.len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(con->ev_write, NULL);
			return;
		}
		if (n <= 0) {
			buf_reset(&con->input);
			break;
		}
		buf_consume(&con->input, (size_t)n);
	}
	/* Room again: the writer may be read again. */
	if (con->writer != NULL && con->input.len < CONSOLE_INPUT_MAX) {
		bufferevent_enable(con->writer->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_input(
		    con->writer->bev)) > 0)
			console_client_read(con->writer->bev, con->writer);
	}
}

/* The hypervisor runs and fd is the daemon's end of its console. */
void
console_attach(struct vm *vm, int fd)
{
	struct console	*con = console_get(vm);

	console_close_fd(con);
	free(con->none);
	con->none = NULL;
	con->fd = fd;
	con->ev_read = event_new(vmstated_base(), fd, EV_READ | EV_PERSIST,
	    console_on_read, con);
	con->ev_write = event_new(vmstated_base(), fd, EV_WRITE,
	    console_on_write, con);
	if (con->ev_read == NULL || con->ev_write == NULL ||
	    event_add(con->ev_read, NULL) == -1) {
		vmlog(vm, "cannot watch its console");
		console_close_fd(con);
	}
}

/* The hypervisor runs without a console of the daemon's: why says where
 * its configuration put it, or is NULL when it could not be reached. */
void
console_none(struct vm *vm, const char *why)
{
	struct console	*con = console_get(vm);

	console_close_fd(con);
	free(con->none);
	con->none = xstrdup(why != NULL ? why : "its console could not be "
	    "reached when the hypervisor started (see its log)");
}

/* The hypervisor has ended: what it printed last is read now, so that
 * the log has it before the line that says so. */
void
console_drain(struct vm *vm)
{
	struct console	*con = vm_run_peek(vm)->console;
	char		 buf[CONSOLE_READ];
	ssize_t		 n;
	int		 i;

	if (con == NULL || con->fd == -1)
		return;
	for (i = 0; i < 64; i++) {
		n = read(con->fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		console_output(con, buf, (size_t)n);
	}
	console_log_line(con);
}

/* The hypervisor is gone: its end is closed, the clients stay. */
void
console_detach(struct vm *vm)
{
	struct console	*con = vm_run_peek(vm)->console;

	if (con == NULL)
		return;
	console_log_line(con);
	console_close_fd(con);
	free(con->none);
	con->none = NULL;
}

/* ---- Clients. ---- */

static void
console_client_free(struct console_client *c)
{
	struct console		*con = c->con;
	struct console_client	**pp;

	for (pp = &con->clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	con->nclients--;
	if (con->writer == c)
		con->writer = NULL;
	bufferevent_free(c->bev);
	free(c);
	/* The last reader of a VM at rest: its run part may go now. */
	if (con->clients == NULL && vm_at_rest(con->vm))
		sv_vm_idle(con->vm);
}

/* What a client typed: the writer's goes to the guest, others' away. */
static void
console_client_read(struct bufferevent *bev, void *arg)
{
	struct console_client	*c = arg;
	struct console		*con = c->con;
	struct evbuffer		*in = bufferevent_get_input(bev);
	char			 chunk[4096];
	size_t			 n;
	int			 got;

	if (c != con->writer || con->fd == -1 || c->closing) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	while (con->input.len < CONSOLE_INPUT_MAX &&
	    evbuffer_get_length(in) > 0) {
		n = CONSOLE_INPUT_MAX - con->input.len;
		if (n > sizeof(chunk))
			n = sizeof(chunk);
		if ((got = evbuffer_remove(in, chunk, n)) <= 0)
			break;
		buf_append(&con->input, chunk, (size_t)got);
	}
	/* Full: stop reading the client until the guest takes some. */
	if (con->input.len >= CONSOLE_INPUT_MAX)
		bufferevent_disable(bev, EV_READ);
	/* Written from the loop, not from here: console_on_write() reads
	 * the writer again when there is room. */
	if (con->input.len > 0)
		event_active(con->ev_write, EV_WRITE, 1);
}

static void
console_client_written(struct bufferevent *bev, void *arg)
{
	struct console_client	*c = arg;

	if (c->closing)
		console_client_free(c);
}

static void
console_client_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		console_client_free(arg);
}

/*
 * May a client attach now?  0, with *writer telling whether it gets the
 * keyboard (it wants it, and nobody has it); or -1 with the reason in why.
 */
int
console_check(struct vm *vm, bool want_write, bool *writer,
    long *writer_uid, struct buf *why)
{
	struct console	*con = vm_run_peek(vm)->console;

	*writer = false;
	*writer_uid = -1;
	if (!vm_is_up(vm) || vm_at_rest(vm)) {
		buf_printf(why, "%s is not running (state %s); its console "
		    "exists while its hypervisor runs: 'vmstatedctl start %s'",
		    vm->name, vm_state_name(vm->state), vm->name);
		return -1;
	}
	if (con != NULL && con->none != NULL) {
		buf_printf(why, "%s has no console of vmstated's: %s%s",
		    vm->name, strncmp(con->none, "its console", 11) == 0 ?
		    "" : "its configuration puts com1 elsewhere: ",
		    con->none);
		return -1;
	}
	if (con == NULL || con->fd == -1) {
		buf_printf(why, "%s's console is not there now (its "
		    "hypervisor is being started or has just ended); try "
		    "again", vm->name);
		return -1;
	}
	if (con->nclients >= CONSOLE_MAX_CLIENTS) {
		buf_printf(why, "%s's console has %d clients already; "
		    "detach one first", vm->name, CONSOLE_MAX_CLIENTS);
		return -1;
	}
	if (con->writer != NULL)
		*writer_uid = (long)con->writer->uid;
	*writer = want_write && con->writer == NULL;
	return 0;
}

/*
 * A connection switched to the console (switch.c), right after the reply
 * that console_check() allowed: bev is the console's from now on.
 */
void
console_take(struct vm *vm, struct bufferevent *bev, uid_t uid,
    bool writer, bool scrollback)
{
	struct console		*con = console_get(vm);
	struct console_client	*c;

	c = xcalloc(1, sizeof(*c));
	c->con = con;
	c->bev = bev;
	c->uid = uid;
	c->next = con->clients;
	con->clients = c;
	con->nclients++;
	if (writer && con->writer == NULL)
		con->writer = c;
	bufferevent_setcb(bev, console_client_read, console_client_written,
	    console_client_event, c);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (scrollback)
		console_ring_send(con, bev);
	log_info("%s: console attached for uid %ld (%s)", vm->name,
	    (long)uid, con->writer == c ? "read-write" : "read-only");
	/* Typed ahead, after the request line. */
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		console_client_read(bev, c);
}

/* Tell a client why its console ends, then let it go. */
static void
console_client_goodbye(struct console_client *c, const char *why)
{
	struct timeval	 tv = { CONSOLE_CLOSE_WAIT, 0 };
	struct buf	 b;

	buf_init(&b);
	buf_printf(&b, "\r\n[vmstated: %s]\r\n", why);
	bufferevent_write(c->bev, b.data, b.len);
	buf_free(&b);
	c->closing = true;
	if (c->con->writer == c)
		c->con->writer = NULL;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		console_client_free(c);
}

/* Free all but the clients. */
static void
console_free_parts(struct console *con)
{
	console_close_fd(con);
	if (con->line_timer != NULL)
		event_free(con->line_timer);
	con->line_timer = NULL;
	free(con->ring);
	con->ring = NULL;
	con->ring_start = con->ring_len = 0;
	free(con->none);
	con->none = NULL;
	buf_free(&con->line);
	buf_free(&con->input);
}

/*
 * The VM has come to rest: each client is told why, the scrollback goes.
 * Clients still flushing keep the console until they are gone.
 */
void
console_end(struct vm *vm, const char *why)
{
	struct console		*con = vm_run_peek(vm)->console;
	struct console_client	*c, *next;

	if (con == NULL)
		return;
	console_log_line(con);
	for (c = con->clients; c != NULL; c = next) {
		next = c->next;
		if (!c->closing)
			console_client_goodbye(c, why);
	}
	console_free_parts(con);
	buf_init(&con->line);
	buf_init(&con->input);
	if (con->clients == NULL) {
		free(con);
		vm->run->console = NULL;
	}
}

/* The VM is being freed: everything goes at once. */
void
console_release(struct vm *vm)
{
	struct console	*con = vm_run_peek(vm)->console;

	if (con == NULL)
		return;
	while (con->clients != NULL)
		console_client_free(con->clients);
	console_free_parts(con);
	free(con);
	vm->run->console = NULL;
}

/* Does a client still read what the console said? */
bool
console_busy(const struct vm *vm)
{
	const struct console	*con = vm_run_peek(vm)->console;

	return con != NULL && con->clients != NULL;
}
