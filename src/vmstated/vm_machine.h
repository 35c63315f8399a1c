/*
 * vm_machine.h: the inside of the state machine, shared by its table and
 * dispatcher (vm.c) and its actions (vm_actions.c).  Nothing else
 * includes it.
 */
#ifndef VMSTATED_VM_MACHINE_H
#define VMSTATED_VM_MACHINE_H

#include "vmstated.h"

struct vm_ctx {
	enum vm_event	 ev;
	long		 uid;		/* of a request; -1 */
	const char	*reason;	/* of a request */
	struct buf	*msg;		/* a refusal, for the client */
	bool		 refused;
};

typedef enum vm_pos	(*vm_action)(struct vm *, struct vm_ctx *);

struct vm_row {
	uint64_t	 from;		/* positions */
	uint32_t	 events;
	unsigned	 intents;
	uint64_t	 to;		/* positions the action may choose */
	vm_action	 action;
	const char	*name;		/* of the action, for -T */
};

#define P(x)		(UINT64_C(1) << (x))
#define SAME		(UINT64_C(1) << 63)	/* "stays where it is" */
#define ALLPOS		(P(VM_NPOS) - 1)
#define E(x)		(UINT32_C(1) << (x))
#define I(x)		(1u << (x))
#define ANY		(I(VM_NINTENTS) - 1)
#define UPWARD		(I(INTENT_UP) | I(INTENT_RESTART))
#define STICKY		(I(INTENT_SHUTDOWN) | I(INTENT_REMOVE))
#define DOWNWARD	(I(INTENT_STOP) | I(INTENT_KILL) | STICKY)
#define GENTLE		(I(INTENT_STOP) | STICKY)
#define NONSTICKY	(ANY & ~STICKY)

#define STARTS		(E(EV_START) | E(EV_RESTART))
#define DOWNS		(E(EV_STOP) | E(EV_KILL) | E(EV_SHUTDOWN) | \
			    E(EV_REMOVE) | E(EV_STOP_RECURSIVE))
#define STOPS		(E(EV_STOP) | E(EV_STOP_RECURSIVE))
#define HEALTH		(E(EV_PROBE_FAILED) | E(EV_WATCHDOG))
#define HOOKS		(E(EV_HOOK_OK) | E(EV_HOOK_FAILED))
#define HELPERS		(E(EV_HELPER_OK) | E(EV_HELPER_FAILED))
#define EXITS		(E(EV_EXIT_REBOOT) | E(EV_EXIT_OFF) | \
			    E(EV_EXIT_CRASH))

#define TEARDOWN	(P(P_STOP_STORAGE_HOOK) | P(P_STOP_NETWORK_HOOK) | \
			    P(P_STOPPED_HOOK))
#define FAILDOWN	(P(P_FAIL_STORAGE_HOOK) | P(P_FAIL_NETWORK_HOOK) | \
			    P(P_FAILED_HOOK))
#define HOOKPOS		(P(P_STOPPED_HOOK) | P(P_NET_HOOK) | \
			    P(P_STORAGE_HOOK) | P(P_RUNNING_HOOK) | \
			    P(P_RUNNING_HOOK_GONE) | P(P_RESTART_HOOK_UP) | \
			    P(P_RESTART_HOOK) | P(P_RESTARTED_HOOK) | \
			    P(P_RESTARTED_HOOK_GONE) | P(P_STOPPING_HOOK_UP) | \
			    P(P_STOPPING_HOOK) | P(P_STOP_STORAGE_HOOK) | \
			    P(P_STOP_NETWORK_HOOK) | P(P_FAIL_STORAGE_HOOK) | \
			    P(P_FAIL_NETWORK_HOOK) | P(P_FAILED_HOOK) | \
			    P(P_FAILED_HOOK_RESET))
#define WAITPOS		(P(P_RESTART_WAIT) | P(P_STOPPING_WAIT))
#define RETRYPOS	(P(P_START_RETRY) | P(P_RESTART_RETRY))
#define FAILEDPOS	(P(P_FAILED) | P(P_FAILED_HOOK) | \
			    P(P_FAILED_HOOK_RESET))
#define FAILINGPOS	(P(P_FAILING_WAIT) | P(P_FAILING_DESTROY) | \
			    P(P_FAIL_STORAGE_HOOK) | P(P_FAIL_NETWORK_HOOK))
/* Where the hypervisor may run. */
#define UPPOS		(P(P_RUNNING_HOOK) | P(P_RUNNING) | \
			    P(P_RESTART_HOOK_UP) | P(P_RESTART_WAIT) | \
			    P(P_RESTARTED_HOOK) | P(P_STOPPING_HOOK_UP) | \
			    P(P_STOPPING_WAIT) | P(P_FAILING_WAIT) | \
			    P(P_RUNNING_DEPENDENTS) | P(P_CRASH_KILL))


/* vm.c: for the actions */
void		 vm_logf(struct vm *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 vm_emit(struct vm *, enum vm_event);
bool		 vm_want(struct vm *, enum vm_intent, struct vm_ctx *);
enum vm_intent	 vm_intent_of(enum vm_event);
void		 vm_for_intent(struct vm *);
bool		 vm_count_restart(struct vm *);
bool		 vm_is_request(enum vm_event);
enum vm_event	 vm_exit_event(enum hv_exit);

/* vm_actions.c: each returns the position the VM moves to (its own to
 * stay); the table says which it may choose. */
enum vm_pos	act_start(struct vm *, struct vm_ctx *);
enum vm_pos	act_start_queued(struct vm *, struct vm_ctx *);
enum vm_pos	act_queue_start(struct vm *, struct vm_ctx *);
enum vm_pos	act_cancel_start(struct vm *, struct vm_ctx *);
enum vm_pos	act_refuse_sticky(struct vm *, struct vm_ctx *);
enum vm_pos	act_refuse_busy(struct vm *, struct vm_ctx *);
enum vm_pos	act_refuse_running(struct vm *, struct vm_ctx *);
enum vm_pos	act_refuse_failed(struct vm *, struct vm_ctx *);
enum vm_pos	act_refuse_not_running(struct vm *, struct vm_ctx *);
enum vm_pos	act_refuse_not_failed(struct vm *, struct vm_ctx *);
enum vm_pos	act_want_down(struct vm *, struct vm_ctx *);
enum vm_pos	act_want_restart(struct vm *, struct vm_ctx *);
enum vm_pos	act_accept(struct vm *, struct vm_ctx *);
enum vm_pos	act_stop_now(struct vm *, struct vm_ctx *);
enum vm_pos	act_kill_now(struct vm *, struct vm_ctx *);
enum vm_pos	act_kill_hv(struct vm *, struct vm_ctx *);
enum vm_pos	act_kill_task(struct vm *, struct vm_ctx *);
enum vm_pos	act_restart_now(struct vm *, struct vm_ctx *);
enum vm_pos	act_retry_teardown(struct vm *, struct vm_ctx *);
enum vm_pos	act_retry_stopping(struct vm *, struct vm_ctx *);
enum vm_pos	act_failreset(struct vm *, struct vm_ctx *);
enum vm_pos	act_queue_failreset(struct vm *, struct vm_ctx *);
enum vm_pos	act_settle(struct vm *, struct vm_ctx *);
enum vm_pos	act_network_done(struct vm *, struct vm_ctx *);
enum vm_pos	act_start_hook_failed(struct vm *, struct vm_ctx *);
enum vm_pos	act_teardown(struct vm *, struct vm_ctx *);
enum vm_pos	act_spawn(struct vm *, struct vm_ctx *);
enum vm_pos	act_spawn_retry(struct vm *, struct vm_ctx *);
enum vm_pos	act_fail_kill(struct vm *, struct vm_ctx *);
enum vm_pos	act_fail_destroy(struct vm *, struct vm_ctx *);
enum vm_pos	act_replay_exit(struct vm *, struct vm_ctx *);
enum vm_pos	act_ask_stop(struct vm *, struct vm_ctx *);
enum vm_pos	act_kill_wait(struct vm *, struct vm_ctx *);
enum vm_pos	act_destroy(struct vm *, struct vm_ctx *);
enum vm_pos	act_stopping_gone(struct vm *, struct vm_ctx *);
enum vm_pos	act_enter_running(struct vm *, struct vm_ctx *);
enum vm_pos	act_storage_torn_down(struct vm *, struct vm_ctx *);
enum vm_pos	act_network_torn_down(struct vm *, struct vm_ctx *);
enum vm_pos	act_recover(struct vm *, struct vm_ctx *);
enum vm_pos	act_cancel_deps(struct vm *, struct vm_ctx *);
enum vm_pos	act_deps_ready(struct vm *, struct vm_ctx *);
enum vm_pos	act_deps_failed(struct vm *, struct vm_ctx *);
enum vm_pos	act_stop_request(struct vm *, struct vm_ctx *);
enum vm_pos	act_stop_recursive(struct vm *, struct vm_ctx *);
enum vm_pos	act_dependents_down(struct vm *, struct vm_ctx *);
enum vm_pos	act_crash_kill(struct vm *, struct vm_ctx *);
enum vm_pos	act_killed_restart(struct vm *, struct vm_ctx *);
enum vm_pos	act_watchdog_kill(struct vm *, struct vm_ctx *);
enum vm_pos	act_deadline_kill(struct vm *, struct vm_ctx *);
enum vm_pos	act_deadline_kill_now(struct vm *, struct vm_ctx *);
enum vm_pos	act_deadline_kill_task(struct vm *, struct vm_ctx *);
enum vm_pos	act_auto_restart(struct vm *, struct vm_ctx *);
enum vm_pos	act_guest_off(struct vm *, struct vm_ctx *);
enum vm_pos	act_restart_gone(struct vm *, struct vm_ctx *);
enum vm_pos	act_note_exit(struct vm *, struct vm_ctx *);
enum vm_pos	act_begin_network(struct vm *, struct vm_ctx *);
enum vm_pos	act_start_failed(struct vm *, struct vm_ctx *);
enum vm_pos	act_respawn(struct vm *, struct vm_ctx *);
enum vm_pos	act_respawn_asked(struct vm *, struct vm_ctx *);
enum vm_pos	act_respawn_retry(struct vm *, struct vm_ctx *);
enum vm_pos	act_destroy_failed(struct vm *, struct vm_ctx *);
enum vm_pos	act_fail_teardown(struct vm *, struct vm_ctx *);
enum vm_pos	act_escalate(struct vm *, struct vm_ctx *);

enum vm_pos	act_recover(struct vm *, struct vm_ctx *);
enum vm_pos	vm_recover_decide(struct vm *);
void		vm_recovered_hook_done(struct vm *);

#endif
