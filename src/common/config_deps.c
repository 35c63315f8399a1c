/*
 * config_deps.c: what can only be checked across the VMs of a
 * configuration directory: that names are unique, and that what a VM
 * depends on exists, is valid, is not itself, and leads to no cycle.  A
 * VM that fails a check is refused (listed as invalid), with the file,
 * the line and, for a cycle, the cycle spelled out.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config_keys.h"

/* Indices of the loads, sorted by name, for lookups in O(log n). */
struct by_name {
	struct vm_load	*loads;
	size_t		*idx;
	size_t		 n;
};

static struct vm_load	*sort_loads;	/* for the comparison only */

static int
by_name_cmp(const void *a, const void *b)
{
	const struct vm_load	*la = &sort_loads[*(const size_t *)a];
	const struct vm_load	*lb = &sort_loads[*(const size_t *)b];

	return strcmp(la->name, lb->name);
}

static void
by_name_init(struct by_name *bn, struct vm_load *loads, size_t n)
{
	size_t	 i;

	bn->loads = loads;
	bn->n = n;
	bn->idx = xcalloc(n ? n : 1, sizeof(*bn->idx));
	for (i = 0; i < n; i++)
		bn->idx[i] = i;
	sort_loads = loads;
	qsort(bn->idx, n, sizeof(*bn->idx), by_name_cmp);
}

/* The load named name (the first of several), or -1. */
static long
by_name_find(const struct by_name *bn, const char *name)
{
	size_t	 lo = 0, hi = bn->n, mid;
	int	 c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = strcmp(bn->loads[bn->idx[mid]].name, name);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < bn->n && strcmp(bn->loads[bn->idx[lo]].name, name) == 0)
		return (long)bn->idx[lo];
	return -1;
}

static void
refuse(struct vm_load *l)
{
	cfg_load_unborrow(l);
	cfg_vm_free(l->vm);
	l->vm = NULL;
}

/*
 * Two directories giving the same name: both are refused, each error
 * naming the other directory.  Sorted by name, duplicates are neighbours.
 */
void
cfg_refuse_duplicates(struct vm_load *loads, size_t n)
{
	struct by_name	 bn;
	bool		*dup;
	size_t		 i, j, a, b;

	by_name_init(&bn, loads, n);
	dup = xcalloc(n ? n : 1, sizeof(*dup));
	for (i = 0; i + 1 < n; i = j) {
		for (j = i + 1; j < n && strcmp(loads[bn.idx[i]].name,
		    loads[bn.idx[j]].name) == 0; j++)
			;
		if (j - i < 2)
			continue;
		for (a = i; a < j; a++)
			for (b = i; b < j; b++) {
				if (a == b)
					continue;
				cfg_error(&loads[bn.idx[a]].errs,
				    cfg_load_path(&loads[bn.idx[a]]),
				    loads[bn.idx[a]].name_line, "name",
				    "\"%s\" is also the name of the VM in %s; "
				    "VM names must be unique: rename one of "
				    "them", loads[bn.idx[a]].name,
				    loads[bn.idx[b]].dir);
				dup[bn.idx[a]] = true;
			}
	}
	for (i = 0; i < n; i++)
		if (dup[i])
			refuse(&loads[i]);
	free(dup);
	free(bn.idx);
}

static void
depends_error(struct vm_load *l, const char *fmt, const char *a,
    const char *b)
{
	cfg_error(&l->errs, cfg_load_path(l), l->vm->depends_line,
	    "depends", fmt, a, b);
}

/*
 * Each name a VM depends on must be another VM whose configuration is
 * valid.  Refusing one VM can make another's dependency invalid: repeat
 * until nothing changes.
 */
static void
check_names(struct vm_load *loads, size_t n, const struct by_name *bn)
{
	struct vm_config	*vm;
	size_t			 i, d;
	long			 j;
	bool			 changed = true, bad;

	while (changed) {
		changed = false;
		for (i = 0; i < n; i++) {
			if ((vm = loads[i].vm) == NULL)
				continue;
			bad = false;
			for (d = 0; d < vm->ndepends; d++) {
				const char *dep = vm->depends[d];

				if (strcmp(dep, vm->name) == 0) {
					depends_error(&loads[i], "%s depends "
					    "on itself%s; remove it from "
					    "depends", vm->name, "");
					bad = true;
				} else if ((j = by_name_find(bn, dep)) ==
				    -1) {
					depends_error(&loads[i], "no VM is "
					    "named \"%s\"%s; 'vmstated -n' "
					    "lists the VMs", dep, "");
					bad = true;
				} else if (loads[j].vm == NULL) {
					depends_error(&loads[i], "%s, which "
					    "it depends on, has an invalid "
					    "configuration (%s); fix that "
					    "first", dep, loads[j].dir);
					bad = true;
				}
			}
			if (bad) {
				refuse(&loads[i]);
				changed = true;
			}
		}
	}
}

/* Depth-first search for cycles: 0 unseen, 1 on the path, 2 done. */
struct dfs {
	struct vm_load		*loads;
	const struct by_name	*bn;
	unsigned char		*mark;
	size_t			*path;
	size_t			 depth;
	bool			*in_cycle;
};

static void
report_cycle(struct dfs *s, size_t from, size_t to)
{
	struct buf	 cycle;
	size_t		 k, start;

	for (start = 0; start < s->depth && s->path[start] != to; start++)
		;
	buf_init(&cycle);
	for (k = start; k < s->depth; k++)
		buf_printf(&cycle, "%s -> ", s->loads[s->path[k]].name);
	buf_puts(&cycle, s->loads[to].name);
	for (k = start; k < s->depth; k++) {
		struct vm_load *l = &s->loads[s->path[k]];

		if (s->in_cycle[s->path[k]])
			continue;
		s->in_cycle[s->path[k]] = true;
		cfg_error(&l->errs, cfg_load_path(l), l->vm->depends_line,
		    "depends", "dependency cycle: %s; no VM could ever start "
		    "first: remove one of these dependencies", cycle.data);
	}
	buf_free(&cycle);
	(void)from;
}

static void
visit(struct dfs *s, size_t i)
{
	struct vm_config	*vm = s->loads[i].vm;
	size_t			 d;
	long			 j;

	s->mark[i] = 1;
	s->path[s->depth++] = i;
	for (d = 0; d < vm->ndepends; d++) {
		if ((j = by_name_find(s->bn, vm->depends[d])) == -1 ||
		    s->loads[j].vm == NULL)
			continue;
		if (s->mark[j] == 1)
			report_cycle(s, i, (size_t)j);
		else if (s->mark[j] == 0)
			visit(s, (size_t)j);
	}
	s->depth--;
	s->mark[i] = 2;
}

void
cfg_check_depends(struct vm_load *loads, size_t n)
{
	struct by_name	 bn;
	struct dfs	 s;
	size_t		 i;

	by_name_init(&bn, loads, n);
	check_names(loads, n, &bn);
	memset(&s, 0, sizeof(s));
	s.loads = loads;
	s.bn = &bn;
	s.mark = xcalloc(n ? n : 1, 1);
	s.path = xcalloc(n ? n : 1, sizeof(*s.path));
	s.in_cycle = xcalloc(n ? n : 1, sizeof(*s.in_cycle));
	for (i = 0; i < n; i++)
		if (loads[i].vm != NULL && s.mark[i] == 0)
			visit(&s, i);
	for (i = 0; i < n; i++)
		if (s.in_cycle[i])
			refuse(&loads[i]);
	/* Those that depend on a VM of a cycle cannot start either. */
	check_names(loads, n, &bn);
	free(s.mark);
	free(s.path);
	free(s.in_cycle);
	free(bn.idx);
}
