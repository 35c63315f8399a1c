/*
 * reload.c: what a reload changes, computed from the VMs as they are and
 * the configuration just read, without changing anything.  supervisor.c
 * applies the plan.  Keeping the decision pure keeps it testable on its
 * own (tests/unit/test_reload.c).
 */
#include <stdlib.h>
#include <string.h>

#include "vmstated.h"

struct plan {
	struct reload_action	*v;
	size_t			 n, cap;
};

static void
plan_add(struct plan *p, enum reload_kind kind, size_t vm, size_t cfg,
    size_t invalid)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
	}
	p->v[p->n].kind = kind;
	p->v[p->n].vm = vm;
	p->v[p->n].cfg = cfg;
	p->v[p->n].invalid = invalid;
	p->n++;
}

static size_t
find_by_name(const struct reload_current *cur, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(cur[i].name, name) == 0)
			return i;
	return n;
}

static size_t
find_by_dir(const struct reload_current *cur, size_t n, const char *dir)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!cur[i].removing && strcmp(cur[i].dir, dir) == 0)
			return i;
	return n;
}

/*
 * The actions a reload takes, in this order: for each new configuration,
 * what happens to the VM of that name; for each invalid one, whether a
 * running VM keeps its old configuration; then the removals.  Returns the
 * number of actions; *out is malloc'd (free it).
 *
 * A VM is known by its name.  One whose configuration is gone is
 * removed; one that is at rest takes a changed configuration at once,
 * one that is active at its next start (pending); a change undone before
 * that leaves nothing pending.  A VM whose new configuration is invalid
 * keeps the old one (found by its directory: an invalid file may not even
 * give a name).  A name that comes back while its VM is still being
 * removed is added once that VM is gone.
 */
size_t
reload_plan(const struct reload_current *cur, size_t ncur,
    const struct cfg_set *set, struct reload_action **out)
{
	struct plan	 p = { NULL, 0, 0 };
	bool		*kept;
	size_t		 i, j;

	kept = xcalloc(ncur + 1, sizeof(*kept));
	for (j = 0; j < set->nvms; j++) {
		const struct vm_config *cfg = set->vms[j];

		i = find_by_name(cur, ncur, cfg->name);
		if (i == ncur) {
			plan_add(&p, RL_ADD, 0, j, 0);
			continue;
		}
		kept[i] = true;
		if (cur[i].removing) {
			plan_add(&p, RL_WAIT_REMOVED, i, j, 0);
			continue;
		}
		if (cur[i].has_error)
			plan_add(&p, RL_CLEAR_ERROR, i, j, 0);
		if (cfg_vm_equal(cur[i].cfg, cfg)) {
			if (cur[i].pending != NULL)
				plan_add(&p, RL_DROP_PENDING, i, j, 0);
		} else if (cur[i].pending != NULL &&
		    cfg_vm_equal(cur[i].pending, cfg))
			;	/* the same change again */
		else if (cur[i].at_rest)
			plan_add(&p, RL_TAKE_NOW, i, j, 0);
		else
			plan_add(&p, RL_SET_PENDING, i, j, 0);
	}
	for (j = 0; j < set->ninvalid; j++) {
		i = find_by_dir(cur, ncur, set->invalid[j].dir);
		if (i == ncur || kept[i])
			continue;
		kept[i] = true;
		plan_add(&p, RL_KEEP_REFUSED, i, 0, j);
	}
	for (i = 0; i < ncur; i++)
		if (!kept[i] && !cur[i].removing)
			plan_add(&p, RL_REMOVE, i, 0, 0);
	free(kept);
	*out = p.v;
	return p.n;
}
