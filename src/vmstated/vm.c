/*
 * vm.c: the state machine of one VM, written as a table.
 *
 * Entering a state runs the hook named after it (hook.c).  Everything that
 * happens to a VM is an event: a request from a client, the end of a hook,
 * the end of the hypervisor process (after its instance was destroyed), or
 * the stop timer.  vm_table[state][event] names the action; an event a
 * state does not expect is logged and ignored.  Actions are small functions
 * below the table; each either enters a state or waits for the next event.
 *
 * One rule stands outside the table because it holds in every state: while
 * a hook runs, the end of the hypervisor is held back (exit_pending) and
 * delivered once the hook has finished, so that hooks never overlap.
 */
#include <sys/types.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "vmstated.h"

enum vm_event {
	EV_REQ_START,
	EV_REQ_STOP,
	EV_REQ_RESTART,
	EV_REQ_KILL,
	EV_REQ_FAILRESET,
	EV_HOOK_DONE,		/* the state's hook succeeded, or had none */
	EV_HOOK_FAILED,
	EV_VM_EXIT,		/* hypervisor gone and instance destroyed */
	EV_NEVENTS
};

/* An action returns 0, or -1 to refuse a request (message in msg). */
typedef int	(*vm_action)(struct vm *, struct buf *msg);

static int	act_start(struct vm *, struct buf *);
static int	act_refuse_not_running(struct vm *, struct buf *);
static int	act_refuse_not_failed(struct vm *, struct buf *);
static int	act_refuse_busy(struct vm *, struct buf *);
static int	act_refuse_failed(struct vm *, struct buf *);
static int	act_refuse_running(struct vm *, struct buf *);
static int	act_stop_later(struct vm *, struct buf *);
static int	act_kill_starting(struct vm *, struct buf *);
static int	act_network_done(struct vm *, struct buf *);
static int	act_storage_done(struct vm *, struct buf *);
static int	act_fail_hook(struct vm *, struct buf *);
static int	act_start_hook_failed(struct vm *, struct buf *);
static int	act_running_settled(struct vm *, struct buf *);
static int	act_exit_while_running(struct vm *, struct buf *);
static int	act_stop(struct vm *, struct buf *);
static int	act_restart(struct vm *, struct buf *);
static int	act_kill(struct vm *, struct buf *);
static int	act_restarting_settled(struct vm *, struct buf *);
static int	act_respawn(struct vm *, struct buf *);
static int	act_enter_running(struct vm *, struct buf *);
static int	act_stopping_settled(struct vm *, struct buf *);
static int	act_teardown(struct vm *, struct buf *);
static int	act_storage_torn_down(struct vm *, struct buf *);
static int	act_network_torn_down(struct vm *, struct buf *);
static int	act_failreset(struct vm *, struct buf *);
static int	act_already_stopping(struct vm *, struct buf *);
static int	act_kill_now(struct vm *, struct buf *);
static int	act_idle_hook_ended(struct vm *, struct buf *);

/*
 * The table.  Rows: states.  Columns: start, stop, restart, kill,
 * failreset, hook done, hook failed, hypervisor exit.  NULL: unexpected.
 */
static const vm_action vm_table[VM_NSTATES][EV_NEVENTS] = {
	[VM_STOPPED] = {
		act_start, act_refuse_not_running, act_start,
		act_refuse_not_running, act_refuse_not_failed,
		act_idle_hook_ended, act_idle_hook_ended, NULL },
	[VM_START_NETWORK] = {
		act_refuse_busy, act_stop_later, act_refuse_busy,
		act_kill_starting, act_refuse_not_failed,
		act_network_done, act_start_hook_failed, NULL },
	[VM_START_STORAGE] = {
		act_refuse_busy, act_stop_later, act_refuse_busy,
		act_kill_starting, act_refuse_not_failed,
		act_storage_done, act_start_hook_failed, NULL },
	[VM_RUNNING] = {
		act_refuse_running, act_stop, act_restart,
		act_kill, act_refuse_not_failed,
		act_running_settled, act_fail_hook, act_exit_while_running },
	[VM_RESTARTING] = {
		act_refuse_busy, act_stop_later, act_refuse_busy,
		act_kill, act_refuse_not_failed,
		act_restarting_settled, act_fail_hook, act_respawn },
	[VM_RESTARTED] = {
		act_refuse_busy, act_stop_later, act_refuse_busy,
		act_kill, act_refuse_not_failed,
		act_enter_running, act_fail_hook, NULL },
	[VM_STOPPING] = {
		act_refuse_busy, act_already_stopping, act_refuse_busy,
		act_kill_now, act_refuse_not_failed,
		act_stopping_settled, act_stopping_settled, act_teardown },
	[VM_STOP_STORAGE] = {
		act_refuse_busy, act_already_stopping, act_refuse_busy,
		act_already_stopping, act_refuse_not_failed,
		act_storage_torn_down, act_storage_torn_down, NULL },
	[VM_STOP_NETWORK] = {
		act_refuse_busy, act_already_stopping, act_refuse_busy,
		act_already_stopping, act_refuse_not_failed,
		act_network_torn_down, act_network_torn_down, NULL },
	[VM_FAILED] = {
		act_refuse_failed, act_refuse_not_running, act_refuse_failed,
		act_refuse_not_running, act_failreset,
		act_idle_hook_ended, act_idle_hook_ended, NULL },
};

static const char *const state_names[VM_NSTATES] = {
	"stopped", "start_network", "start_storage", "running", "restarting",
	"restarted", "stopping", "stop_storage", "stop_network", "failed",
};

static const char *const event_names[EV_NEVENTS] = {
	"start request", "stop request", "restart request", "kill request",
	"failreset request", "hook done", "hook failed", "hypervisor exit",
};

static void	vm_dispatch(struct vm *, enum vm_event, struct buf *);
static void	vm_enter(struct vm *, enum vm_state, const char *reason);

const char *
vm_state_name(enum vm_state s)
{
	return (s >= 0 && s < VM_NSTATES) ? state_names[s] : "unknown";
}

struct vm *
vm_new(struct vm_config *cfg)
{
	struct vm	*vm;

	vm = xcalloc(1, sizeof(*vm));
	vm->name = xstrdup(cfg->name);
	vm->cfg = cfg;
	vm->hv = hv_ops_for(cfg->hypervisor);
	vm->state = vm->previous = VM_STOPPED;
	vm->reason = "initial";
	vm->by_uid = -1;
	vm->pid = vm->hook_pid = vm->helper_pid = -1;
	vm->watch_fd = -1;
	vm->log_fd = -1;
	vm->queued = -1;
	vm->state_since = time(NULL);
	vmlog_open(vm);
	return vm;
}

void
vm_free(struct vm *vm)
{
	if (vm == NULL)
		return;
	if (vm->hook_pid != -1)
		proc_forget(vm->hook_pid);
	if (vm->helper_pid != -1)
		proc_forget(vm->helper_pid);
	if (vm->pid != -1 && !vm->adopted)
		proc_forget(vm->pid);
	hook_cancel_timer(vm);
	if (vm->stop_timer != NULL)
		event_free(vm->stop_timer);
	if (vm->watch_event != NULL)
		event_free(vm->watch_event);
	if (vm->watch_fd != -1)
		close(vm->watch_fd);
	if (vm->hv->release != NULL)
		vm->hv->release(vm);
	vmlog_close(vm);
	cfg_vm_free(vm->cfg);
	cfg_vm_free(vm->pending);
	free(vm->restarts);
	free(vm->cmdline);
	free(vm->reload_error);
	free(vm->last_exit);
	free(vm->hook_path);
	free(vm->name);
	free(vm);
}

bool
vm_is_idle(const struct vm *vm)
{
	return (vm->state == VM_STOPPED || vm->state == VM_FAILED) &&
	    vm->hook_pid == -1 && vm->helper_pid == -1 && vm->pid == -1;
}

static double
now_unix(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Drop restarts older than the window; return how many remain. */
int
vm_restarts_in_window(struct vm *vm)
{
	double	 cutoff = now_unix() - (double)vm->cfg->maxrestarttime;
	int	 i, kept = 0;

	for (i = 0; i < vm->nrestarts; i++)
		if (vm->restarts[i] > cutoff)
			vm->restarts[kept++] = vm->restarts[i];
	vm->nrestarts = kept;
	return kept;
}

static bool
action_refuses(vm_action a)
{
	return a == act_refuse_not_running || a == act_refuse_not_failed ||
	    a == act_refuse_busy || a == act_refuse_failed ||
	    a == act_refuse_running;
}

/* Remember an automatic restart (the history holds only the window). */
void
vm_record_restart(struct vm *vm, double when)
{
	if (vm->nrestarts == vm->caprestarts) {
		vm->caprestarts = vm->caprestarts ? vm->caprestarts * 2 : 4;
		vm->restarts = xrealloc(vm->restarts, (size_t)vm->caprestarts *
		    sizeof(*vm->restarts));
	}
	vm->restarts[vm->nrestarts++] = when;
}

/*
 * A request from a client.  The daemon itself asks with uid -1.
 *
 * Hooks of one VM never overlap.  In running, stopped and failed the hook
 * of the state may still run when a request comes; a request that would
 * leave the state then waits in `queued` until the hook has ended (kill
 * does not wait to kill the hypervisor: see act_kill).
 */
int
vm_request(struct vm *vm, enum vm_request req, long uid, const char *reason,
    struct buf *msg)
{
	vm_action	 action = vm_table[vm->state][req];
	size_t		 before = msg->len;

	if (vm->hook_pid != -1 && req != REQ_KILL && !action_refuses(action) &&
	    (vm->state == VM_RUNNING || vm->state == VM_STOPPED ||
	    vm->state == VM_FAILED)) {
		if (vm->queued != -1) {
			buf_printf(msg, "%s: a %s is already waiting for the "
			    "%s hook to finish", vm->name,
			    event_names[vm->queued], state_names[vm->state]);
			return -1;
		}
		vm->queued = (int)req;
		vm->queued_uid = uid;
		vm->queued_reason = reason;
		vmlog(vm, "%s waits for the %s hook to finish",
		    event_names[req], state_names[vm->state]);
		return 0;
	}
	vm->by_uid = uid;
	vm->request_reason = reason;
	vm_dispatch(vm, (enum vm_event)req, msg);
	return msg->len > before ? -1 : 0;
}

/*
 * Deliver an event through the table, then what waited for a hook to end:
 * first a hypervisor exit, then a queued request.
 */
static void
vm_dispatch(struct vm *vm, enum vm_event ev, struct buf *msg)
{
	vm_action	 action;
	struct buf	 scratch;
	enum vm_event	 queued;

	buf_init(&scratch);
	if (msg == NULL)
		msg = &scratch;
	if (ev == EV_VM_EXIT && vm->failing) {
		/* Failing: the process we killed is gone; tear down. */
		vm->exit_pending = false;
		act_teardown(vm, msg);
	} else if ((action = vm_table[vm->state][ev]) == NULL) {
		log_warnx("%s: unexpected %s in state %s; ignored", vm->name,
		    event_names[ev], state_names[vm->state]);
		vmlog(vm, "unexpected %s in state %s; ignored",
		    event_names[ev], state_names[vm->state]);
		if (ev == EV_VM_EXIT)
			vm->exit_pending = false;
	} else
		action(vm, msg);
	buf_free(&scratch);

	if (vm->exit_pending && vm->hook_pid == -1 && !vm->cleaning &&
	    ev != EV_VM_EXIT && vm->pid == -1) {
		vm->exit_pending = false;
		vm_dispatch(vm, EV_VM_EXIT, NULL);
	}
	if (vm->queued != -1 && vm->hook_pid == -1 &&
	    (ev == EV_HOOK_DONE || ev == EV_HOOK_FAILED)) {
		queued = (enum vm_event)vm->queued;
		vm->queued = -1;
		if (!vm->failing) {
			vm->by_uid = vm->queued_uid;
			vm->request_reason = vm->queued_reason;
			vm_dispatch(vm, queued, NULL);
		}
	}
	if (vm_is_idle(vm))
		sv_vm_idle(vm);
}

/* Called by hook.c when the hook of the current state has ended. */
void
vm_hook_finished(struct vm *vm, bool ok)
{
	vm_dispatch(vm, ok ? EV_HOOK_DONE : EV_HOOK_FAILED, NULL);
}

/*
 * Enter a state: record it, tell the log, the clients and the state file,
 * then run its hook.  A state without a hook is done at once.
 */
static void
vm_enter(struct vm *vm, enum vm_state to, const char *reason)
{
	enum vm_state	 from = vm->state;
	int		 r;

	vm->previous = from;
	vm->state = to;
	vm->reason = reason;
	vm->state_since = time(NULL);
	if (vm->by_uid >= 0)
		vmlog(vm, "%s -> %s (reason %s, by uid %ld)",
		    state_names[from], state_names[to], reason, vm->by_uid);
	else
		vmlog(vm, "%s -> %s (reason %s)", state_names[from],
		    state_names[to], reason);
	log_info("%s: %s -> %s (%s)", vm->name, state_names[from],
	    state_names[to], reason);
	control_broadcast_state(vm, from, to);
	persist_save(vm);
	vm->by_uid = -1;

	r = hook_run(vm);
	if (r == 0)
		vm_dispatch(vm, EV_HOOK_DONE, NULL);
	else if (r == -1)
		vm_dispatch(vm, EV_HOOK_FAILED, NULL);
}

/* ---- Refusals: each names the VM and says what to do. ---- */

static int
act_refuse_not_running(struct vm *vm, struct buf *msg)
{
	buf_printf(msg, "%s is not running (state %s); nothing to %s",
	    vm->name, state_names[vm->state],
	    vm->state == VM_FAILED ? "stop; use failreset to clear failed" :
	    "stop");
	return -1;
}

static int
act_refuse_not_failed(struct vm *vm, struct buf *msg)
{
	buf_printf(msg, "%s is not failed (state %s); failreset only "
	    "applies to a failed VM", vm->name, state_names[vm->state]);
	return -1;
}

static int
act_refuse_busy(struct vm *vm, struct buf *msg)
{
	buf_printf(msg, "%s is busy (state %s); wait until it is running "
	    "or stopped, or use kill", vm->name, state_names[vm->state]);
	return -1;
}

static int
act_refuse_failed(struct vm *vm, struct buf *msg)
{
	buf_printf(msg, "%s is failed (%s); run 'vmstatedctl failreset %s' "
	    "first", vm->name, vm->fail_reason ? vm->fail_reason : "failed",
	    vm->name);
	return -1;
}

static int
act_refuse_running(struct vm *vm, struct buf *msg)
{
	buf_printf(msg, "%s is already running (pid %ld); use restart to "
	    "restart it", vm->name, (long)vm->pid);
	return -1;
}

static int
act_already_stopping(struct vm *vm, struct buf *msg)
{
	/* A second stop is not an error: the VM is on its way. */
	return 0;
}

static int
act_idle_hook_ended(struct vm *vm, struct buf *msg)
{
	return 0;
}

/* ---- Starting. ---- */

static void
vm_take_pending_config(struct vm *vm)
{
	if (vm->pending == NULL)
		return;
	cfg_vm_free(vm->cfg);
	vm->cfg = vm->pending;
	vm->pending = NULL;
	if (vm->hv->release != NULL)
		vm->hv->release(vm);
	vm->hv = hv_ops_for(vm->cfg->hypervisor);
	vmlog(vm, "configuration changed by reload now in force");
}

static int
act_start(struct vm *vm, struct buf *msg)
{
	if (vmstated_shutting_down()) {
		buf_printf(msg, "%s: vmstated is shutting down; not starting",
		    vm->name);
		return -1;
	}
	vm_take_pending_config(vm);
	vm->phases = 0;
	vm->exit_known = false;
	vm->instance_destroyed = false;	/* destroy again before a start */
	vm->failing = vm->stop_pending = vm->killing = false;
	vm->fail_reason = NULL;
	vm_enter(vm, VM_START_NETWORK, vm->request_reason);
	return 0;
}

static int
act_network_done(struct vm *vm, struct buf *msg)
{
	vm->phases |= VM_PHASE_NETWORK;
	if (vm->stop_pending)
		return act_teardown(vm, msg);
	vm_enter(vm, VM_START_STORAGE, vm->reason);
	return 0;
}

static int
act_storage_done(struct vm *vm, struct buf *msg)
{
	vm->phases |= VM_PHASE_STORAGE;
	if (vm->stop_pending)
		return act_teardown(vm, msg);
	vm_spawn(vm, VM_RUNNING);
	return 0;
}

static int
act_start_hook_failed(struct vm *vm, struct buf *msg)
{
	if (vm->stop_pending)	/* killed on request: not a failure */
		return act_teardown(vm, msg);
	vm_fail(vm, "hook-failed");
	return 0;
}

static int
act_stop_later(struct vm *vm, struct buf *msg)
{
	vm->stop_pending = true;
	vmlog(vm, "stop requested in state %s; stopping once it completes",
	    state_names[vm->state]);
	return 0;
}

/* kill while a start hook runs: end the hook now, then tear down. */
static int
act_kill_starting(struct vm *vm, struct buf *msg)
{
	vm->stop_pending = true;
	vm->killing = true;
	if (vm->hook_pid != -1)
		hook_kill(vm, SIGKILL);
	return 0;
}

/* ---- Running. ---- */

static int
act_enter_running(struct vm *vm, struct buf *msg)
{
	vm_enter(vm, VM_RUNNING, vm->reason);
	return 0;
}

/* The running hook is done: act on anything that was asked meanwhile. */
static int
act_running_settled(struct vm *vm, struct buf *msg)
{
	if (vm->stop_pending && vm->pid != -1) {
		vm->stop_pending = false;
		return act_stop(vm, msg);
	}
	return 0;
}

static int
act_exit_while_running(struct vm *vm, struct buf *msg)
{
	if (vm->killing) {
		vm_enter(vm, VM_STOPPING, "kill");
		return 0;
	}
	switch (vm->exit_kind) {
	case HV_EXIT_REBOOT:
		vm->counted = true;
		vm_enter(vm, VM_RESTARTING, "guest-reboot");
		break;
	case HV_EXIT_CRASH:
		vm->counted = true;
		vm_enter(vm, VM_RESTARTING, "crash");
		break;
	case HV_EXIT_POWEROFF:
		vm_enter(vm, VM_STOPPING, "guest-poweroff");
		break;
	case HV_EXIT_HALT:
		vm_enter(vm, VM_STOPPING, "guest-halt");
		break;
	}
	return 0;
}

static int
act_stop(struct vm *vm, struct buf *msg)
{
	vm_enter(vm, VM_STOPPING, vm->request_reason);
	return 0;
}

static int
act_restart(struct vm *vm, struct buf *msg)
{
	vm->counted = false;
	vm_enter(vm, VM_RESTARTING, vm->request_reason);
	return 0;
}

static int
act_kill(struct vm *vm, struct buf *msg)
{
	vm->killing = true;
	vm->stop_pending = false;
	if (vm->pid != -1)
		kill(vm->pid, SIGKILL);
	if (vm->state == VM_RUNNING && vm->hook_pid == -1)
		vm_enter(vm, VM_STOPPING, "kill");
	else if (vm->state != VM_RUNNING)
		vm->stop_pending = true;	/* restarting, restarted */
	/* else: the running hook runs; the exit, held back until it ends,
	 * takes the VM to stopping (act_exit_while_running). */
	return 0;
}

static int
act_kill_now(struct vm *vm, struct buf *msg)
{
	vm->killing = true;
	if (vm->pid != -1)
		kill(vm->pid, SIGKILL);
	return 0;
}

/* ---- Restarting. ---- */

static int
act_restarting_settled(struct vm *vm, struct buf *msg)
{
	if (vm->stop_pending) {
		/* Asked to stop during the restart: stop instead. */
		vm->stop_pending = false;
		vm_enter(vm, VM_STOPPING, vm->request_reason);
		return 0;
	}
	if (vm->pid != -1) {
		vm_ask_stop(vm);	/* requested restart */
		return 0;
	}
	if (vm->cleaning || vm->exit_pending)
		return 0;		/* the exit event follows */
	return act_respawn(vm, msg);
}

/*
 * The old process is gone.  Count an automatic restart; give up when it
 * would be the (maxrestart+1)-th within maxrestarttime seconds.
 */
static int
act_respawn(struct vm *vm, struct buf *msg)
{
	if (vm->stop_timer != NULL)
		event_del(vm->stop_timer);
	if (vm->stop_pending || vm->killing) {
		vm->stop_pending = false;
		vm_enter(vm, VM_STOPPING, vm->killing ? "kill" :
		    vm->request_reason);
		return 0;
	}
	if (vm->counted) {
		if (vm_restarts_in_window(vm) >= vm->cfg->maxrestart) {
			vmlog(vm, "%d restarts within %lld s (maxrestart %lld); "
			    "giving up", vm->nrestarts,
			    (long long)vm->cfg->maxrestarttime,
			    (long long)vm->cfg->maxrestart);
			vm_fail(vm, "restart-limit");
			return 0;
		}
		vm_record_restart(vm, now_unix());
	} else
		vm_take_pending_config(vm);	/* a restart the admin asked for */
	vm_spawn(vm, VM_RESTARTED);
	return 0;
}

/* ---- Stopping and teardown. ---- */

static int
act_stopping_settled(struct vm *vm, struct buf *msg)
{
	if (vm->pid != -1) {
		vm_ask_stop(vm);
		return 0;
	}
	if (vm->cleaning || vm->exit_pending)
		return 0;		/* the exit event follows */
	return act_teardown(vm, msg);
}

/* Run the teardown hooks of the phases that completed, then settle. */
static int
act_teardown(struct vm *vm, struct buf *msg)
{
	const char	*reason = vm->failing ? vm->fail_reason : vm->reason;

	if (vm->stop_timer != NULL)
		event_del(vm->stop_timer);
	if (vm->pid != -1 || vm->cleaning)
		return 0;		/* wait for the process to go */
	vm->stop_pending = false;
	if (vm->phases & VM_PHASE_STORAGE)
		vm_enter(vm, VM_STOP_STORAGE, reason);
	else if (vm->phases & VM_PHASE_NETWORK)
		vm_enter(vm, VM_STOP_NETWORK, reason);
	else if (vm->failing)
		vm_enter(vm, VM_FAILED, reason);
	else
		vm_enter(vm, VM_STOPPED, reason);
	return 0;
}

static int
act_storage_torn_down(struct vm *vm, struct buf *msg)
{
	vm->phases &= ~VM_PHASE_STORAGE;
	return act_teardown(vm, msg);
}

static int
act_network_torn_down(struct vm *vm, struct buf *msg)
{
	vm->phases &= ~VM_PHASE_NETWORK;
	return act_teardown(vm, msg);
}

/* Something failed: kill the process if it runs, then tear down. */
void
vm_fail(struct vm *vm, const char *reason)
{
	vm->failing = true;
	vm->fail_reason = reason;
	vm->stop_pending = false;
	log_warnx("%s: failing (%s)", vm->name, reason);
	if (vm->pid != -1) {
		kill(vm->pid, SIGKILL);
		return;			/* EV_VM_EXIT continues */
	}
	act_teardown(vm, NULL);
}

static int
act_fail_hook(struct vm *vm, struct buf *msg)
{
	vm_fail(vm, "hook-failed");
	return 0;
}

static int
act_failreset(struct vm *vm, struct buf *msg)
{
	vm->nrestarts = 0;
	vm->failing = false;
	vm->fail_reason = NULL;
	vm_enter(vm, VM_STOPPED, "failreset");
	return 0;
}

/* ---- Entry points for vmproc.c. ---- */

/* The hypervisor runs: enter running or restarted. */
void
vm_spawned(struct vm *vm)
{
	vm_enter(vm, vm->after_spawn, vm->reason);
}

/* The hypervisor is gone and its instance destroyed. */
void
vm_exit_arrived(struct vm *vm)
{
	vm_dispatch(vm, EV_VM_EXIT, NULL);
}

void
vm_teardown(struct vm *vm)
{
	act_teardown(vm, NULL);
}
