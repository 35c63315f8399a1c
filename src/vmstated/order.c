/*
 * order.c: the order in which VMs start and stop, across VMs.
 *
 *   - depends: a VM starts once the VMs it depends on are ready (running,
 *     their running hook done, their probe passed once if they have one);
 *     a start starts them first.  A VM that others need stops only after
 *     them (stop -r, and the daemon's shutdown); a plain stop is refused.
 *   - autostart: VMs start in directory-name order, dependencies first,
 *     at most autostart_parallel at a time, each after its autostart_delay.
 *   - shutdown: one deadline, shutdown_timeout seconds after SIGTERM:
 *     grace seconds before it, every VM still up is killed (EV_DEADLINE)
 *     and every hook and helper that runs from then on is cut to what is
 *     left; at it, the daemon exits, saying which VMs had to be killed.
 *
 * The machine (vm.c) asks through its effects and waits in a position of
 * its own (stopped:dependencies, running:dependents); what changes the
 * answer comes back from here as an event.  Nothing here acts inside the
 * machine's own call: order_kick() defers the work to the event loop.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "vmstated.h"

enum autostart_step {
	AS_QUEUED,		/* waits for its turn */
	AS_DELAYING,		/* its autostart_delay runs */
	AS_LAUNCHED,		/* started; until ready or at rest */
	AS_DONE,
};

struct autostart_item {
	char			*name;
	enum autostart_step	 step;
	double			 at;	/* AS_DELAYING: until then */
	bool			 said;	/* that it holds its turn */
};

static struct autostart_item	*queue;
static size_t			 nqueue;
static struct event		*kick_event, *delay_event;
static struct event		*deadline_event, *end_event;
static double			 shutdown_end = -1;	/* monotonic */
static bool			 deadline_passed;
/* VMs whose dependents a stop -r asked to stop, and VMs a start needs. */
static char			**to_stop, **to_start;
static size_t			 nto_stop, nto_start;

static bool
vm_depends_on(const struct vm *vm, const char *name)
{
	size_t	 i;

	for (i = 0; i < vm->cfg->ndepends; i++)
		if (strcmp(vm->cfg->depends[i], name) == 0)
			return true;
	return false;
}

bool
order_vm_ready(const struct vm *vm)
{
	return probe_ready(vm);
}

/* Up, for the VMs it depends on: doing anything but resting or
 * waiting for its own dependencies. */
static bool
vm_up_for_order(const struct vm *vm)
{
	return !vm_at_rest(vm) && vm->pos != P_STOPPED_DEPS;
}

static bool
vm_going_down(const struct vm *vm)
{
	return vm->intent == INTENT_STOP || vm->intent == INTENT_KILL ||
	    vm->intent == INTENT_SHUTDOWN || vm->intent == INTENT_REMOVE;
}

/*
 * The dependencies in force can form a cycle, which no configuration
 * does: a reload gives a VM at rest its new depends at once, and a
 * running one at its next start.  Does w (the index of a VM) wait for
 * target -- directly or through the VMs it waits for in turn?  A VM in
 * running:dependents waits for the VMs that depend on it, one in
 * stopped:dependencies for those it depends on.  So that two VMs never
 * wait for each other for ever.
 */
static bool
order_waits_for(size_t wi, const struct vm *target, bool *seen)
{
	struct vm	*w = sv_vm(wi), *x;
	size_t		 i;
	bool		 dependents = w->pos == P_RUNNING_DEPENDENTS;

	if (seen[wi] || (!dependents && w->pos != P_STOPPED_DEPS))
		return false;
	seen[wi] = true;
	for (i = 0; i < sv_count(); i++) {
		x = sv_vm(i);
		if (x == w || (dependents ? !vm_depends_on(x, w->name) ||
		    !vm_up_for_order(x) : !vm_depends_on(w, x->name) ||
		    order_vm_ready(x)))
			continue;
		if (x == target || order_waits_for(i, target, seen))
			return true;
	}
	return false;
}

static bool
order_waits_for_vm(const struct vm *w, const struct vm *target)
{
	bool	*seen, r;
	size_t	 i;

	if (w->pos != P_RUNNING_DEPENDENTS && w->pos != P_STOPPED_DEPS)
		return false;		/* the common case, at once */
	for (i = 0; i < sv_count() && sv_vm(i) != w; i++)
		;
	if (i == sv_count())
		return false;
	seen = xcalloc(sv_count(), sizeof(*seen));
	r = order_waits_for(i, target, seen);
	free(seen);
	return r;
}

static void
name_list_add(char ***list, size_t *n, const char *name)
{
	size_t	 i;

	for (i = 0; i < *n; i++)
		if (strcmp((*list)[i], name) == 0)
			return;
	*list = xrealloc(*list, (*n + 1) * sizeof(**list));
	(*list)[(*n)++] = xstrdup(name);
}

static void
name_list_clear(char ***list, size_t *n)
{
	size_t	 i;

	for (i = 0; i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

static bool
name_list_has(char **list, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

/*
 * The machine asks before a start: 1 every VM it depends on is ready; 0
 * not yet; -1 one cannot be.  A start (the VM not yet waiting) starts
 * those at rest (deferred); a VM that waits (stopped:dependencies) never
 * does: one that came to rest meanwhile was stopped, or its start was
 * refused, and starting it again would undo an administrator's stop --
 * or, refused again, spin the loop for ever.
 */
int
order_deps_ready(struct vm *vm, struct buf *why)
{
	struct vm	*dep;
	size_t		 i;
	int		 r = 1;
	bool		 waiting = vm->pos == P_STOPPED_DEPS;

	for (i = 0; i < vm->cfg->ndepends; i++) {
		const char *name = vm->cfg->depends[i];

		if ((dep = sv_find(name)) == NULL) {
			buf_printf(why, "%s, which it depends on, is not "
			    "loaded (its configuration is invalid or gone: "
			    "see vmstatedctl status)", name);
			return -1;
		}
		if (dep->intent == INTENT_REMOVE ||
		    dep->intent == INTENT_SHUTDOWN) {
			buf_printf(why, "%s, which it depends on, is %s", name,
			    dep->intent == INTENT_REMOVE ? "being removed" :
			    "stopping with the daemon");
			return -1;
		}
		if (dep->state == VM_FAILED) {
			buf_printf(why, "%s, which it depends on, is failed; "
			    "run 'vmstatedctl failreset %s'", name, name);
			return -1;
		}
		if (order_vm_ready(dep))
			continue;
		if (order_waits_for_vm(dep, vm)) {
			buf_printf(why, "%s, which it depends on, waits for %s "
			    "in turn: their dependencies in force form a cycle "
			    "(a reload changed one of them); start %s alone, "
			    "then %s", name, vm->name, name, vm->name);
			return -1;
		}
		r = 0;
		if (!waiting && (dep->pos == P_STOPPED ||
		    dep->pos == P_STOPPED_HOOK)) {
			name_list_add(&to_start, &nto_start, name);
			order_kick();
		} else if (dep->pos == P_STOPPED) {
			if (name_list_has(to_start, nto_start, name))
				continue;	/* its start comes next */
			buf_printf(why, "%s, which it depends on, is stopped: "
			    "it was stopped, or its start was refused (see "
			    "its log); start %s again once %s runs", name,
			    vm->name, name);
			return -1;
		} else if (dep->intent == INTENT_STOP ||
		    dep->intent == INTENT_KILL) {
			buf_printf(why, "%s, which it depends on, is being "
			    "stopped; start %s again once %s runs", name,
			    vm->name, name);
			return -1;
		}
	}
	return r;
}

/* A VM that depends on this one and is up: their names in names. */
bool
order_dependents_up(struct vm *vm, struct buf *names)
{
	struct vm	*w;
	size_t		 i;
	bool		 up = false;

	for (i = 0; i < sv_count(); i++) {
		w = sv_vm(i);
		if (w == vm || !vm_depends_on(w, vm->name) ||
		    !vm_up_for_order(w) || order_waits_for_vm(w, vm))
			continue;
		buf_printf(names, "%s%s", up ? ", " : "", w->name);
		up = true;
	}
	return up;
}

void
order_stop_dependents(struct vm *vm)
{
	struct vm	*w;
	size_t		 i;

	/* Those already going down were told (by this, or their stop). */
	for (i = 0; i < sv_count(); i++) {
		w = sv_vm(i);
		if (w != vm && vm_depends_on(w, vm->name) &&
		    vm_up_for_order(w) && !vm_going_down(w))
			name_list_add(&to_stop, &nto_stop, w->name);
	}
	order_kick();
}

/* ---- autostart ---- */

/* Is name a VM of the autostart queue that has not started yet? */
static bool
autostart_pending(const char *name)
{
	size_t	 i;

	for (i = 0; i < nqueue; i++)
		if (strcmp(queue[i].name, name) == 0)
			return queue[i].step == AS_QUEUED ||
			    queue[i].step == AS_DELAYING;
	return false;
}

/* May it start: each VM it needs is ready, or not an autostart VM that
 * waits for its turn (a start starts that one itself). */
static bool
autostart_deps_done(const struct vm *vm)
{
	struct vm	*dep;
	size_t		 i;

	for (i = 0; i < vm->cfg->ndepends; i++) {
		dep = sv_find(vm->cfg->depends[i]);
		if (dep != NULL && !order_vm_ready(dep) &&
		    autostart_pending(dep->name))
			return false;
	}
	return true;
}

static void
autostart_launch(struct autostart_item *it, struct vm *vm)
{
	struct buf	 msg;

	buf_init(&msg);
	if (vm_request(vm, EV_START, -1, "autostart", &msg) == -1) {
		log_warnx("autostart: %s", msg.data);
		it->step = AS_DONE;
	} else
		it->step = AS_LAUNCHED;
	buf_free(&msg);
}

/*
 * The VMs after it wait while a launched VM runs without becoming ready
 * (its probe has not passed): it keeps its turn until it is ready or at
 * rest, which its probe brings about in the end (probe_failures, then
 * maxrestart).  Say so once, so that nobody wonders why they wait.
 */
static void
autostart_say_held(const char *waiting)
{
	struct vm	*vm;
	size_t		 i;

	for (i = 0; i < nqueue; i++) {
		if (queue[i].step != AS_LAUNCHED || queue[i].said ||
		    (vm = sv_find(queue[i].name)) == NULL ||
		    vm->pos != P_RUNNING || vm_rare_peek(vm)->probe_runs == 0 ||
		    order_vm_ready(vm))
			continue;
		queue[i].said = true;
		log_warnx("autostart: %s runs but is not ready (its probe has "
		    "not passed); %s and the VMs after it wait until it is "
		    "ready, or stopped or failed", vm->name, waiting);
		vmlog(vm, "autostart: not ready (its probe has not passed); "
		    "%s waits for its turn until it is", waiting);
	}
}

static void
order_delay_over(evutil_socket_t fd, short what, void *arg)
{
	order_kick();
}

static void
autostart_step(void)
{
	struct autostart_item	*it;
	struct vm		*vm;
	double			 now = vm_clock_mono(), next = -1;
	size_t			 i, busy = 0;
	struct timeval		 tv;

	if (vmstated_shutting_down()) {
		for (i = 0; i < nqueue; i++)
			queue[i].step = AS_DONE;
		return;
	}
	for (i = 0; i < nqueue; i++) {
		it = &queue[i];
		vm = sv_find(it->name);
		if (it->step == AS_LAUNCHED && (vm == NULL ||
		    order_vm_ready(vm) || vm_at_rest(vm)))
			it->step = AS_DONE;
		if (it->step == AS_LAUNCHED || it->step == AS_DELAYING)
			busy++;
	}
	for (i = 0; i < nqueue; i++) {
		it = &queue[i];
		if ((vm = sv_find(it->name)) == NULL)
			it->step = AS_DONE;
		if (it->step == AS_DONE || it->step == AS_LAUNCHED)
			continue;
		if (it->step == AS_QUEUED) {
			if (vm->pos != P_STOPPED) {
				it->step = AS_DONE;
				continue;
			}
			if (!autostart_deps_done(vm))
				continue;
			if ((int64_t)busy >=
			    vmstated_config()->autostart_parallel) {
				autostart_say_held(vm->name);
				continue;
			}
			busy++;
			if (vm->cfg->autostart_delay > 0) {
				it->step = AS_DELAYING;
				it->at = now + (double)vm->cfg->autostart_delay;
				log_info("%s: autostart in %lld s", vm->name,
				    (long long)vm->cfg->autostart_delay);
			} else {
				autostart_launch(it, vm);
				continue;
			}
		}
		if (it->step == AS_DELAYING) {
			if (it->at <= now)
				autostart_launch(it, vm);
			else if (next < 0 || it->at < next)
				next = it->at;
		}
	}
	if (next >= 0) {
		if (delay_event == NULL)
			delay_event = evtimer_new(vmstated_base(),
			    order_delay_over, NULL);
		next -= now;
		tv.tv_sec = (time_t)next;
		tv.tv_usec = (suseconds_t)((next - (double)tv.tv_sec) * 1e6);
		evtimer_add(delay_event, &tv);
	}
}

/* The order of autostart: dependencies before dependents, else by
 * directory name (vms is sorted so). */
static void
autostart_visit(struct vm *vm, bool *seen, size_t idx)
{
	struct vm	*dep;
	size_t		 i, j;

	if (seen[idx])
		return;
	seen[idx] = true;
	for (i = 0; i < vm->cfg->ndepends; i++)
		for (j = 0; j < sv_count(); j++) {
			dep = sv_vm(j);
			if (strcmp(dep->name, vm->cfg->depends[i]) == 0)
				autostart_visit(dep, seen, j);
		}
	if (vm->cfg->autostart) {
		queue = xrealloc(queue, (nqueue + 1) * sizeof(*queue));
		queue[nqueue].name = xstrdup(vm->name);
		queue[nqueue].step = AS_QUEUED;
		queue[nqueue].at = 0;
		queue[nqueue].said = false;
		nqueue++;
	}
}

void
order_autostart(void)
{
	bool	*seen;
	size_t	 i;

	seen = xcalloc(sv_count() + 1, sizeof(*seen));
	for (i = 0; i < sv_count(); i++)
		autostart_visit(sv_vm(i), seen, i);
	free(seen);
	order_kick();
}

/* ---- the deferred work ---- */

static void
order_work(evutil_socket_t fd, short what, void *arg)
{
	struct buf	 names;
	struct vm	*vm;
	char		**list;
	size_t		 i, n;
	int		 r;

	/* Stops and starts asked from inside the machine. */
	list = to_stop;
	n = nto_stop;
	to_stop = NULL;
	nto_stop = 0;
	for (i = 0; i < n; i++) {
		if ((vm = sv_find(list[i])) != NULL && vm_up_for_order(vm) &&
		    !vm_going_down(vm))
			(void)vm_request(vm, EV_STOP_RECURSIVE, -1,
			    "request", NULL);
		free(list[i]);
	}
	free(list);
	list = to_start;
	n = nto_start;
	to_start = NULL;
	nto_start = 0;
	for (i = 0; i < n; i++) {
		if ((vm = sv_find(list[i])) != NULL &&
		    (vm->pos == P_STOPPED || vm->pos == P_STOPPED_HOOK) &&
		    !vmstated_shutting_down())
			(void)vm_request(vm, EV_START, -1, "dependency",
			    NULL);
		free(list[i]);
	}
	free(list);
	/* Waits that may be over. */
	buf_init(&names);
	for (i = 0; i < sv_count(); i++) {
		vm = sv_vm(i);
		if (vm->pos == P_STOPPED_DEPS) {
			buf_reset(&names);
			if ((r = order_deps_ready(vm, &names)) == 1)
				vm_event(vm, EV_DEPS_READY);
			else if (r == -1)
				vm_event(vm, EV_DEPS_FAILED);
		} else if (vm->pos == P_RUNNING_DEPENDENTS) {
			buf_reset(&names);
			if (!order_dependents_up(vm, &names))
				vm_event(vm, EV_DEPENDENTS_DOWN);
		}
	}
	buf_free(&names);
	autostart_step();
	vmstated_check_shutdown();
}

/* Something moved: look again, from the event loop. */
void
order_kick(void)
{
	if (kick_event == NULL)
		kick_event = event_new(vmstated_base(), -1, 0, order_work,
		    NULL);
	event_active(kick_event, 0, 0);
}

/* ---- the shutdown's deadline ---- */

static double
order_grace(void)
{
	double	 t = (double)vmstated_config()->shutdown_timeout;

	return t / 4 < 10 ? t / 4 : 10;
}

/* Seconds until the daemon exits, during its shutdown. */
double
order_shutdown_left(void)
{
	double	 left = shutdown_end - vm_clock_mono();

	return left > 0 ? left : 0;
}

/* A hook or helper's time limit: never past the end of the shutdown. */
double
order_task_limit(double limit)
{
	double	 left;

	if (!deadline_passed || shutdown_end < 0)
		return limit;
	left = shutdown_end - vm_clock_mono();
	if (left < 0.1)
		left = 0.1;
	return limit <= 0 || left < limit ? left : limit;
}

static void
order_deadline(evutil_socket_t fd, short what, void *arg)
{
	size_t	 i;

	deadline_passed = true;
	log_warnx("shutdown: %lld s have passed; killing the VMs that are "
	    "still up", (long long)vmstated_config()->shutdown_timeout -
	    (long long)order_grace());
	for (i = 0; i < sv_count(); i++)
		if (!vm_at_rest(sv_vm(i)))
			vm_event(sv_vm(i), EV_DEADLINE);
}

/* The exit message: which VMs the deadline killed, if any. */
void
order_report(void)
{
	struct buf	 killed;
	size_t		 i;

	buf_init(&killed);
	for (i = 0; i < sv_count(); i++)
		if (sv_vm(i)->deadline_killed)
			buf_printf(&killed, "%s%s", killed.len ? ", " : "",
			    sv_vm(i)->name);
	if (killed.len > 0)
		log_warnx("shutdown: killed at the deadline: %s", killed.data);
	buf_free(&killed);
}

/* The end of the shutdown: whatever is left is killed; the daemon goes. */
static void
order_end(evutil_socket_t fd, short what, void *arg)
{
	struct buf	 left;
	struct vm	*vm;
	size_t		 i;

	buf_init(&left);
	for (i = 0; i < sv_count(); i++) {
		vm = sv_vm(i);
		if (vm_at_rest(vm))
			continue;
		vm->deadline_killed = true;
		buf_printf(&left, "%s%s", left.len ? ", " : "", vm->name);
		vmlog(vm, "the shutdown's time is up in %s: its hook and "
		    "hypervisor are killed", vm_pos_name(vm->pos));
		task_signal(vm, SIGKILL);
		vmproc_signal(vm, SIGKILL);
		persist_save(vm);
	}
	if (left.len > 0)
		log_warnx("shutdown: its time is up; not stopped in time, "
		    "left as they were: %s", left.data);
	buf_free(&left);
	event_base_loopexit(vmstated_base(), NULL);
}

/* SIGTERM: every VM is told; the deadline is armed. */
void
order_shutdown(void)
{
	struct timeval	 tv = { 0, 0 };
	double		 total = (double)vmstated_config()->shutdown_timeout;
	size_t		 i;

	shutdown_end = vm_clock_mono() + total;
	tv.tv_sec = (time_t)(total - order_grace());
	tv.tv_usec = (suseconds_t)(((total - order_grace()) -
	    (double)tv.tv_sec) * 1e6);
	deadline_event = evtimer_new(vmstated_base(), order_deadline, NULL);
	evtimer_add(deadline_event, &tv);
	tv.tv_sec = (time_t)total;
	tv.tv_usec = 0;
	end_event = evtimer_new(vmstated_base(), order_end, NULL);
	evtimer_add(end_event, &tv);
	for (i = 0; i < sv_count(); i++)
		vm_event(sv_vm(i), EV_SHUTDOWN);
	order_kick();
}

void
order_free(void)
{
	size_t	 i;

	for (i = 0; i < nqueue; i++)
		free(queue[i].name);
	free(queue);
	queue = NULL;
	nqueue = 0;
	name_list_clear(&to_stop, &nto_stop);
	name_list_clear(&to_start, &nto_start);
	if (kick_event != NULL)
		event_free(kick_event);
	if (delay_event != NULL)
		event_free(delay_event);
	if (deadline_event != NULL)
		event_free(deadline_event);
	if (end_event != NULL)
		event_free(end_event);
	kick_event = delay_event = deadline_event = end_event = NULL;
}
