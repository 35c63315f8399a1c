/*
 * test_reload.c: reload_plan() (src/vmstated/reload.c), the pure part of
 * a reload: what it does to each VM, given the VMs as they are and the
 * configuration just read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "vm_world.h"

static struct vm_config *
cfg(const char *name, const char *dir, int64_t memory)
{
	struct vm_config	*c = xcalloc(1, sizeof(*c));

	c->name = xstrdup(name);
	c->dir = xstrdup(dir);
	c->dirname = xstrdup(dir);
	c->memory_mb = memory;
	c->maxrestart = 3;
	c->maxrestarttime = 30;
	c->generate_acpi_tables = c->vmexit_on_halt = CFG_UNSET;
	c->wire_memory = CFG_UNSET;
	return c;
}

struct fixture {
	struct reload_current	 cur[4];
	struct vm_config	*cfgs[8];
	struct cfg_set		 set;
	struct reload_action	*plan;
	size_t			 ncur, nplan;
};

static struct fixture	 F;

static int
setup(void **state)
{
	memset(&F, 0, sizeof(F));
	F.set.vms = xcalloc(8, sizeof(*F.set.vms));
	F.set.invalid = xcalloc(4, sizeof(*F.set.invalid));
	return 0;
}

static int
teardown(void **state)
{
	size_t	 i;

	for (i = 0; i < 8; i++)
		cfg_vm_free(F.cfgs[i]);
	for (i = 0; i < F.set.nvms; i++)
		cfg_vm_free(F.set.vms[i]);
	for (i = 0; i < F.set.ninvalid; i++) {
		free(F.set.invalid[i].name);
		free(F.set.invalid[i].dir);
		free(F.set.invalid[i].error);
	}
	free(F.set.vms);
	free(F.set.invalid);
	free(F.plan);
	return 0;
}

/* A VM as it is now. */
static void
current(const char *name, const char *dir, int64_t memory, bool at_rest)
{
	size_t	 i = F.ncur++;

	F.cfgs[i] = cfg(name, dir, memory);
	F.cur[i].name = F.cfgs[i]->name;
	F.cur[i].dir = F.cfgs[i]->dir;
	F.cur[i].cfg = F.cfgs[i];
	F.cur[i].at_rest = at_rest;
}

static void
read_config(const char *name, const char *dir, int64_t memory)
{
	F.set.vms[F.set.nvms++] = cfg(name, dir, memory);
}

static void
read_invalid(const char *name, const char *dir)
{
	size_t	 i = F.set.ninvalid++;

	F.set.invalid[i].name = xstrdup(name);
	F.set.invalid[i].dir = xstrdup(dir);
	F.set.invalid[i].error = xstrdup("config line 1: broken");
}

static void
plan(void)
{
	F.nplan = reload_plan(F.cur, F.ncur, &F.set, &F.plan);
}

static void
expect(size_t i, enum reload_kind kind, size_t vm)
{
	assert_true(i < F.nplan);
	assert_int_equal(F.plan[i].kind, kind);
	if (kind != RL_ADD && kind != RL_WAIT_REMOVED)
		assert_int_equal(F.plan[i].vm, vm);
}

static void
test_nothing_changed_is_no_action(void **state)
{
	current("a", "/c/a", 512, true);
	read_config("a", "/c/a", 512);
	plan();
	assert_int_equal(F.nplan, 0);
}

static void
test_a_new_directory_adds_a_vm(void **state)
{
	current("a", "/c/a", 512, true);
	read_config("a", "/c/a", 512);
	read_config("b", "/c/b", 512);
	plan();
	assert_int_equal(F.nplan, 1);
	expect(0, RL_ADD, 0);
	assert_int_equal(F.plan[0].cfg, 1);
}

static void
test_a_gone_directory_removes_its_vm(void **state)
{
	current("a", "/c/a", 512, false);
	current("b", "/c/b", 512, true);
	read_config("b", "/c/b", 512);
	plan();
	assert_int_equal(F.nplan, 1);
	expect(0, RL_REMOVE, 0);
}

static void
test_a_change_at_rest_is_taken_now_and_running_at_next_start(void **state)
{
	current("a", "/c/a", 512, true);
	current("b", "/c/b", 512, false);
	read_config("a", "/c/a", 1024);
	read_config("b", "/c/b", 1024);
	plan();
	assert_int_equal(F.nplan, 2);
	expect(0, RL_TAKE_NOW, 0);
	expect(1, RL_SET_PENDING, 1);
}

static void
test_a_change_undone_drops_the_pending_one(void **state)
{
	current("a", "/c/a", 512, false);
	F.cur[0].pending = F.cfgs[4] = cfg("a", "/c/a", 1024);
	read_config("a", "/c/a", 512);
	plan();
	assert_int_equal(F.nplan, 1);
	expect(0, RL_DROP_PENDING, 0);
}

static void
test_the_same_pending_change_again_is_no_action(void **state)
{
	current("a", "/c/a", 512, false);
	F.cur[0].pending = F.cfgs[4] = cfg("a", "/c/a", 1024);
	read_config("a", "/c/a", 1024);
	plan();
	assert_int_equal(F.nplan, 0);
}

static void
test_an_invalid_new_configuration_keeps_the_old_one(void **state)
{
	current("a", "/c/a", 512, false);
	read_invalid("a-or-whatever", "/c/a");
	plan();
	assert_int_equal(F.nplan, 1);
	expect(0, RL_KEEP_REFUSED, 0);
	assert_int_equal(F.plan[0].invalid, 0);
}

static void
test_a_valid_configuration_clears_the_old_error(void **state)
{
	current("a", "/c/a", 512, true);
	F.cur[0].has_error = true;
	read_config("a", "/c/a", 512);
	plan();
	assert_int_equal(F.nplan, 1);
	expect(0, RL_CLEAR_ERROR, 0);
}

static void
test_a_name_back_while_its_vm_is_removed_waits(void **state)
{
	current("a", "/c/a", 512, false);
	F.cur[0].removing = true;
	read_config("a", "/c/a2", 512);
	plan();
	assert_int_equal(F.nplan, 1);
	expect(0, RL_WAIT_REMOVED, 0);
}

static void
test_a_vm_being_removed_is_not_removed_twice(void **state)
{
	current("a", "/c/a", 512, false);
	F.cur[0].removing = true;
	plan();
	assert_int_equal(F.nplan, 0);
}

static void
test_a_renamed_vm_is_a_removal_and_an_addition(void **state)
{
	current("a", "/c/a", 512, false);
	read_config("b", "/c/a", 512);
	plan();
	assert_int_equal(F.nplan, 2);
	expect(0, RL_ADD, 0);
	expect(1, RL_REMOVE, 0);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_nothing_changed_is_no_action),
		T(test_a_new_directory_adds_a_vm),
		T(test_a_gone_directory_removes_its_vm),
		T(test_a_change_at_rest_is_taken_now_and_running_at_next_start),
		T(test_a_change_undone_drops_the_pending_one),
		T(test_the_same_pending_change_again_is_no_action),
		T(test_an_invalid_new_configuration_keeps_the_old_one),
		T(test_a_valid_configuration_clears_the_old_error),
		T(test_a_name_back_while_its_vm_is_removed_waits),
		T(test_a_vm_being_removed_is_not_removed_twice),
		T(test_a_renamed_vm_is_a_removal_and_an_addition),
	};
#undef T

	log_init("test", 0, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
