/*
 * vm_world.h: a fake world for the state machine (src/vmstated/vm.c) to
 * live in, for tests/unit/test_vm.c and test_vm_model.c.
 *
 * It plays everything vm.c asks of the daemon through struct vm_effects:
 * hooks and helpers (processes that end when the world says), the
 * hypervisor (a process that runs, crashes, obeys or ignores its power
 * button), timers and a clock (monotonic and wall-clock, separately), the
 * state file (the real encoder and decoder of vmrecord.c), and a daemon
 * that can be killed and started again at any step.  While it plays, it
 * watches for what must never happen (two hypervisors, overlapping hooks,
 * a removed VM that starts, a teardown hook without its phase ...) and
 * writes the first violation in world.violation.
 */
#ifndef VM_WORLD_H
#define VM_WORLD_H

#include <stdbool.h>
#include <stdint.h>

#include "vmstated.h"

#define WORLD_TRACE	64

struct world {
	/* Clocks. */
	double		 mono;
	double		 wall;

	/* How the world behaves (set before world_start). */
	unsigned	 hooks;		/* bit per state: it has a hook */
	bool		 inprocess_destroy; /* FreeBSD's sysctl, no helper */
	bool		 acpi;		/* ask_stop works without SIGTERM */
	bool		 ignores_button; /* the guest ignores ACPI/SIGTERM */
	bool		 search_finds;	/* a lost hypervisor is found */
	bool		 unrecordable;	/* the state file cannot be made */
	int		 spawn_fail_pct;
	int		 spawn_transient_pct;
	int		 hook_fail_pct;
	int		 hook_hang_pct;
	int		 crash_pct;	/* a spawned guest ends on its own */
	bool		 manual;	/* scenario tests: no random choices */
	int		 spawn_script[16]; /* manual: outcomes of the next
					     spawns (0, -1, -2), then 0 */
	int		 nspawn_script;

	/* The VM and its configuration. */
	struct vm	*vm;
	char		*name;
	int64_t		 hooktimeout, stoptimeout, maxrestart;
	int64_t		 maxrestarttime;
	bool		 autostart;

	/* The hypervisor process. */
	bool		 hv_alive;
	bool		 hv_dying;	/* killed: its end is coming */
	pid_t		 hv_pid;
	uint64_t	 hv_start;
	double		 hv_exit_at;	/* -1: runs until told */
	enum hv_exit	 hv_exit_kind;
	int		 hvs_spawned;
	bool		 instance;
	bool		 instance_reset; /* by its guest: reusable */
	bool		 instance_left;	/* by a hypervisor, no destroy tried */
	int		 reuse_pct;	/* the back end reuses a reset one */
	int		 reuses;	/* reboots without a destroy */

	/* The one hook or helper. */
	bool		 task_alive;
	bool		 task_helper;
	bool		 task_reclaimed;
	enum vm_state	 task_state;
	pid_t		 task_pid;
	uint64_t	 task_start;
	double		 task_end_at;
	bool		 task_ok;
	pid_t		 task_done_pid;	/* its end is in the state file */
	int		 hooks_run[VM_NSTATES];

	double		 timer_at[VM_NTIMERS];
	bool		 probing;
	double		 health_at;	/* a probe failure or watchdog due */
	enum vm_event	 health_event;
	int		 health_pct;	/* chance a probed VM gets one */
	double		 watchdog_at;	/* qemu reports its watchdog, once,
					   whatever the daemon is doing */

	/* What it depends on, and what depends on it. */
	bool		 has_deps;	/* it depends on another VM */
	int		 deps_state;	/* 0 not ready, 1 ready, -1 failed */
	double		 deps_at;	/* they get ready (or fail) then */
	bool		 dependents;	/* a VM that needs it runs */
	double		 dependents_at;	/* ... until then */

	/* The shutdown's deadline (shutdown_timeout). */
	double		 shutdown_timeout;
	double		 grace;
	bool		 deadline_sent;
	pid_t		 next_pid;

	/* The state file. */
	char		*record;
	bool		 file_exists;

	/* Bookkeeping. */
	int		 net_begun, net_torn, storage_begun, storage_torn;
	bool		 removed;
	bool		 shutdown;
	double		 shutdown_at;
	bool		 restart_asked;
	int		 restarts_when_asked;
	int		 announces;
	int		 failed_entries;
	bool		 unexpected;
	bool		 idle_due;	/* the VM came to rest: its run part
					   goes once the event is handled */
	char		 violation[512];
	char		 trace[WORLD_TRACE][160];
	int		 ntrace;
	uint64_t	 rng;
};

extern struct world W;
/* What every sequence so far has reached: positions and events. */
extern uint64_t world_positions_seen;
extern uint32_t world_events_seen;
extern const struct vm_effects world_effects;

void	 world_init(uint64_t seed);
void	 world_start(void);		/* the VM, its daemon started */
void	 world_free(void);
unsigned world_rand(unsigned n);	/* 0 .. n-1 */
double	 world_randf(double max);
/* The daemon's loop after a callback: a VM at rest loses its run part. */
void	 world_idle_later(void);
void	 world_tracef(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 world_violate(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
/* The world's next scheduled thing (a hook's end, the hypervisor's end,
 * a timer): its time, or -1 when nothing is scheduled. */
double	 world_next_time(void);
/* Let time run to the next scheduled thing and deliver it; false when
 * nothing is scheduled. */
bool	 world_advance(void);
/* Let time run for seconds, delivering what falls due. */
void	 world_run_for(double seconds);
int	 world_request(enum vm_event, struct buf *msg);
/* The daemon is killed (SIGKILL) and started again. */
void	 world_daemon_restart(void);
/* What must hold after every step; false (and violation set) if not. */
bool	 world_check(void);
/* The daemon's SIGTERM (EV_SHUTDOWN) and its deadline. */
void	 world_shutdown(void);
void	 world_dump(FILE *);

#endif
