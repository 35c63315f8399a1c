/*
 * test_vm.c: the state machine (src/vmstated/vm.c) driven alone, in the
 * fake world of vm_world.c: hooks, processes and clocks the test controls.
 * Each test is one behaviour of vmstated(8); the regressions of issue 9
 * are here at the machine's level (tests/integration/test_machine.py has
 * them against the real daemon).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vm_world.h"

#define H(s)		(1u << (s))
#define ALL_HOOKS	((1u << VM_NSTATES) - 1)

static void
check_world(void)
{
	if (!world_check()) {
		world_dump(stderr);
		fail_msg("%s", W.violation);
	}
}

/* A manual world: hooks end 1 s after they start, successfully; the
 * guest obeys its power button after 1 s. */
static void
setup(unsigned hooks)
{
	world_init(1);
	W.manual = true;
	W.hooks = hooks;
	world_start();
}

static void
run(double seconds)
{
	world_run_for(seconds);
	check_world();
}

static int
request(enum vm_event ev)
{
	struct buf	 msg;
	int		 r;

	buf_init(&msg);
	r = world_request(ev, &msg);
	buf_free(&msg);
	check_world();
	return r;
}

/* A request that must be refused with a message containing `words`. */
static void
refused(enum vm_event ev, const char *words)
{
	struct buf	 msg;

	buf_init(&msg);
	assert_int_equal(world_request(ev, &msg), -1);
	if (strstr(msg.data, words) == NULL)
		fail_msg("refusal \"%s\" lacks \"%s\"", msg.data, words);
	buf_free(&msg);
}

static void
event(enum vm_event ev)
{
	if (ev == EV_SHUTDOWN) {
		world_shutdown();
		check_world();
		return;
	}
	if (ev == EV_REMOVE)
		W.removed = true;
	vm_event(W.vm, ev);
	world_idle_later();
	check_world();
}

static void
assert_pos(enum vm_pos p)
{
	if (W.vm->pos != p) {
		world_dump(stderr);
		fail_msg("in %s, expected %s", vm_pos_name(W.vm->pos),
		    vm_pos_name(p));
	}
}

/* The hook running now lasts `seconds` more. */
static void
slow_task(double seconds)
{
	assert_true(W.task_alive);
	W.task_end_at = W.mono + seconds;
}

static int
teardown(void **state)
{
	world_free();
	return 0;
}

/* Let time run until the VM is in position p (at most max seconds). */
static void
run_until(enum vm_pos p, double max)
{
	double	 end = W.mono + max;

	while (W.vm->pos != p && W.mono < end && world_advance())
		check_world();
	assert_pos(p);
}

/* ---- the table ---- */

static void
test_the_table_is_complete(void **state)
{
	enum vm_pos	 p;
	int		 i, j;

	assert_int_equal(vm_check_table(), 0);
	for (i = 0; i < VM_NPOS; i++) {
		assert_true(vm_pos_by_name(vm_pos_name((enum vm_pos)i), &p));
		assert_int_equal(p, i);
		for (j = 0; j < i; j++)
			assert_string_not_equal(vm_pos_name((enum vm_pos)i),
			    vm_pos_name((enum vm_pos)j));
	}
}

/* ---- starting and stopping ---- */

static void
test_a_start_without_hooks_runs_at_once(void **state)
{
	setup(0);
	assert_int_equal(request(EV_START), 0);
	assert_pos(P_RUNNING);
	assert_true(W.hv_alive);
	assert_int_equal(vm_run_peek(W.vm)->pid, W.hv_pid);
	assert_int_equal(W.net_begun, 1);
	assert_int_equal(W.storage_begun, 1);
}

static void
test_a_start_and_a_stop_run_every_hook_once(void **state)
{
	int	 s;

	setup(ALL_HOOKS);
	request(EV_START);
	run(10);
	assert_pos(P_RUNNING);
	request(EV_STOP);
	run(10);
	assert_pos(P_STOPPED);
	for (s = 1; s < VM_NSTATES; s++)
		if (s != VM_RESTARTING && s != VM_RESTARTED && s != VM_FAILED)
			assert_int_equal(W.hooks_run[s], 1);
	assert_int_equal(W.net_torn, 1);
	assert_int_equal(W.storage_torn, 1);
}

static void
test_a_hook_that_fails_to_start_storage_tears_both_phases_down(void **state)
{
	setup(H(VM_START_STORAGE));
	request(EV_START);
	W.task_ok = false;
	run(5);
	assert_pos(P_FAILED);
	assert_string_equal(W.vm->fail_reason, "hook-failed");
	assert_int_equal(W.storage_torn, 1);
	assert_int_equal(W.net_torn, 1);
	assert_int_equal(W.hvs_spawned, 0);
}

/* ---- issue 9, item 2: shutdown and removal are sticky ---- */

static void
test_a_restart_waiting_for_the_running_hook_yields_to_shutdown(void **state)
{
	setup(H(VM_RUNNING));
	request(EV_START);
	assert_pos(P_RUNNING_HOOK);
	slow_task(30);
	assert_int_equal(request(EV_RESTART), 0);
	event(EV_SHUTDOWN);
	refused(EV_START, "shutting down");
	refused(EV_RESTART, "shutting down");
	run(60);
	assert_pos(P_STOPPED);
	assert_int_equal(W.hvs_spawned, 1);	/* never respawned */
	assert_int_equal(W.hooks_run[VM_RESTARTING], 0);
}

static void
test_a_restart_waiting_for_the_running_hook_yields_to_removal(void **state)
{
	setup(H(VM_RUNNING) | H(VM_STOPPING));
	request(EV_START);
	slow_task(30);
	request(EV_RESTART);
	event(EV_REMOVE);
	refused(EV_START, "removed");
	refused(EV_RESTART, "removed");
	refused(EV_FAILRESET, "removed");
	W.ignores_button = true;
	run_until(P_STOPPING_WAIT, 60);
	/* kill always works: no waiting for stoptimeout */
	assert_int_equal(request(EV_KILL), 0);
	run_until(P_STOPPED, 2);
	assert_int_equal(W.hvs_spawned, 1);
	assert_string_equal(W.vm->reason, "removed");
}

static void
test_a_start_waiting_for_the_stopped_hook_yields_to_removal(void **state)
{
	setup(H(VM_STOPPED));
	request(EV_START);
	request(EV_STOP);
	run_until(P_STOPPED_HOOK, 30);
	assert_int_equal(request(EV_START), 0);	/* waits for the hook */
	event(EV_REMOVE);
	run(10);
	assert_pos(P_STOPPED);
	assert_int_equal(W.net_begun, 1);	/* the first start only */
	assert_int_equal(W.hvs_spawned, 1);
}

static void
test_a_stop_after_a_waiting_start_cancels_it(void **state)
{
	setup(H(VM_STOPPED));
	request(EV_START);
	request(EV_STOP);
	run_until(P_STOPPED_HOOK, 30);
	assert_int_equal(request(EV_START), 0);
	assert_int_equal(request(EV_STOP), 0);
	run(10);
	assert_pos(P_STOPPED);
	assert_int_equal(W.hvs_spawned, 1);
}

static void
test_a_kill_after_a_waiting_start_cancels_it(void **state)
{
	setup(H(VM_STOPPED));
	request(EV_START);
	request(EV_STOP);
	run_until(P_STOPPED_HOOK, 30);
	request(EV_START);
	assert_int_equal(request(EV_KILL), 0);
	run(10);
	assert_pos(P_STOPPED);
	assert_int_equal(W.hvs_spawned, 1);
}

/* ---- issue 9, item 3: every helper is bounded ---- */

static void
test_a_hung_destroy_helper_fails_the_start(void **state)
{
	setup(0);
	W.instance = true;			/* a stale instance */
	request(EV_START);
	assert_pos(P_START_DESTROY);
	/* The task runner ends it at its time limit. */
	slow_task((double)W.hooktimeout + VM_KILL_GRACE);
	W.task_ok = false;
	run(W.hooktimeout + VM_KILL_GRACE + 1);
	assert_pos(P_FAILED);
	assert_string_equal(W.vm->fail_reason, "start-failed");
	assert_int_equal(W.hvs_spawned, 0);
}

static void
test_a_hung_destroy_helper_after_a_stop_does_not_hold_the_teardown(
    void **state)
{
	setup(H(VM_STOP_NETWORK));
	request(EV_START);
	request(EV_STOP);
	run_until(P_STOPPING_DESTROY, 30);	/* the guest powers off */
	slow_task((double)W.hooktimeout + VM_KILL_GRACE);
	W.task_ok = false;
	run(W.hooktimeout + VM_KILL_GRACE + 5);
	assert_pos(P_STOPPED);
}

/* ---- issue 9, item 4: monotonic time ---- */

static void
crash_every(double seconds, double wall_step)
{
	W.hv_exit_at = W.mono + seconds;
	W.hv_exit_kind = HV_EXIT_CRASH;
	W.wall += wall_step;
}

static void
test_a_wall_clock_step_back_does_not_unbound_a_crash_loop(void **state)
{
	int	 i;

	setup(0);
	request(EV_START);
	for (i = 0; i < 10 && W.vm->pos != P_FAILED; i++) {
		crash_every(1, i == 1 ? -3600 : 0);
		run(2);
	}
	assert_pos(P_FAILED);
	assert_int_equal(W.hvs_spawned, 4);	/* maxrestart 3 */
}

static void
test_a_wall_clock_step_forward_does_not_unbound_a_crash_loop(void **state)
{
	int	 i;

	setup(0);
	request(EV_START);
	for (i = 0; i < 10 && W.vm->pos != P_FAILED; i++) {
		crash_every(1, i == 1 ? 3600 : 0);
		run(2);
	}
	assert_pos(P_FAILED);
	assert_int_equal(W.hvs_spawned, 4);
}

static void
test_a_wall_clock_step_does_not_fail_a_vm(void **state)
{
	int	 i;

	setup(0);
	request(EV_START);
	/* One crash every 20 s: 2 in any 30 s window. */
	for (i = 0; i < 8; i++) {
		crash_every(20, i % 2 ? 3600 : -3600);
		run(21);
		assert_pos(P_RUNNING);
	}
	assert_int_equal(W.hvs_spawned, 9);
}

static void
test_restarts_come_back_from_the_state_file_across_a_clock_step(
    void **state)
{
	setup(0);
	request(EV_START);
	crash_every(1, 0);
	run(2);
	crash_every(1, 0);
	run(2);
	assert_int_equal(W.vm->nrestarts, 2);
	world_daemon_restart();
	W.wall -= 3600;
	assert_int_equal(vm_restarts_in_window(W.vm), 2);
	crash_every(1, 0);
	run(2);
	crash_every(1, 0);
	run(2);
	assert_pos(P_FAILED);
}

/* ---- issue 9, item 5: crash-consistent across daemon restarts ---- */

static void
test_a_daemon_killed_during_start_storage_ends_that_hook_first(void **state)
{
	setup(H(VM_START_STORAGE) | H(VM_STOP_STORAGE) | H(VM_STOP_NETWORK));
	request(EV_START);
	assert_pos(P_STORAGE_HOOK);
	slow_task(600);
	world_daemon_restart();
	assert_pos(P_RECOVER_TASK);
	assert_true(W.task_reclaimed);
	run(VM_KILL_GRACE + 10);
	assert_pos(P_STOPPED);
	assert_int_equal(W.storage_torn, 1);
	assert_int_equal(W.net_torn, 1);
	assert_int_equal(W.hvs_spawned, 0);
}

static void
test_a_daemon_killed_before_the_spawn_tears_storage_down(void **state)
{
	setup(H(VM_START_STORAGE) | H(VM_STOP_STORAGE));
	request(EV_START);
	assert_pos(P_STORAGE_HOOK);
	/* The hook ends, the daemon dies before it can spawn. */
	W.task_alive = false;
	world_daemon_restart();
	run(10);
	assert_pos(P_STOPPED);
	assert_int_equal(W.storage_torn, 1);
	assert_int_equal(W.hooks_run[VM_STOP_STORAGE], 1);
}

static void
test_a_running_hypervisor_is_taken_back_without_hooks(void **state)
{
	setup(ALL_HOOKS);
	request(EV_START);
	run(10);
	assert_pos(P_RUNNING);
	world_daemon_restart();
	assert_pos(P_RUNNING);
	assert_string_equal(W.vm->reason, "adopted");
	assert_int_equal(vm_run_peek(W.vm)->pid, W.hv_pid);
	assert_int_equal(W.hooks_run[VM_STOPPING], 0);
	request(EV_STOP);
	run(10);
	assert_pos(P_STOPPED);
	assert_int_equal(W.hooks_run[VM_STOP_STORAGE], 1);
}

static void
test_stop_hooks_run_once_across_a_daemon_restart(void **state)
{
	setup(H(VM_STOP_STORAGE) | H(VM_STOP_NETWORK));
	request(EV_START);
	request(EV_STOP);
	run_until(P_STOP_NETWORK_HOOK, 30);
	slow_task(60);
	world_daemon_restart();
	run(20);
	assert_pos(P_STOPPED);
	assert_int_equal(W.hooks_run[VM_STOP_STORAGE], 1);
	assert_int_equal(W.net_torn, 1);
	assert_int_equal(W.storage_torn, 1);
}

static void
test_an_autostart_vm_whose_hypervisor_died_meanwhile_starts_again(
    void **state)
{
	world_init(1);
	W.manual = true;
	W.autostart = true;
	world_start();
	request(EV_START);
	assert_pos(P_RUNNING);
	W.hv_alive = false;			/* dies while no daemon runs */
	world_daemon_restart();
	run(10);
	assert_pos(P_RUNNING);
	assert_int_equal(W.hvs_spawned, 2);
	assert_int_equal(W.net_torn, 1);	/* torn down, then started */
	assert_int_equal(W.vm->nrestarts, 1);
}

static void
test_a_vm_whose_state_cannot_be_recorded_is_not_started(void **state)
{
	setup(0);
	W.unrecordable = true;
	refused(EV_START, "cannot record its state");
	assert_pos(P_STOPPED);
	assert_int_equal(W.net_begun, 0);
}

/* ---- issue 9, item 6: small edges ---- */

static void
test_a_crash_during_the_running_hook_then_its_failure_fails_once(
    void **state)
{
	setup(H(VM_RUNNING) | H(VM_FAILED));
	request(EV_START);
	assert_pos(P_RUNNING_HOOK);
	slow_task(5);
	crash_every(1, 0);
	run(2);
	assert_pos(P_RUNNING_HOOK_GONE);
	W.task_ok = false;
	run(10);
	assert_pos(P_FAILED);
	assert_int_equal(W.failed_entries, 1);
	assert_int_equal(W.hooks_run[VM_FAILED], 1);
}

/* ---- health: qemu reports its watchdog once, whatever is running ---- */

static void
test_a_watchdog_at_rest_kills_and_restarts_as_a_crash(void **state)
{
	pid_t	 first;

	setup(0);
	request(EV_START);
	assert_pos(P_RUNNING);
	first = W.hv_pid;
	event(EV_WATCHDOG);
	assert_pos(P_CRASH_KILL);
	assert_string_equal(W.vm->reason, "watchdog");
	run_until(P_RUNNING, 30);
	assert_int_not_equal(W.hv_pid, first);
	assert_int_equal(W.vm->nrestarts, 1);
}

static void
test_a_watchdog_during_the_running_hook_is_not_lost(void **state)
{
	pid_t	 first;

	setup(H(VM_RUNNING));
	request(EV_START);
	assert_pos(P_RUNNING_HOOK);
	slow_task(5);
	first = W.hv_pid;
	event(EV_WATCHDOG);
	assert_pos(P_RUNNING_HOOK);
	run(2);
	assert_pos(P_RUNNING_HOOK_GONE);	/* killed; the hook goes on */
	run_until(P_RUNNING, 30);
	assert_int_not_equal(W.hv_pid, first);
	assert_int_equal(W.vm->nrestarts, 1);
}

/* qemu reports an expiry again before the killed hypervisor is gone:
 * one restart. */
static void
test_a_watchdog_twice_in_a_row_restarts_once(void **state)
{
	setup(0);
	request(EV_START);
	event(EV_WATCHDOG);
	assert_pos(P_CRASH_KILL);
	event(EV_WATCHDOG);
	assert_pos(P_CRASH_KILL);
	run_until(P_RUNNING, 30);
	assert_int_equal(W.vm->nrestarts, 1);
	assert_int_equal(W.hvs_spawned, 2);
}

/* A guest that hangs at every boot: its probe fails for longer than
 * maxrestarttime each time, yet it ends in failed (probe.c keeps
 * probe_passed_at; here it never passes). */
static void
test_a_guest_whose_probe_never_passes_fails_however_slow(void **state)
{
	int	 i;

	setup(0);
	request(EV_START);
	for (i = 0; i < 10 && W.vm->pos != P_FAILED; i++) {
		assert_pos(P_RUNNING);
		W.vm->has_probe = true;
		run(40);
		event(EV_PROBE_FAILED);
		run(5);
	}
	assert_pos(P_FAILED);
	assert_string_equal(W.vm->fail_reason, "restart-limit");
	assert_int_equal(W.hvs_spawned, 4);	/* maxrestart 3 */
}

/* A probe that passes between two hangs: the window is time's again. */
static void
test_a_guest_whose_probe_passes_between_hangs_restarts_on(void **state)
{
	int	 i;

	setup(0);
	request(EV_START);
	for (i = 0; i < 6; i++) {
		assert_pos(P_RUNNING);
		W.vm->has_probe = true;
		run(20);
		W.vm->probe_passed_at = W.mono;
		run(20);
		event(EV_PROBE_FAILED);
		run(5);
	}
	assert_pos(P_RUNNING);
	assert_int_equal(W.hvs_spawned, 7);
}

/* Reboots before the probe first passes (a guest installing updates)
 * count by time alone: only the probe's own restarts wait for it. */
static void
test_reboots_before_the_probe_passes_count_by_time(void **state)
{
	int	 i;

	setup(0);
	request(EV_START);
	for (i = 0; i < 6; i++) {
		assert_pos(P_RUNNING);
		W.vm->has_probe = true;
		W.hv_exit_at = W.mono + 40;
		W.hv_exit_kind = HV_EXIT_REBOOT;
		run(45);
	}
	assert_pos(P_RUNNING);
	assert_int_equal(W.hvs_spawned, 7);
}

/* A guest's reset leaves an instance bhyve reinitialises from its
 * bootrom: the reboot reuses it; after a crash it is destroyed first. */
static void
test_a_reboot_reuses_the_instance_and_a_crash_destroys_it(void **state)
{
	setup(0);
	W.reuse_pct = 100;
	request(EV_START);
	assert_pos(P_RUNNING);
	W.hv_exit_at = W.mono + 1;
	W.hv_exit_kind = HV_EXIT_REBOOT;
	run(5);
	assert_pos(P_RUNNING);
	assert_int_equal(W.hvs_spawned, 2);
	assert_int_equal(W.reuses, 1);
	W.hv_exit_at = W.mono + 1;
	W.hv_exit_kind = HV_EXIT_CRASH;
	run(10);
	assert_pos(P_RUNNING);
	assert_int_equal(W.hvs_spawned, 3);
	assert_int_equal(W.reuses, 1);
}

/* ... unless the reboot is one too many: failed, the instance gone. */
static void
test_a_reboot_past_the_restart_limit_destroys_the_kept_instance(
    void **state)
{
	world_init(1);
	W.manual = true;
	W.maxrestart = 0;
	W.reuse_pct = 100;
	world_start();
	request(EV_START);
	assert_pos(P_RUNNING);
	W.hv_exit_at = W.mono + 1;
	W.hv_exit_kind = HV_EXIT_REBOOT;
	run(10);
	assert_pos(P_FAILED);
	assert_string_equal(W.vm->fail_reason, "restart-limit");
	assert_false(W.instance);
	assert_int_equal(W.hvs_spawned, 1);
}

static void
test_a_start_during_exit_cleanup_names_the_state(void **state)
{
	setup(H(VM_STOPPING));
	request(EV_START);
	W.hv_exit_at = W.mono + 1;
	W.hv_exit_kind = HV_EXIT_POWEROFF;
	run_until(P_STOPPING_HOOK, 30);
	refused(EV_START, "busy (state stopping)");
}

/* ---- restarts ---- */

static void
test_a_requested_restart_is_not_counted(void **state)
{
	setup(0);
	request(EV_START);
	request(EV_RESTART);
	run(5);
	assert_pos(P_RUNNING);
	assert_int_equal(W.hvs_spawned, 2);
	assert_int_equal(W.vm->nrestarts, 0);
}

static void
test_a_spawn_without_resources_is_retried_and_counted(void **state)
{
	setup(0);
	W.spawn_script[0] = -2;
	W.spawn_script[1] = -2;
	W.nspawn_script = 2;
	request(EV_START);
	assert_pos(P_START_RETRY);
	run(1.5);
	assert_pos(P_START_RETRY);
	run(3);
	assert_pos(P_RUNNING);
	assert_int_equal(W.vm->nrestarts, 2);
}

static void
test_a_spawn_without_resources_fails_only_through_the_window(void **state)
{
	int	 i;

	setup(0);
	for (i = 0; i < 10; i++)
		W.spawn_script[i] = -2;
	W.nspawn_script = 10;
	request(EV_START);
	run(60);
	assert_pos(P_FAILED);
	assert_string_equal(W.vm->fail_reason, "restart-limit");
	assert_int_equal(W.vm->nrestarts, 3);
}

static void
test_a_stop_during_a_spawn_retry_tears_down_at_once(void **state)
{
	setup(0);
	W.spawn_script[0] = -2;
	W.nspawn_script = 1;
	request(EV_START);
	assert_pos(P_START_RETRY);
	assert_int_equal(request(EV_STOP), 0);
	assert_pos(P_STOPPED);
	assert_true(W.timer_at[VM_TIMER_RETRY] < 0);
}

static void
test_the_record_reads_back(void **state)
{
	struct vm_record	 rec;
	struct buf		 b;
	char			 err[256];

	setup(0);
	request(EV_START);
	crash_every(1, 0);
	run(2);
	buf_init(&b);
	vmrecord_encode(W.vm, W.mono, W.wall, &b);
	assert_int_equal(vmrecord_decode(b.data, b.len, &rec, W.mono + 100,
	    W.wall + 5000, err, sizeof(err)), 0);
	assert_int_equal(rec.pos, P_RUNNING);
	assert_int_equal(rec.intent, INTENT_UP);
	assert_int_equal(rec.pid, W.hv_pid);
	assert_true(rec.pid_start == W.hv_start);
	assert_int_equal(rec.nrestarts, 1);
	/* Wall clock in the file, monotonic in memory. */
	assert_true(rec.restarts[0] - (W.vm->restarts[0] + 100 - 5000) <
	    0.01);
	vmrecord_free(&rec);
	buf_free(&b);
}

/* The record is written as printf("%d", "%llu", "%.3f") would write it. */
static void
test_the_record_is_what_printf_would_write(void **state)
{
	static const double	 wall[] = { 1700000001.25, 1700000002.1234,
	    1700000003.9999, 1700000004.0004 };
	struct buf		 b, want;
	char			 err[256];
	struct vm_record	 rec;
	size_t			 i;

	setup(0);
	request(EV_START);
	crash_every(1, 0);
	run(2);
	vm_run(W.vm)->pid_start = 9000000000000000001ULL;
	vm_run(W.vm)->task_pid = -1;
	vm_run(W.vm)->started_at = 1700000000;
	W.vm->restarts = realloc(W.vm->restarts, 4 * sizeof(double));
	for (i = 0; i < 4; i++)
		W.vm->restarts[i] = wall[i] - 1e9 + W.mono;
	W.vm->nrestarts = 4;
	buf_init(&b);
	vmrecord_encode(W.vm, W.mono, 1e9, &b);
	buf_init(&want);
	buf_printf(&want, "{\"version\":2,\"name\":\"vm1\",\"position\":"
	    "\"%s\",\"state\":\"%s\",\"intent\":\"%s\",\"phases\":%d,"
	    "\"pid\":%ld,\"pid_start\":%llu,\"task_pid\":%ld,"
	    "\"task_start\":%llu,\"started_at\":%lld,\"restarts\":[",
	    vm_pos_name(W.vm->pos), vm_state_name(W.vm->state),
	    vm_intent_name(W.vm->intent), W.vm->phases, (long)vm_run_peek(W.vm)->pid,
	    (unsigned long long)vm_run_peek(W.vm)->pid_start, (long)vm_run_peek(W.vm)->task_pid,
	    (unsigned long long)vm_run_peek(W.vm)->task_start,
	    (long long)vm_run_peek(W.vm)->started_at);
	for (i = 0; i < 4; i++)
		buf_printf(&want, "%s%.3f", i ? "," : "",
		    W.vm->restarts[i] - W.mono + 1e9);
	assert_true(b.len > want.len);
	assert_memory_equal(b.data, want.data, want.len);
	assert_int_equal(vmrecord_decode(b.data, b.len, &rec, W.mono, 1e9,
	    err, sizeof(err)), 0);
	assert_int_equal(rec.nrestarts, 4);
	vmrecord_free(&rec);
	buf_free(&want);
	buf_free(&b);
}

static void
test_a_record_of_version_1_reads_back(void **state)
{
	struct vm_record	 rec;
	char			 err[256];
	const char		*v1 = "{\"name\":\"vm1\",\"state\":\"running\","
	    "\"pid\":42,\"phases\":3,\"started_at\":1700000000,"
	    "\"restarts\":[1700000001.5],\"cmdline\":\"bhyve -k x\"}\n";

	assert_int_equal(vmrecord_decode(v1, strlen(v1), &rec, 100, 1e9,
	    err, sizeof(err)), 0);
	assert_true(rec.legacy);
	assert_int_equal(rec.pos, P_RUNNING);
	assert_int_equal(rec.pid, 42);
	assert_string_equal(rec.cmdline, "bhyve -k x");
	assert_int_equal(rec.phases, 3);
	vmrecord_free(&rec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_table_is_complete),
#define T(f)	cmocka_unit_test_teardown(f, teardown)
		T(test_a_start_without_hooks_runs_at_once),
		T(test_a_start_and_a_stop_run_every_hook_once),
		T(test_a_hook_that_fails_to_start_storage_tears_both_phases_down),
		T(test_a_restart_waiting_for_the_running_hook_yields_to_shutdown),
		T(test_a_restart_waiting_for_the_running_hook_yields_to_removal),
		T(test_a_start_waiting_for_the_stopped_hook_yields_to_removal),
		T(test_a_stop_after_a_waiting_start_cancels_it),
		T(test_a_kill_after_a_waiting_start_cancels_it),
		T(test_a_hung_destroy_helper_fails_the_start),
		T(test_a_hung_destroy_helper_after_a_stop_does_not_hold_the_teardown),
		T(test_a_wall_clock_step_back_does_not_unbound_a_crash_loop),
		T(test_a_wall_clock_step_forward_does_not_unbound_a_crash_loop),
		T(test_a_wall_clock_step_does_not_fail_a_vm),
		T(test_restarts_come_back_from_the_state_file_across_a_clock_step),
		T(test_a_daemon_killed_during_start_storage_ends_that_hook_first),
		T(test_a_daemon_killed_before_the_spawn_tears_storage_down),
		T(test_a_running_hypervisor_is_taken_back_without_hooks),
		T(test_stop_hooks_run_once_across_a_daemon_restart),
		T(test_an_autostart_vm_whose_hypervisor_died_meanwhile_starts_again),
		T(test_a_vm_whose_state_cannot_be_recorded_is_not_started),
		T(test_a_crash_during_the_running_hook_then_its_failure_fails_once),
		T(test_a_watchdog_at_rest_kills_and_restarts_as_a_crash),
		T(test_a_watchdog_during_the_running_hook_is_not_lost),
		T(test_a_watchdog_twice_in_a_row_restarts_once),
		T(test_a_guest_whose_probe_never_passes_fails_however_slow),
		T(test_a_guest_whose_probe_passes_between_hangs_restarts_on),
		T(test_reboots_before_the_probe_passes_count_by_time),
		T(test_a_reboot_reuses_the_instance_and_a_crash_destroys_it),
		T(test_a_reboot_past_the_restart_limit_destroys_the_kept_instance),
		T(test_a_start_during_exit_cleanup_names_the_state),
		T(test_a_requested_restart_is_not_counted),
		T(test_a_spawn_without_resources_is_retried_and_counted),
		T(test_a_spawn_without_resources_fails_only_through_the_window),
		T(test_a_stop_during_a_spawn_retry_tears_down_at_once),
		T(test_the_record_reads_back),
		T(test_the_record_is_what_printf_would_write),
		T(test_a_record_of_version_1_reads_back),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
