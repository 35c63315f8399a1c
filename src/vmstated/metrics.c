/*
 * metrics.c: what `vmstatedctl metrics` shows, in Prometheus's text
 * format or OpenMetrics (expfmt.h): per VM its state, uptime, restarts,
 * time spent in each state, how long its last start and stop took, its
 * probes and its hooks; for the daemon its VMs by state and its own age.
 *
 * Everything is measured here with the monotonic clock, from what the
 * daemon sees anyway: every state change (effects.c's announce), every
 * move of the machine (effects.c's moved), every hook's start and end
 * (task.c) and every probe's result (probe.c).  The state machine itself
 * knows nothing of it.  Counters start at 0 with the daemon, as
 * Prometheus expects of a restarted process (vmstated_start_time_seconds
 * tells when).
 *
 * Who sees what: the daemon's own series anyone who can connect (they
 * count VMs by state, which status shows anyone); a VM's series only
 * those who may see its details and its events: root, its owner and the
 * members of its group (request_may_operate).  An invalid VM, which has
 * no owner yet, shows its state to anyone, as status and info do.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "expfmt.h"
#include "vmstated.h"

static double	started_mono;	/* the daemon's start */
static double	started_wall;

void
metrics_init(void)
{
	started_mono = vm_clock_mono();
	started_wall = vm_clock_wall();
}

/* ---- Measuring. ---- */

/*
 * What was measured of a VM, made when it first moves: until then it has
 * been in the state it was loaded in since it was loaded, and nothing
 * else (idle_stats).  Restarts a previous daemon counted are its own:
 * only those after the load count.
 */
static struct vm_stats *
stats_of(struct vm *vm)
{
	struct vm_stats	*st;

	if (vm->stats != NULL)
		return vm->stats;
	st = vm->stats = xcalloc(1, sizeof(*st));
	st->entered = st->restart_seen = vm->loaded;
	st->last_boot = st->last_stop = -1;
	return st;
}

/* The figures of a VM that never moved, for writing. */
static const struct vm_stats idle_stats = {
	.last_boot = -1,
	.last_stop = -1,
};

static const struct vm_stats *
stats_peek(const struct vm *vm)
{
	return vm->stats != NULL ? vm->stats : &idle_stats;
}

static double
entered_at(const struct vm *vm)
{
	return vm->stats != NULL ? vm->stats->entered : vm->loaded;
}

void
metrics_vm_free(struct vm *vm)
{
	free(vm->stats);
	vm->stats = NULL;
}

/*
 * Count the automatic restarts vm.c recorded since we last looked: its
 * window holds their monotonic times, newest last, and only ever loses
 * the oldest (or all, at failreset).
 */
static void
count_restarts(struct vm *vm, struct vm_stats *st)
{
	double	 newest = st->restart_seen;
	int	 i;

	for (i = 0; i < vm->nrestarts; i++)
		if (vm->restarts[i] > st->restart_seen) {
			st->restarts++;
			if (vm->restarts[i] > newest)
				newest = vm->restarts[i];
		}
	st->restart_seen = newest;
}

/* A state change (announce): time in states, and the ends of a start
 * (running) and of a stop (stopped). */
void
metrics_state(struct vm *vm, enum vm_state from, enum vm_state to)
{
	struct vm_stats	*st = stats_of(vm);
	double		 now = vm_clock_mono();

	st->in_state[from] += now - st->entered;
	st->entered = now;
	if (to == VM_RUNNING && st->boot_began != 0) {
		st->last_boot = now - st->boot_began;
		st->boot_began = 0;
	}
	if (to == VM_STOPPED && st->stop_began != 0) {
		st->last_stop = now - st->stop_began;
		st->stop_began = 0;
	}
	if (to == VM_STOPPED || to == VM_FAILED)
		st->boot_began = st->stop_began = 0;
}

static bool
is_recovering(enum vm_pos pos)
{
	return pos == P_RECOVER_TASK || pos == P_RECOVER_DESTROY;
}

/*
 * On its way up: a start (also while it waits for what it depends on or
 * for an old instance to be destroyed) or a restart, for a VM meant to
 * run.
 */
static bool
is_booting(const struct vm *vm)
{
	if (vm->intent != INTENT_UP && vm->intent != INTENT_RESTART)
		return false;
	switch (vm->state) {
	case VM_START_NETWORK:
	case VM_START_STORAGE:
	case VM_RESTARTING:
	case VM_RESTARTED:
		return true;
	default:
		return vm->pos == P_STOPPED_DEPS || vm->pos == P_START_DESTROY;
	}
}

/* On its way down: stopping (asked, or the guest powered off), or told
 * to stop while it starts. */
static bool
is_stopping(const struct vm *vm)
{
	switch (vm->state) {
	case VM_STOPPING:
	case VM_STOP_STORAGE:
	case VM_STOP_NETWORK:
		return true;
	case VM_STOPPED:
	case VM_FAILED:
		return false;
	default:
		return vm->pos == P_RUNNING_DEPENDENTS ||
		    vm->intent == INTENT_STOP || vm->intent == INTENT_KILL ||
		    vm->intent == INTENT_SHUTDOWN ||
		    vm->intent == INTENT_REMOVE;
	}
}

/* The machine moved (effects.c): starts and stops begin here. */
void
metrics_moved(struct vm *vm)
{
	struct vm_stats	*st = stats_of(vm);
	double		 now = vm_clock_mono();

	count_restarts(vm, st);
	if (vm_at_rest(vm) || is_recovering(vm->pos)) {
		st->boot_began = st->stop_began = 0;
		return;
	}
	if (st->boot_began == 0 && is_booting(vm))
		st->boot_began = now;
	if (st->stop_began == 0 && is_stopping(vm))
		st->stop_began = now;
}

/* A hook of the VM's state starts (task.c; not helpers, not a previous
 * daemon's). */
void
metrics_hook_began(struct vm *vm)
{
	struct vm_stats	*st = stats_of(vm);

	st->hook_began = vm_clock_mono();
	st->hook_state = vm->state;
}

void
metrics_hook_ended(struct vm *vm, bool ok)
{
	struct vm_stats		*st = stats_of(vm);
	struct vm_hook_stats	*h;

	if (st->hook_began == 0)
		return;
	h = &st->hooks[st->hook_state];
	h->last = vm_clock_mono() - st->hook_began;
	h->seconds += h->last;
	h->runs++;
	if (!ok)
		h->failures++;
	st->hook_began = 0;
}

void
metrics_probe(struct vm *vm, bool ok)
{
	struct vm_stats	*st = stats_of(vm);

	st->probes++;
	if (!ok)
		st->probe_failures++;
}

/* ---- Writing. ---- */

/* The VMs of one exposition, and who asks. */
struct metrics_ctx {
	struct expfmt		 w;
	const struct ctl_peer	*peer;
	struct vm		**vms;		/* those the client may see */
	size_t			 nvms;
	const struct invalid_vm	**invalid;	/* one per name */
	size_t			 ninvalid;
	double			 now;
};

#define NSTATES_SHOWN	(VM_NSTATES + 1)	/* and "invalid" */

static const char *
state_label(int i)
{
	return i == VM_NSTATES ? "invalid" : vm_state_name((enum vm_state)i);
}

static void
vm_sample(struct metrics_ctx *m, const char *vm, const char *suffix,
    double value)
{
	const char	*labels[] = { "vm", vm, NULL };

	expfmt_sample(&m->w, suffix, labels, value);
}

static void
vm_sample2(struct metrics_ctx *m, const char *vm, const char *name,
    const char *value, const char *suffix, double v)
{
	const char	*labels[] = { "vm", vm, name, value, NULL };

	expfmt_sample(&m->w, suffix, labels, v);
}

static void
write_daemon(struct metrics_ctx *m)
{
	double		 count[NSTATES_SHOWN];
	const char	*labels[] = { "state", NULL, NULL };
	size_t		 i;
	int		 s;

	expfmt_family(&m->w, "vmstated_start_time_seconds", EXPFMT_GAUGE,
	    "seconds", "Unix time the daemon started.");
	expfmt_sample(&m->w, NULL, NULL, started_wall);
	expfmt_family(&m->w, "vmstated_uptime_seconds", EXPFMT_GAUGE,
	    "seconds", "Seconds since the daemon started.");
	expfmt_sample(&m->w, NULL, NULL, m->now - started_mono);

	/* Every VM, whoever asks: status shows them all. */
	memset(count, 0, sizeof(count));
	for (i = 0; i < sv_count(); i++)
		count[sv_vm(i)->state]++;
	count[VM_NSTATES] = (double)sv_invalid_count();
	expfmt_family(&m->w, "vmstated_vms", EXPFMT_GAUGE, NULL,
	    "VMs in each state (invalid: a configuration that does not "
	    "load).");
	for (s = 0; s < NSTATES_SHOWN; s++) {
		labels[1] = state_label(s);
		expfmt_sample(&m->w, NULL, labels, count[s]);
	}
	expfmt_family(&m->w, "vmstated_events", EXPFMT_COUNTER, NULL,
	    "Events published since the daemon started (the number of the "
	    "last one).");
	expfmt_sample(&m->w, NULL, NULL, (double)events_last());
}

/* Seconds since the hypervisor started (vmproc.c keeps that in
 * monotonic time, a taken-back one's too); 0 when none runs. */
static double
hypervisor_age(const struct vm *vm, double now)
{
	const struct vm_run	*run = vm_run_peek(vm);

	return run->pid == -1 || now < run->started_mono ? 0 :
	    now - run->started_mono;
}

static void
write_states(struct metrics_ctx *m)
{
	size_t	 i;
	int	 s;

	expfmt_family(&m->w, "vmstated_vm_state", EXPFMT_GAUGE, NULL,
	    "1 for the state the VM is in, 0 for the others.");
	for (i = 0; i < m->nvms; i++)
		for (s = 0; s < NSTATES_SHOWN; s++)
			vm_sample2(m, m->vms[i]->name, "state",
			    state_label(s), NULL,
			    s == (int)m->vms[i]->state ? 1 : 0);
	for (i = 0; i < m->ninvalid; i++)
		for (s = 0; s < NSTATES_SHOWN; s++)
			vm_sample2(m, m->invalid[i]->name, "state",
			    state_label(s), NULL, s == VM_NSTATES ? 1 : 0);

	expfmt_family(&m->w, "vmstated_vm_up", EXPFMT_GAUGE, NULL,
	    "1 while the VM is in state running, else 0.");
	for (i = 0; i < m->nvms; i++)
		vm_sample(m, m->vms[i]->name, NULL,
		    m->vms[i]->state == VM_RUNNING ? 1 : 0);
	for (i = 0; i < m->ninvalid; i++)
		vm_sample(m, m->invalid[i]->name, NULL, 0);

	expfmt_family(&m->w, "vmstated_vm_ready", EXPFMT_GAUGE, NULL,
	    "1 while the VM is ready for the VMs that depend on it (running, "
	    "its running hook done, its probe passed), else 0.");
	for (i = 0; i < m->nvms; i++)
		vm_sample(m, m->vms[i]->name, NULL,
		    order_vm_ready(m->vms[i]) ? 1 : 0);

	expfmt_family(&m->w, "vmstated_vm_uptime_seconds", EXPFMT_GAUGE,
	    "seconds", "Seconds since the VM's hypervisor started; 0 when "
	    "none runs.");
	for (i = 0; i < m->nvms; i++)
		vm_sample(m, m->vms[i]->name, NULL, hypervisor_age(m->vms[i],
		    m->now));

	expfmt_family(&m->w, "vmstated_vm_state_seconds", EXPFMT_COUNTER,
	    "seconds", "Seconds the VM has spent in each state since the "
	    "daemon loaded it.");
	for (i = 0; i < m->nvms; i++) {
		const struct vm_stats *st = stats_peek(m->vms[i]);
		for (s = 0; s < VM_NSTATES; s++)
			vm_sample2(m, m->vms[i]->name, "state",
			    state_label(s), NULL, st->in_state[s] +
			    (s == (int)m->vms[i]->state ?
			    m->now - entered_at(m->vms[i]) : 0));
	}
}

static void
write_restarts(struct metrics_ctx *m)
{
	size_t	 i;

	expfmt_family(&m->w, "vmstated_vm_restarts", EXPFMT_COUNTER, NULL,
	    "Automatic restarts (guest reboots and crashes) since the daemon "
	    "loaded the VM.");
	for (i = 0; i < m->nvms; i++)
		vm_sample(m, m->vms[i]->name, NULL,
		    (double)stats_peek(m->vms[i])->restarts);
	expfmt_family(&m->w, "vmstated_vm_restarts_in_window", EXPFMT_GAUGE,
	    NULL, "Automatic restarts within the last maxrestarttime "
	    "seconds; one more than maxrestart makes the VM fail.");
	for (i = 0; i < m->nvms; i++)
		vm_sample(m, m->vms[i]->name, NULL,
		    vm_restarts_in_window(m->vms[i]));
	expfmt_family(&m->w, "vmstated_vm_restart_limit", EXPFMT_GAUGE, NULL,
	    "The VM's maxrestart.");
	for (i = 0; i < m->nvms; i++)
		vm_sample(m, m->vms[i]->name, NULL,
		    (double)m->vms[i]->cfg->maxrestart);
	expfmt_family(&m->w, "vmstated_vm_restart_window_seconds",
	    EXPFMT_GAUGE, "seconds", "The VM's maxrestarttime.");
	for (i = 0; i < m->nvms; i++)
		vm_sample(m, m->vms[i]->name, NULL,
		    (double)m->vms[i]->cfg->maxrestarttime);
}

static void
write_durations(struct metrics_ctx *m)
{
	size_t	 i;

	expfmt_family(&m->w, "vmstated_vm_last_boot_duration_seconds",
	    EXPFMT_GAUGE, "seconds", "Seconds from the VM's last start "
	    "request (or the beginning of its last restart) until it was "
	    "running.");
	for (i = 0; i < m->nvms; i++)
		if (stats_peek(m->vms[i])->last_boot >= 0)
			vm_sample(m, m->vms[i]->name, NULL,
			    stats_peek(m->vms[i])->last_boot);
	expfmt_family(&m->w, "vmstated_vm_last_stop_duration_seconds",
	    EXPFMT_GAUGE, "seconds", "Seconds from the VM's last stop (a "
	    "request, or the guest powering off) until it was stopped.");
	for (i = 0; i < m->nvms; i++)
		if (stats_peek(m->vms[i])->last_stop >= 0)
			vm_sample(m, m->vms[i]->name, NULL,
			    stats_peek(m->vms[i])->last_stop);
}

static void
write_probes(struct metrics_ctx *m)
{
	size_t	 i;

	expfmt_family(&m->w, "vmstated_vm_probe_success", EXPFMT_GAUGE, NULL,
	    "1 when the VM's last probe passed, 0 when it failed.");
	for (i = 0; i < m->nvms; i++)
		if (stats_peek(m->vms[i])->probes > 0)
			vm_sample(m, m->vms[i]->name, NULL,
			    m->vms[i]->probe_ok ? 1 : 0);
	expfmt_family(&m->w, "vmstated_vm_probe_consecutive_failures",
	    EXPFMT_GAUGE, NULL, "Probes of the VM that failed in a row, "
	    "up to now.");
	for (i = 0; i < m->nvms; i++)
		if (stats_peek(m->vms[i])->probes > 0)
			vm_sample(m, m->vms[i]->name, NULL,
			    vm_rare_peek(m->vms[i])->probe_failed_in_row);
	expfmt_family(&m->w, "vmstated_vm_probes", EXPFMT_COUNTER, NULL,
	    "Probes of the VM that ran.");
	for (i = 0; i < m->nvms; i++)
		if (stats_peek(m->vms[i])->probes > 0)
			vm_sample(m, m->vms[i]->name, NULL,
			    (double)stats_peek(m->vms[i])->probes);
	expfmt_family(&m->w, "vmstated_vm_probe_failures", EXPFMT_COUNTER,
	    NULL, "Probes of the VM that failed.");
	for (i = 0; i < m->nvms; i++)
		if (stats_peek(m->vms[i])->probes > 0)
			vm_sample(m, m->vms[i]->name, NULL,
			    (double)stats_peek(m->vms[i])->probe_failures);
}

static void
write_hooks(struct metrics_ctx *m)
{
	const struct vm_hook_stats	*h;
	size_t				 i;
	int				 s;

	expfmt_family(&m->w, "vmstated_vm_hook_duration_seconds",
	    EXPFMT_SUMMARY, "seconds", "How long the VM's hooks ran, by "
	    "hook.");
	for (i = 0; i < m->nvms; i++)
		for (s = 0; s < VM_NSTATES; s++) {
			h = &stats_peek(m->vms[i])->hooks[s];
			if (h->runs == 0)
				continue;
			vm_sample2(m, m->vms[i]->name, "hook", state_label(s),
			    "_sum", h->seconds);
			vm_sample2(m, m->vms[i]->name, "hook", state_label(s),
			    "_count", (double)h->runs);
		}
	expfmt_family(&m->w, "vmstated_vm_hook_last_duration_seconds",
	    EXPFMT_GAUGE, "seconds", "How long the last run of each of the "
	    "VM's hooks took.");
	for (i = 0; i < m->nvms; i++)
		for (s = 0; s < VM_NSTATES; s++)
			if ((h = &stats_peek(m->vms[i])->hooks[s])->runs > 0)
				vm_sample2(m, m->vms[i]->name, "hook",
				    state_label(s), NULL, h->last);
	expfmt_family(&m->w, "vmstated_vm_hook_failures", EXPFMT_COUNTER,
	    NULL, "Runs of each of the VM's hooks that failed.");
	for (i = 0; i < m->nvms; i++)
		for (s = 0; s < VM_NSTATES; s++)
			if ((h = &stats_peek(m->vms[i])->hooks[s])->runs > 0)
				vm_sample2(m, m->vms[i]->name, "hook",
				    state_label(s), NULL,
				    (double)h->failures);
}

/* Has a VM of this name been written already?  (An invalid entry may
 * share its name with a VM, or with another invalid entry.) */
static bool
name_taken(const struct metrics_ctx *m, const char *name)
{
	size_t	 i;

	if (sv_find(name) != NULL)
		return true;
	for (i = 0; i < m->ninvalid; i++)
		if (strcmp(m->invalid[i]->name, name) == 0)
			return true;
	return false;
}

/* A restart is a move, which made the VM's figures; in case one were
 * recorded without a move, it still counts. */
static bool
restarted_since_load(const struct vm *vm)
{
	int	 i;

	for (i = 0; i < vm->nrestarts; i++)
		if (vm->restarts[i] > vm->loaded)
			return true;
	return false;
}

/* The VMs this client may see, brought up to date. */
static void
collect(struct metrics_ctx *m)
{
	const struct invalid_vm	*inv;
	struct vm		*vm;
	size_t			 i;

	m->vms = xcalloc(sv_count(), sizeof(*m->vms));
	for (i = 0; i < sv_count(); i++) {
		vm = sv_vm(i);
		if (!request_may_operate(m->peer, vm))
			continue;
		if (vm->stats != NULL || restarted_since_load(vm))
			count_restarts(vm, stats_of(vm));
		m->vms[m->nvms++] = vm;
	}
	m->invalid = xcalloc(sv_invalid_count(), sizeof(*m->invalid));
	for (i = 0; i < sv_invalid_count(); i++) {
		inv = sv_invalid(i);
		if (!name_taken(m, inv->name))
			m->invalid[m->ninvalid++] = inv;
	}
}

/*
 * The metrics this client may see, appended to out as text in the
 * Prometheus format, or OpenMetrics.
 */
void
metrics_write(const struct ctl_peer *peer, bool openmetrics,
    struct buf *out)
{
	struct metrics_ctx	 m;

	memset(&m, 0, sizeof(m));
	m.peer = peer;
	m.now = vm_clock_mono();
	expfmt_init(&m.w, out, openmetrics ? EXPFMT_OPENMETRICS :
	    EXPFMT_PROMETHEUS);
	collect(&m);
	write_daemon(&m);
	write_states(&m);
	write_restarts(&m);
	write_durations(&m);
	write_probes(&m);
	write_hooks(&m);
	expfmt_end(&m.w);
	free(m.vms);
	free(m.invalid);
}
