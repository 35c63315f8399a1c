/*
 * vm_actions.c: the actions of the state machine's table (vm.c).  Each
 * acts on the world only through vm->fx and returns the position the VM
 * moves to; vm.c checks that the table allows it.
 */
#include <sys/types.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vm_machine.h"

static enum vm_pos	vm_destroy_then(struct vm *, enum vm_pos);
static enum vm_pos	vm_start_now(struct vm *);

/* ---- Refusals: each names the VM and says what to do. ---- */

static enum vm_pos
vm_refuse(struct vm *vm, struct vm_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum vm_pos
vm_refuse(struct vm *vm, struct vm_ctx *ctx, const char *fmt, ...)
{
	va_list	 ap;

	ctx->refused = true;
	if (ctx->msg != NULL) {
		va_start(ap, fmt);
		buf_vprintf(ctx->msg, fmt, ap);
		va_end(ap);
	}
	return vm->pos;
}

enum vm_pos
act_refuse_sticky(struct vm *vm, struct vm_ctx *ctx)
{
	if (vm->intent == INTENT_REMOVE)
		return vm_refuse(vm, ctx, "%s was removed from the "
		    "configuration and is being stopped; only stop and kill "
		    "apply to it", vm->name);
	return vm_refuse(vm, ctx, "%s: vmstated is shutting down; not "
	    "starting it", vm->name);
}

enum vm_pos
act_refuse_busy(struct vm *vm, struct vm_ctx *ctx)
{
	return vm_refuse(vm, ctx, "%s is busy (state %s); wait until it is "
	    "running or stopped, or use kill", vm->name,
	    vm_state_name(vm->state));
}

enum vm_pos
act_refuse_running(struct vm *vm, struct vm_ctx *ctx)
{
	return vm_refuse(vm, ctx, "%s is already running (pid %ld); use "
	    "restart to restart it", vm->name, (long)vm_run_peek(vm)->pid);
}

enum vm_pos
act_refuse_failed(struct vm *vm, struct vm_ctx *ctx)
{
	return vm_refuse(vm, ctx, "%s is failed (%s); run 'vmstatedctl "
	    "failreset %s' first", vm->name,
	    vm->fail_reason ? vm->fail_reason : "failed", vm->name);
}

enum vm_pos
act_refuse_not_running(struct vm *vm, struct vm_ctx *ctx)
{
	return vm_refuse(vm, ctx, "%s is not running (state %s); nothing to "
	    "%s", vm->name, vm_state_name(vm->state),
	    vm->state == VM_FAILED ? "stop; use failreset to clear failed" :
	    "stop");
}

enum vm_pos
act_refuse_not_failed(struct vm *vm, struct vm_ctx *ctx)
{
	return vm_refuse(vm, ctx, "%s is not failed (state %s); failreset "
	    "only applies to a failed VM", vm->name,
	    vm_state_name(vm->state));
}

/* ---- Requests that are accepted. ---- */

enum vm_pos
act_accept(struct vm *vm, struct vm_ctx *ctx)
{
	return vm->pos;
}

/* Stop, kill, shutdown or removal, acted on when the current step ends
 * (or already under way). */
enum vm_pos
act_want_down(struct vm *vm, struct vm_ctx *ctx)
{
	enum vm_intent	 old = vm->intent;
	struct buf	 names;

	/* A VM that others need stops only after them (stop -r). */
	buf_init(&names);
	if (ctx->ev == EV_STOP && vm_is_up(vm) &&
	    vm->fx->dependents_up(vm, &names)) {
		vm_refuse(vm, ctx, "%s is needed by %s, which run%s; stop %s "
		    "first, or use stop -r to stop them with it", vm->name,
		    names.data, strchr(names.data, ',') ? "" : "s",
		    strchr(names.data, ',') ? "them" : "it");
		buf_free(&names);
		return vm->pos;
	}
	buf_free(&names);
	if (ctx->ev == EV_STOP_RECURSIVE)
		vm->fx->stop_dependents(vm);
	vm_want(vm, vm_intent_of(ctx->ev), ctx);
	if (vm->intent != old && !vm_at_rest(vm) && vm->pos != P_STOPPED_HOOK
	    && !(FAILEDPOS & P(vm->pos)))
		vm_logf(vm, "%s asked in %s: acted on when the current step "
		    "ends", vm_event_name(ctx->ev), vm_pos_name(vm->pos));
	return vm->pos;
}

enum vm_pos
act_want_restart(struct vm *vm, struct vm_ctx *ctx)
{
	vm_want(vm, INTENT_RESTART, ctx);
	vm_logf(vm, "restart waits for the %s hook to finish",
	    vm_state_name(vm->state));
	return vm->pos;
}

/* A start while the stopped hook still runs: it starts when that ends. */
enum vm_pos
act_queue_start(struct vm *vm, struct vm_ctx *ctx)
{
	vm_want(vm, INTENT_UP, ctx);
	vm_logf(vm, "%s waits for the stopped hook to finish",
	    vm_event_name(ctx->ev));
	return vm->pos;
}

/* A stop or kill after a start that waits for the stopped hook: the
 * later request wins. */
enum vm_pos
act_cancel_start(struct vm *vm, struct vm_ctx *ctx)
{
	vm_want(vm, INTENT_STOP, ctx);
	vm_logf(vm, "the waiting start is cancelled by %s",
	    vm_event_name(ctx->ev));
	return vm->pos;
}

static void
vm_take_pending_config(struct vm *vm)
{
	struct vm_config	*old;

	if (vm_rare_peek(vm)->pending == NULL)
		return;
	old = vm->cfg;
	vm->cfg = vm->rare->pending;
	vm->rare->pending = NULL;
	vm->fx->config_changed(vm, old);
	cfg_vm_free(old);
	vm_logf(vm, "configuration changed by reload now in force");
}

static void
vm_clear_exit(struct vm *vm)
{
	vm->exit_known = false;
	vm->exit_status = 0;
}

/*
 * Begin a start: a leftover instance is destroyed first (if there is
 * one), then start_network.  Used by the request and by a start that
 * waited for the stopped hook.  VM_NPOS when the VM cannot start, with
 * the reason in why.
 */
static enum vm_pos
vm_begin_start(struct vm *vm, const char *reason, long uid, struct buf *why)
{
	int		 r;

	vm_take_pending_config(vm);
	if (vm->fx->start_check(vm, why) == -1) {
		vm_logf(vm, "not starting: %s", why->data);
		log_warnx("%s: not starting: %s", vm->name, why->data);
		return VM_NPOS;
	}
	vm->intent = INTENT_UP;
	vm->intent_reason = reason;
	vm->intent_uid = uid;
	vm->reason = reason;
	vm->by_uid = uid;
	free(vm->fail_reason);
	vm->fail_reason = NULL;
	if (vm->run != NULL)
		vm->run->retry_delay = VM_RETRY_FIRST;
	vm->probe_passed_at = vm->fx->now();	/* a new start: vm.c */
	vm_clear_exit(vm);
	/* What it needs first (depends): started, and waited for. */
	if ((r = vm->fx->deps_ready(vm, why)) == -1) {
		vm->intent = INTENT_STOP;
		vm_logf(vm, "not starting: %s", why->data);
		return VM_NPOS;
	}
	if (r == 0) {
		vm_logf(vm, "waiting for the VMs it depends on to be ready");
		return P_STOPPED_DEPS;
	}
	return vm_start_now(vm);
}

/* Destroy a leftover instance, if any, then start_network. */
static enum vm_pos
vm_start_now(struct vm *vm)
{
	int	 r;

	r = vm->fx->destroy_start(vm);
	if (r == 1)
		return P_START_DESTROY;
	if (r == -1) {
		vm->fail_reason = xstrdup("start-failed");
		vm->reason = "start-failed";
		return P_FAILED_HOOK;
	}
	vm->phases |= VM_PHASE_NETWORK;
	return P_NET_HOOK;
}

enum vm_pos
act_start(struct vm *vm, struct vm_ctx *ctx)
{
	struct buf	 why;
	enum vm_pos	 next;

	buf_init(&why);
	next = vm_begin_start(vm, ctx->reason ? ctx->reason : "request",
	    ctx->uid, &why);
	if (next == VM_NPOS)
		next = vm_refuse(vm, ctx, "%s", why.data);
	buf_free(&why);
	return next;
}

/* The stopped hook has ended and a start waited for it. */
enum vm_pos
act_start_queued(struct vm *vm, struct vm_ctx *ctx)
{
	struct buf	 why;
	enum vm_pos	 next;

	buf_init(&why);
	next = vm_begin_start(vm, vm->intent_reason, vm->intent_uid, &why);
	buf_free(&why);
	if (next == VM_NPOS) {
		vm->intent = INTENT_STOP;
		next = P_STOPPED;
	}
	return next;
}

enum vm_pos
act_begin_network(struct vm *vm, struct vm_ctx *ctx)
{
	vm->phases |= VM_PHASE_NETWORK;
	return P_NET_HOOK;
}

enum vm_pos
act_start_failed(struct vm *vm, struct vm_ctx *ctx)
{
	vm_logf(vm, "cannot start: the old instance could not be destroyed");
	free(vm->fail_reason);
	vm->fail_reason = xstrdup("start-failed");
	vm->reason = "start-failed";
	return P_FAILED_HOOK;
}

enum vm_pos
act_network_done(struct vm *vm, struct vm_ctx *ctx)
{
	vm->phases |= VM_PHASE_STORAGE;
	return P_STORAGE_HOOK;
}

/* The first stop hook of the phases begun, or the end. */
static enum vm_pos
vm_teardown_next(struct vm *vm, bool failing)
{
	if (vm->phases & VM_PHASE_STORAGE)
		return failing ? P_FAIL_STORAGE_HOOK : P_STOP_STORAGE_HOOK;
	if (vm->phases & VM_PHASE_NETWORK)
		return failing ? P_FAIL_NETWORK_HOOK : P_STOP_NETWORK_HOOK;
	return failing ? P_FAILED_HOOK : P_STOPPED_HOOK;
}

/* Giving up: the VM is to end in failed, for reason. */
static void
vm_give_up(struct vm *vm, const char *reason)
{
	vm_want(vm, INTENT_STOP, NULL);
	log_warnx("%s: failing (%s)", vm->name, reason);
	free(vm->fail_reason);
	vm->fail_reason = xstrdup(reason);
	vm->reason = vm->fail_reason;
	vm->by_uid = -1;
}

/* Something failed with no hypervisor left: tear down, then failed. */
static enum vm_pos
vm_fail_teardown(struct vm *vm, const char *reason)
{
	vm_give_up(vm, reason);
	return vm_teardown_next(vm, true);
}

/*
 * The same after a hypervisor may have left its instance (kept for a
 * reboot, see act_destroy): destroy it first, if it is there.
 */
static enum vm_pos
vm_fail_destroy(struct vm *vm, const char *reason)
{
	vm_give_up(vm, reason);
	return vm_destroy_then(vm, P_FAILING_DESTROY);
}

enum vm_pos
act_start_hook_failed(struct vm *vm, struct vm_ctx *ctx)
{
	return vm_fail_teardown(vm, "hook-failed");
}

enum vm_pos
act_teardown(struct vm *vm, struct vm_ctx *ctx)
{
	if (vm->pos == P_NET_HOOK || vm->pos == P_STORAGE_HOOK)
		vm_for_intent(vm);
	return vm_teardown_next(vm, false);
}

enum vm_pos
act_fail_teardown(struct vm *vm, struct vm_ctx *ctx)
{
	vm->reason = vm->fail_reason ? vm->fail_reason : "failed";
	return vm_teardown_next(vm, true);
}

/*
 * Execute the hypervisor.  A failure for lack of resources (descriptors,
 * processes, memory) is retried after a delay, each retry counted like a
 * crash, so that only the restart window can fail the VM; any other
 * failure fails it at once.
 */
static enum vm_pos
vm_spawn(struct vm *vm, enum vm_pos ok, enum vm_pos retry)
{
	struct vm_run	*run;
	struct buf	 why;
	int		 r;

	buf_init(&why);
	vm_clear_exit(vm);
	r = vm->fx->spawn(vm, &why);
	if (r == 0) {
		buf_free(&why);
		vm_run(vm)->retry_delay = VM_RETRY_FIRST;
		return ok;
	}
	vm_logf(vm, "cannot start: %s", why.data);
	log_warnx("%s: cannot start: %s", vm->name, why.data);
	buf_free(&why);
	if (r == -2) {
		run = vm_run(vm);
		vm_logf(vm, "trying again in %g s", run->retry_delay);
		vm->fx->timer(vm, VM_TIMER_RETRY, run->retry_delay);
		run->retry_delay *= 2;
		if (run->retry_delay > VM_RETRY_MAX)
			run->retry_delay = VM_RETRY_MAX;
		return retry;
	}
	return vm_fail_destroy(vm, "start-failed");
}

enum vm_pos
act_spawn(struct vm *vm, struct vm_ctx *ctx)
{
	return vm_spawn(vm, P_RUNNING_HOOK, P_START_RETRY);
}

enum vm_pos
act_spawn_retry(struct vm *vm, struct vm_ctx *ctx)
{
	if (!vm_count_restart(vm))
		return vm_fail_teardown(vm, "restart-limit");
	return vm_spawn(vm, P_RUNNING_HOOK, P_START_RETRY);
}

/* A stop while a start waits to retry its spawn: tear down now. */
enum vm_pos
act_retry_teardown(struct vm *vm, struct vm_ctx *ctx)
{
	vm_want(vm, vm_intent_of(ctx->ev), ctx);
	vm_for_intent(vm);
	return vm_teardown_next(vm, false);
}

enum vm_pos
act_retry_stopping(struct vm *vm, struct vm_ctx *ctx)
{
	vm_want(vm, vm_intent_of(ctx->ev), ctx);
	vm_for_intent(vm);
	return P_STOPPING_HOOK;
}

/* ---- Running. ---- */

enum vm_pos
act_settle(struct vm *vm, struct vm_ctx *ctx)
{
	switch (vm->pos) {
	case P_STOPPED_HOOK:
	case P_START_DESTROY:
		return P_STOPPED;
	case P_RUNNING_HOOK:
		return P_RUNNING;
	default:
		return P_FAILED;
	}
}

enum vm_pos
act_enter_running(struct vm *vm, struct vm_ctx *ctx)
{
	return P_RUNNING_HOOK;
}

enum vm_pos
act_stop_now(struct vm *vm, struct vm_ctx *ctx)
{
	struct buf	 names;
	bool		 wait;

	if (vm_is_request(ctx->ev) || ctx->ev == EV_SHUTDOWN ||
	    ctx->ev == EV_REMOVE)
		vm_want(vm, vm_intent_of(ctx->ev), ctx);
	vm_for_intent(vm);
	/* The VMs that need it stop first (a removal does not wait: their
	 * configurations name a VM that is gone). */
	buf_init(&names);
	wait = vm->pos != P_RESTART_HOOK_UP && (vm->intent == INTENT_STOP ||
	    vm->intent == INTENT_SHUTDOWN) && vm->fx->dependents_up(vm, &names);
	if (wait)
		vm_logf(vm, "stops once %s, which need%s it, %s stopped",
		    names.data, strchr(names.data, ',') ? "" : "s",
		    strchr(names.data, ',') ? "have" : "has");
	buf_free(&names);
	return wait ? P_RUNNING_DEPENDENTS : P_STOPPING_HOOK_UP;
}

/* stop (not -r) of a running VM: refused while VMs that need it run. */
enum vm_pos
act_stop_request(struct vm *vm, struct vm_ctx *ctx)
{
	enum vm_pos	 p = act_want_down(vm, ctx);

	if (ctx->refused)
		return p;
	return act_stop_now(vm, ctx);
}

/* stop -r: the VMs that need it are stopped, then it. */
enum vm_pos
act_stop_recursive(struct vm *vm, struct vm_ctx *ctx)
{
	vm->fx->stop_dependents(vm);
	return act_stop_now(vm, ctx);
}

enum vm_pos
act_dependents_down(struct vm *vm, struct vm_ctx *ctx)
{
	struct buf	 names;
	bool		 up;

	buf_init(&names);
	up = vm->fx->dependents_up(vm, &names);
	buf_free(&names);
	if (up)
		return vm->pos;
	vm_for_intent(vm);
	return P_STOPPING_HOOK_UP;
}

/* ---- Dependencies. ---- */

enum vm_pos
act_cancel_deps(struct vm *vm, struct vm_ctx *ctx)
{
	vm_want(vm, vm_intent_of(ctx->ev), ctx);
	vm_logf(vm, "the start that waited for its dependencies is "
	    "cancelled by %s", vm_event_name(ctx->ev));
	return P_STOPPED;
}

enum vm_pos
act_deps_ready(struct vm *vm, struct vm_ctx *ctx)
{
	struct buf	 why;
	enum vm_pos	 next;
	int		 r;

	buf_init(&why);
	r = vm->fx->deps_ready(vm, &why);
	if (r == -1)
		vm_logf(vm, "not starting: %s", why.data);
	buf_free(&why);
	if (r == 0)
		return vm->pos;		/* one went down meanwhile */
	if (r == -1) {
		vm->intent = INTENT_STOP;
		return P_STOPPED;
	}
	vm_logf(vm, "the VMs it depends on are ready");
	next = vm_start_now(vm);
	return next;
}

enum vm_pos
act_deps_failed(struct vm *vm, struct vm_ctx *ctx)
{
	struct buf	 why;

	buf_init(&why);
	(void)vm->fx->deps_ready(vm, &why);
	vm_logf(vm, "not starting: %s", why.len ? why.data :
	    "a VM it depends on cannot be started");
	log_warnx("%s: not starting: %s", vm->name, why.len ? why.data :
	    "a VM it depends on cannot be started");
	buf_free(&why);
	vm_want(vm, INTENT_STOP, NULL);
	return P_STOPPED;
}

/* ---- Health: a probe that keeps failing, a watchdog that fired. ---- */

enum vm_pos
act_crash_kill(struct vm *vm, struct vm_ctx *ctx)
{
	vm->reason = ctx->ev == EV_WATCHDOG ? "watchdog" : "probe-failed";
	vm->by_uid = -1;
	vm_logf(vm, "%s: killing pid %ld; it restarts as after a crash",
	    ctx->ev == EV_WATCHDOG ? "the guest's watchdog fired" :
	    "its probe failed too often", (long)vm_run_peek(vm)->pid);
	log_warnx("%s: %s: killing it", vm->name, vm->reason);
	vm->fx->signal(vm, SIGKILL);
	return P_CRASH_KILL;
}

/* The watchdog fired while the running or restarted hook runs: qemu
 * reports it once, so it cannot wait.  The hypervisor is killed; its exit
 * is a crash once the hook has ended. */
enum vm_pos
act_watchdog_kill(struct vm *vm, struct vm_ctx *ctx)
{
	vm_logf(vm, "the guest's watchdog fired during the %s hook: killing "
	    "pid %ld; it restarts as after a crash once the hook has ended",
	    vm_state_name(vm->state), (long)vm_run_peek(vm)->pid);
	log_warnx("%s: watchdog: killing it", vm->name);
	vm->fx->signal(vm, SIGKILL);
	return vm->pos;
}

/* The hypervisor killed for its health is gone: restart, counted. */
enum vm_pos
act_killed_restart(struct vm *vm, struct vm_ctx *ctx)
{
	return P_RESTART_HOOK;		/* vm->reason set by act_crash_kill */
}

/* ---- The shutdown's deadline. ---- */

static void
vm_deadline_mark(struct vm *vm)
{
	if (!vm->deadline_killed)
		vm_logf(vm, "the shutdown's deadline has come: killed");
	vm->deadline_killed = true;
}

enum vm_pos
act_deadline_kill_now(struct vm *vm, struct vm_ctx *ctx)
{
	vm_deadline_mark(vm);
	if (vm_is_up(vm))
		vm->fx->signal(vm, SIGKILL);
	vm->reason = "daemon-shutdown";
	vm->by_uid = -1;
	return P_STOPPING_HOOK_UP;
}

enum vm_pos
act_deadline_kill(struct vm *vm, struct vm_ctx *ctx)
{
	vm_deadline_mark(vm);
	if (vm_is_up(vm))
		vm->fx->signal(vm, SIGKILL);
	return vm->pos;
}

enum vm_pos
act_deadline_kill_task(struct vm *vm, struct vm_ctx *ctx)
{
	vm_deadline_mark(vm);
	vm->fx->task_signal(vm, SIGKILL);
	return vm->pos;
}

enum vm_pos
act_kill_now(struct vm *vm, struct vm_ctx *ctx)
{
	if (ctx->ev == EV_KILL)
		vm_want(vm, INTENT_KILL, ctx);
	if (vm_is_up(vm))
		vm->fx->signal(vm, SIGKILL);
	vm->reason = "kill";
	vm->by_uid = ctx->ev == EV_KILL ? ctx->uid : vm->intent_uid;
	return P_STOPPING_HOOK_UP;
}

/* kill while the hypervisor runs and something else is under way: it
 * dies now, and its end is handled as the row for the exit says. */
enum vm_pos
act_kill_hv(struct vm *vm, struct vm_ctx *ctx)
{
	vm_want(vm, INTENT_KILL, ctx);
	if (vm_is_up(vm)) {
		vm_logf(vm, "kill: sending SIGKILL to pid %ld",
		    (long)vm_run_peek(vm)->pid);
		vm->fx->signal(vm, SIGKILL);
	}
	return vm->pos;
}

/* kill while a start hook runs: end the hook now, then tear down. */
enum vm_pos
act_kill_task(struct vm *vm, struct vm_ctx *ctx)
{
	vm_want(vm, INTENT_KILL, ctx);
	vm_logf(vm, "kill: ending the %s hook", vm_state_name(vm->state));
	vm->fx->task_signal(vm, SIGKILL);
	return vm->pos;
}

enum vm_pos
act_restart_now(struct vm *vm, struct vm_ctx *ctx)
{
	if (ctx->ev == EV_RESTART)
		vm_want(vm, INTENT_RESTART, ctx);
	vm_for_intent(vm);
	return P_RESTART_HOOK_UP;
}

/* A hook failed while the hypervisor runs: kill it, then tear down. */
enum vm_pos
act_fail_kill(struct vm *vm, struct vm_ctx *ctx)
{
	vm_want(vm, INTENT_STOP, NULL);		/* giving up */
	log_warnx("%s: failing (hook-failed)", vm->name);
	free(vm->fail_reason);
	vm->fail_reason = xstrdup("hook-failed");
	vm_logf(vm, "failing (hook-failed): killing the hypervisor");
	if (vm_is_up(vm))
		vm->fx->signal(vm, SIGKILL);
	return P_FAILING_WAIT;
}

enum vm_pos
act_fail_destroy(struct vm *vm, struct vm_ctx *ctx)
{
	vm_want(vm, INTENT_STOP, NULL);		/* giving up */
	free(vm->fail_reason);
	vm->fail_reason = xstrdup("hook-failed");
	log_warnx("%s: failing (hook-failed)", vm->name);
	vm_logf(vm, "failing (hook-failed)");
	return vm_destroy_then(vm, P_FAILING_DESTROY);
}

enum vm_pos
act_note_exit(struct vm *vm, struct vm_ctx *ctx)
{
	switch (vm->pos) {
	case P_RUNNING_HOOK:
		vm_logf(vm, "the exit is handled once the running hook has "
		    "ended");
		return P_RUNNING_HOOK_GONE;
	case P_RESTARTED_HOOK:
		vm_logf(vm, "the exit is handled once the restarted hook has "
		    "ended");
		return P_RESTARTED_HOOK_GONE;
	case P_RESTART_HOOK_UP:
		return P_RESTART_HOOK;
	default:
		return P_STOPPING_HOOK;
	}
}

/* The hook during which the hypervisor ended is done: handle the exit. */
enum vm_pos
act_replay_exit(struct vm *vm, struct vm_ctx *ctx)
{
	vm_emit(vm, vm_exit_event(vm->exit_kind));
	return P_RUNNING;
}

/* The guest rebooted or the hypervisor crashed: restart, counted. */
enum vm_pos
act_auto_restart(struct vm *vm, struct vm_ctx *ctx)
{
	vm->reason = vm->exit_kind == HV_EXIT_REBOOT ? "guest-reboot" :
	    "crash";
	vm->by_uid = -1;
	return P_RESTART_HOOK;
}

enum vm_pos
act_guest_off(struct vm *vm, struct vm_ctx *ctx)
{
	vm->reason = vm->exit_kind == HV_EXIT_HALT ? "guest-halt" :
	    "guest-poweroff";
	vm->by_uid = -1;
	vm_want(vm, INTENT_STOP, NULL);
	vm->intent_reason = vm->reason;
	return P_STOPPING_HOOK;
}

/* A restart was asked and the hypervisor ended meanwhile. */
enum vm_pos
act_restart_gone(struct vm *vm, struct vm_ctx *ctx)
{
	vm_for_intent(vm);
	return P_RESTART_HOOK;
}

/* ---- Stopping. ---- */

static void
vm_arm_stop_timer(struct vm *vm, double seconds)
{
	vm_run(vm)->stop_wait = seconds;
	vm->fx->timer(vm, VM_TIMER_STOP, seconds);
}

/* Ask the guest to stop and arm the escalation timer. */
enum vm_pos
act_ask_stop(struct vm *vm, struct vm_ctx *ctx)
{
	enum vm_pos	 next = vm->pos == P_RESTART_HOOK_UP ?
	    P_RESTART_WAIT : P_STOPPING_WAIT;

	if (!vm_is_up(vm))		/* cannot happen: the row says up */
		fatalx("%s: asking a stopped hypervisor to stop", vm->name);
	vm_run(vm)->stop_stage = vm->fx->ask_stop(vm);
	vm_arm_stop_timer(vm, (double)vm->cfg->stoptimeout);
	return next;
}

enum vm_pos
act_kill_wait(struct vm *vm, struct vm_ctx *ctx)
{
	if (vm_is_up(vm))
		vm->fx->signal(vm, SIGKILL);
	vm_run(vm)->stop_stage = 2;
	return P_STOPPING_WAIT;
}

/* The stop timer: SIGTERM after stoptimeout, SIGKILL after that. */
enum vm_pos
act_escalate(struct vm *vm, struct vm_ctx *ctx)
{
	struct vm_run	*run = vm_run(vm);

	if (!vm_is_up(vm))
		return vm->pos;
	if (run->stop_stage == 0) {
		vm_logf(vm, "did not stop within %lld s; sending SIGTERM",
		    (long long)vm->cfg->stoptimeout);
		run->stop_stage = 1;
		vm->fx->signal(vm, SIGTERM);
		vm_arm_stop_timer(vm, VM_KILL_GRACE);
	} else if (run->stop_stage == 1) {
		vm_logf(vm, "did not stop within %g s; sending SIGKILL",
		    run->stop_wait);
		run->stop_stage = 2;
		vm->fx->signal(vm, SIGKILL);
	}
	return vm->pos;
}

/* The hypervisor is gone (or never ran): enter stopping for the intent. */
enum vm_pos
act_stopping_gone(struct vm *vm, struct vm_ctx *ctx)
{
	vm_for_intent(vm);
	return P_STOPPING_HOOK;
}

/* Destroy the instance (if the back end has one), then `next`: the
 * helper's end is an event. */
static enum vm_pos
vm_destroy_then(struct vm *vm, enum vm_pos next)
{
	int		 r;

	r = vm->fx->destroy_start(vm);
	if (r == 0)
		vm_emit(vm, EV_HELPER_OK);
	else if (r == -1)
		vm_emit(vm, EV_HELPER_FAILED);
	return next;
}

enum vm_pos
act_destroy(struct vm *vm, struct vm_ctx *ctx)
{
	switch (vm->pos) {
	case P_RESTART_HOOK:
	case P_RESTART_WAIT:
	case P_RESTART_RETRY:
		/* The guest rebooted and nothing was asked: what the
		 * hypervisor reuses stays, as bhyve's vmrun.sh leaves it. */
		if (vm->intent == INTENT_UP &&
		    vm->exit_kind == HV_EXIT_REBOOT &&
		    vm->fx->instance_reusable(vm)) {
			vm_logf(vm, "the instance stays for the reboot: the "
			    "hypervisor reuses it");
			vm_emit(vm, EV_HELPER_OK);
			return P_RESTART_DESTROY;
		}
		return vm_destroy_then(vm, P_RESTART_DESTROY);
	case P_FAILING_WAIT:
		return vm_destroy_then(vm, P_FAILING_DESTROY);
	default:
		return vm_destroy_then(vm, P_STOPPING_DESTROY);
	}
}

enum vm_pos
act_storage_torn_down(struct vm *vm, struct vm_ctx *ctx)
{
	vm->phases &= ~VM_PHASE_STORAGE;
	return vm_teardown_next(vm, vm->pos == P_FAIL_STORAGE_HOOK);
}

enum vm_pos
act_network_torn_down(struct vm *vm, struct vm_ctx *ctx)
{
	vm->phases &= ~VM_PHASE_NETWORK;
	return vm_teardown_next(vm, vm->pos == P_FAIL_NETWORK_HOOK);
}

/* ---- Restarting. ---- */

enum vm_pos
act_respawn(struct vm *vm, struct vm_ctx *ctx)
{
	if (!vm_count_restart(vm))
		return vm_fail_destroy(vm, "restart-limit");
	return vm_spawn(vm, P_RESTARTED_HOOK, P_RESTART_RETRY);
}

/* A restart the administrator asked for: not counted, and it takes a
 * configuration changed by reload. */
enum vm_pos
act_respawn_asked(struct vm *vm, struct vm_ctx *ctx)
{
	vm->intent = INTENT_UP;
	vm_take_pending_config(vm);
	return vm_spawn(vm, P_RESTARTED_HOOK, P_RESTART_RETRY);
}

/*
 * The respawn's next try: an instance kept for the reboot is judged
 * again, since the configfile may have lost its bootrom meanwhile (the
 * next bhyve would take the instance as bhyveload left it); act_respawn
 * follows.
 */
enum vm_pos
act_respawn_retry(struct vm *vm, struct vm_ctx *ctx)
{
	return act_destroy(vm, ctx);
}

enum vm_pos
act_destroy_failed(struct vm *vm, struct vm_ctx *ctx)
{
	vm_logf(vm, "cannot restart: the instance could not be destroyed");
	return vm_fail_teardown(vm, "start-failed");
}

/* ---- failreset. ---- */

enum vm_pos
act_failreset(struct vm *vm, struct vm_ctx *ctx)
{
	vm->nrestarts = 0;
	free(vm->fail_reason);
	vm->fail_reason = NULL;
	vm->reason = "failreset";
	vm->by_uid = ctx->ev == EV_FAILRESET ? ctx->uid : vm->intent_uid;
	return P_STOPPED_HOOK;
}

enum vm_pos
act_queue_failreset(struct vm *vm, struct vm_ctx *ctx)
{
	vm->intent_uid = ctx->uid;
	vm_logf(vm, "failreset waits for the failed hook to finish");
	return P_FAILED_HOOK_RESET;
}

/*
 * Where a VM goes once nothing of a previous daemon runs any more: at
 * rest if it was; its hypervisor taken back, or killed if it was failing;
 * without a hypervisor, torn down -- and started again afterwards if it is
 * an autostart VM that was meant to run (counted like a crash).  Until
 * here the intent is up: a stop, a kill, the daemon's shutdown or a
 * removal that came meanwhile is acted on now.
 */
enum vm_pos
vm_recover_decide(struct vm *vm)
{
	enum vm_pos	 was = vm->recover_pos;
	bool		 failing = (FAILINGPOS & P(was)) != 0;
	bool		 was_up = vm->recover_intent == INTENT_UP ||
	    vm->recover_intent == INTENT_RESTART;
	bool		 asked_down = vm->intent != INTENT_UP;

	vm->reason = "daemon-restart";
	vm->by_uid = -1;
	if (was == P_STOPPED || was == P_STOPPED_HOOK || (FAILEDPOS & P(was))) {
		if (!asked_down)
			vm_want(vm, INTENT_STOP, NULL);
		vm->state = (FAILEDPOS & P(was)) ? VM_FAILED : VM_STOPPED;
		return vm->state == VM_FAILED ? P_FAILED : P_STOPPED;
	}
	if (vm_is_up(vm) && failing) {
		vm->fx->signal(vm, SIGKILL);
		return P_FAILING_WAIT;
	}
	if (vm_is_up(vm)) {
		vm->previous = vm->state;
		vm->state = VM_RUNNING;
		if (vm->intent == INTENT_KILL) {
			vm->fx->signal(vm, SIGKILL);
			vm->reason = "kill";
			return P_STOPPING_HOOK_UP;
		}
		if (asked_down) {
			vm_for_intent(vm);
			return P_STOPPING_HOOK_UP;
		}
		vm->reason = "adopted";
		return P_RUNNING;
	}
	if (failing)
		return vm_destroy_then(vm, P_FAILING_DESTROY);
	if (asked_down)
		return vm_destroy_then(vm, P_RECOVER_DESTROY);
	vm_want(vm, INTENT_STOP, NULL);
	if (was == P_RECOVER_DESTROY && was_up) {
		/* A previous daemon decided (and counted) this restart. */
		vm->intent = INTENT_UP;
		vm->intent_reason = "autostart";
	} else if (vm->cfg->autostart && was_up && was != P_START_DESTROY) {
		if (!vm_count_restart(vm)) {
			free(vm->fail_reason);
			vm->fail_reason = xstrdup("restart-limit");
			return vm_destroy_then(vm, P_FAILING_DESTROY);
		}
		vm_logf(vm, "its hypervisor ended while no daemon ran; it "
		    "starts again after its teardown (autostart)");
		vm->intent = INTENT_UP;
		vm->intent_reason = "autostart";
	}
	return vm_destroy_then(vm, P_RECOVER_DESTROY);
}

/* A teardown hook that a previous daemon started has run to its end: its
 * phase is torn down. */
void
vm_recovered_hook_done(struct vm *vm)
{
	switch (vm->recover_pos) {
	case P_STOP_STORAGE_HOOK:
	case P_FAIL_STORAGE_HOOK:
		vm->phases &= ~VM_PHASE_STORAGE;
		break;
	case P_STOP_NETWORK_HOOK:
	case P_FAIL_NETWORK_HOOK:
		vm->phases &= ~VM_PHASE_NETWORK;
		break;
	default:
		break;
	}
}

enum vm_pos
act_recover(struct vm *vm, struct vm_ctx *ctx)
{
	if (ctx->ev == EV_HOOK_OK)
		vm_recovered_hook_done(vm);
	return vm_recover_decide(vm);
}

