/*
 * control.c: the control socket.  Clients send one JSON request per line;
 * each line is size-checked here and parsed, then handed to request.c with
 * the client's credentials, which come from the kernel at accept time.
 * Nothing here blocks: a slow or vanished client only costs its own
 * buffers, and one that lets its unread output pile up is dropped.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "json_check.h"
#include "log.h"
#include "platform.h"
#include "proto.h"
#include "trust.h"
#include "ucl.h"
#include "vmstated.h"

#define CONTROL_MAX_CLIENTS	1024
#define CONTROL_MAX_PER_USER	64	/* for users other than root */
#define CONTROL_MAX_BACKLOG	(4 * 1024 * 1024)	/* unread output */

struct client {
	struct bufferevent	*bev;
	struct ctl_peer		 peer;
	bool			 subscribed;
	bool			 discarding;	/* skipping an overlong line */
	bool			 holding;	/* events wait for a reply */
	struct buf		 held;
	struct client		*next;
};

static struct evconnlistener	*listener;
static struct client		*clients;
static size_t			 nclients;
static char			*socket_path;
static dev_t			 socket_dev;	/* the socket file we bound */
static ino_t			 socket_ino;

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
	buf_free(&c->held);
	free(c->peer.groups);
	free(c->peer.sw.vm);
	free(c);
}

/* Queue one line to a client; drop it if it does not read. */
static int
client_send(struct client *c, const char *data, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	if (evbuffer_get_length(out) > CONTROL_MAX_BACKLOG) {
		log_warnx("control: dropping client uid %ld: it does not "
		    "read its replies", (long)c->peer.uid);
		client_free(c);
		return -1;
	}
	evbuffer_add(out, data, len);
	evbuffer_add(out, "\n", 1);
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
 * been queued, so that the client reads the reply first.  Returns 0, or -1
 * when the client was dropped (and freed).
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
	c->holding = false;
	ucl_free(req);
	if (!was_subscribed && strncmp(reply.data, "{\"ok\":false", 11) == 0) {
		/* A refused request does not subscribe. */
		c->subscribed = false;
		buf_reset(&c->held);
	}
	r = client_send(c, reply.data, reply.len);
	buf_free(&reply);
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

static void
control_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *unused)
{
	struct client	*c;

	if (nclients >= CONTROL_MAX_CLIENTS) {
		log_warnx("control: %d clients connected; refusing another",
		    CONTROL_MAX_CLIENTS);
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	if (platform_peer_cred(fd, &c->peer.uid, &c->peer.gid) == -1) {
		log_warn("control: cannot read peer credentials");
		close(fd);
		free(c);
		return;
	}
	if (c->peer.uid != 0 && control_count_uid(c->peer.uid) >=
	    CONTROL_MAX_PER_USER) {
		log_warnx("control: uid %ld has %d connections; refusing "
		    "another", (long)c->peer.uid, CONTROL_MAX_PER_USER);
		close(fd);
		free(c);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	c->bev = bufferevent_socket_new(vmstated_base(), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, client_read, NULL, client_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = clients;
	clients = c;
	nclients++;
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
	listener = evconnlistener_new(vmstated_base(), control_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE, 128, fd);
	if (listener == NULL) {
		snprintf(err, errlen, "cannot listen on %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	socket_path = xstrdup(path);
	return 0;
}

void
control_close(void)
{
	while (clients != NULL)
		client_free(clients);
	if (listener != NULL) {
		evconnlistener_free(listener);
		listener = NULL;
	}
	if (socket_path != NULL) {
		unlink(socket_path);
		free(socket_path);
		socket_path = NULL;
	}
}

/* One event line to every subscribed client. */
void
control_broadcast_state(struct vm *vm, enum vm_state from, enum vm_state to)
{
	struct client	*c, *next;
	struct timespec	 ts;
	struct buf	 b;

	if (clients == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	buf_init(&b);
	buf_puts(&b, "{\"event\":\"state\",\"vm\":");
	buf_json_cstr(&b, vm->name);
	buf_printf(&b, ",\"from\":\"%s\",\"to\":\"%s\",\"reason\":",
	    vm_state_name(from), vm_state_name(to));
	buf_json_cstr(&b, vm->reason);
	buf_printf(&b, ",\"time\":%lld.%03ld", (long long)ts.tv_sec,
	    ts.tv_nsec / 1000000);
	if (vm->pid != -1)
		buf_printf(&b, ",\"pid\":%ld}", (long)vm->pid);
	else
		buf_puts(&b, ",\"pid\":null}");
	for (c = clients; c != NULL; c = next) {
		next = c->next;
		if (!c->subscribed)
			continue;
		if (c->holding) {
			buf_append(&c->held, b.data, b.len);
			buf_putc(&c->held, '\n');
		} else
			client_send(c, b.data, b.len);
	}
	buf_free(&b);
}
