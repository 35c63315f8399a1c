/*
 * test_vm_model.c: the state machine against random sequences of events.
 *
 * Each sequence builds a world (vm_world.c) with random behaviour -- which
 * states have hooks, how hooks and guests behave, whether the state file
 * can be made -- and then throws events at the VM in a random order:
 * requests, hook and helper ends, hypervisor exits, timers, the daemon's
 * shutdown, removal by reload, SIGKILL of the daemon and a new one taking
 * over, steps of the wall clock.  After every step the world checks what
 * must always hold:
 *
 *   - at most one hypervisor per VM;
 *   - hooks and helpers never overlap;
 *   - a removed VM never starts, nor does one during shutdown;
 *   - a shutdown ends within stoptimeout and the time limits of the hooks
 *     and helpers that may still run;
 *   - every begun start phase is torn down exactly once (at rest, as many
 *     stop hooks ran to their end as start phases began);
 *   - restarts are counted only when automatic;
 *   - at rest, nothing of the VM runs, and the VM knows every process the
 *     world has for it;
 *   - no event arrives that the table does not expect.
 *
 * Then the world runs on without requests until nothing is scheduled: the
 * VM must be at rest (stopped, failed) or running.
 *
 *   VMSTATED_MODEL_SEQUENCES=N   how many (default 100000)
 *   VMSTATED_MODEL_SEED=S        replay sequence S alone, with its trace
 *
 * A failure prints the seed of the sequence and its last events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "vm_world.h"

#define MODEL_SEQUENCES	100000
#define MODEL_BASE_SEED	UINT64_C(0x766d737461746564)	/* "vmstated" */
#define MODEL_MAX_STEPS	60
#define MODEL_DRAIN	20000

static unsigned long	model_steps;
static bool		model_forgotten;	/* removed, daemon restarted */

static void
model_setup(uint64_t seed)
{
	int	 s;

	world_init(seed);
	switch (world_rand(4)) {
	case 0:
		W.hooks = 0;
		break;
	case 1:
		W.hooks = (1u << VM_NSTATES) - 1;
		break;
	default:
		for (s = 0; s < VM_NSTATES; s++)
			if (world_rand(2))
				W.hooks |= 1u << s;
	}
	W.inprocess_destroy = world_rand(2);
	W.acpi = world_rand(2);
	W.ignores_button = world_rand(4) == 0;
	W.search_finds = world_rand(2);
	W.unrecordable = world_rand(20) == 0;
	W.spawn_fail_pct = world_rand(3) ? 0 : 5;
	W.spawn_transient_pct = world_rand(3) ? 0 : 15;
	W.hook_fail_pct = (int)world_rand(15);
	W.hook_hang_pct = world_rand(3) ? 0 : 5;
	W.crash_pct = (int)world_rand(50);
	W.reuse_pct = world_rand(2) ? 0 : 70;
	W.maxrestart = world_rand(5);
	W.maxrestarttime = 30;
	W.hooktimeout = 10;
	W.stoptimeout = world_rand(2) ? 5 : 10;
	W.autostart = world_rand(2);
	W.instance = world_rand(5) == 0;	/* a stale instance */
	W.has_deps = world_rand(4) == 0;
	W.dependents = world_rand(4) == 0;
	W.health_pct = world_rand(3) ? 0 : 30;
	W.shutdown_timeout = world_rand(2) ? 80 : 30;
	world_start();
}

static void
model_request(void)
{
	static const enum vm_event requests[] = {
		EV_START, EV_STOP, EV_RESTART, EV_KILL, EV_FAILRESET,
		EV_STOP_RECURSIVE,
	};
	struct buf	 msg;

	buf_init(&msg);
	(void)world_request(requests[world_rand(6)], &msg);
	buf_free(&msg);
}

static void
model_order(enum vm_event ev)
{
	if (ev == EV_SHUTDOWN) {
		world_shutdown();
		return;
	}
	world_tracef("order %s", vm_event_name(ev));
	W.removed = true;
	world_events_seen |= UINT32_C(1) << ev;
	vm_event(W.vm, ev);
	world_idle_later();
}

/* One random step.  False once the VM is gone (removed and at rest). */
static bool
model_step(void)
{
	unsigned	 r = world_rand(100);

	model_steps++;
	if (r < 40) {
		if (!world_advance())
			world_run_for(world_randf(5));
	} else if (r < 70)
		model_request();
	else if (r < 73) {
		if (!W.shutdown && !W.removed)
			model_order(EV_SHUTDOWN);
	} else if (r < 76) {
		if (!W.removed)
			model_order(EV_REMOVE);
	} else if (r < 81) {
		/* A removed VM's configuration is gone: a new daemon does
		 * not know it (supervisor.c ends what it left running). */
		if (W.removed) {
			model_forgotten = true;
			return false;
		}
		world_daemon_restart();
	}
	else if (r < 83) {
		W.wall += world_rand(2) ? 3600 : -3600;
		world_tracef("wall clock step");
	} else
		world_run_for(world_randf(3));
	return !(W.removed && vm_at_rest(W.vm));
}

/* Requests stop: the VM must come to rest, or run. */
static void
model_drain(void)
{
	int	 i;

	for (i = 0; i < MODEL_DRAIN && world_check(); i++)
		if (!world_advance())
			break;
	if (!world_check())
		return;
	if (i == MODEL_DRAIN)
		world_violate("still busy after %d events without requests",
		    MODEL_DRAIN);
	else if (!vm_at_rest(W.vm) && W.vm->pos != P_RUNNING)
		world_violate("left in %s with nothing scheduled",
		    vm_pos_name(W.vm->pos));
	else if ((W.shutdown || W.removed) && !vm_at_rest(W.vm))
		world_violate("%s but %s", W.removed ? "removed" :
		    "shut down", vm_pos_name(W.vm->pos));
}

/* One sequence: 0, or -1 with the world's violation. */
static int
model_sequence(uint64_t seed)
{
	int	 steps, i;

	model_setup(seed);
	model_forgotten = false;
	steps = 5 + (int)world_rand(MODEL_MAX_STEPS);
	for (i = 0; i < steps; i++)
		if (!model_step() || !world_check())
			break;
	if (world_check() && !model_forgotten)
		model_drain();
	return W.violation[0] == '\0' ? 0 : -1;
}

static void
test_random_sequences_keep_every_rule(void **state)
{
	struct timespec	 t0, t1;
	const char	*env;
	uint64_t	 seed;
	unsigned long	 n = MODEL_SEQUENCES, i, reuses = 0;

	if ((env = getenv("VMSTATED_MODEL_SEQUENCES")) != NULL)
		n = strtoul(env, NULL, 10);
	if ((env = getenv("VMSTATED_MODEL_SEED")) != NULL) {
		seed = strtoull(env, NULL, 0);
		if (model_sequence(seed) == -1) {
			world_dump(stderr);
			fail_msg("seed %llu: %s", (unsigned long long)seed,
			    W.violation);
		}
		world_dump(stderr);
		world_free();
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		seed = MODEL_BASE_SEED + i;
		if (model_sequence(seed) == -1) {
			fprintf(stderr, "sequence %lu failed; replay with "
			    "VMSTATED_MODEL_SEED=%llu:\n", i,
			    (unsigned long long)seed);
			world_dump(stderr);
			fail_msg("seed %llu: %s", (unsigned long long)seed,
			    W.violation);
		}
		reuses += (unsigned long)W.reuses;
		world_free();
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("model: %lu sequences, %lu steps, %.1f s\n", n, model_steps,
	    (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (n >= 1000 && reuses == 0)
		fail_msg("no reboot reused its instance");
	/* The sequences must have reached every position and event, or
	 * the rules above were checked on part of the machine only. */
	for (i = 0; i < VM_NPOS; i++)
		if (!(world_positions_seen & (UINT64_C(1) << i)))
			fail_msg("no sequence reached position %s",
			    vm_pos_name((enum vm_pos)i));
	for (i = 0; i < VM_NEVENTS; i++)
		if (!(world_events_seen & (UINT32_C(1) << i)))
			fail_msg("no sequence delivered event %s",
			    vm_event_name((enum vm_event)i));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_sequences_keep_every_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
