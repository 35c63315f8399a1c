/*
 * vmstated.h: the daemon's map.  Prototypes are grouped by the file that
 * defines them.
 */
#ifndef VMSTATED_VMSTATED_H
#define VMSTATED_VMSTATED_H

#include <sys/types.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "hv.h"

struct event_base;
struct event;
struct stat;

/* The states a user sees (SPEC section 5). */
enum vm_state {
	VM_STOPPED,
	VM_START_NETWORK,
	VM_START_STORAGE,
	VM_RUNNING,
	VM_RESTARTING,
	VM_RESTARTED,
	VM_STOPPING,
	VM_STOP_STORAGE,
	VM_STOP_NETWORK,
	VM_FAILED,
	VM_NSTATES
};

/*
 * Where the machine is: a state, and what the VM waits for in it (its
 * hook, the hypervisor's exit, the destroy helper, a retry timer).  The
 * table in vm.c is written in these; vm_pos_state() gives the state a user
 * sees.
 */
enum vm_pos {
	P_STOPPED_HOOK,		/* the stopped hook runs */
	P_STOPPED,		/* at rest */
	P_START_DESTROY,	/* an old instance is destroyed before a start */
	P_NET_HOOK,
	P_STORAGE_HOOK,
	P_START_RETRY,		/* the spawn failed for lack of resources */
	P_RUNNING_HOOK,
	P_RUNNING_HOOK_GONE,	/* the hypervisor ended during the hook */
	P_RUNNING,		/* at rest, hypervisor running */
	P_RESTART_HOOK_UP,	/* restart asked: hook runs, hypervisor too */
	P_RESTART_HOOK,		/* hook runs, hypervisor gone */
	P_RESTART_WAIT,		/* hypervisor asked to stop; waiting */
	P_RESTART_DESTROY,	/* destroying the instance before respawn */
	P_RESTART_RETRY,	/* the respawn failed for lack of resources */
	P_RESTARTED_HOOK,
	P_RESTARTED_HOOK_GONE,
	P_STOPPING_HOOK_UP,	/* stopping hook runs, hypervisor too */
	P_STOPPING_HOOK,	/* stopping hook runs, hypervisor gone */
	P_STOPPING_WAIT,	/* hypervisor asked to stop; waiting */
	P_STOPPING_DESTROY,
	P_STOP_STORAGE_HOOK,
	P_STOP_NETWORK_HOOK,
	P_FAILING_WAIT,		/* failing: hypervisor killed, waiting */
	P_FAILING_DESTROY,
	P_FAIL_STORAGE_HOOK,	/* teardown on the way to failed */
	P_FAIL_NETWORK_HOOK,
	P_FAILED_HOOK,
	P_FAILED_HOOK_RESET,	/* failreset asked while the hook runs */
	P_FAILED,		/* at rest */
	P_RECOVER_TASK,		/* a previous daemon's hook is being ended */
	P_RECOVER_DESTROY,	/* hypervisor gone while no daemon ran */
	P_STOPPED_DEPS,		/* a start waits for what the VM needs */
	P_RUNNING_DEPENDENTS,	/* a stop waits for the VMs that need it */
	P_CRASH_KILL,		/* probe or watchdog: killed, a crash */
	VM_NPOS
};

/*
 * What the VM is heading for: one field, set by requests, the daemon's
 * shutdown and removal by reload.  shutdown and remove are sticky: no
 * request moves a VM away from them.
 */
enum vm_intent {
	INTENT_UP,		/* run (and start, when it is stopped) */
	INTENT_RESTART,		/* a restart was asked; then up */
	INTENT_STOP,		/* stop, stay stopped */
	INTENT_KILL,		/* stop at once, stay stopped */
	INTENT_SHUTDOWN,	/* the daemon exits: stop, never start */
	INTENT_REMOVE,		/* removed by reload: stop, then forget */
	VM_NINTENTS
};

/* Events: requests, the daemon's own decisions, and what happened. */
enum vm_event {
	EV_START,
	EV_STOP,
	EV_RESTART,
	EV_KILL,
	EV_FAILRESET,
	EV_SHUTDOWN,		/* the daemon is exiting */
	EV_REMOVE,		/* removed from the configuration */
	EV_HOOK_OK,		/* the hook succeeded, or there was none */
	EV_HOOK_FAILED,
	EV_HELPER_OK,		/* the destroy helper ended (or none needed) */
	EV_HELPER_FAILED,	/* ... failed or timed out */
	EV_EXIT_REBOOT,		/* the hypervisor ended: guest reboot */
	EV_EXIT_OFF,		/* ... guest poweroff or halt */
	EV_EXIT_CRASH,		/* ... anything else */
	EV_STOP_TIMER,		/* time to escalate the stop */
	EV_RETRY_TIMER,		/* time to try the spawn again */
	EV_STOP_RECURSIVE,	/* stop -r: the VMs that need it first */
	EV_DEPS_READY,		/* what the VM needs is ready */
	EV_DEPS_FAILED,		/* ... cannot be started */
	EV_DEPENDENTS_DOWN,	/* no VM that needs it runs any more */
	EV_PROBE_FAILED,	/* probe_failures probes failed in a row */
	EV_WATCHDOG,		/* the guest stopped feeding its watchdog */
	EV_DEADLINE,		/* the shutdown's deadline: kill */
	VM_NEVENTS
};

enum vm_timer {
	VM_TIMER_STOP,
	VM_TIMER_RETRY,
	VM_NTIMERS
};

#define VM_PHASE_NETWORK	0x1	/* start_network begun */
#define VM_PHASE_STORAGE	0x2	/* start_storage begun */

/* Seconds between SIGTERM and SIGKILL, for hypervisors, hooks, helpers. */
#define VM_KILL_GRACE		5
/* Retries of a spawn that failed for lack of resources: 1, 2, 4... s. */
#define VM_RETRY_FIRST		1.0
#define VM_RETRY_MAX		30.0

struct vm;
struct task_retry;

/*
 * What the machine asks of the world.  vm.c decides; these act, and what
 * they start reports back later as events (vm_event()).  None of them
 * calls vm_event() before returning.  The daemon's are in effects.c; the
 * unit tests have fakes.
 */
struct vm_effects {
	/* Start the hook of the VM's state: 1 started, 0 there is none,
	 * -1 it could not be started (the reason is logged). */
	int	(*hook_start)(struct vm *);
	/* Destroy the VM's instance if one exists: 1 a helper was started,
	 * 0 nothing to do (or done at once), -1 failed (logged). */
	int	(*destroy_start)(struct vm *);
	/* After a reset by its guest: will a hypervisor started again reuse
	 * the instance, so that it need not be destroyed? */
	bool	(*instance_reusable)(struct vm *);
	/* Signal the running hook or helper's process group. */
	void	(*task_signal)(struct vm *, int sig);
	/* Write generated files and execute the hypervisor: 0 (run->pid
	 * set), -1 failed (why says why), -2 failed for lack of resources
	 * (worth retrying). */
	int	(*spawn)(struct vm *, struct buf *why);
	/* Ask the guest to power off: 0 asked (ACPI), 1 SIGTERM was sent
	 * as the request itself (the next step is SIGKILL). */
	int	(*ask_stop)(struct vm *);
	void	(*signal)(struct vm *, int sig);
	/* Arm (seconds >= 0) or cancel (< 0) a timer of the VM. */
	void	(*timer)(struct vm *, enum vm_timer, double seconds);
	/* Record the VM's state: 0, or -1 (reported by the callee). */
	int	(*persist)(struct vm *);
	/* Before a start: can the VM start?  0, or -1 with why (its state
	 * cannot be recorded, its hypervisor already runs, a disk is in use
	 * by another VM). */
	int	(*start_check)(struct vm *, struct buf *why);
	/* A state change happened: log, syslog, events. */
	void	(*announce)(struct vm *, enum vm_state from, enum vm_state to);
	void	(*log)(struct vm *, const char *msg);
	/* Monotonic seconds. */
	double	(*now)(void);
	/* The VM is at rest (stopped or failed, nothing running). */
	void	(*idle)(struct vm *);
	/* The run part goes (vm_run_trim): let go of what the world keeps
	 * in it (events, a console).  False when something still uses it
	 * (a console's client still reading): it stays. */
	bool	(*release)(struct vm *);
	/* The configuration in force changed (pending taken). */
	void	(*config_changed)(struct vm *, struct vm_config *old);
	/* Are the VMs it depends on ready?  1 yes; 0 not yet (they are
	 * being started, and EV_DEPS_READY or EV_DEPS_FAILED follows);
	 * -1 they cannot be (why says why). */
	int	(*deps_ready)(struct vm *, struct buf *why);
	/* Does a VM that depends on it run (is not at rest)?  When one
	 * does, EV_DEPENDENTS_DOWN follows once none does. */
	bool	(*dependents_up)(struct vm *, struct buf *names);
	/* stop -r: stop the VMs that depend on it (recursively). */
	void	(*stop_dependents)(struct vm *);
	/* The VM entered (on) or left (off) running at rest: probes run
	 * while it is there. */
	void	(*probe)(struct vm *, bool on);
	/* The position changed: the supervisor may have something to do
	 * (called before vm_event() returns; it must defer). */
	void	(*moved)(struct vm *);
};

/* What a previous daemon recorded of a VM (vmrecord.c). */
struct vm_record {
	enum vm_pos	 pos;
	enum vm_state	 state;
	enum vm_intent	 intent;
	int		 phases;
	pid_t		 pid;		/* hypervisor, or -1 */
	uint64_t	 pid_start;	/* its start time (platform.h) */
	pid_t		 task_pid;	/* hook or helper, or -1 */
	uint64_t	 task_start;
	time_t		 started_at;	/* wall clock */
	double		*restarts;	/* wall clock */
	int		 nrestarts;
	char		*fail_reason;
	char		*last_exit;
	char		*cmdline;	/* records before 0.2: no pid_start */
	bool		 legacy;
	bool		 task_done;	/* the recorded hook ran to its end
					   while no daemon ran */
	enum hv_kind	 hypervisor;
	char		*dir;		/* the VM's directory */
};

/*
 * What metrics.c measures of a VM, in monotonic seconds, from the moment
 * this daemon loaded it: nothing of it outlives the daemon (counters
 * start again from 0, as Prometheus expects of a restarted process).
 * Allocated when the VM first moves: most of 10,000 defined VMs never
 * do, and these 500 bytes each were half the daemon's memory.
 */
struct vm_hook_stats {
	unsigned long	 runs;
	unsigned long	 failures;
	double		 seconds;	/* of every run */
	double		 last;		/* of the last run */
};

struct vm_stats {
	double		 entered;	/* the current state */
	double		 in_state[VM_NSTATES];	/* before that */
	double		 boot_began;	/* 0: no start on its way */
	double		 stop_began;	/* 0: no stop on its way */
	double		 last_boot;	/* seconds; < 0: none yet */
	double		 last_stop;
	double		 restart_seen;	/* the newest restart counted */
	unsigned long	 restarts;
	unsigned long	 probes;
	unsigned long	 probe_failures;
	double		 hook_began;	/* 0: no hook runs */
	enum vm_state	 hook_state;
	struct vm_hook_stats hooks[VM_NSTATES];
};

/*
 * What only an active VM uses: its processes, their watches and timers,
 * its console, the escalation of a stop.  Allocated when the VM first
 * needs it (vm_run()), freed once it is at rest again and nothing of it is
 * in use (vm_run_trim(), deferred by the supervisor): most of 10,000
 * defined VMs never run, and these 160 bytes each, kept in every VM, were
 * a tenth of the daemon's memory (bench/profiles.md).  Readers that may
 * see a VM at rest use vm_run_peek(), which shows the values of a VM with
 * nothing running.
 */
struct vm_run {
	/* The hypervisor process (vmproc.c). */
	pid_t			 pid;		/* -1: none */
	int			 watch_fd;	/* adopted: exit watch, or -1 */
	uint64_t		 pid_start;	/* its identity */
	struct event		*watch_event;
	time_t			 started_at;	/* wall clock: state file */
	double			 started_mono;	/* the same: uptime */

	/* The hook or helper running for this VM (task.c). */
	pid_t			 task_pid;	/* -1: none */
	int			 task_watch_fd;
	uint64_t		 task_start;
	char			*task_path;
	struct event		*task_timer;
	struct event		*task_watch;	/* reclaimed: exit watch */
	struct task_retry	*task_retry;	/* could not be started for
						   lack of resources: tried
						   again (task.c) */

	struct event		*timers[VM_NTIMERS];

	/* Its health probe while it runs (probe.c). */
	struct event		*probe_timer;	/* the next probe */
	struct event		*probe_deadline; /* probe_timeout */
	pid_t			 probe_pid;	/* -1: none runs */

	/* The escalation of a stop, and the spawn's retries (vm.c). */
	int			 stop_stage;	/* 0 asked, 1 SIGTERM, 2 KILL */
	double			 stop_wait;	/* the stop timer's last wait */
	double			 retry_delay;	/* next spawn retry, seconds */

	/* The serial console, while the hypervisor runs and while clients
	 * still flush what it said (console.c). */
	struct console		*console;

	bool			 adopted;	/* not our child */
	bool			 task_is_helper;
	bool			 task_reclaimed; /* a previous daemon's */
	bool			 task_term_sent;
	bool			 task_timed_out;
	bool			 probe_timed_out;
	bool			 probe_passed;	/* since it entered running */
};

/*
 * What few VMs ever have: a configuration waiting for the next start or
 * refused by a reload, a health probe's results, a log that cannot be
 * written.  Allocated at its first need (vm_rare()) and kept with the
 * VM; vm_rare_peek() shows the zeroes of a VM that never needed it.
 */
struct vm_rare {
	struct vm_config	*pending;	/* changed config, for next start */
	char			*reload_error;	/* new config refused by reload */
	/* The result of its probe, from its last time in running
	 * (probe.c). */
	unsigned long		 probe_runs;
	time_t			 probe_last;	/* wall clock */
	int			 probe_failed_in_row;
	/* Its log, while it cannot be written (vmlog.c). */
	int			 log_backoff;	/* seconds; 0: the log works */
	time_t			 log_retry_at;	/* monotonic */
};

/*
 * A VM as it is at rest, and what outlives its runs: the restart window
 * (only failreset empties it), the last probe's result and the last exit
 * (status shows them while the VM is stopped or failed).  The enums are
 * kept in a byte each, the flags in bits and the name at the end, in the
 * same allocation: 10,000 of these are most of the daemon's memory.
 */
struct vm {
	struct vm_config	*cfg;		/* in force */
	struct vm_rare		*rare;		/* NULL: none of it ever */
	const struct hv_ops	*hv;
	struct hv_vm		*hvc;		/* what the back end sees,
						   once it is asked anything:
						   vmproc_hv() */
	const struct vm_effects	*fx;
	struct vm_run		*run;		/* NULL at rest */

	/* The machine (vm.c). */
	const char		*intent_reason;	/* "request", "kill", ... */
	long			 intent_uid;	/* who set it; -1 the daemon */
	const char		*reason;	/* of the last state change */
	long			 by_uid;	/* for the next log line */
	char			*fail_reason;
	time_t			 state_since;	/* wall clock, for display */
	double			*restarts;	/* monotonic, in the window;
						   a power of 2 of them, at
						   least 4, allocated */
	char			*last_exit;	/* "crash (exit status 4)" */

	double			 probe_passed_at; /* monotonic: last pass, or
						   the last requested start */

	/* When this daemon loaded it (fx->now(), monotonic: vm_new();
	 * older restarts are a previous daemon's); what metrics.c measured
	 * since, NULL until it first moves. */
	double			 loaded;
	struct vm_stats		*stats;

	int			 nrestarts;
	int			 exit_status;	/* wait(2) status of the last
						   exit */
	int			 log_fd;	/* logdir/<name>.log, open
						   only while written */
	/* State file (rundir/<name>.state), at most PERSIST_MAX bytes. */
	uint32_t		 state_size;
	uint32_t		 state_used;	/* the record and its newline
						   begin the file; then
						   padding (persist.c) */

	uint8_t			 pos;		/* enum vm_pos */
	uint8_t			 state;		/* enum vm_state: the last
						   state entered */
	uint8_t			 previous;	/* enum vm_state */
	uint8_t			 intent;	/* enum vm_intent */
	uint8_t			 recover_pos;	/* enum vm_pos: as a previous
						   daemon left it */
	uint8_t			 recover_intent; /* enum vm_intent */
	uint8_t			 phases;	/* VM_PHASE_*: begun, not torn
						   down */
	uint8_t			 exit_kind;	/* enum hv_exit, of the last
						   exit */
	bool			 exit_known:1;	/* exit_status is real and of
						   the process that ended */
	bool			 deadline_killed:1; /* by the shutdown's
						   deadline */
	bool			 has_probe:1;	/* a probe file exists */
	bool			 probe_ok:1;	/* the last result */
	bool			 log_error_reported:1;
	bool			 state_used_known:1;
	bool			 state_error_reported:1;
	char			 name[];
};

/* An entry of configdir that could not be loaded: status shows it. */
struct invalid_vm {
	char	*name;
	char	*dir;
	char	*error;
};

/* main.c */
struct event_base	*vmstated_base(void);
const struct daemon_config *vmstated_config(void);
const char		*vmstated_logdir(void);
const char		*vmstated_configdir(void);
char			*vmstated_reload_config(void);
void			 vmstated_check_shutdown(void);
bool			 vmstated_shutting_down(void);

/* vm.c: the state machine */
const char	*vm_state_name(enum vm_state);
const char	*vm_pos_name(enum vm_pos);
const char	*vm_event_name(enum vm_event);
const char	*vm_intent_name(enum vm_intent);
enum vm_state	 vm_pos_state(enum vm_pos);	/* VM_NSTATES: unchanged */
struct vm	*vm_new(struct vm_config *, const struct vm_effects *);
void		 vm_free(struct vm *);
/* A request (EV_START ... EV_FAILRESET) from a client, uid -1 for the
 * daemon.  0 when accepted; -1 with the reason in msg. */
int		 vm_request(struct vm *, enum vm_event, long uid,
		    const char *reason, struct buf *msg);
/* Anything else that happened to the VM. */
void		 vm_event(struct vm *, enum vm_event);
/* The hypervisor ended: its classified exit and description. */
void		 vm_exited(struct vm *, enum hv_exit, int status, bool known,
		    const char *description);
bool		 vm_at_rest(const struct vm *);	/* stopped or failed */
struct vm_run	*vm_run(struct vm *);		/* allocated if need be */
const struct vm_run *vm_run_peek(const struct vm *);
struct vm_rare	*vm_rare(struct vm *);		/* allocated if need be */
const struct vm_rare *vm_rare_peek(const struct vm *);
/* At rest with nothing of its run in use: fx->release lets go of the
 * world's part of it, then it is freed.  True if it was. */
bool		 vm_run_trim(struct vm *);
bool		 vm_is_up(const struct vm *);	/* hypervisor running */
/* stop -r and the deadline are orders of their own: vm_event(). */
int		 vm_restarts_in_window(struct vm *);
void		 vm_restore(struct vm *, const struct vm_record *);
void		 vm_print_table(FILE *);
/* Consistency of the table itself; 0, or -1 with a message on stderr. */
int		 vm_check_table(void);

/* disks.c: one disk, one running VM */
int		 disks_start_check(struct vm *, struct buf *why);
void		 disks_free(void);

/* vmrecord.c: the state file's contents */
void		 vmrecord_encode(const struct vm *, double mono_now,
		    double wall_now, struct buf *);
int		 vmrecord_decode(const char *text, size_t len,
		    struct vm_record *, double mono_now, double wall_now,
		    char *err, size_t errlen);
void		 vmrecord_free(struct vm_record *);
bool		 vm_pos_by_name(const char *, enum vm_pos *);

/* effects.c: the daemon's vm_effects */
extern const struct vm_effects vm_daemon_effects;
/* Free the timers and the exit watch kept in the VM's run part. */
void		 effects_free_events(struct vm *);
double		 vm_clock_mono(void);
double		 vm_clock_wall(void);
long long	 vm_uptime(const struct vm *);

/* probe.c: health probes */
void		 probe_set(struct vm *, bool on);
bool		 probe_ready(const struct vm *);
bool		 probe_configured(const struct vm *);
void		 probe_release(struct vm *);

/* metrics.c: what vmstatedctl metrics shows */
struct ctl_peer;
void		 metrics_init(void);
void		 metrics_vm_free(struct vm *);
void		 metrics_state(struct vm *, enum vm_state from,
		    enum vm_state to);
void		 metrics_moved(struct vm *);
void		 metrics_hook_began(struct vm *);
void		 metrics_hook_ended(struct vm *, bool ok);
void		 metrics_probe(struct vm *, bool ok);
void		 metrics_write(const struct ctl_peer *, bool openmetrics,
		    struct buf *);

/* events.c: the events' numbers and the history kept of them */
#define EVENTS_KEPT	1024
void		 events_publish(struct vm *, struct buf *line);
const char	*events_epoch(void);
uint64_t	 events_last(void);
int		 events_replay(const struct ctl_peer *, uint64_t since,
		    const char *epoch, struct buf *why, struct buf *lines);
void		 events_free(void);

/* order.c: start and stop order, autostart, the shutdown's deadline */
int		 order_deps_ready(struct vm *, struct buf *why);
bool		 order_dependents_up(struct vm *, struct buf *names);
void		 order_stop_dependents(struct vm *);
void		 order_kick(void);
void		 order_autostart(void);
void		 order_shutdown(void);
void		 order_report(void);
bool		 order_vm_ready(const struct vm *);
void		 order_free(void);
double		 order_task_limit(double limit);
double		 order_shutdown_left(void);

/* vmproc.c: the hypervisor process */
struct hv_vm	*vmproc_hv(struct vm *);
int		 vmproc_spawn(struct vm *, struct buf *why);
int		 vmproc_ask_stop(struct vm *);
void		 vmproc_signal(struct vm *, int sig);
int		 vmproc_destroy_start(struct vm *);
bool		 vmproc_instance_reusable(struct vm *);
pid_t		 vmproc_find(struct vm *, pid_t pid, uint64_t start,
		    const char *legacy_cmdline);
int		 vmproc_adopt(struct vm *, pid_t);
void		 vmproc_release(struct vm *);

/* task.c: hooks and helpers, bounded in time */
int		 task_hook_start(struct vm *);
int		 task_helper_start(struct vm *, char **argv);
void		 task_signal(struct vm *, int sig);
int		 task_reclaim(struct vm *, pid_t, uint64_t start);
void		 task_release(struct vm *);

/* supervisor.c: the set of VMs */
void		 sv_load(struct cfg_set *);
size_t		 sv_count(void);
struct vm	*sv_vm(size_t);
struct vm	*sv_find(const char *name);
size_t		 sv_invalid_count(void);
const struct invalid_vm *sv_invalid(size_t);
const struct invalid_vm *sv_find_invalid(const char *name);
bool		 sv_all_at_rest(void);
int		 sv_reload(struct buf *reply);
void		 sv_vm_idle(struct vm *);
void		 sv_free(void);
bool		 sv_any_owner(void);

/* reload.c: what a reload changes, computed without changing it */
enum reload_kind {
	RL_ADD,			/* a new VM */
	RL_REMOVE,		/* a VM whose configuration is gone */
	RL_TAKE_NOW,		/* changed, at rest: takes it at once */
	RL_SET_PENDING,		/* changed, active: at its next start */
	RL_DROP_PENDING,	/* changed back before the next start */
	RL_KEEP_REFUSED,	/* new configuration invalid: old one stays */
	RL_CLEAR_ERROR,		/* valid again */
	RL_WAIT_REMOVED,	/* back while the old one is being removed */
};
struct reload_current {			/* what a VM is now */
	const char		*name;
	const char		*dir;
	const struct vm_config	*cfg;
	const struct vm_config	*pending;
	bool			 at_rest;
	bool			 removing;
	bool			 has_error;
};
struct reload_action {
	enum reload_kind	 kind;
	size_t			 vm;		/* index into current */
	size_t			 cfg;		/* index into set->vms */
	size_t			 invalid;	/* index into set->invalid */
};
size_t		 reload_plan(const struct reload_current *, size_t ncurrent,
		    const struct cfg_set *, struct reload_action **);

/* control.c */
int		 control_listen(const char *path, const struct daemon_config *,
		    bool any_owner, char *err, size_t errlen);
void		 control_close(void);
void		 control_set_mode(const struct daemon_config *, bool any_owner);
void		 control_broadcast_state(struct vm *, enum vm_state from,
		    enum vm_state to);
void		 control_broadcast_probe(struct vm *);
void		 control_log_refusal(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

/* request.c: the commands of the control protocol */
struct ucl_node;
struct bufferevent;
/* What a connection becomes after the reply to console or log. */
enum ctl_switch_kind {
	SWITCH_NONE,
	SWITCH_CONSOLE,		/* the VM's console, both ways */
	SWITCH_LOG,		/* the VM's log, to the client */
};
struct ctl_switch {
	enum ctl_switch_kind	 kind;
	char			*vm;
	bool			 writer;	/* console: has the keyboard */
	bool			 scrollback;	/* console: sent first */
	bool			 follow;	/* log: what is added, too */
	long			 lines;		/* log: the last ones; -1 all */
};
/* A client, as the kernel saw it connect (platform_peer_cred). */
struct ctl_peer {
	uid_t		 uid;
	gid_t		 gid;
	gid_t		*groups;	/* supplementary */
	int		 ngroups;
	struct ctl_switch sw;		/* after a console or log request */
};
#define REQUEST_SUBSCRIBE	1	/* events follow the reply */
#define REQUEST_SWITCH		2	/* the connection switches: peer->sw */
/* Handle one request; append the reply (one JSON object, no newline) to
 * reply.  Returns REQUEST_SUBSCRIBE when the connection should be
 * subscribed to events, REQUEST_SWITCH when, once the reply is sent, it
 * goes to switch_take(), else 0. */
int		 request_handle(struct ctl_peer *, const struct ucl_node *req,
		    struct buf *reply);
void		 request_status_json(struct vm *, struct buf *);
bool		 request_is_admin(const struct ctl_peer *);
bool		 request_may_operate(const struct ctl_peer *,
		    const struct vm *);
/* The configuration whose owner and group are in force (the newest). */
const struct vm_config *request_auth_config(const struct vm *);

/* switch.c: connections that stop speaking JSON lines */
void		 switch_take(struct ctl_peer *, struct bufferevent *);

/* console.c: each VM's serial console */
struct console;
void		 console_attach(struct vm *, int fd);
void		 console_none(struct vm *, const char *why);
void		 console_drain(struct vm *);
void		 console_detach(struct vm *);
void		 console_end(struct vm *, const char *why);
void		 console_release(struct vm *);
bool		 console_busy(const struct vm *);
int		 console_check(struct vm *, bool want_write, bool *writer,
		    long *writer_uid, struct buf *why);
void		 console_take(struct vm *, struct bufferevent *, uid_t,
		    bool writer, bool scrollback);

/* logview.c: a VM's log, sent down a connection */
int		 logview_check(bool follow, struct buf *why);
void		 logview_take(const char *name, struct bufferevent *,
		    long lines, bool follow);
void		 logview_close_all(void);

/* vmlog.c */
char		*vmlog_path(const char *name);
int		 vmlog_child_fd(struct vm *);
void		 vmlog_close(struct vm *);
void		 vmlog_reopen_all(void);
void		 vmlog_source(struct vm *, const char *source,
		    const char *text, size_t len);
void		 vmlog(struct vm *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 vmlogv(struct vm *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

/* persist.c */
int		 persist_prepare(struct vm *, struct buf *why);
char		*persist_task_status_path(const struct vm *, off_t *offset);
int		 persist_task_done(const struct vm *, pid_t, int *status);
int		 persist_save(struct vm *);
void		 persist_remove(struct vm *);
void		 persist_restore(struct vm *);
int		 persist_read(const char *path, struct vm_record *,
		    size_t *size, size_t *used);
void		 persist_close(struct vm *);

/* daemon.c */
void		 daemon_sanitize_fds(void);
int		 daemon_open_file(const char *path, int flags, mode_t mode,
		    const char *what, char *err, size_t errlen);
int		 daemon_vet_file(int fd, const char *path, const char *what,
		    char *err, size_t errlen, struct stat *);
int		 daemon_pidfile(const char *path, char *err, size_t errlen);
int		 daemon_claim_dirs(const char *logdir, const char *rundir,
		    char *err, size_t errlen);
void		 daemon_pidfile_remove(void);
int		 daemon_detach(void);
void		 daemon_report(int ok, const char *msg);

#endif
