/*
 * vm.c: the state machine of one VM, written as a table.
 *
 * The machine is in a position (enum vm_pos): a state a user sees, and what
 * the VM waits for in it -- its hook, the hypervisor's exit, the helper that
 * destroys the instance, a retry timer.  Everything that happens to a VM is
 * an event (enum vm_event): a request, the daemon's shutdown, removal by a
 * reload, the end of a hook or helper, the end of the hypervisor, a timer.
 * Where the VM is heading is one field, the intent (enum vm_intent), which
 * requests set and which shutdown and removal set for good.
 *
 * vm_table below is the whole machine: each row says, for a set of
 * positions, a set of events and a set of intents, which action runs and
 * which positions it may lead to.  The first matching row wins; an event no
 * row matches is logged and ignored.  vmstated -T prints the table, and
 * vmstated(8) carries the same text.
 *
 * Two rules hold for every row.  Moving into a position that runs a hook
 * starts that hook, unless the event arrived while that very hook runs (an
 * exit or a failreset noted during the hook): hooks of a VM never overlap.
 * A move into another state than the one the VM is in "enters" it: the
 * change is logged, sent to clients and recorded before the hook starts.
 *
 * This file decides and nothing else: what it asks of the world goes
 * through vm->fx (effects.c in the daemon, fakes in the unit tests), and
 * what the world reports comes back as events.
 */
#include <sys/types.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "vm_machine.h"

#define ROW(from, events, intents, to, action) \
	{ (from), (events), (intents), (to), action, #action }

/*
 * The machine.  Read it top to bottom: the first row that matches the
 * position, the event and the intent is the one that acts.
 */
static const struct vm_row vm_table[] = {
	/* ---- Requests to start.  Shutdown and removal refuse them. ---- */
	ROW(ALLPOS, STARTS | E(EV_FAILRESET), STICKY,
	    SAME, act_refuse_sticky),
	ROW(P(P_STOPPED), STARTS, ANY,
	    SAME | P(P_START_DESTROY) | P(P_NET_HOOK) | P(P_FAILED_HOOK) |
	    P(P_STOPPED_DEPS), act_start),
	ROW(P(P_STOPPED_DEPS), STARTS, ANY,
	    SAME, act_accept),
	ROW(P(P_STOPPED_HOOK), STARTS, ANY,
	    SAME, act_queue_start),
	ROW(FAILEDPOS, STARTS, ANY,
	    SAME, act_refuse_failed),
	ROW(P(P_RUNNING) | P(P_RUNNING_HOOK), E(EV_START), ANY,
	    SAME, act_refuse_running),
	ROW(P(P_RUNNING), E(EV_RESTART), ANY,
	    P(P_RESTART_HOOK_UP), act_restart_now),
	ROW(P(P_RUNNING_HOOK) | P(P_RUNNING_HOOK_GONE), E(EV_RESTART), ANY,
	    SAME, act_want_restart),
	ROW(ALLPOS, STARTS, ANY,
	    SAME, act_refuse_busy),

	/* ---- Requests and orders to stop. ---- */
	ROW(P(P_STOPPED_DEPS), DOWNS | E(EV_DEADLINE), ANY,
	    P(P_STOPPED), act_cancel_deps),
	ROW(P(P_STOPPED_HOOK), STOPS | E(EV_KILL), I(INTENT_UP),
	    SAME, act_cancel_start),
	ROW(P(P_STOPPED) | P(P_STOPPED_HOOK) | FAILEDPOS,
	    STOPS | E(EV_KILL), ANY,
	    SAME, act_refuse_not_running),
	ROW(P(P_STOPPED) | P(P_STOPPED_HOOK) | FAILEDPOS,
	    E(EV_SHUTDOWN) | E(EV_REMOVE), ANY,
	    SAME, act_want_down),
	ROW(P(P_RUNNING), E(EV_STOP), ANY,
	    SAME | P(P_STOPPING_HOOK_UP), act_stop_request),
	ROW(P(P_RUNNING), E(EV_STOP_RECURSIVE), ANY,
	    P(P_STOPPING_HOOK_UP) | P(P_RUNNING_DEPENDENTS),
	    act_stop_recursive),
	ROW(P(P_RUNNING), E(EV_SHUTDOWN) | E(EV_REMOVE), ANY,
	    P(P_STOPPING_HOOK_UP) | P(P_RUNNING_DEPENDENTS), act_stop_now),
	ROW(P(P_RUNNING) | P(P_RUNNING_DEPENDENTS), E(EV_KILL), ANY,
	    P(P_STOPPING_HOOK_UP), act_kill_now),
	ROW(P(P_RUNNING_DEPENDENTS), E(EV_REMOVE), ANY,
	    P(P_STOPPING_HOOK_UP), act_stop_now),
	ROW(P(P_NET_HOOK) | P(P_STORAGE_HOOK), E(EV_KILL), ANY,
	    SAME, act_kill_task),
	ROW(P(P_START_RETRY), DOWNS, ANY,
	    TEARDOWN, act_retry_teardown),
	ROW(P(P_RESTART_RETRY), DOWNS, ANY,
	    P(P_STOPPING_HOOK), act_retry_stopping),
	ROW(UPPOS & ~P(P_RUNNING), E(EV_KILL), ANY,
	    SAME, act_kill_hv),
	ROW(ALLPOS, DOWNS, ANY,
	    SAME, act_want_down),

	/* ---- failreset. ---- */
	ROW(P(P_FAILED), E(EV_FAILRESET), ANY,
	    P(P_STOPPED_HOOK), act_failreset),
	ROW(P(P_FAILED_HOOK), E(EV_FAILRESET), ANY,
	    P(P_FAILED_HOOK_RESET), act_queue_failreset),
	ROW(P(P_FAILED_HOOK_RESET), E(EV_FAILRESET), ANY,
	    SAME, act_accept),
	ROW(ALLPOS, E(EV_FAILRESET), ANY,
	    SAME, act_refuse_not_failed),

	/* ---- Starting. ---- */
	ROW(P(P_STOPPED_HOOK), HOOKS, I(INTENT_UP),
	    P(P_STOPPED) | P(P_START_DESTROY) | P(P_NET_HOOK) |
	    P(P_FAILED_HOOK) | P(P_STOPPED_DEPS), act_start_queued),
	ROW(P(P_STOPPED_HOOK), HOOKS, ANY,
	    P(P_STOPPED), act_settle),
	ROW(P(P_START_DESTROY), E(EV_HELPER_OK), UPWARD,
	    P(P_NET_HOOK), act_begin_network),
	ROW(P(P_START_DESTROY), E(EV_HELPER_FAILED), UPWARD,
	    P(P_FAILED_HOOK), act_start_failed),
	ROW(P(P_START_DESTROY), HELPERS, ANY,
	    P(P_STOPPED), act_settle),
	ROW(P(P_NET_HOOK), E(EV_HOOK_OK), UPWARD,
	    P(P_STORAGE_HOOK), act_network_done),
	ROW(P(P_STORAGE_HOOK), E(EV_HOOK_OK), UPWARD,
	    P(P_RUNNING_HOOK) | P(P_START_RETRY) | P(P_FAILING_DESTROY),
	    act_spawn),
	ROW(P(P_NET_HOOK) | P(P_STORAGE_HOOK), E(EV_HOOK_FAILED), UPWARD,
	    FAILDOWN, act_start_hook_failed),
	ROW(P(P_NET_HOOK) | P(P_STORAGE_HOOK), HOOKS, ANY,
	    TEARDOWN, act_teardown),
	ROW(P(P_START_RETRY), E(EV_RETRY_TIMER), UPWARD,
	    P(P_RUNNING_HOOK) | P(P_START_RETRY) | P(P_FAILING_DESTROY) |
	    FAILDOWN, act_spawn_retry),

	/* ---- Running. ---- */
	ROW(P(P_RUNNING_HOOK), E(EV_HOOK_OK), I(INTENT_UP),
	    P(P_RUNNING), act_settle),
	ROW(P(P_RUNNING_HOOK), E(EV_HOOK_OK), I(INTENT_RESTART),
	    P(P_RESTART_HOOK_UP), act_restart_now),
	ROW(P(P_RUNNING_HOOK) | P(P_RESTARTED_HOOK) | P(P_RESTART_HOOK_UP),
	    E(EV_HOOK_OK), GENTLE,
	    P(P_STOPPING_HOOK_UP) | P(P_RUNNING_DEPENDENTS), act_stop_now),
	ROW(P(P_RUNNING_HOOK) | P(P_RESTARTED_HOOK) | P(P_RESTART_HOOK_UP),
	    E(EV_HOOK_OK), I(INTENT_KILL),
	    P(P_STOPPING_HOOK_UP), act_kill_now),
	ROW(P(P_RUNNING_HOOK) | P(P_RESTARTED_HOOK) | P(P_RESTART_HOOK_UP),
	    E(EV_HOOK_FAILED), ANY,
	    P(P_FAILING_WAIT), act_fail_kill),
	ROW(P(P_RUNNING_HOOK_GONE) | P(P_RESTARTED_HOOK_GONE), E(EV_HOOK_OK),
	    ANY, P(P_RUNNING), act_replay_exit),
	ROW(P(P_RUNNING_HOOK_GONE) | P(P_RESTARTED_HOOK_GONE) |
	    P(P_RESTART_HOOK), E(EV_HOOK_FAILED), ANY,
	    P(P_FAILING_DESTROY), act_fail_destroy),
	ROW(P(P_RUNNING), E(EV_EXIT_REBOOT) | E(EV_EXIT_CRASH), I(INTENT_UP),
	    P(P_RESTART_HOOK), act_auto_restart),
	ROW(P(P_RUNNING), E(EV_EXIT_OFF), I(INTENT_UP),
	    P(P_STOPPING_HOOK), act_guest_off),
	ROW(P(P_RUNNING), EXITS, I(INTENT_RESTART),
	    P(P_RESTART_HOOK), act_restart_gone),
	ROW(P(P_RUNNING), EXITS, DOWNWARD,
	    P(P_STOPPING_HOOK), act_stopping_gone),
	ROW(P(P_RUNNING_DEPENDENTS), EXITS, ANY,
	    P(P_STOPPING_HOOK), act_stopping_gone),
	ROW(P(P_RUNNING), HEALTH, UPWARD,
	    P(P_CRASH_KILL), act_crash_kill),
	ROW(P(P_RUNNING_HOOK) | P(P_RESTARTED_HOOK), E(EV_WATCHDOG), UPWARD,
	    SAME, act_watchdog_kill),
	ROW(P(P_CRASH_KILL), EXITS, UPWARD,
	    P(P_RESTART_HOOK), act_killed_restart),
	ROW(P(P_CRASH_KILL), EXITS, DOWNWARD,
	    P(P_STOPPING_HOOK), act_stopping_gone),
	ROW(P(P_RUNNING_HOOK), EXITS, ANY,
	    P(P_RUNNING_HOOK_GONE), act_note_exit),
	ROW(P(P_RESTARTED_HOOK), EXITS, ANY,
	    P(P_RESTARTED_HOOK_GONE), act_note_exit),
	ROW(P(P_RESTART_HOOK_UP), EXITS, ANY,
	    P(P_RESTART_HOOK), act_note_exit),
	ROW(P(P_STOPPING_HOOK_UP), EXITS, ANY,
	    P(P_STOPPING_HOOK), act_note_exit),

	/* ---- Restarting. ---- */
	ROW(P(P_RESTART_HOOK_UP), E(EV_HOOK_OK), UPWARD,
	    P(P_RESTART_WAIT), act_ask_stop),
	ROW(P(P_RESTART_HOOK), E(EV_HOOK_OK), UPWARD,
	    P(P_RESTART_DESTROY), act_destroy),
	ROW(P(P_RESTART_HOOK), E(EV_HOOK_OK), DOWNWARD,
	    P(P_STOPPING_HOOK), act_stopping_gone),
	ROW(P(P_RESTART_WAIT), EXITS, UPWARD,
	    P(P_RESTART_DESTROY), act_destroy),
	ROW(P(P_RESTART_WAIT), EXITS, DOWNWARD,
	    P(P_STOPPING_HOOK), act_stopping_gone),
	ROW(P(P_RESTART_DESTROY), E(EV_HELPER_OK), I(INTENT_UP),
	    P(P_RESTARTED_HOOK) | P(P_RESTART_RETRY) | P(P_FAILING_DESTROY),
	    act_respawn),
	ROW(P(P_RESTART_DESTROY), E(EV_HELPER_OK), I(INTENT_RESTART),
	    P(P_RESTARTED_HOOK) | P(P_RESTART_RETRY) | P(P_FAILING_DESTROY),
	    act_respawn_asked),
	ROW(P(P_RESTART_DESTROY), E(EV_HELPER_FAILED), UPWARD,
	    FAILDOWN, act_destroy_failed),
	ROW(P(P_RESTART_DESTROY), HELPERS, DOWNWARD,
	    P(P_STOPPING_HOOK), act_stopping_gone),
	ROW(P(P_RESTART_RETRY), E(EV_RETRY_TIMER), UPWARD,
	    P(P_RESTART_DESTROY), act_respawn_retry),
	ROW(P(P_RESTARTED_HOOK), E(EV_HOOK_OK), UPWARD,
	    P(P_RUNNING_HOOK), act_enter_running),

	/* ---- Stopping and teardown. ---- */
	ROW(P(P_STOPPING_HOOK_UP), HOOKS, I(INTENT_KILL),
	    P(P_STOPPING_WAIT), act_kill_wait),
	ROW(P(P_STOPPING_HOOK_UP), HOOKS, ANY,
	    P(P_STOPPING_WAIT), act_ask_stop),
	ROW(WAITPOS, E(EV_STOP_TIMER), ANY,
	    SAME, act_escalate),
	ROW(P(P_STOPPING_WAIT), EXITS, ANY,
	    P(P_STOPPING_DESTROY), act_destroy),
	ROW(P(P_STOPPING_HOOK), HOOKS, ANY,
	    P(P_STOPPING_DESTROY), act_destroy),
	ROW(P(P_STOPPING_DESTROY) | P(P_RECOVER_DESTROY), HELPERS, ANY,
	    TEARDOWN, act_teardown),
	ROW(P(P_STOP_STORAGE_HOOK), HOOKS, ANY,
	    P(P_STOP_NETWORK_HOOK) | P(P_STOPPED_HOOK),
	    act_storage_torn_down),
	ROW(P(P_STOP_NETWORK_HOOK), HOOKS, ANY,
	    P(P_STOPPED_HOOK), act_network_torn_down),

	/* ---- Failing. ---- */
	ROW(P(P_FAILING_WAIT), EXITS, ANY,
	    P(P_FAILING_DESTROY), act_destroy),
	ROW(P(P_FAILING_DESTROY), HELPERS, ANY,
	    FAILDOWN, act_fail_teardown),
	ROW(P(P_FAIL_STORAGE_HOOK), HOOKS, ANY,
	    P(P_FAIL_NETWORK_HOOK) | P(P_FAILED_HOOK),
	    act_storage_torn_down),
	ROW(P(P_FAIL_NETWORK_HOOK), HOOKS, ANY,
	    P(P_FAILED_HOOK), act_network_torn_down),
	ROW(P(P_FAILED_HOOK), HOOKS, ANY,
	    P(P_FAILED), act_settle),
	ROW(P(P_FAILED_HOOK_RESET), HOOKS, ANY,
	    P(P_STOPPED_HOOK), act_failreset),

	/* ---- Taken back from a previous daemon. ---- */
	ROW(P(P_RECOVER_TASK), HOOKS | HELPERS, ANY,
	    P(P_STOPPED) | P(P_FAILED) | P(P_RUNNING) | P(P_STOPPING_HOOK_UP) |
	    P(P_FAILING_WAIT) | P(P_FAILING_DESTROY) | P(P_RECOVER_DESTROY),
	    act_recover),
	ROW(P(P_RECOVER_TASK), EXITS, ANY,
	    SAME, act_accept),

	/* ---- Dependencies (vmstated.conf(5): depends). ---- */
	ROW(P(P_STOPPED_DEPS), E(EV_DEPS_READY), I(INTENT_UP),
	    P(P_START_DESTROY) | P(P_NET_HOOK) | P(P_FAILED_HOOK) |
	    P(P_STOPPED), act_deps_ready),
	ROW(P(P_STOPPED_DEPS), E(EV_DEPS_READY) | E(EV_DEPS_FAILED), ANY,
	    P(P_STOPPED), act_deps_failed),
	ROW(P(P_RUNNING_DEPENDENTS), E(EV_DEPENDENTS_DOWN), ANY,
	    SAME | P(P_STOPPING_HOOK_UP), act_dependents_down),

	/* ---- The shutdown's deadline: whatever still runs is killed. ---- */
	ROW(P(P_RUNNING) | P(P_RUNNING_DEPENDENTS), E(EV_DEADLINE), ANY,
	    P(P_STOPPING_HOOK_UP), act_deadline_kill_now),
	ROW(P(P_NET_HOOK) | P(P_STORAGE_HOOK), E(EV_DEADLINE), ANY,
	    SAME, act_deadline_kill_task),
	ROW(UPPOS, E(EV_DEADLINE), ANY,
	    SAME, act_deadline_kill),
	ROW(ALLPOS, E(EV_DEADLINE), ANY,
	    SAME, act_accept),

	/* ---- A probe or watchdog that comes late changes nothing. ---- */
	ROW(ALLPOS, HEALTH | E(EV_DEPS_READY) | E(EV_DEPS_FAILED) |
	    E(EV_DEPENDENTS_DOWN), ANY,
	    SAME, act_accept),
};

#define VM_NROWS	(sizeof(vm_table) / sizeof(vm_table[0]))

static const char *const state_names[VM_NSTATES] = {
	"stopped", "start_network", "start_storage", "running", "restarting",
	"restarted", "stopping", "stop_storage", "stop_network", "failed",
};

static const char *const pos_names[VM_NPOS] = {
	"stopped:hook", "stopped", "stopped:destroy", "start_network:hook",
	"start_storage:hook", "start_storage:retry", "running:hook",
	"running:hook-exited", "running", "restarting:hook",
	"restarting:hook-exited", "restarting:wait", "restarting:destroy",
	"restarting:retry", "restarted:hook", "restarted:hook-exited",
	"stopping:hook", "stopping:hook-exited", "stopping:wait",
	"stopping:destroy", "stop_storage:hook", "stop_network:hook",
	"failing:wait", "failing:destroy", "stop_storage:failing",
	"stop_network:failing", "failed:hook", "failed:hook-reset",
	"failed", "recovering:task", "recovering:destroy",
	"stopped:dependencies", "running:dependents", "running:killed",
};

/* The state each position shows; VM_NSTATES: the one it was in. */
static const enum vm_state pos_states[VM_NPOS] = {
	[P_STOPPED_HOOK] = VM_STOPPED,
	[P_STOPPED] = VM_STOPPED,
	[P_START_DESTROY] = VM_STOPPED,
	[P_NET_HOOK] = VM_START_NETWORK,
	[P_STORAGE_HOOK] = VM_START_STORAGE,
	[P_START_RETRY] = VM_START_STORAGE,
	[P_RUNNING_HOOK] = VM_RUNNING,
	[P_RUNNING_HOOK_GONE] = VM_RUNNING,
	[P_RUNNING] = VM_RUNNING,
	[P_RESTART_HOOK_UP] = VM_RESTARTING,
	[P_RESTART_HOOK] = VM_RESTARTING,
	[P_RESTART_WAIT] = VM_RESTARTING,
	[P_RESTART_DESTROY] = VM_RESTARTING,
	[P_RESTART_RETRY] = VM_RESTARTING,
	[P_RESTARTED_HOOK] = VM_RESTARTED,
	[P_RESTARTED_HOOK_GONE] = VM_RESTARTED,
	[P_STOPPING_HOOK_UP] = VM_STOPPING,
	[P_STOPPING_HOOK] = VM_STOPPING,
	[P_STOPPING_WAIT] = VM_STOPPING,
	[P_STOPPING_DESTROY] = VM_STOPPING,
	[P_STOP_STORAGE_HOOK] = VM_STOP_STORAGE,
	[P_STOP_NETWORK_HOOK] = VM_STOP_NETWORK,
	[P_FAILING_WAIT] = VM_NSTATES,
	[P_FAILING_DESTROY] = VM_NSTATES,
	[P_FAIL_STORAGE_HOOK] = VM_STOP_STORAGE,
	[P_FAIL_NETWORK_HOOK] = VM_STOP_NETWORK,
	[P_FAILED_HOOK] = VM_FAILED,
	[P_FAILED_HOOK_RESET] = VM_FAILED,
	[P_FAILED] = VM_FAILED,
	[P_RECOVER_TASK] = VM_NSTATES,
	[P_RECOVER_DESTROY] = VM_NSTATES,
	[P_STOPPED_DEPS] = VM_STOPPED,
	[P_RUNNING_DEPENDENTS] = VM_RUNNING,
	[P_CRASH_KILL] = VM_RUNNING,
};

static const char *const event_names[VM_NEVENTS] = {
	"start", "stop", "restart", "kill", "failreset", "shutdown",
	"remove", "hook-ok", "hook-failed", "helper-ok", "helper-failed",
	"exit-reboot", "exit-off", "exit-crash", "stop-timer", "retry-timer",
	"stop-recursive", "deps-ready", "deps-failed", "dependents-down",
	"probe-failed", "watchdog", "deadline",
};

static const char *const intent_names[VM_NINTENTS] = {
	"up", "restart", "stop", "kill", "shutdown", "remove",
};

/* The reason of each intent, as hooks and logs see it. */
static const char *const intent_reasons[VM_NINTENTS] = {
	"request", "request", "request", "kill", "daemon-shutdown",
	"removed",
};

static void	vm_dispatch(struct vm *, struct vm_ctx *);
static void	vm_drain(struct vm *);

const char *
vm_state_name(enum vm_state s)
{
	return (s >= 0 && s < VM_NSTATES) ? state_names[s] : "unknown";
}

const char *
vm_pos_name(enum vm_pos p)
{
	return (p >= 0 && p < VM_NPOS) ? pos_names[p] : "unknown";
}

const char *
vm_event_name(enum vm_event e)
{
	return (e >= 0 && e < VM_NEVENTS) ? event_names[e] : "unknown";
}

const char *
vm_intent_name(enum vm_intent i)
{
	return (i >= 0 && i < VM_NINTENTS) ? intent_names[i] : "unknown";
}

enum vm_state
vm_pos_state(enum vm_pos p)
{
	return pos_states[p];
}

bool
vm_pos_by_name(const char *name, enum vm_pos *p)
{
	int	 i;

	for (i = 0; i < VM_NPOS; i++)
		if (strcmp(pos_names[i], name) == 0) {
			*p = (enum vm_pos)i;
			return true;
		}
	return false;
}

struct vm *
vm_new(struct vm_config *cfg, const struct vm_effects *fx)
{
	struct vm	*vm;
	size_t		 namelen = strlen(cfg->name) + 1;

	vm = xcalloc(1, sizeof(*vm) + namelen);
	memcpy(vm->name, cfg->name, namelen);
	vm->cfg = cfg;
	vm->hv = hv_ops_for(cfg->hypervisor);
	vm->fx = fx;
	vm->pos = P_STOPPED;
	vm->state = vm->previous = VM_STOPPED;
	vm->intent = INTENT_STOP;
	vm->intent_reason = "initial";
	vm->intent_uid = -1;
	vm->reason = "initial";
	vm->by_uid = -1;
	vm->log_fd = -1;
	vm->state_since = time(NULL);
	vm->loaded = fx->now();
	return vm;
}

static const struct vm_rare vm_rare_none;

struct vm_rare *
vm_rare(struct vm *vm)
{
	if (vm->rare == NULL)
		vm->rare = xcalloc(1, sizeof(*vm->rare));
	return vm->rare;
}

const struct vm_rare *
vm_rare_peek(const struct vm *vm)
{
	return vm->rare != NULL ? vm->rare : &vm_rare_none;
}

/* What vm_run_peek() shows of a VM that has no run part: nothing runs. */
static const struct vm_run vm_run_none = {
	.pid = -1,
	.watch_fd = -1,
	.task_pid = -1,
	.task_watch_fd = -1,
	.probe_pid = -1,
	.retry_delay = VM_RETRY_FIRST,
};

/* The VM's run part, allocated when it first needs one. */
struct vm_run *
vm_run(struct vm *vm)
{
	if (vm->run == NULL) {
		vm->run = xmalloc(sizeof(*vm->run));
		*vm->run = vm_run_none;
	}
	return vm->run;
}

/* Its run part to read: one with nothing running if it has none. */
const struct vm_run *
vm_run_peek(const struct vm *vm)
{
	return vm->run != NULL ? vm->run : &vm_run_none;
}

static void
vm_run_free(struct vm *vm)
{
	if (vm->run == NULL)
		return;
	free(vm->run->task_path);
	free(vm->run);
	vm->run = NULL;
}

/*
 * The run part goes once the VM is at rest and nothing in it runs: no
 * hypervisor, hook, helper or probe, no hook waiting to be tried again.
 * The world lets go of its events first, and keeps the part while a
 * console's client still reads.  Never called from within the VM's own
 * code (the supervisor defers it): callers up the stack may hold it.
 */
bool
vm_run_trim(struct vm *vm)
{
	const struct vm_run	*run = vm->run;

	if (run == NULL || !vm_at_rest(vm) || run->pid != -1 ||
	    run->task_pid != -1 || run->task_retry != NULL ||
	    run->probe_pid != -1)
		return false;
	if (!vm->fx->release(vm))
		return false;
	vm_run_free(vm);
	return true;
}

/* Free what vm.c owns; the caller released processes and descriptors. */
void
vm_free(struct vm *vm)
{
	if (vm == NULL)
		return;
	cfg_vm_free(vm->cfg);
	if (vm->rare != NULL) {
		cfg_vm_free(vm->rare->pending);
		free(vm->rare->reload_error);
		free(vm->rare);
	}
	free(vm->restarts);
	free(vm->last_exit);
	free(vm->fail_reason);
	vm_run_free(vm);
	free(vm);
}

bool
vm_at_rest(const struct vm *vm)
{
	return vm->pos == P_STOPPED || vm->pos == P_FAILED;
}

bool
vm_is_up(const struct vm *vm)
{
	return vm_run_peek(vm)->pid != -1;
}

void
vm_logf(struct vm *vm, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void
vm_logf(struct vm *vm, const char *fmt, ...)
{
	struct buf	 b;
	va_list		 ap;

	buf_init(&b);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	vm->fx->log(vm, b.data);
	buf_free(&b);
}

/* ---- The restart window (monotonic time). ---- */

/*
 * The restarts a VM's probe (or watchdog) asked for: on a VM with a
 * probe they count until the probe passes again, however long ago.  A
 * guest that hangs at every boot is found only after probe_failures
 * probes, which by default take longer than maxrestarttime: without this
 * it would restart for ever.  Reboots and crashes count by time alone
 * (a guest may reboot several times before it is healthy: updates).
 */
static bool
vm_health_restart(const struct vm *vm)
{
	return vm->has_probe && vm->reason != NULL &&
	    (strcmp(vm->reason, "probe-failed") == 0 ||
	    strcmp(vm->reason, "watchdog") == 0);
}

/* How many restarts are newer than cutoff. */
static int
vm_restarts_since(const struct vm *vm, double cutoff)
{
	int	 i, n = 0;

	for (i = 0; i < vm->nrestarts; i++)
		if (vm->restarts[i] > cutoff)
			n++;
	return n;
}

/*
 * Drop the restarts that can no longer count (older than the window, and
 * than the last passing probe); return how many are in the window.
 */
int
vm_restarts_in_window(struct vm *vm)
{
	double	 cutoff = vm->fx->now() - (double)vm->cfg->maxrestarttime;
	double	 keep = cutoff;
	int	 i, kept = 0;

	if (vm->has_probe && vm->probe_passed_at < keep)
		keep = vm->probe_passed_at;
	for (i = 0; i < vm->nrestarts; i++)
		if (vm->restarts[i] > keep)
			vm->restarts[kept++] = vm->restarts[i];
	vm->nrestarts = kept;
	return vm_restarts_since(vm, cutoff);
}

/*
 * The window holds a power of 2 of restarts, at least 4: full when the
 * count is one of those (the window may have shrunk since the array grew:
 * it is then reallocated no smaller than what it holds).
 */
static void
vm_record_restart(struct vm *vm, double when)
{
	int	 n = vm->nrestarts;

	if (n == 0 || (n >= 4 && (n & (n - 1)) == 0))
		vm->restarts = xrealloc(vm->restarts, (size_t)(n ? n * 2 : 4) *
		    sizeof(*vm->restarts));
	vm->restarts[vm->nrestarts++] = when;
}

/*
 * Count an automatic restart.  False when it would be the
 * (maxrestart+1)-th within maxrestarttime seconds -- or, for a restart
 * that the VM's probe asked for, since the probe last passed: the VM
 * fails instead.
 */
bool
vm_count_restart(struct vm *vm)
{
	bool	 health = vm_health_restart(vm);
	int	 n = vm_restarts_in_window(vm);

	if (health && vm->probe_passed_at < vm->fx->now() -
	    (double)vm->cfg->maxrestarttime)
		n = vm_restarts_since(vm, vm->probe_passed_at);
	else
		health = false;
	if (n >= vm->cfg->maxrestart) {
		if (health)
			vm_logf(vm, "%d restarts since its probe last passed "
			    "(maxrestart %lld); giving up", n,
			    (long long)vm->cfg->maxrestart);
		else
			vm_logf(vm, "%d restarts within %lld s (maxrestart "
			    "%lld); giving up", n,
			    (long long)vm->cfg->maxrestarttime,
			    (long long)vm->cfg->maxrestart);
		return false;
	}
	vm_record_restart(vm, vm->fx->now());
	return true;
}

/* ---- Intent. ---- */

/* Set the intent, unless shutdown or removal holds it.  True if set. */
bool
vm_want(struct vm *vm, enum vm_intent intent, struct vm_ctx *ctx)
{
	if ((I(vm->intent) & STICKY) && !(I(intent) & STICKY))
		return false;
	if (vm->intent == INTENT_REMOVE && intent == INTENT_SHUTDOWN)
		return false;
	vm->intent = intent;
	vm->intent_reason = ctx != NULL && ctx->reason != NULL &&
	    (intent == INTENT_UP || intent == INTENT_RESTART ||
	    intent == INTENT_STOP) ? ctx->reason : intent_reasons[intent];
	vm->intent_uid = ctx != NULL ? ctx->uid : -1;
	return true;
}

enum vm_intent
vm_intent_of(enum vm_event ev)
{
	switch (ev) {
	case EV_KILL:
		return INTENT_KILL;
	case EV_SHUTDOWN:
		return INTENT_SHUTDOWN;
	case EV_REMOVE:
		return INTENT_REMOVE;
	case EV_DEADLINE:
		return INTENT_KILL;
	default:
		return INTENT_STOP;
	}
}

/* A transition done for the intent: its reason, and who asked. */
void
vm_for_intent(struct vm *vm)
{
	vm->reason = vm->intent_reason;
	vm->by_uid = vm->intent_uid;
}

/* ---- Dispatching. ---- */

/* A short queue of events the actions raise for themselves (a hook that
 * does not exist is done at once). */
#define VM_QUEUE	8
static struct {
	struct vm	*vm;
	enum vm_event	 ev;
} vm_queue[VM_QUEUE];
static int	vm_queued;

void
vm_emit(struct vm *vm, enum vm_event ev)
{
	if (vm_queued == VM_QUEUE)
		fatalx("%s: event queue full", vm->name);
	vm_queue[vm_queued].vm = vm;
	vm_queue[vm_queued].ev = ev;
	vm_queued++;
}

static const struct vm_row *
vm_find_row(enum vm_pos pos, enum vm_event ev, enum vm_intent intent)
{
	size_t	 i;

	for (i = 0; i < VM_NROWS; i++)
		if ((vm_table[i].from & P(pos)) &&
		    (vm_table[i].events & E(ev)) &&
		    (vm_table[i].intents & I(intent)))
			return &vm_table[i];
	return NULL;
}

static bool
vm_pos_runs_hook(enum vm_pos p)
{
	return (HOOKPOS & P(p)) != 0;
}

/*
 * Move to position `next`.  Entering another state announces it; a
 * position with a hook starts the hook unless it is the same hook going
 * on (hook_goes_on).  Everything is recorded before a hook starts.
 */
static void
vm_move(struct vm *vm, enum vm_pos next, bool hook_goes_on)
{
	enum vm_pos	 old = vm->pos;
	enum vm_state	 from = vm->state, to = pos_states[next];
	bool		 start_hook;
	int		 r;

	if ((WAITPOS & P(old)) && !(WAITPOS & P(next)))
		vm->fx->timer(vm, VM_TIMER_STOP, -1);
	if ((RETRYPOS & P(old)) && !(RETRYPOS & P(next)))
		vm->fx->timer(vm, VM_TIMER_RETRY, -1);
	if (old == P_RUNNING && next != P_RUNNING)
		vm->fx->probe(vm, false);
	if (to == VM_NSTATES)
		to = from;
	start_hook = vm_pos_runs_hook(next) && !hook_goes_on;
	vm->pos = next;
	if (to != from || start_hook) {
		vm->previous = from;
		vm->state = to;
		vm->state_since = time(NULL);
		vm->fx->announce(vm, from, to);
		vm->by_uid = -1;
	}
	vm->fx->persist(vm);
	if (start_hook) {
		r = vm->fx->hook_start(vm);
		if (r == 0)
			vm_emit(vm, EV_HOOK_OK);
		else if (r == -1)
			vm_emit(vm, EV_HOOK_FAILED);
	}
	if (next == P_RUNNING && old != P_RUNNING)
		vm->fx->probe(vm, true);
	vm->fx->moved(vm);
}

bool
vm_is_request(enum vm_event ev)
{
	return ev <= EV_FAILRESET || ev == EV_STOP_RECURSIVE;
}

static void
vm_dispatch(struct vm *vm, struct vm_ctx *ctx)
{
	const struct vm_row	*row;
	enum vm_pos		 before = vm->pos, next;
	bool			 goes_on;

	row = vm_find_row(vm->pos, ctx->ev, vm->intent);
	if (row == NULL) {
		log_warnx("%s: unexpected %s in %s (intent %s); ignored",
		    vm->name, event_names[ctx->ev], pos_names[vm->pos],
		    intent_names[vm->intent]);
		vm_logf(vm, "unexpected %s in %s (intent %s); ignored",
		    event_names[ctx->ev], pos_names[vm->pos],
		    intent_names[vm->intent]);
		return;
	}
	next = row->action(vm, ctx);
	if (next == before && vm->pos == before) {
		if (!(row->to & (SAME | P(before))))
			fatalx("%s: %s stayed in %s on %s", vm->name,
			    row->name, pos_names[before],
			    event_names[ctx->ev]);
		return;
	}
	if (!(row->to & P(next)))
		fatalx("%s: %s led from %s to %s on %s, outside the table",
		    vm->name, row->name, pos_names[before], pos_names[next],
		    event_names[ctx->ev]);
	/* An event that arrives while a hook runs, other than its end,
	 * leaves that hook running. */
	goes_on = vm_pos_runs_hook(before) && ctx->ev != EV_HOOK_OK &&
	    ctx->ev != EV_HOOK_FAILED;
	vm_move(vm, next, goes_on);
}

/* Deliver what the actions raised, then tell the world of a VM at rest. */
static void
vm_drain(struct vm *vm)
{
	struct vm_ctx	 ctx;
	struct vm	*target;
	int		 i;

	while (vm_queued > 0) {
		target = vm_queue[0].vm;
		memset(&ctx, 0, sizeof(ctx));
		ctx.ev = vm_queue[0].ev;
		ctx.uid = -1;
		for (i = 1; i < vm_queued; i++)
			vm_queue[i - 1] = vm_queue[i];
		vm_queued--;
		vm_dispatch(target, &ctx);
	}
	if (vm_at_rest(vm))
		vm->fx->idle(vm);
}

int
vm_request(struct vm *vm, enum vm_event ev, long uid, const char *reason,
    struct buf *msg)
{
	struct vm_ctx	 ctx;
	struct buf	 scratch;

	buf_init(&scratch);
	memset(&ctx, 0, sizeof(ctx));
	ctx.ev = ev;
	ctx.uid = uid;
	ctx.reason = reason;
	ctx.msg = msg != NULL ? msg : &scratch;
	if (!vm_is_request(ev))
		fatalx("vm_request: %s is not a request", event_names[ev]);
	vm_dispatch(vm, &ctx);
	vm_drain(vm);
	buf_free(&scratch);
	return ctx.refused ? -1 : 0;
}

void
vm_event(struct vm *vm, enum vm_event ev)
{
	struct vm_ctx	 ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.ev = ev;
	ctx.uid = -1;
	vm_dispatch(vm, &ctx);
	vm_drain(vm);
}

enum vm_event
vm_exit_event(enum hv_exit kind)
{
	switch (kind) {
	case HV_EXIT_REBOOT:
		return EV_EXIT_REBOOT;
	case HV_EXIT_POWEROFF:
	case HV_EXIT_HALT:
		return EV_EXIT_OFF;
	case HV_EXIT_CRASH:
		break;
	}
	return EV_EXIT_CRASH;
}

/* The hypervisor has ended (vm->run->pid is -1 already). */
void
vm_exited(struct vm *vm, enum hv_exit kind, int status, bool known,
    const char *description)
{
	vm->exit_kind = (uint8_t)kind;
	vm->exit_status = status;
	vm->exit_known = known;
	free(vm->last_exit);
	xasprintf(&vm->last_exit, "%s (%s)", hv_exit_name(kind), description);
	vm_event(vm, vm_exit_event(kind));
}

/* ---- Taking a VM back from a previous daemon. ---- */

/*
 * Take a VM back from what a previous daemon recorded.  vm->run->pid is the
 * live hypervisor found for it and watched (vmproc_find, vmproc_adopt),
 * or -1; vm->run->task_pid the previous daemon's hook or helper if it still
 * runs (task_reclaim: it is being ended, and its end comes as an event),
 * or -1.
 */
void
vm_restore(struct vm *vm, const struct vm_record *rec)
{
	int	 i;

	/*
	 * Each came before this load.  The record keeps them in wall-clock
	 * time: a clock stepped back between the two daemons would put them
	 * in the future, where this daemon would count them as its own
	 * (metrics.c) and keep them in the window past maxrestarttime.
	 */
	for (i = 0; i < rec->nrestarts; i++)
		vm_record_restart(vm, rec->restarts[i] < vm->loaded ?
		    rec->restarts[i] : vm->loaded);
	vm->probe_passed_at = vm->fx->now();	/* no probe seen yet */
	if (rec->started_at != 0)
		vm_run(vm)->started_at = rec->started_at;
	free(vm->fail_reason);
	vm->fail_reason = rec->fail_reason ? xstrdup(rec->fail_reason) : NULL;
	free(vm->last_exit);
	vm->last_exit = rec->last_exit ? xstrdup(rec->last_exit) : NULL;
	vm->phases = rec->phases & (VM_PHASE_NETWORK | VM_PHASE_STORAGE);
	vm->state = vm->previous = rec->state;
	vm->recover_pos = rec->pos;
	vm->recover_intent = rec->intent;
	/* No opinion yet: requests that come while the previous daemon's
	 * hook ends say what happens (vm_recover_decide). */
	vm->intent = INTENT_UP;
	vm->intent_reason = "request";
	if (rec->task_done)
		vm_recovered_hook_done(vm);
	if (FAILEDPOS & P(rec->pos) && vm->fail_reason == NULL)
		vm->fail_reason = xstrdup("failed before the daemon restarted");
	vm->pos = P_RECOVER_TASK;
	if (vm_run_peek(vm)->task_pid != -1) {
		/* Hooks never overlap: the old one ends first. */
		vm_logf(vm, "waiting for %s left running by the previous "
		    "daemon (pid %ld) to end", vm->run->task_path ?
		    vm->run->task_path : "a hook", (long)vm->run->task_pid);
		vm->fx->persist(vm);
		vm->fx->moved(vm);
		return;
	}
	vm_move(vm, vm_recover_decide(vm), false);
	vm_drain(vm);
}

/* ---- The table, printed and checked. ---- */

struct vm_named_set {
	const char	*name;
	uint64_t	 mask;
};

static const struct vm_named_set pos_sets[] = {
	{ "*", ALLPOS },
	{ "teardown", TEARDOWN },
	{ "failing-teardown", FAILDOWN },
	{ "failed*", FAILEDPOS },
	{ "hypervisor-up", UPPOS },
	{ "waiting", WAITPOS },
};

static const struct vm_named_set event_sets[] = {
	{ "starts", STARTS },
	{ "downs", DOWNS },
	{ "stops", STOPS },
	{ "health", HEALTH },
	{ "hook-ends", HOOKS },
	{ "helper-ends", HELPERS },
	{ "exits", EXITS },
};

static const struct vm_named_set intent_sets[] = {
	{ "*", ANY },
	{ "upward", UPWARD },
	{ "downward", DOWNWARD },
	{ "gentle", GENTLE },
	{ "sticky", STICKY },
};

static void
vm_print_set(FILE *fp, uint64_t mask, const struct vm_named_set *sets,
    size_t nsets, const char *const *names, int n)
{
	size_t	 s;
	int	 i;
	bool	 first = true;

	for (s = 0; s < nsets; s++)
		if (sets[s].mask == mask) {
			fputs(sets[s].name, fp);
			return;
		}
	for (i = 0; i < n; i++)
		if (mask & (UINT64_C(1) << i)) {
			fprintf(fp, "%s%s", first ? "" : ",", names[i]);
			first = false;
		}
}

#define NSETS(a)	(sizeof(a) / sizeof(a[0]))

/*
 * vmstated -T: the table as vmstated(8) shows it, one row a line:
 *   positions + events [intents] -> positions : action
 */
void
vm_print_table(FILE *fp)
{
	size_t	 r, s;
	int	 i;
	bool	 first;

	fprintf(fp, "# Positions (state:what the VM waits for):\n");
	for (i = 0; i < VM_NPOS; i++)
		fprintf(fp, "#   %-28s shows %s\n", pos_names[i],
		    pos_states[i] == VM_NSTATES ? "the state it was in" :
		    state_names[pos_states[i]]);
	fprintf(fp, "# Sets:\n");
	for (s = 1; s < NSETS(pos_sets); s++) {
		fprintf(fp, "#   %s =", pos_sets[s].name);
		for (i = 0; i < VM_NPOS; i++)
			if (pos_sets[s].mask & P(i))
				fprintf(fp, " %s", pos_names[i]);
		fputc('\n', fp);
	}
	for (s = 0; s < NSETS(event_sets); s++) {
		fprintf(fp, "#   %s =", event_sets[s].name);
		for (i = 0; i < VM_NEVENTS; i++)
			if (event_sets[s].mask & E(i))
				fprintf(fp, " %s", event_names[i]);
		fputc('\n', fp);
	}
	for (s = 1; s < NSETS(intent_sets); s++) {
		fprintf(fp, "#   [%s] =", intent_sets[s].name);
		for (i = 0; i < VM_NINTENTS; i++)
			if (intent_sets[s].mask & I(i))
				fprintf(fp, " %s", intent_names[i]);
		fputc('\n', fp);
	}
	fprintf(fp, "# Rows: positions + events [intents] -> next : action;"
	    " the first match wins.\n");
	for (r = 0; r < VM_NROWS; r++) {
		const struct vm_row *row = &vm_table[r];

		vm_print_set(fp, row->from, pos_sets, NSETS(pos_sets),
		    pos_names, VM_NPOS);
		fputs(" + ", fp);
		vm_print_set(fp, row->events, event_sets, NSETS(event_sets),
		    event_names, VM_NEVENTS);
		fputs(" [", fp);
		vm_print_set(fp, row->intents, intent_sets,
		    NSETS(intent_sets), intent_names, VM_NINTENTS);
		fputs("] -> ", fp);
		first = true;
		if (row->to & SAME) {
			fputs("=", fp);
			first = false;
		}
		if ((row->to & ~SAME) != 0) {
			if (!first)
				fputc('|', fp);
			vm_print_set(fp, row->to & ~SAME, pos_sets,
			    NSETS(pos_sets), pos_names, VM_NPOS);
		}
		fprintf(fp, " : %s\n", row->name + 4);
	}
}

/*
 * The table is complete where it must be: every request and order gets an
 * answer in every position and intent; the end of a hook, of a helper, of
 * the hypervisor and the timers are expected wherever they can happen.
 */
int
vm_check_table(void)
{
	static const struct {
		uint64_t	 where;
		uint32_t	 events;
		unsigned	 intents;
	} must[] = {
		{ ALLPOS, STARTS | DOWNS | E(EV_FAILRESET), ANY },
		{ HOOKPOS, HOOKS, ANY },
		{ P(P_RECOVER_TASK), HOOKS | HELPERS, ANY },
		{ P(P_START_DESTROY) | P(P_RESTART_DESTROY) |
		    P(P_STOPPING_DESTROY) | P(P_FAILING_DESTROY) |
		    P(P_RECOVER_DESTROY), HELPERS, ANY },
		{ UPPOS, EXITS, ANY },
		{ WAITPOS, E(EV_STOP_TIMER), ANY },
		{ RETRYPOS, E(EV_RETRY_TIMER), UPWARD },
		{ P(P_STOPPED_DEPS), E(EV_DEPS_READY) | E(EV_DEPS_FAILED),
		    ANY },
		{ P(P_RUNNING_DEPENDENTS), E(EV_DEPENDENTS_DOWN), ANY },
		{ ALLPOS, E(EV_DEADLINE) | HEALTH, ANY },
	};
	size_t	 m;
	int	 p, e, i, errors = 0;

	for (m = 0; m < NSETS(must); m++)
		for (p = 0; p < VM_NPOS; p++)
			for (e = 0; e < VM_NEVENTS; e++)
				for (i = 0; i < VM_NINTENTS; i++) {
					if (!(must[m].where & P(p)) ||
					    !(must[m].events & E(e)) ||
					    !(must[m].intents & I(i)))
						continue;
					if (vm_find_row((enum vm_pos)p,
					    (enum vm_event)e,
					    (enum vm_intent)i) != NULL)
						continue;
					fprintf(stderr, "vm table: no row for %s "
					    "+ %s [%s]\n", pos_names[p],
					    event_names[e], intent_names[i]);
					errors++;
				}
	return errors ? -1 : 0;
}
