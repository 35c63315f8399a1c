/*
 * logview.c: `vmstatedctl log`, a VM's log sent down a control connection
 * that a `log` request switched over (switch.c): the whole file or its
 * last lines, then, when asked to follow, what is added to it, across a
 * rotation, until the client goes.  A VM's owner reads its log without
 * read access to logdir.
 *
 * Nothing here blocks: the file is read in chunks, and only while the
 * client's unread output is small.  A follower looks at the file twice a
 * second (the daemon writes only some of the lines: hooks' runners and
 * the hypervisor write theirs themselves); nothing runs when nobody
 * follows.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "vmstated.h"

#define LOGVIEW_CHUNK		(64 * 1024)
#define LOGVIEW_BACKLOG		(256 * 1024)	/* unread: read no more */
#define LOGVIEW_TAIL_SCAN	(16 * 1024 * 1024) /* -n looks no further */
#define LOGVIEW_POLL_MS		500
#define LOGVIEW_MAX		256		/* followers at once */

struct logview {
	struct bufferevent	*bev;
	char			*path;
	int			 fd;		/* -1: the file is not there */
	dev_t			 dev;
	ino_t			 ino;
	off_t			 off;
	bool			 follow;
	bool			 done;		/* all sent; close when flushed */
	struct event		*timer;
	struct logview		*next;
};

static struct logview	*views;
static int		 nviews;

static void	logview_pump(struct logview *);

static void
logview_free(struct logview *v)
{
	struct logview	**pp;

	for (pp = &views; *pp != NULL; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	nviews--;
	if (v->timer != NULL)
		event_free(v->timer);
	if (v->fd != -1)
		close(v->fd);
	bufferevent_free(v->bev);
	free(v->path);
	free(v);
}

/* Open the log read-only, never through a link; 0 or -1 (not there). */
static int
logview_open(struct logview *v)
{
	struct stat	 st;
	int		 fd;

	fd = open(v->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	v->fd = fd;
	v->dev = st.st_dev;
	v->ino = st.st_ino;
	v->off = 0;
	return 0;
}

/*
 * Where the last `lines` lines start: read backwards from the end, at
 * most LOGVIEW_TAIL_SCAN bytes.
 */
static off_t
logview_tail(int fd, long lines)
{
	struct stat	 st;
	char		 buf[8192];
	off_t		 end, pos, scanned = 0;
	ssize_t		 n, i;
	long		 seen = 0;

	if (fstat(fd, &st) == -1)
		return 0;
	end = pos = st.st_size;
	if (lines <= 0)
		return end;
	while (pos > 0 && scanned < LOGVIEW_TAIL_SCAN) {
		n = pos < (off_t)sizeof(buf) ? (ssize_t)pos :
		    (ssize_t)sizeof(buf);
		if (pread(fd, buf, (size_t)n, pos - n) != n)
			return 0;
		for (i = n - 1; i >= 0; i--) {
			/* The newline that ends the last line is not one
			 * that starts a line. */
			if (buf[i] != '\n' || pos - n + i == end - 1)
				continue;
			if (++seen == lines)
				return pos - n + i + 1;
		}
		pos -= n;
		scanned += n;
	}
	return pos;
}

/*
 * A follower at the end of its file: has the file been moved away (a
 * rotation) or cut short (copytruncate)?  Then it goes on with the new
 * one from its start.
 */
static void
logview_check_rotation(struct logview *v)
{
	struct stat	 st;

	if (v->fd != -1 && fstat(v->fd, &st) == 0 && st.st_size < v->off)
		v->off = 0;
	if (stat(v->path, &st) == -1)
		return;
	if (v->fd != -1 && st.st_dev == v->dev && st.st_ino == v->ino)
		return;
	if (v->fd != -1)
		close(v->fd);
	v->fd = -1;
	(void)logview_open(v);
}

static void
logview_timer(evutil_socket_t fd, short what, void *arg)
{
	logview_pump(arg);
}

/* Send what the file has, as far as the client keeps up. */
static void
logview_pump(struct logview *v)
{
	struct timeval	 tv = { 0, LOGVIEW_POLL_MS * 1000 };
	struct evbuffer	*out = bufferevent_get_output(v->bev);
	char		 buf[LOGVIEW_CHUNK];
	ssize_t		 n;

	while (v->fd != -1 && evbuffer_get_length(out) < LOGVIEW_BACKLOG) {
		n = pread(v->fd, buf, sizeof(buf), v->off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		evbuffer_add(out, buf, (size_t)n);
		v->off += n;
	}
	if (evbuffer_get_length(out) >= LOGVIEW_BACKLOG)
		return;		/* logview_written() comes back */
	if (!v->follow) {
		v->done = true;
		if (evbuffer_get_length(out) == 0)
			logview_free(v);
		return;
	}
	logview_check_rotation(v);
	if (v->timer == NULL)
		v->timer = evtimer_new(vmstated_base(), logview_timer, v);
	if (v->timer != NULL)
		evtimer_add(v->timer, &tv);
}

static void
logview_written(struct bufferevent *bev, void *arg)
{
	struct logview	*v = arg;

	if (v->done)
		logview_free(v);
	else if (v->timer == NULL || !evtimer_pending(v->timer, NULL))
		logview_pump(v);
}

/* Whatever the client sends is of no use; its end ends the view. */
static void
logview_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);

	evbuffer_drain(in, evbuffer_get_length(in));
}

static void
logview_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		logview_free(arg);
}

/*
 * May one more client follow a log?  0, or -1 with why.
 */
int
logview_check(bool follow, struct buf *why)
{
	if (follow && nviews >= LOGVIEW_MAX) {
		buf_printf(why, "%d clients follow logs already; try again "
		    "later", LOGVIEW_MAX);
		return -1;
	}
	return 0;
}

/*
 * A connection switched to VM name's log: the last `lines` lines (-1:
 * all), then with follow what comes.
 */
void
logview_take(const char *name, struct bufferevent *bev, long lines,
    bool follow)
{
	struct logview	*v;

	v = xcalloc(1, sizeof(*v));
	v->bev = bev;
	v->fd = -1;
	v->path = vmlog_path(name);
	v->follow = follow;
	v->next = views;
	views = v;
	nviews++;
	if (logview_open(v) == 0 && lines >= 0)
		v->off = logview_tail(v->fd, lines);
	bufferevent_setcb(bev, logview_read, logview_written, logview_event,
	    v);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	logview_pump(v);
}

/* The daemon exits. */
void
logview_close_all(void)
{
	while (views != NULL)
		logview_free(views);
}
