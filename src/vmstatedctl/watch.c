/*
 * watch.c: following the daemon's event lines.
 *
 * With -w, a start, stop, restart or kill request carries "watch": true, so
 * the daemon subscribes the connection to state events before it acts; the
 * events after the reply then show every state each VM passes through,
 * and the client waits until each one reaches its target (running, or
 * stopped), fails, or the deadline passes.  `events` prints every event
 * until it is interrupted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proto.h"
#include "vmstatedctl.h"

struct watched {
	const char	*name;		/* points into the reply */
	char		*state;		/* last known */
	char		*reason;	/* of the last change */
	bool		 done;
	bool		 failed;
};

/* How long to wait for the VM's log path, after a failure. */
#define WATCH_INFO_SECONDS	5

struct watch {
	struct watched	*vms;
	size_t		 nvms;
	const char	*target;	/* "running" or "stopped" */
	bool		 is_start;	/* then stopped means failure */
	bool		 is_restart;
	size_t		 pending;	/* VMs not done yet */
};

static struct watched *
watch_find(struct watch *w, const char *name)
{
	size_t	 i;

	for (i = 0; i < w->nvms; i++)
		if (strcmp(w->vms[i].name, name) == 0)
			return &w->vms[i];
	return NULL;
}

static void
watch_finish(struct watch *w, struct watched *vm, bool failed)
{
	if (vm->done)
		return;
	vm->done = true;
	vm->failed = failed;
	w->pending--;
}

/*
 * Take the VMs the daemon accepted from the reply's results.  A start or
 * stop whose VM is already where it should be is done at once; a restart
 * is only done once the VM has been through it, so it waits for an event.
 */
static void
watch_init(struct watch *w, const struct ctl_opts *o, struct reply *reply)
{
	const struct reply_value	*results;
	struct reply_value		 r;
	struct reply_cursor		 c;
	struct watched			*vm;
	const char			*name, *state, *was;
	size_t				 cap = 0;

	memset(w, 0, sizeof(*w));
	w->is_start = strcmp(o->command, "start") == 0;
	w->is_restart = strcmp(o->command, "restart") == 0;
	w->target = (w->is_start || w->is_restart) ? "running" : "stopped";
	if ((results = reply_get(reply, "results")) == NULL ||
	    results->type != REPLY_ARRAY)
		return;
	reply_enter(reply, results, &c, NULL);
	while (reply_next(&c, NULL, &r)) {
		if (!reply_true(reply, &r, "ok") ||
		    (name = reply_str(reply, &r, "vm")) == NULL ||
		    watch_find(w, name) != NULL)
			continue;
		if (w->nvms == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			w->vms = xrealloc(w->vms, cap * sizeof(*w->vms));
		}
		vm = &w->vms[w->nvms++];
		memset(vm, 0, sizeof(*vm));
		vm->name = name;
		state = reply_str(reply, &r, "state");
		vm->state = xstrdup(state != NULL ? state : "unknown");
		vm->reason = xstrdup("request");
		w->pending++;
		/* Done at once only if the request changed nothing: a VM that
		 * got there during the request has its events coming. */
		was = reply_str(reply, &r, "was");
		if (!w->is_restart && strcmp(vm->state, w->target) == 0 &&
		    (was == NULL || strcmp(was, w->target) == 0))
			watch_finish(w, vm, false);
	}
}

/* Follow one event line: print it, and see whether its VM is done. */
static void
watch_event(struct watch *w, const struct ctl_opts *o, struct reply *ev,
    const char *line)
{
	struct watched	*vm;
	const char	*name, *to, *reason;

	if ((name = reply_str(ev, NULL, "vm")) == NULL ||
	    (to = reply_str(ev, NULL, "to")) == NULL ||
	    (vm = watch_find(w, name)) == NULL || vm->done)
		return;
	reason = reply_str(ev, NULL, "reason");
	free(vm->state);
	vm->state = xstrdup(to);
	free(vm->reason);
	vm->reason = xstrdup(reason != NULL ? reason : "no reason given");

	if (o->json && !o->quiet)
		printf("%s\n", line);
	else if (!o->quiet) {
		show_sanitized(name);
		printf(": ");
		show_sanitized(to);
		if (reason != NULL && strcmp(reason, "request") != 0) {
			printf(" (");
			show_sanitized(reason);
			printf(")");
		}
		printf("\n");
	}
	fflush(stdout);

	if (strcmp(to, w->target) == 0)
		watch_finish(w, vm, false);
	else if (strcmp(to, "failed") == 0 ||
	    (w->is_start && strcmp(to, "stopped") == 0))
		watch_finish(w, vm, true);
}

/*
 * Ask the daemon, on the same connection, where the VM's log is, so that
 * a failure can point at it.  Returns the path (the caller frees it), or
 * NULL.  Event lines that arrive meanwhile are skipped: the watch is over.
 */
static char *
watch_log_path(struct ctl_conn *c, const char *name)
{
	struct reply		 reply;
	struct reply_value	 paths;
	const struct reply_value *vm;
	const char		*log;
	struct buf		 req;
	char			*line, *path = NULL;
	double			 deadline;
	size_t			 len;
	int			 rv;

	deadline = ctl_now() + WATCH_INFO_SECONDS;
	buf_init(&req);
	buf_puts(&req, "{\"command\":\"info\",\"vms\":[");
	buf_json_cstr(&req, name);
	buf_puts(&req, "]}\n");
	if (ctl_send(c, req.data, req.len, deadline) == -1) {
		buf_free(&req);
		return NULL;
	}
	buf_free(&req);
	while (path == NULL &&
	    ctl_read_line(c, &line, &len, deadline) == CTL_LINE_OK) {
		rv = ctl_parse_reply(&reply, line, len);
		if (rv == 0 && reply_get(&reply, "event") != NULL) {
			reply_free(&reply);
			free(line);
			continue;
		}
		if (rv == 0 && (vm = reply_get(&reply, "vm")) != NULL &&
		    reply_lookup(&reply, vm, "paths", &paths) &&
		    (log = reply_str(&reply, &paths, "log")) != NULL)
			path = xstrdup(log);
		reply_free(&reply);
		free(line);
		break;
	}
	return path;
}

/* Say why a VM did not get where it should, and what to do about it. */
static void
watch_report_failure(struct ctl_conn *c, const struct watch *w,
    const struct watched *vm)
{
	char	*log = watch_log_path(c, vm->name);
	char	*see;

	if (log != NULL)
		xasprintf(&see, "see %s for why", log);
	else
		see = xstrdup("see its log for why");
	if (strcmp(vm->state, "failed") == 0)
		log_warnx("%s: failed (%s); %s, then 'vmstatedctl failreset "
		    "%s' to make it startable again", vm->name, vm->reason,
		    see, vm->name);
	else
		log_warnx("%s: %s (%s) before it reached %s; %s", vm->name,
		    vm->state, vm->reason, w->target, see);
	free(see);
	free(log);
}

/* Report each VM still on its way, after a timeout or a lost daemon. */
static void
watch_report_pending(const struct watch *w, const struct ctl_opts *o,
    int why)
{
	size_t	 i;

	for (i = 0; i < w->nvms; i++) {
		if (w->vms[i].done)
			continue;
		if (why == CTL_LINE_TIMEOUT)
			log_warnx("timed out after %ld s waiting for %s to "
			    "reach %s; it is in state %s", o->timeout,
			    w->vms[i].name, w->target, w->vms[i].state);
		else
			log_warnx("lost vmstated while waiting for %s to "
			    "reach %s; it was in state %s", w->vms[i].name,
			    w->target, w->vms[i].state);
	}
}

/*
 * The reply says "watching": false when the daemon did not subscribe the
 * connection: no event will come, and waiting would last until -t.
 */
static bool
watch_not_subscribed(const struct reply *reply)
{
	const struct reply_value *v = reply_get(reply, "watching");

	return v != NULL && v->type == REPLY_BOOLEAN && !v->boolean;
}

/*
 * -w: after the reply to a watched request, follow the events until every
 * accepted VM reaches its target (the daemon follows those even when it
 * refused others of the request).  Returns CTL_EXIT_OK, or CTL_EXIT_FAILED
 * when a VM failed, the deadline passed or the connection was lost.
 */
int
watch_states(struct ctl_conn *c, const struct ctl_opts *o,
    struct reply *reply, double deadline)
{
	struct watch	 w;
	struct reply	 ev;
	char		*line;
	size_t		 len, i;
	int		 rv, status = CTL_EXIT_OK;

	watch_init(&w, o, reply);
	if (w.pending > 0 && watch_not_subscribed(reply)) {
		for (i = 0; i < w.nvms; i++)
			if (!w.vms[i].done)
				log_warnx("vmstated sends no states of %s on "
				    "this connection; not waiting "
				    "('vmstatedctl status %s' shows where it "
				    "is)", w.vms[i].name, w.vms[i].name);
		status = CTL_EXIT_FAILED;
		w.pending = 0;
	}
	while (w.pending > 0) {
		rv = ctl_read_line(c, &line, &len, deadline);
		if (rv != CTL_LINE_OK) {
			if (rv == CTL_LINE_EOF)
				log_warnx("vmstated on %s closed the "
				    "connection", c->path);
			watch_report_pending(&w, o, rv);
			status = CTL_EXIT_FAILED;
			break;
		}
		if (ctl_parse_reply(&ev, line, len) == 0 &&
		    reply_str(&ev, NULL, "event") != NULL)
			watch_event(&w, o, &ev, line);
		reply_free(&ev);
		free(line);
	}
	for (i = 0; i < w.nvms; i++) {
		if (w.vms[i].failed) {
			watch_report_failure(c, &w, &w.vms[i]);
			status = CTL_EXIT_FAILED;
		}
		free(w.vms[i].state);
		free(w.vms[i].reason);
	}
	free(w.vms);
	return status;
}

/*
 * events: print every event line until SIGINT or SIGTERM (CTL_EXIT_OK) or
 * until the daemon goes away (CTL_EXIT_FAILED).
 */
int
watch_events(struct ctl_conn *c, const struct ctl_opts *o)
{
	struct reply	 ev;
	char		*line;
	size_t		 len;
	int		 rv;

	for (;;) {
		rv = ctl_read_line(c, &line, &len, 0);
		if (rv == CTL_LINE_INTERRUPTED)
			return CTL_EXIT_OK;
		if (rv == CTL_LINE_EOF) {
			log_warnx("vmstated on %s closed the connection; no "
			    "more events", c->path);
			return CTL_EXIT_FAILED;
		}
		if (rv != CTL_LINE_OK)
			return CTL_EXIT_FAILED;
		if (o->json) {
			if (!o->quiet)
				printf("%s\n", line);
		} else {
			if (ctl_parse_reply(&ev, line, len) == 0 &&
			    !o->quiet && reply_str(&ev, NULL, "event") != NULL)
				show_event(&ev);
			reply_free(&ev);
		}
		fflush(stdout);
		free(line);
	}
}
