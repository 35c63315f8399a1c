/*
 * control.c: the control socket.  Clients send one JSON request per line;
 * each line is size-checked here and parsed, then handed to request.c with
 * the client's credentials, which come from the kernel at accept time.
 * Nothing here blocks: a slow or vanished client only costs its own
 * buffers, and one that lets its unread output pile up is dropped.
 *
 * Nobody can take the socket from root: users other than root share at
 * most CONTROL_MAX_CLIENTS - CONTROL_ADMIN_SLOTS connections, 64 each at
 * most, and a connection that says nothing for socket_timeout seconds
 * without following events is closed.  When the process runs out of
 * descriptors, a spare one lets root in and turns the others away, and
 * accepting pauses rather than spins.  Refusals are logged at a bounded
 * rate, with a count of those left out.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "json_check.h"
#include "log.h"
#include "platform.h"
#include "proto.h"
#include "trust.h"
#include "ucl.h"
#include "vmstated.h"

#define CONTROL_MAX_CLIENTS	1024
#define CONTROL_ADMIN_SLOTS	64	/* of those, kept for root */
#define CONTROL_MAX_PER_USER	64	/* for users other than root */
#define CONTROL_MAX_BACKLOG	(4 * 1024 * 1024)	/* unread output */
/* libevent writes 16 KiB per turn of the loop unless told otherwise: a
 * status reply of 1000 VMs (250 kB) took 16 turns.  The socket takes
 * what its buffer holds at once. */
#define CONTROL_MAX_WRITE	(1024 * 1024)
#define CONTROL_ACCEPT_BATCH	16	/* accepts per wake-up */
#define CONTROL_ACCEPT_RETRY	1	/* seconds, out of descriptors */
#define REFUSAL_LOG_BURST	10	/* refusal lines logged ... */
#define REFUSAL_LOG_WINDOW	5	/* ... per this many seconds */

struct client {
	struct bufferevent	*bev;
	struct ctl_peer		 peer;
	struct event		*idle;		/* socket_timeout */
	bool			 subscribed;
	bool			 discarding;	/* skipping an overlong line */
	bool			 holding;	/* events wait for a reply */
	struct buf		 held;
	struct client		*next;
};

static struct client	*clients;
static size_t		 nclients;
static char		*socket_path;
static dev_t		 socket_dev;	/* the socket file we bound */
static ino_t		 socket_ino;

/* Accepting. */
static int		 listen_fd = -1;
static struct event	*listen_event;
static struct event	*accept_timer;	/* takes the spare back, resumes */
static bool		 accept_paused;
static int		 spare_fd = -1;	/* given up to accept when starved */
static bool		 starved;	/* out of descriptors, said so */
static unsigned long	 starved_refused;
static double		 starved_at;	/* monotonic time of the last failure */

/* The rate limit of refusal lines. */
static struct event	*refusal_timer;	/* pending: a window is open */
static int		 refusal_logged;
static unsigned long	 refusal_suppressed;
static char		 refusal_last[256];

static void	control_resume_accept(void);
static void	control_close_listener(void);
static double	monotonic_now(void);

/*
 * Log a refusal (permission denied, too many connections), at most
 * REFUSAL_LOG_BURST lines per REFUSAL_LOG_WINDOW seconds: a user who
 * sends refused requests in a loop must not flood syslog.  The lines left
 * out are counted and the count is logged when the window closes.
 */
void
control_log_refusal(const char *fmt, ...)
{
	struct timeval	 window = { REFUSAL_LOG_WINDOW, 0 };
	va_list		 ap;

	va_start(ap, fmt);
	if (refusal_timer == NULL || !evtimer_pending(refusal_timer, NULL)) {
		refusal_logged = 0;
		if (refusal_timer != NULL)
			evtimer_add(refusal_timer, &window);
	}
	if (refusal_logged < REFUSAL_LOG_BURST || refusal_timer == NULL) {
		char line[1024];
		vsnprintf(line, sizeof(line), fmt, ap);
		log_warnx("%s", line);
		refusal_logged++;
	} else {
		vsnprintf(refusal_last, sizeof(refusal_last), fmt, ap);
		refusal_suppressed++;
	}
	va_end(ap);
}

static void
refusal_window_end(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	 window = { REFUSAL_LOG_WINDOW, 0 };

	if (refusal_suppressed == 0)
		return;
	log_warnx("%lu more refusals in the last %d s were not logged; the "
	    "last: %s", refusal_suppressed, REFUSAL_LOG_WINDOW, refusal_last);
	refusal_suppressed = 0;
	/* The flood may go on: the next window starts now, this line in it. */
	refusal_logged = 1;
	evtimer_add(refusal_timer, &window);
}

/* Take c out of the list of clients. */
static void
client_unlink(struct client *c)
{
	struct client	**pp;

	for (pp = &clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	nclients--;
}

/*
 * The request switched the connection to another protocol (console,
 * log): switch.c takes it, with the bytes already read after the request.
 */
static void
client_switch(struct client *c)
{
	client_unlink(c);
	event_free(c->idle);
	switch_take(&c->peer, c->bev);
	buf_free(&c->held);
	free(c->peer.groups);
	free(c);
}

static void
client_free(struct client *c)
{
	struct client	**pp;

	for (pp = &clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	nclients--;
	bufferevent_free(c->bev);
	event_free(c->idle);
	buf_free(&c->held);
	free(c->peer.groups);
	free(c->peer.sw.vm);
	free(c);
	/*
	 * A descriptor is free again, but libevent closes the socket only at
	 * the end of this turn of the loop (later still when we are inside
	 * its callback): take the spare back and accept in the next turn.
	 */
	if (accept_timer != NULL && (accept_paused || spare_fd == -1)) {
		struct timeval now = { 0, 0 };
		evtimer_add(accept_timer, &now);
	}
}

/*
 * (Re)start the idle clock: a connection that follows events (events,
 * or -w) may wait as long as it likes; any other is closed after
 * socket_timeout seconds without a request.
 */
static void
client_arm_idle(struct client *c)
{
	struct timeval	 tv = { 0, 0 };

	tv.tv_sec = vmstated_config()->socket_timeout;
	if (c->subscribed || tv.tv_sec == 0)
		evtimer_del(c->idle);
	else
		evtimer_add(c->idle, &tv);
}

static void
client_idle(evutil_socket_t fd, short what, void *arg)
{
	struct client	*c = arg;

	log_debug("control: closing a connection of uid %ld, idle for %lld s",
	    (long)c->peer.uid, (long long)vmstated_config()->socket_timeout);
	client_free(c);
}

/* Drop a client that does not read what it is sent.  true: dropped. */
static bool
client_backlogged(struct client *c)
{
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) <=
	    CONTROL_MAX_BACKLOG)
		return false;
	log_warnx("control: dropping client uid %ld: it does not read its "
	    "replies", (long)c->peer.uid);
	client_free(c);
	return true;
}

/* Queue one line to a client; drop it if it does not read. */
static int
client_send(struct client *c, const char *data, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	if (client_backlogged(c))
		return -1;
	evbuffer_add(out, data, len);
	evbuffer_add(out, "\n", 1);
	return 0;
}

static void
client_free_reply(const void *data, size_t len, void *arg)
{
	free((void *)data);
}

/*
 * Queue a reply, handing its memory over: a status reply of 10,000 VMs is
 * 2.5 MB, better not copied.  The buffer is left empty.
 */
static int
client_send_reply(struct client *c, struct buf *reply)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	size_t		 len;
	char		*data;

	if (client_backlogged(c)) {
		buf_free(reply);
		return -1;
	}
	buf_putc(reply, '\n');
	len = reply->len;
	data = buf_steal(reply);
	if (evbuffer_add_reference(out, data, len, client_free_reply,
	    NULL) == -1) {
		evbuffer_add(out, data, len);
		free(data);
	}
	return 0;
}

/* An error reply.  Returns -1 when the client was dropped (and freed). */
static int
client_error(struct client *c, const char *message)
{
	struct buf	 b;
	int		 r;

	buf_init(&b);
	buf_puts(&b, "{\"ok\":false,\"error\":");
	buf_json_cstr(&b, message);
	buf_putc(&b, '}');
	r = client_send(c, b.data, b.len);
	buf_free(&b);
	return r;
}

/*
 * Handle one request line.  A "watch" request subscribes the client before
 * the command acts; the events it causes are held back until the reply has
 * been queued, so that the client reads the reply first.  request.c says
 * whether the subscription stays: a refused request does not subscribe,
 * one that was accepted for at least one VM does.  Returns 0, or -1 when
 * the client was dropped (and freed).
 */
static int
client_handle_line(struct client *c, const char *line, size_t len)
{
	struct ucl_node		*req;
	const struct ucl_node	*watch;
	bool			 was_subscribed = c->subscribed;
	struct ucl_error	 err;
	struct buf		 reply;
	const char		*reason;
	size_t			 column;
	int			 r, handled;

	if (len == 0)
		return 0;
	if (json_check(line, len, &column, &reason) == -1) {
		char msg[256];
		snprintf(msg, sizeof(msg), "invalid JSON at column %zu: %s",
		    column, reason);
		return client_error(c, msg);
	}
	req = ucl_parse_buffer(line, len, "request", &err);
	if (req == NULL) {
		char msg[700];
		snprintf(msg, sizeof(msg), "invalid JSON at column %d: %s",
		    err.column, err.message);
		return client_error(c, msg);
	}
	watch = req->type == UCL_OBJECT ? ucl_lookup(req, "watch") : NULL;
	if (watch != NULL && watch->type == UCL_BOOLEAN && watch->v.boolean)
		c->subscribed = true;
	c->holding = true;
	buf_init(&reply);
	if ((handled = request_handle(&c->peer, req, &reply)) ==
	    REQUEST_SUBSCRIBE)
		c->subscribed = true;
	else if (!was_subscribed) {
		c->subscribed = false;
		buf_reset(&c->held);
	}
	c->holding = false;
	ucl_free(req);
	r = client_send_reply(c, &reply);
	if (r == 0 && handled == REQUEST_SWITCH) {
		client_switch(c);
		return -1;
	}
	if (r == 0 && c->held.len > 0) {
		evbuffer_add(bufferevent_get_output(c->bev), c->held.data,
		    c->held.len);
		buf_reset(&c->held);
	}
	return r;
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct evbuffer_ptr eol;
	size_t		 len;
	char		*line;

	for (;;) {
		eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		if (eol.pos == -1) {
			len = evbuffer_get_length(in);
			if (len > PROTO_MAX_LINE) {
				evbuffer_drain(in, len);
				if (!c->discarding && client_error(c, "request "
				    "line longer than 65536 bytes; skipped up "
				    "to its end") == -1)
					return;
				c->discarding = true;
			}
			return;
		}
		len = (size_t)eol.pos;
		if (c->discarding) {
			evbuffer_drain(in, len + 1);
			c->discarding = false;
			continue;
		}
		if (len > PROTO_MAX_LINE) {
			evbuffer_drain(in, len + 1);
			if (client_error(c, "request line longer than 65536 "
			    "bytes; skipped") == -1)
				return;
			continue;
		}
		line = xmalloc(len + 1);
		evbuffer_remove(in, line, len + 1);
		line[len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (client_handle_line(c, line, len) == -1) {
			free(line);
			return;
		}
		free(line);
		client_arm_idle(c);
	}
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_free(arg);
}

static int
control_count_uid(uid_t uid)
{
	struct client	*c;
	int		 n = 0;

	for (c = clients; c != NULL; c = c->next)
		if (c->peer.uid == uid)
			n++;
	return n;
}

/*
 * May this peer have one more connection?  The last CONTROL_ADMIN_SLOTS
 * are root's (and the daemon's user's), so that sixteen users with 64
 * idle connections each cannot shut root out.  Returns true, or false
 * after logging why.
 */
/* A line to a connection we are about to close; it may not get there. */
static void
control_turn_away(int fd, const char *message)
{
	struct buf	 b;

	buf_init(&b);
	buf_puts(&b, "{\"ok\":false,\"error\":");
	buf_json_cstr(&b, message);
	buf_puts(&b, "}\n");
	(void)send(fd, b.data, b.len, MSG_DONTWAIT);
	buf_free(&b);
	close(fd);
}

/*
 * May this peer have one more connection?  The last CONTROL_ADMIN_SLOTS
 * are root's (and the daemon's user's), so that sixteen users with 64
 * idle connections each cannot shut root out.  Returns true, or false
 * after logging why and telling the client (and closing fd).
 */
static bool
control_admit(const struct ctl_peer *peer, int fd)
{
	char	 why[160];
	long	 uid = (long)peer->uid;

	if (request_is_admin(peer) ? nclients >= CONTROL_MAX_CLIENTS :
	    nclients >= CONTROL_MAX_CLIENTS - CONTROL_ADMIN_SLOTS) {
		control_log_refusal("control: %zu clients connected; refusing "
		    "another of uid %ld (the last %d connections are kept for "
		    "root)", nclients, uid, CONTROL_ADMIN_SLOTS);
		snprintf(why, sizeof(why), "vmstated serves %zu connections, "
		    "its most; try again later", nclients);
	} else if (!request_is_admin(peer) &&
	    control_count_uid(peer->uid) >= CONTROL_MAX_PER_USER) {
		control_log_refusal("control: uid %ld has %d connections; "
		    "refusing another", uid, CONTROL_MAX_PER_USER);
		snprintf(why, sizeof(why), "uid %ld has %d connections to "
		    "vmstated, the most one user may have; close some", uid,
		    CONTROL_MAX_PER_USER);
	} else
		return true;
	control_turn_away(fd, why);
	return false;
}

/*
 * Serve a connection just accepted.  With only_admin (the process is out
 * of descriptors and this one took the spare), anyone but root is turned
 * away with a message.
 */
static void
client_new(int fd, bool only_admin)
{
	struct client	*c;
	struct peer_cred cred;

	if (platform_peer_cred(fd, &cred) == -1) {
		control_log_refusal("control: cannot read the credentials of "
		    "a client: %s", strerror(errno));
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->peer.uid = cred.uid;
	c->peer.gid = cred.gid;
	c->peer.groups = cred.groups;
	c->peer.ngroups = cred.ngroups;
	if (only_admin && !request_is_admin(&c->peer)) {
		starved_refused++;
		control_turn_away(fd, "vmstated is out of file descriptors; "
		    "try again later");
		free(c->peer.groups);
		free(c);
		return;
	}
	if (!control_admit(&c->peer, fd)) {
		free(c->peer.groups);
		free(c);
		return;
	}
	c->bev = bufferevent_socket_new(vmstated_base(), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	c->idle = evtimer_new(vmstated_base(), client_idle, c);
	if (c->bev == NULL || c->idle == NULL) {
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			close(fd);
		if (c->idle != NULL)
			event_free(c->idle);
		free(c->peer.groups);
		free(c);
		return;
	}
	bufferevent_set_max_single_write(c->bev, CONTROL_MAX_WRITE);
	bufferevent_setcb(c->bev, client_read, NULL, client_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = clients;
	clients = c;
	nclients++;
	client_arm_idle(c);
}

/*
 * accept(2), close-on-exec and non-blocking.  The loop has no threads, so
 * nothing can fork between the accept and the fcntl.
 */
static int
control_accept_one(void)
{
	int	 fd;

	if ((fd = accept(listen_fd, NULL, NULL)) == -1)
		return -1;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    evutil_make_socket_nonblocking(fd) == -1) {
		close(fd);
		errno = ECONNABORTED;
		return -1;
	}
	return fd;
}

/* Keep one descriptor in reserve (see control_starved). */
static void
control_open_spare(void)
{
	if (spare_fd == -1)
		spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void
control_pause_accept(void)
{
	struct timeval	 retry = { CONTROL_ACCEPT_RETRY, 0 };

	if (!accept_paused) {
		event_del(listen_event);
		accept_paused = true;
	}
	evtimer_add(accept_timer, &retry);
}

/* A descriptor may be free again: take the spare back, accept again. */
static void
control_resume_accept(void)
{
	if (listen_event == NULL)
		return;
	control_open_spare();
	if (accept_paused) {
		evtimer_del(accept_timer);
		event_add(listen_event, NULL);
		accept_paused = false;
	}
}

static void
control_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	control_resume_accept();
}

/* Say once that we are out of descriptors (until starved_over). */
static void
starved_note(int error)
{
	starved_at = monotonic_now();
	if (starved)
		return;
	control_log_refusal("control: out of file descriptors (%s): only "
	    "root's connections are served until some are free",
	    strerror(error));
	starved = true;
	starved_refused = 0;
}

/*
 * accept() failed for want of a descriptor.  A waiting connection stays
 * queued and the socket readable, so the loop would call us again at
 * once, for ever.  The spare descriptor makes room to accept it anyway:
 * root may be the one who has to fix things, so root's connection is
 * served, anyone else's gets a message and is closed.  Without a spare,
 * accepting pauses until a client leaves or CONTROL_ACCEPT_RETRY seconds
 * have passed.  Logged once, until accepting works again with the spare
 * back; and through the rate limit, in case it comes and goes.
 */
static void
control_starved(int error)
{
	int	 fd;

	if (spare_fd != -1) {
		close(spare_fd);
		spare_fd = -1;
		fd = control_accept_one();
		if (fd == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* Linux checks for a free descriptor before it looks
			 * at the queue: nobody was waiting. */
			control_open_spare();
			return;
		}
		starved_note(error);
		if (fd != -1) {
			client_new(fd, true);
			control_open_spare();
			return;
		}
	} else
		starved_note(error);
	control_pause_accept();
}

static double
monotonic_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Has the shortage ended?  Only once the spare is back and no accept has
 * failed for CONTROL_ACCEPT_RETRY seconds: a process at its limit, where
 * each descriptor freed is taken again at once, would else be "out" and
 * "back" many times a second.
 */
static bool
starved_over(void)
{
	return spare_fd != -1 &&
	    monotonic_now() - starved_at >= CONTROL_ACCEPT_RETRY;
}

static void
control_accept(evutil_socket_t lfd, short what, void *arg)
{
	int	 fd, i;

	for (i = 0; i < CONTROL_ACCEPT_BATCH; i++) {
		if ((fd = control_accept_one()) == -1) {
			if (errno == EMFILE || errno == ENFILE)
				control_starved(errno);
			else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				control_log_refusal("control: accept: %s",
				    strerror(errno));
			return;
		}
		if (starved && starved_over()) {
			control_log_refusal("control: file descriptors are "
			    "available again; %lu connections were turned "
			    "away meanwhile", starved_refused);
			starved = false;
		}
		control_open_spare();
		client_new(fd, false);
	}
}

/* The socket's mode, from vmstated.conf or the default. */
static mode_t
control_mode(const struct daemon_config *dc, bool any_owner)
{
	return dc->socket_mode_set ? dc->socket_mode :
	    any_owner ? 0666 : 0660;
}

/*
 * Give the socket file at path its mode and group, without following a
 * link: path must still be the socket we bound (socket_dev, socket_ino),
 * so that whatever else is put there -- a link to /etc/shadow, a hard
 * link -- is left alone.  fchmod(2) on the socket's descriptor cannot do
 * it: Linux changes the socket, not the file, and FreeBSD refuses.  0, or
 * -1 with errno set (EPERM when path is not our socket).
 */
static int
control_apply_mode(const char *path, const struct daemon_config *dc,
    bool any_owner)
{
	struct stat	 st;

	if (lstat(path, &st) == -1)
		return -1;
	if (!S_ISSOCK(st.st_mode) || st.st_dev != socket_dev ||
	    st.st_ino != socket_ino) {
		errno = EPERM;
		return -1;
	}
	if (fchmodat(AT_FDCWD, path, control_mode(dc, any_owner),
	    AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if (dc->socket_group != NULL && fchownat(AT_FDCWD, path, (uid_t)-1,
	    dc->socket_gid, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	return 0;
}

/* Reload: vmstated.conf or the VMs' owners may have changed. */
void
control_set_mode(const struct daemon_config *dc, bool any_owner)
{
	if (socket_path == NULL ||
	    control_apply_mode(socket_path, dc, any_owner) == 0)
		return;
	if (errno == EPERM)
		log_warnx("%s is no longer the daemon's socket (it was "
		    "replaced); its mode and group are left alone: restart "
		    "vmstated to create the socket again", socket_path);
	else
		log_warn("cannot set the mode or group of %s", socket_path);
}

/*
 * Bind a listening socket in a private directory beside path, give it its
 * mode and group there, then rename it to path: the socket appears at
 * path with the right mode and group from the first moment (a umask
 * around bind(2) would set the mode, not the group), and a stale socket
 * is replaced at once.  Returns the descriptor, or -1 with err set.
 */
static int
control_bind(const char *path, const struct daemon_config *dc,
    bool any_owner, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	const char		*slash = strrchr(path, '/');
	char			*dir, *tmp = NULL;
	mode_t			 old_umask;
	int			 fd = -1, rc;

	xasprintf(&dir, "%.*s/.vmstated-XXXXXX", slash != NULL ?
	    (int)(slash - path) : 1, slash != NULL ? path : ".");
	if (mkdtemp(dir) == NULL) {
		snprintf(err, errlen, "cannot bind socket %s: cannot create a "
		    "directory beside it: %s", path, strerror(errno));
		free(dir);
		return -1;
	}
	xasprintf(&tmp, "%s/s", dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(tmp) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path %s is too long: vmstated "
		    "binds it as %s first, which must fit in %zu bytes; "
		    "choose a shorter path", path, tmp,
		    sizeof(sun.sun_path) - 1);
		goto fail;
	}
	memcpy(sun.sun_path, tmp, strlen(tmp) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "cannot bind socket %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	/* The daemon has no threads: the umask can change for one call. */
	old_umask = umask(077);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_umask);
	if (rc == -1 || lstat(tmp, &st) == -1) {
		snprintf(err, errlen, "cannot bind socket %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	socket_dev = st.st_dev;
	socket_ino = st.st_ino;
	if (control_apply_mode(tmp, dc, any_owner) == -1) {
		snprintf(err, errlen, "cannot set mode/group of %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (rename(tmp, path) == -1) {
		snprintf(err, errlen, "cannot bind socket %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	rmdir(dir);
	free(tmp);
	free(dir);
	return fd;
fail:
	if (fd != -1)
		close(fd);
	unlink(tmp);
	rmdir(dir);
	free(tmp);
	free(dir);
	return -1;
}

/*
 * Bind the socket.  A socket file left by a dead daemon is replaced; one
 * that answers belongs to a live daemon and we refuse to start.  The
 * socket's directory must be trusted (trust.h; a sticky one such as /tmp
 * is fine): whoever else could write there could swap the socket.
 */
int
control_listen(const char *path, const struct daemon_config *dc,
    bool any_owner, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct stat		 sb;
	const char		*slash = strrchr(path, '/');
	char			*dir, why[TRUST_ERR_MAX];
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path %s is too long (at most "
		    "%zu bytes)", path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	dir = slash == NULL ? xstrdup(".") : slash == path ? xstrdup("/") :
	    xstrndup(path, (size_t)(slash - path));
	if (stat(dir, &sb) == -1) {
		snprintf(err, errlen, "cannot bind socket %s: %s", path,
		    strerror(errno));
		free(dir);
		return -1;
	}
	if (trust_socket_dir(dir, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "the directory %s of socket %s is not "
		    "trusted: %s", dir, path, why);
		free(dir);
		return -1;
	}
	free(dir);
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket; "
			    "remove it or choose another path with -s", path);
			return -1;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd != -1 && connect(fd, (struct sockaddr *)&sun,
		    sizeof(sun)) == 0) {
			close(fd);
			snprintf(err, errlen, "another vmstated is listening "
			    "on %s; stop it first", path);
			return -1;
		}
		if (fd != -1)
			close(fd);
		log_info("replacing stale socket %s", path);
	}
	if ((fd = control_bind(path, dc, any_owner, err, errlen)) == -1)
		return -1;
	evutil_make_socket_nonblocking(fd);
	if (listen(fd, 128) == -1 ||
	    (listen_event = event_new(vmstated_base(), fd, EV_READ |
	    EV_PERSIST, control_accept, NULL)) == NULL ||
	    (accept_timer = evtimer_new(vmstated_base(),
	    control_accept_retry, NULL)) == NULL ||
	    (refusal_timer = evtimer_new(vmstated_base(),
	    refusal_window_end, NULL)) == NULL ||
	    event_add(listen_event, NULL) == -1) {
		snprintf(err, errlen, "cannot listen on %s: %s", path,
		    strerror(errno));
		control_close_listener();
		close(fd);
		unlink(path);
		return -1;
	}
	listen_fd = fd;
	control_open_spare();
	socket_path = xstrdup(path);
	return 0;
}

static void
control_close_listener(void)
{
	if (listen_event != NULL)
		event_free(listen_event);
	if (accept_timer != NULL)
		event_free(accept_timer);
	if (refusal_timer != NULL)
		event_free(refusal_timer);
	listen_event = accept_timer = refusal_timer = NULL;
	accept_paused = false;
	if (spare_fd != -1)
		close(spare_fd);
	spare_fd = -1;
}

void
control_close(void)
{
	control_close_listener();
	if (listen_fd != -1) {
		close(listen_fd);
		listen_fd = -1;
	}
	while (clients != NULL)
		client_free(clients);
	if (socket_path != NULL) {
		unlink(socket_path);
		free(socket_path);
		socket_path = NULL;
	}
}

/* One event line (of vm) to every subscribed client. */
static void
control_send_event(struct vm *vm, const struct buf *b)
{
	struct client	*c, *next;

	for (c = clients; c != NULL; c = next) {
		next = c->next;
		/* A VM's events are for those who may operate it. */
		if (!c->subscribed || !request_may_operate(&c->peer, vm))
			continue;
		if (c->holding) {
			buf_append(&c->held, b->data, b->len);
			buf_putc(&c->held, '\n');
		} else
			client_send(c, b->data, b->len);
	}
}

/* A state change, to every subscribed client, and to the history. */
void
control_broadcast_state(struct vm *vm, enum vm_state from, enum vm_state to)
{
	struct timespec	 ts;
	struct buf	 b;

	clock_gettime(CLOCK_REALTIME, &ts);
	buf_init(&b);
	buf_puts(&b, "{\"event\":\"state\",\"vm\":");
	buf_json_cstr(&b, vm->name);
	buf_printf(&b, ",\"from\":\"%s\",\"to\":\"%s\",\"reason\":",
	    vm_state_name(from), vm_state_name(to));
	buf_json_cstr(&b, vm->reason);
	buf_printf(&b, ",\"time\":%lld.%03ld", (long long)ts.tv_sec,
	    ts.tv_nsec / 1000000);
	if (vm_is_up(vm))
		buf_printf(&b, ",\"pid\":%ld", (long)vm->run->pid);
	else
		buf_puts(&b, ",\"pid\":null");
	events_publish(vm, &b);		/* numbered and kept, even unsent */
	control_send_event(vm, &b);
	buf_free(&b);
}

/* A probe's result (probe.c), to every subscribed client, and to the
 * history. */
void
control_broadcast_probe(struct vm *vm)
{
	struct buf	 b;

	buf_init(&b);
	buf_puts(&b, "{\"event\":\"probe\",\"vm\":");
	buf_json_cstr(&b, vm->name);
	buf_printf(&b, ",\"ok\":%s,\"failures\":%d,\"time\":%lld",
	    vm->probe_ok ? "true" : "false",
	    vm_rare_peek(vm)->probe_failed_in_row,
	    (long long)vm_rare_peek(vm)->probe_last);
	events_publish(vm, &b);
	control_send_event(vm, &b);
	buf_free(&b);
}
