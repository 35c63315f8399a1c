/*
 * effects.c: what the state machine (vm.c) asks of the daemon, wired to
 * the modules that do it: hooks and helpers (task.c), the hypervisor
 * (vmproc.c), the state file (persist.c), the log (vmlog.c), the clients
 * (control.c), timers from the event loop, the supervisor, and what
 * metrics.c measures.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "vmstated.h"

double
vm_clock_mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds since the hypervisor started, whatever the wall clock does. */
long long
vm_uptime(const struct vm *vm)
{
	double	 up = vm_clock_mono() - vm_run_peek(vm)->started_mono;

	return up > 0 ? (long long)up : 0;
}

double
vm_clock_wall(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fx_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	vm_event(arg, EV_STOP_TIMER);
}

static void
fx_retry_timer(evutil_socket_t fd, short what, void *arg)
{
	vm_event(arg, EV_RETRY_TIMER);
}

static void
fx_timer(struct vm *vm, enum vm_timer t, double seconds)
{
	struct event	**ev;
	struct timeval	 tv;

	if (seconds < 0) {
		if (vm->run != NULL && vm->run->timers[t] != NULL)
			evtimer_del(vm->run->timers[t]);
		return;
	}
	ev = &vm_run(vm)->timers[t];
	if (*ev == NULL)
		*ev = evtimer_new(vmstated_base(),
		    t == VM_TIMER_STOP ? fx_stop_timer : fx_retry_timer, vm);
	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	evtimer_add(*ev, &tv);
}

static int
fx_persist(struct vm *vm)
{
	return persist_save(vm);
}

/*
 * Before a start: its state can be recorded, no hypervisor of it runs
 * already (one the state file lost track of), no other VM that is not at
 * rest uses one of its disks.
 */
static int
fx_start_check(struct vm *vm, struct buf *why)
{
	pid_t	 pid;

	if (persist_prepare(vm, why) == -1)
		return -1;
	if (vm->hv->find != NULL &&
	    (pid = vm->hv->find(vmproc_hv(vm), true)) > 0) {
		buf_printf(why, "a hypervisor of %s already runs as pid %ld; "
		    "stop it, or restart vmstated to take it back", vm->name,
		    (long)pid);
		return -1;
	}
	return disks_start_check(vm, why);
}

static void
fx_announce(struct vm *vm, enum vm_state from, enum vm_state to)
{
	if (vm->by_uid >= 0)
		vmlog(vm, "%s -> %s (reason %s, by uid %ld)",
		    vm_state_name(from), vm_state_name(to), vm->reason,
		    vm->by_uid);
	else
		vmlog(vm, "%s -> %s (reason %s)", vm_state_name(from),
		    vm_state_name(to), vm->reason);
	log_info("%s: %s -> %s (%s)", vm->name, vm_state_name(from),
	    vm_state_name(to), vm->reason);
	metrics_state(vm, from, to);
	control_broadcast_state(vm, from, to);
	/* At rest, no console: its clients are told and let go. */
	if (to == VM_STOPPED || to == VM_FAILED)
		console_end(vm, to == VM_STOPPED ? "the VM has stopped" :
		    "the VM has failed");
}

static void
fx_moved(struct vm *vm)
{
	metrics_moved(vm);
	order_kick();
}

static void
fx_log(struct vm *vm, const char *msg)
{
	vmlog(vm, "%s", msg);
}

/* At rest: no log descriptor kept for it (vmlog.c), then the supervisor
 * (which frees its run part, from the loop). */
static void
fx_idle(struct vm *vm)
{
	vmlog_close(vm);
	sv_vm_idle(vm);
}

/*
 * Its run part goes: the events kept in it for the next use, and a
 * console nobody reads any more.  Not while a client still reads it.
 */
static bool
fx_release(struct vm *vm)
{
	if (console_busy(vm))
		return false;
	console_release(vm);
	task_release(vm);
	probe_release(vm);
	effects_free_events(vm);
	return true;
}

void
effects_free_events(struct vm *vm)
{
	struct vm_run	*run = vm->run;
	int		 t;

	if (run == NULL)
		return;
	for (t = 0; t < VM_NTIMERS; t++)
		if (run->timers[t] != NULL) {
			event_free(run->timers[t]);
			run->timers[t] = NULL;
		}
	if (run->watch_event != NULL) {
		event_free(run->watch_event);
		run->watch_event = NULL;
	}
}

/* A configuration taken from reload is in force: its back end too. */
static void
fx_config_changed(struct vm *vm, struct vm_config *old)
{
	const struct hv_ops	*hv = hv_ops_for(vm->cfg->hypervisor);

	if (hv != vm->hv) {
		if (vm->hv->release != NULL)
			vm->hv->release(vmproc_hv(vm));
		vm->hv = hv;
	}
	(void)old;
}

const struct vm_effects vm_daemon_effects = {
	.hook_start = task_hook_start,
	.destroy_start = vmproc_destroy_start,
	.instance_reusable = vmproc_instance_reusable,
	.task_signal = task_signal,
	.spawn = vmproc_spawn,
	.ask_stop = vmproc_ask_stop,
	.signal = vmproc_signal,
	.timer = fx_timer,
	.persist = fx_persist,
	.start_check = fx_start_check,
	.announce = fx_announce,
	.log = fx_log,
	.now = vm_clock_mono,
	.idle = fx_idle,
	.release = fx_release,
	.config_changed = fx_config_changed,
	.deps_ready = order_deps_ready,
	.dependents_up = order_dependents_up,
	.stop_dependents = order_stop_dependents,
	.probe = probe_set,
	.moved = fx_moved,
};
