/*
 * vm_world.c: the fake world of vm_world.h.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vm_world.h"

/* The back ends are not part of the machine; hv.c names them. */
const struct hv_ops hv_bhyve_ops = { .name = "bhyve" };
const struct hv_ops hv_qemu_ops = { .name = "qemu" };

struct world W;
uint64_t world_positions_seen;
uint32_t world_events_seen;

/* ---- randomness (splitmix64: small, and the same everywhere) ---- */

static uint64_t
world_next64(void)
{
	uint64_t	 z = (W.rng += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

unsigned
world_rand(unsigned n)
{
	return n == 0 ? 0 : (unsigned)(world_next64() % n);
}

double
world_randf(double max)
{
	return max * (double)(world_next64() >> 11) / 9007199254740992.0;
}

static bool
world_chance(int pct)
{
	return !W.manual && (int)world_rand(100) < pct;
}

void
world_tracef(const char *fmt, ...)
{
	va_list	 ap;
	char	*line = W.trace[W.ntrace % WORLD_TRACE];
	int	 n;

	n = snprintf(line, sizeof(W.trace[0]), "%8.3f ", W.mono);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(W.trace[0]) - (size_t)n, fmt, ap);
	va_end(ap);
	W.ntrace++;
}

void
world_violate(const char *fmt, ...)
{
	va_list	 ap;

	if (W.violation[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(W.violation, sizeof(W.violation), fmt, ap);
	va_end(ap);
	world_tracef("VIOLATION: %s", W.violation);
}

void
world_dump(FILE *fp)
{
	int	 i, first = W.ntrace > WORLD_TRACE ? W.ntrace - WORLD_TRACE : 0;

	for (i = first; i < W.ntrace; i++)
		fprintf(fp, "  %s\n", W.trace[i % WORLD_TRACE]);
}

/* ---- the effects ---- */

static double
fx_now(void)
{
	return W.mono;
}

static bool
world_has_hook(enum vm_state s)
{
	return (W.hooks & (1u << s)) != 0;
}

/* A teardown phase is done when its stop hook ran to its end (or it has
 * none). */
static void
world_phase_torn(enum vm_state s)
{
	if (s == VM_STOP_NETWORK && ++W.net_torn > W.net_begun)
		world_violate("stop_network without a begun start_network");
	if (s == VM_STOP_STORAGE && ++W.storage_torn > W.storage_begun)
		world_violate("stop_storage without a begun start_storage");
}

static int
fx_persist(struct vm *vm)
{
	struct buf	 b;

	if (!W.file_exists && W.unrecordable)
		return -1;
	buf_init(&b);
	vmrecord_encode(vm, W.mono, W.wall, &b);
	free(W.record);
	W.record = buf_steal(&b);
	W.file_exists = true;
	return 0;
}

static void
world_task_begin(struct vm *vm, bool helper)
{
	double	 limit = (double)W.hooktimeout;

	if (W.task_alive)
		world_violate("a %s starts in %s while the %s of %s runs",
		    helper ? "helper" : "hook", vm_pos_name(vm->pos),
		    W.task_helper ? "helper" : "hook",
		    vm_state_name(W.task_state));
	if (helper && W.hv_alive)
		world_violate("the instance of a running hypervisor is "
		    "destroyed");
	W.task_alive = true;
	W.task_helper = helper;
	W.task_reclaimed = false;
	W.task_state = vm->state;
	W.task_pid = ++W.next_pid;
	W.task_start = (uint64_t)W.task_pid * 1000 + 7;
	if (world_chance(W.hook_hang_pct)) {
		/* It hangs: the task runner ends it at the time limit. */
		W.task_end_at = W.mono + limit + VM_KILL_GRACE;
		W.task_ok = false;
	} else {
		W.task_end_at = W.mono + (W.manual ? 1.0 : world_randf(2.0));
		W.task_ok = !world_chance(helper ? 2 : W.hook_fail_pct);
	}
	/* Recorded before it may exec, as proc_spawn's before_exec does. */
	if (W.deadline_sent && W.task_end_at > W.shutdown_at +
	    W.shutdown_timeout)
		W.task_end_at = W.shutdown_at + W.shutdown_timeout;
	vm_run(vm)->task_pid = W.task_pid;
	vm_run(vm)->task_start = W.task_start;
	vm->fx->persist(vm);
	world_tracef("%s %s starts (pid %ld)", helper ? "helper" :
	    "hook", vm_state_name(vm->state), (long)W.task_pid);
}

static int
fx_hook_start(struct vm *vm)
{
	W.hooks_run[vm->state]++;
	if (!world_has_hook(vm->state)) {
		world_phase_torn(vm->state);
		return 0;
	}
	world_task_begin(vm, false);
	return 1;
}

static int
fx_destroy_start(struct vm *vm)
{
	W.instance_left = false;
	if (!W.instance)
		return 0;
	if (W.hv_alive)
		world_violate("destroying the instance of a running "
		    "hypervisor");
	if (W.inprocess_destroy) {
		W.instance = false;
		return 0;
	}
	world_task_begin(vm, true);
	return 1;
}

static bool
fx_instance_reusable(struct vm *vm)
{
	(void)vm;
	if (!W.instance_reset || W.hv_alive)
		return false;
	/* Manual worlds: 100 always, else never. */
	if (W.manual ? W.reuse_pct < 100 : !world_chance(W.reuse_pct))
		return false;
	W.reuses++;
	return true;
}

static void
fx_task_signal(struct vm *vm, int sig)
{
	double	 when = sig == SIGKILL ? 0.001 : world_randf(VM_KILL_GRACE);

	if (!W.task_alive)
		return;
	if (W.mono + when < W.task_end_at)
		W.task_end_at = W.mono + when;
	W.task_ok = false;
}

static int
fx_spawn(struct vm *vm, struct buf *why)
{
	int	 scripted = 0;

	if (W.hv_alive)
		world_violate("a second hypervisor is spawned");
	if (W.removed)
		world_violate("a removed VM spawns its hypervisor");
	if (W.shutdown)
		world_violate("a hypervisor is spawned during shutdown");

	if (W.nspawn_script > 0) {
		scripted = W.spawn_script[0];
		memmove(W.spawn_script, W.spawn_script + 1,
		    (size_t)--W.nspawn_script * sizeof(int));
	}
	if (scripted == -1 || world_chance(W.spawn_fail_pct)) {
		buf_puts(why, "cannot execute the fake hypervisor");
		return -1;
	}
	if (scripted == -2 || world_chance(W.spawn_transient_pct)) {
		/* Its retries count like crashes, asked for or not. */
		W.restart_asked = false;
		buf_puts(why, "cannot fork: Resource temporarily unavailable");
		return -2;
	}
	W.hv_alive = true;
	W.hv_dying = false;
	W.hv_pid = ++W.next_pid;
	W.hv_start = (uint64_t)W.hv_pid * 1000 + 3;
	W.hvs_spawned++;
	if (W.instance && !W.instance_reset)
		world_violate("a hypervisor starts on an instance its guest "
		    "did not reset and nobody destroyed");
	W.instance = W.instance_left = true;
	W.instance_reset = false;
	W.hv_exit_at = -1;
	if (world_chance(W.crash_pct)) {
		W.hv_exit_at = W.mono + world_randf(5.0);
		W.hv_exit_kind = (enum hv_exit)world_rand(4);
	}
	W.watchdog_at = world_chance(W.health_pct) ? W.mono +
	    world_randf(6.0) : -1;
	vm_run(vm)->pid = W.hv_pid;
	vm_run(vm)->pid_start = W.hv_start;
	vm_run(vm)->started_at = (time_t)W.wall;
	vm->fx->persist(vm);		/* before it may exec */
	world_tracef("hypervisor spawned (pid %ld)", (long)W.hv_pid);
	return 0;
}

static void
world_hv_ends(double when, enum hv_exit kind)
{
	if (W.hv_exit_at < 0 || W.mono + when < W.hv_exit_at) {
		W.hv_exit_at = W.mono + when;
		W.hv_exit_kind = kind;
	}
}

static void
fx_signal(struct vm *vm, int sig)
{
	if (!W.hv_alive || vm_run_peek(vm)->pid != W.hv_pid)
		return;
	if (sig == SIGKILL) {
		W.hv_dying = true;
		W.hv_exit_at = W.mono + 0.001;
		W.hv_exit_kind = HV_EXIT_CRASH;
	} else if (sig == SIGTERM && !W.ignores_button)
		world_hv_ends(W.manual ? 1.0 : world_randf(3.0),
		    HV_EXIT_POWEROFF);
}

static int
fx_ask_stop(struct vm *vm)
{
	if (!W.acpi) {
		fx_signal(vm, SIGTERM);
		return 1;
	}
	if (!W.ignores_button)
		world_hv_ends(W.manual ? 1.0 : world_randf(3.0),
		    HV_EXIT_POWEROFF);
	return 0;
}

static void
fx_timer(struct vm *vm, enum vm_timer t, double seconds)
{
	W.timer_at[t] = seconds < 0 ? -1 : W.mono + seconds;
}

static int
fx_start_check(struct vm *vm, struct buf *why)
{
	if (W.hv_alive) {
		buf_printf(why, "a hypervisor of %s already runs as pid %ld",
		    vm->name, (long)W.hv_pid);
		return -1;
	}
	if (W.unrecordable && !W.file_exists) {
		buf_printf(why, "cannot record its state: No space left on "
		    "device");
		return -1;
	}
	W.file_exists = true;
	return 0;
}

static void
fx_announce(struct vm *vm, enum vm_state from, enum vm_state to)
{
	W.announces++;
	world_tracef("%s -> %s (%s) [%s, intent %s]", vm_state_name(from),
	    vm_state_name(to), vm->reason, vm_pos_name(vm->pos),
	    vm_intent_name(vm->intent));
	if (to == VM_FAILED && from == VM_FAILED)
		world_violate("failed -> failed");
	if (to == VM_FAILED)
		W.failed_entries++;
	if (to == VM_START_NETWORK) {
		if (W.removed)
			world_violate("a removed VM starts");
		if (W.shutdown)
			world_violate("a VM starts during shutdown");
		W.net_begun++;
	}
	if (to == VM_START_STORAGE)
		W.storage_begun++;
	if (to == VM_RESTARTED && strcmp(vm->reason, "request") == 0 &&
	    W.restart_asked && vm->nrestarts > W.restarts_when_asked)
		world_violate("a requested restart was counted");
	if (to == VM_RESTARTED && (strcmp(vm->reason, "crash") == 0 ||
	    strcmp(vm->reason, "guest-reboot") == 0) && vm->nrestarts == 0)
		world_violate("an automatic restart was not counted");
	if (to == VM_RESTARTED || to == VM_RUNNING)
		W.restart_asked = false;
}

static void
fx_log(struct vm *vm, const char *msg)
{
	(void)vm;
	world_tracef("log: %s", msg);
	if (strncmp(msg, "unexpected ", 11) == 0) {
		W.unexpected = true;
		world_violate("%s", msg);
	}
}

static void
fx_idle(struct vm *vm)
{
	W.idle_due = true;
}

/* The fake world keeps nothing in the run part. */
static bool
fx_release(struct vm *vm)
{
	return true;
}

/*
 * What the daemon's loop does once the callback that brought the VM to
 * rest has returned (supervisor.c: sv_idle_later): its run part goes.
 */
void
world_idle_later(void)
{
	if (!W.idle_due)
		return;
	W.idle_due = false;
	if (vm_run_trim(W.vm))
		world_tracef("run part freed");
}

static void
fx_config_changed(struct vm *vm, struct vm_config *old)
{
}

/*
 * What the VM depends on is another VM the world plays: not ready until
 * deps_at, then ready or failed for good.
 */
static int
fx_deps_ready(struct vm *vm, struct buf *why)
{
	if (!W.has_deps || W.deps_state == 1)
		return 1;
	if (W.deps_state == -1) {
		buf_puts(why, "db, which it depends on, is failed");
		return -1;
	}
	if (W.deps_at < 0)
		W.deps_at = W.mono + (W.manual ? 1.0 : world_randf(4.0));
	return 0;
}

static bool
fx_dependents_up(struct vm *vm, struct buf *names)
{
	if (W.dependents)
		buf_puts(names, "app");
	return W.dependents;
}

static void
fx_stop_dependents(struct vm *vm)
{
	if (W.dependents && W.dependents_at < 0)
		W.dependents_at = W.mono + (W.manual ? 1.0 :
		    world_randf(3.0));
}

static void
fx_probe(struct vm *vm, bool on)
{
	W.probing = on;
	W.health_at = -1;
	if (on && world_chance(W.health_pct)) {
		W.health_at = W.mono + world_randf(5.0);
		W.health_event = world_rand(2) ? EV_PROBE_FAILED : EV_WATCHDOG;
	}
}

static void
fx_moved(struct vm *vm)
{
	world_positions_seen |= UINT64_C(1) << vm->pos;
}

const struct vm_effects world_effects = {
	.hook_start = fx_hook_start,
	.destroy_start = fx_destroy_start,
	.instance_reusable = fx_instance_reusable,
	.task_signal = fx_task_signal,
	.spawn = fx_spawn,
	.ask_stop = fx_ask_stop,
	.signal = fx_signal,
	.timer = fx_timer,
	.persist = fx_persist,
	.start_check = fx_start_check,
	.announce = fx_announce,
	.log = fx_log,
	.now = fx_now,
	.idle = fx_idle,
	.release = fx_release,
	.config_changed = fx_config_changed,
	.deps_ready = fx_deps_ready,
	.dependents_up = fx_dependents_up,
	.stop_dependents = fx_stop_dependents,
	.probe = fx_probe,
	.moved = fx_moved,
};

/* ---- the world going on ---- */

/* Deliver an event to the VM, noting that the model reached it. */
static void
world_event(enum vm_event ev)
{
	world_events_seen |= UINT32_C(1) << ev;
	vm_event(W.vm, ev);
	world_idle_later();
}

void
world_init(uint64_t seed)
{
	int	 t;

	free(W.record);
	free(W.name);
	memset(&W, 0, sizeof(W));
	W.rng = seed;
	W.mono = 1000.0;
	W.wall = 1.7e9;
	W.hooktimeout = 10;
	W.stoptimeout = 5;
	W.maxrestart = 3;
	W.maxrestarttime = 30;
	W.hv_pid = -1;
	W.task_pid = -1;
	W.next_pid = 100;
	W.shutdown_at = -1;
	W.health_at = W.deps_at = W.dependents_at = W.watchdog_at = -1;
	W.shutdown_timeout = 80;
	W.grace = 10;
	for (t = 0; t < VM_NTIMERS; t++)
		W.timer_at[t] = -1;
	W.name = xstrdup("vm1");
	log_init("test", getenv("WORLD_LOG") ? LOG_TO_STDERR : 0, 0);
}

static struct vm_config *
world_config(void)
{
	struct vm_config	*cfg = xcalloc(1, sizeof(*cfg));

	cfg->name = xstrdup(W.name);
	cfg->dir = xstrdup("/nonexistent/vm1");
	cfg->dirname = xstrdup("vm1");
	cfg->maxrestart = W.maxrestart;
	cfg->maxrestarttime = W.maxrestarttime;
	cfg->stoptimeout = W.stoptimeout;
	cfg->hooktimeout = W.hooktimeout;
	cfg->autostart = W.autostart;
	cfg->hypervisor = HV_BHYVE;
	cfg->generate_acpi_tables = cfg->vmexit_on_halt = CFG_UNSET;
	cfg->wire_memory = CFG_UNSET;
	return cfg;
}

void
world_start(void)
{
	W.vm = vm_new(world_config(), &world_effects);
}

void
world_free(void)
{
	vm_free(W.vm);
	W.vm = NULL;
	free(W.record);
	W.record = NULL;
	free(W.name);
	W.name = NULL;
}

/* When the shutdown kills what still runs; it ends grace seconds later. */
static double
world_deadline(void)
{
	return W.shutdown_at + W.shutdown_timeout - W.grace;
}

double
world_next_time(void)
{
	double	 t = -1;
	int	 i;

	if (W.task_alive)
		t = W.task_end_at;
	if (W.hv_alive && W.hv_exit_at >= 0 && (t < 0 || W.hv_exit_at < t))
		t = W.hv_exit_at;
	for (i = 0; i < VM_NTIMERS; i++)
		if (W.timer_at[i] >= 0 && (t < 0 || W.timer_at[i] < t))
			t = W.timer_at[i];
	if (W.deps_at >= 0 && (t < 0 || W.deps_at < t))
		t = W.deps_at;
	if (W.dependents_at >= 0 && (t < 0 || W.dependents_at < t))
		t = W.dependents_at;
	if (W.probing && W.health_at >= 0 && (t < 0 || W.health_at < t))
		t = W.health_at;
	if (W.hv_alive && W.watchdog_at >= 0 && (t < 0 || W.watchdog_at < t))
		t = W.watchdog_at;
	if (W.shutdown && !W.deadline_sent && (t < 0 ||
	    world_deadline() < t))
		t = world_deadline();
	return t;
}

static void
world_set_time(double t)
{
	if (t > W.mono) {
		W.wall += t - W.mono;
		W.mono = t;
	}
}

/* Deliver what is due at time t (exactly one thing). */
static void
world_deliver(double t)
{
	struct vm	*vm = W.vm;
	enum vm_event	 ev;
	bool		 helper;
	int		 i;

	world_set_time(t);
	if (W.task_alive && W.task_end_at <= t) {
		W.task_alive = false;
		helper = W.task_helper;
		vm_run(vm)->task_pid = -1;
		vm_run(vm)->task_start = 0;
		world_tracef("%s of %s ends %s", helper ? "helper" : "hook",
		    vm_state_name(W.task_state), W.task_ok ? "ok" : "failed");
		if (helper) {
			if (W.task_ok)
				W.instance = false;
			ev = W.task_ok ? EV_HELPER_OK : EV_HELPER_FAILED;
		} else if (W.task_reclaimed) {
			/* A previous daemon's hook: it ran to its end on its
			 * own (its runner recorded it), or was ended. */
			if (W.task_ok)
				world_phase_torn(W.task_state);
			ev = W.task_ok ? EV_HOOK_OK : EV_HOOK_FAILED;
		} else {
			world_phase_torn(W.task_state);
			ev = W.task_ok ? EV_HOOK_OK : EV_HOOK_FAILED;
		}
		W.task_reclaimed = false;
		world_event(ev);
		return;
	}
	if (W.hv_alive && W.hv_exit_at >= 0 && W.hv_exit_at <= t) {
		enum hv_exit kind = W.hv_exit_kind;
		W.hv_alive = W.hv_dying = false;
		W.hv_exit_at = -1;
		vm_run(vm)->pid = -1;
		vm_run(vm)->pid_start = 0;
		W.instance_reset = kind == HV_EXIT_REBOOT;
		world_tracef("hypervisor ends: %s", hv_exit_name(kind));
		world_events_seen |= UINT32_C(1) << (kind == HV_EXIT_REBOOT ?
		    EV_EXIT_REBOOT : kind == HV_EXIT_CRASH ? EV_EXIT_CRASH :
		    EV_EXIT_OFF);
		vm_exited(vm, kind, kind == HV_EXIT_REBOOT ? 0 : 1 << 8, true,
		    "fake");
		world_idle_later();
		return;
	}
	for (i = 0; i < VM_NTIMERS; i++)
		if (W.timer_at[i] >= 0 && W.timer_at[i] <= t) {
			W.timer_at[i] = -1;
			world_tracef("%s timer", i == VM_TIMER_STOP ? "stop" :
			    "retry");
			world_event(i == VM_TIMER_STOP ? EV_STOP_TIMER :
			    EV_RETRY_TIMER);
			return;
		}
	if (W.deps_at >= 0 && W.deps_at <= t) {
		W.deps_at = -1;
		W.deps_state = W.manual || world_rand(5) ? 1 : -1;
		world_tracef("the VM it depends on is %s", W.deps_state == 1 ?
		    "ready" : "failed");
		world_event(W.deps_state == 1 ? EV_DEPS_READY :
		    EV_DEPS_FAILED);
		return;
	}
	if (W.dependents_at >= 0 && W.dependents_at <= t) {
		W.dependents_at = -1;
		W.dependents = false;
		world_tracef("the VMs that need it are down");
		world_event(EV_DEPENDENTS_DOWN);
		return;
	}
	if (W.hv_alive && W.watchdog_at >= 0 && W.watchdog_at <= t) {
		W.watchdog_at = -1;
		world_tracef("the guest's watchdog expired");
		world_event(EV_WATCHDOG);
		return;
	}
	if (W.probing && W.health_at >= 0 && W.health_at <= t) {
		W.health_at = -1;
		world_tracef("%s", vm_event_name(W.health_event));
		world_event(W.health_event);
		return;
	}
	if (W.shutdown && !W.deadline_sent && world_deadline() <= t) {
		W.deadline_sent = true;
		world_tracef("the shutdown's deadline");
		/* The task runner cuts every limit to what is left. */
		if (W.task_alive && W.task_end_at > W.shutdown_at +
		    W.shutdown_timeout)
			W.task_end_at = W.shutdown_at + W.shutdown_timeout;
		world_event(EV_DEADLINE);
		return;
	}
}

void
world_shutdown(void)
{
	world_tracef("order shutdown");
	W.shutdown = true;
	W.shutdown_at = W.mono;
	W.deadline_sent = false;
	/* A VM that needs it stops by itself, some time later. */
	if (W.dependents && W.dependents_at < 0)
		W.dependents_at = W.mono + world_randf(W.shutdown_timeout);
	world_event(EV_SHUTDOWN);
}

bool
world_advance(void)
{
	double	 t = world_next_time();

	if (t < 0)
		return false;
	world_deliver(t < W.mono ? W.mono : t);
	return true;
}

void
world_run_for(double seconds)
{
	double	 end = W.mono + seconds, t;

	while ((t = world_next_time()) >= 0 && t <= end && !W.violation[0])
		world_deliver(t < W.mono ? W.mono : t);
	world_set_time(end);
}

int
world_request(enum vm_event ev, struct buf *msg)
{
	int	 before = W.vm->nrestarts, r;

	world_tracef("request %s", vm_event_name(ev));
	world_events_seen |= UINT32_C(1) << ev;
	r = vm_request(W.vm, ev, 0, "request", msg);
	world_idle_later();
	if (r == 0 && ev == EV_RESTART) {
		W.restart_asked = true;
		W.restarts_when_asked = before;
	}
	if (r == -1)
		world_tracef("refused: %s", msg->data ? msg->data : "");
	return r;
}

/*
 * SIGKILL to the daemon, then a new one: the processes live on, timers
 * and unreaped exits are lost, and the new daemon starts from the state
 * file, as persist_restore() does: it ends the recorded task if it still
 * runs, takes back the recorded hypervisor if it still runs (or any of
 * the VM's if search_finds: qemu's pidfile, bhyve's title).
 */
void
world_daemon_restart(void)
{
	struct vm_record	 rec;
	char			 err[256];
	int			 t;

	world_tracef("daemon killed and started again");
	for (t = 0; t < VM_NTIMERS; t++)
		W.timer_at[t] = -1;
	/* While no daemon runs, its hook may end (its runner records it in
	 * the state file) and its hypervisor may die. */
	if (W.task_alive && !W.manual && world_rand(3) == 0) {
		W.task_alive = false;
		world_tracef("%s of %s ends while no daemon runs",
		    W.task_helper ? "helper" : "hook",
		    vm_state_name(W.task_state));
		if (W.task_helper) {
			W.instance = false;
		} else {
			world_phase_torn(W.task_state);
			W.task_done_pid = W.task_pid;
		}
	}
	if (W.hv_alive && !W.hv_dying && !W.manual && world_rand(4) == 0) {
		world_tracef("hypervisor ends while no daemon runs");
		W.hv_alive = W.instance_reset = false;
		W.hv_exit_at = -1;
	}
	if (W.hv_alive && W.hv_dying) {
		/* Killed before the daemon died; its end is never seen. */
		W.hv_alive = W.hv_dying = W.instance_reset = false;
		W.hv_exit_at = -1;
	}
	vm_free(W.vm);
	W.vm = vm_new(world_config(), &world_effects);
	W.shutdown = false;		/* the new daemon is not exiting */
	W.shutdown_at = -1;
	W.deadline_sent = false;
	W.probing = false;
	W.restart_asked = false;
	if (W.record == NULL)
		return;			/* never recorded: stopped */
	if (vmrecord_decode(W.record, strlen(W.record), &rec, W.mono,
	    W.wall, err, sizeof(err)) == -1) {
		world_violate("unreadable record: %s", err);
		return;
	}
	if (rec.task_pid != -1 && W.task_alive && rec.task_pid == W.task_pid &&
	    rec.task_start == W.task_start) {
		vm_run(W.vm)->task_pid = W.task_pid;
		vm_run(W.vm)->task_start = W.task_start;
		W.task_reclaimed = true;
		if (W.task_end_at > W.mono + VM_KILL_GRACE)
			W.task_end_at = W.mono + world_randf(VM_KILL_GRACE);
		/* It may still run to its end before the SIGTERM lands. */
		W.task_ok = !W.task_helper && world_rand(3) == 0;
	} else if (rec.task_pid != -1 && !W.task_alive &&
	    rec.task_pid == W.task_done_pid)
		rec.task_done = true;
	if (rec.pos != P_STOPPED && rec.pos != P_FAILED && W.hv_alive &&
	    ((rec.pid == W.hv_pid && rec.pid_start == W.hv_start) ||
	    W.search_finds)) {
		vm_run(W.vm)->pid = W.hv_pid;
		vm_run(W.vm)->pid_start = W.hv_start;
		vm_run(W.vm)->adopted = true;
	}
	vm_restore(W.vm, &rec);
	vmrecord_free(&rec);
	world_idle_later();
}

/* Bound on a shutdown: shutdown_timeout, whatever the VM does. */
static double
world_shutdown_bound(void)
{
	return W.shutdown_timeout + 0.5;
}

bool
world_check(void)
{
	struct vm	*vm = W.vm;

	if (W.violation[0] != '\0')
		return false;
	if (vm_at_rest(vm) && (W.hv_alive || W.task_alive))
		world_violate("at rest in %s with a %s still running",
		    vm_pos_name(vm->pos), W.hv_alive ? "hypervisor" : "task");
	if (W.hv_alive && vm_run_peek(vm)->pid != W.hv_pid && vm->pos != P_RECOVER_TASK)
		world_violate("a hypervisor (pid %ld) runs that the VM does "
		    "not know (%s)", (long)W.hv_pid, vm_pos_name(vm->pos));
	if (W.task_alive && vm_run_peek(vm)->task_pid != W.task_pid)
		world_violate("a task (pid %ld) runs that the VM does not know",
		    (long)W.task_pid);
	/* At rest with nothing running, a VM costs only its at-rest part
	 * (vmstated.h: struct vm_run). */
	if (vm_at_rest(vm) && !W.hv_alive && !W.task_alive &&
	    vm->run != NULL)
		world_violate("at rest in %s with its run part still "
		    "allocated", vm_pos_name(vm->pos));
	if (W.hv_alive && vm->pos != P_RECOVER_TASK && vm->run == NULL)
		world_violate("a hypervisor runs and the VM has no run part "
		    "(%s)", vm_pos_name(vm->pos));
	if (vm_at_rest(vm) && (W.net_begun != W.net_torn ||
	    W.storage_begun != W.storage_torn))
		world_violate("at rest with phases begun %d/%d, torn down "
		    "%d/%d", W.net_begun, W.storage_begun, W.net_torn,
		    W.storage_torn);
	if (vm_at_rest(vm) && W.instance && W.instance_left)
		world_violate("at rest in %s with the instance its hypervisor "
		    "left, never destroyed", vm_pos_name(vm->pos));
	if (W.shutdown && !vm_at_rest(vm) &&
	    W.mono > W.shutdown_at + world_shutdown_bound())
		world_violate("still %s %.0f s after the shutdown began",
		    vm_pos_name(vm->pos), W.mono - W.shutdown_at);
	return W.violation[0] == '\0';
}
