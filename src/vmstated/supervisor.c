/*
 * supervisor.c: the set of VMs the daemon knows, and what happens to all of
 * them at once: loading (taking back what a previous daemon left),
 * autostart, reload (planned in reload.c, applied here), shutdown.
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "platform.h"
#include "vmstated.h"

static struct vm		**vms;
static size_t			  nvms, capvms;
static struct invalid_vm	 *invalids;
static size_t			  ninvalids;
/* Configurations whose name comes back while the VM of that name is
 * still being removed: added once it is gone. */
static struct vm_config		**waiting;
static size_t			  nwaiting;
static struct event		 *idle_event;

size_t
sv_count(void)
{
	return nvms;
}

struct vm *
sv_vm(size_t i)
{
	return vms[i];
}

size_t
sv_invalid_count(void)
{
	return ninvalids;
}

const struct invalid_vm *
sv_invalid(size_t i)
{
	return &invalids[i];
}

struct vm *
sv_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < nvms; i++)
		if (strcmp(vms[i]->name, name) == 0)
			return vms[i];
	return NULL;
}

const struct invalid_vm *
sv_find_invalid(const char *name)
{
	size_t	 i;

	for (i = 0; i < ninvalids; i++)
		if (strcmp(invalids[i].name, name) == 0)
			return &invalids[i];
	return NULL;
}

bool
sv_any_owner(void)
{
	const struct vm_config	*pending;
	size_t			 i;

	for (i = 0; i < nvms; i++) {
		pending = vm_rare_peek(vms[i])->pending;
		if (vms[i]->cfg->owner != NULL || vms[i]->cfg->group != NULL ||
		    (pending != NULL && (pending->owner != NULL ||
		    pending->group != NULL)))
			return true;
	}
	return false;
}

/*
 * Add a VM in its place, the VMs being kept in the order of their
 * directories' names (status lists them so), after those of the same
 * name.  Configurations come sorted (cfg_set): a load appends.
 */
static struct vm *
sv_add(struct vm_config *cfg)
{
	struct vm	*vm = vm_new(cfg, &vm_daemon_effects);
	size_t		 lo = 0, hi = nvms, mid;

	if (nvms > 0 && strcmp(vms[nvms - 1]->cfg->dirname, cfg->dirname) <= 0)
		lo = nvms;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(vms[mid]->cfg->dirname, cfg->dirname) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (nvms == capvms) {
		capvms = capvms == 0 ? 16 : capvms * 2;
		vms = xrealloc(vms, capvms * sizeof(*vms));
	}
	memmove(&vms[lo + 1], &vms[lo], (nvms - lo) * sizeof(*vms));
	vms[lo] = vm;
	nvms++;
	return vm;
}

static void
sv_invalid_clear(void)
{
	size_t	 i;

	for (i = 0; i < ninvalids; i++) {
		free(invalids[i].name);
		free(invalids[i].dir);
		free(invalids[i].error);
	}
	free(invalids);
	invalids = NULL;
	ninvalids = 0;
}

/* The invalid entries of a set, except those a known VM is loaded from
 * (it keeps its configuration: refused[i]). */
static void
sv_invalid_take(struct cfg_set *set, const bool *refused)
{
	size_t	 i;

	sv_invalid_clear();
	invalids = xcalloc(set->ninvalid + 1, sizeof(*invalids));
	for (i = 0; i < set->ninvalid; i++) {
		log_warnx("%s", set->invalid[i].error);
		if (refused != NULL && refused[i])
			continue;
		invalids[ninvalids].name = xstrdup(set->invalid[i].name);
		invalids[ninvalids].dir = xstrdup(set->invalid[i].dir);
		invalids[ninvalids].error = xstrdup(set->invalid[i].error);
		ninvalids++;
	}
}

/* An invalid configuration of this directory or name? */
static bool
sv_invalid_holds(const char *name, const char *dir)
{
	size_t	 i;

	for (i = 0; i < ninvalids; i++)
		if (strcmp(invalids[i].name, name) == 0 ||
		    (dir != NULL && strcmp(invalids[i].dir, dir) == 0))
			return true;
	return false;
}

/*
 * A state file whose VM has no configuration any more: it was being
 * removed when a previous daemon died, or its directory went while no
 * daemon ran.  What it left running is stopped as a removal would (its
 * hooks went with its directory), then forgotten; one at rest is just
 * forgotten.  An invalid configuration of that VM keeps its file: the VM
 * comes back when the configuration is fixed and reloaded.
 */
static void
sv_take_back_ghost(const char *name)
{
	struct vm_record	 rec;
	struct vm_config	*cfg;
	struct vm		*vm;
	char			*path;
	size_t			 size, used;

	xasprintf(&path, "%s/%s.state", vmstated_config()->rundir, name);
	if (persist_read(path, &rec, &size, &used) == -1) {
		free(path);
		return;
	}
	if (sv_invalid_holds(name, rec.dir)) {
		if (rec.pos != P_STOPPED && rec.pos != P_FAILED)
			log_warnx("%s: its configuration is invalid; what it "
			    "left running is not supervised until the "
			    "configuration is fixed and reloaded", name);
	} else if (rec.pos == P_STOPPED || rec.pos == P_FAILED) {
		log_info("%s: forgetting the state file of a VM that has no "
		    "configuration any more", name);
		unlink(path);
	} else {
		log_warnx("%s: its configuration is gone; stopping what the "
		    "previous daemon left of it, then forgetting it", name);
		cfg = cfg_vm_dup(&vmstated_config()->defaults);
		cfg->name = xstrdup(name);
		cfg->dir = xstrdup(rec.dir != NULL ? rec.dir : "/nonexistent");
		cfg->dirname = xstrdup(name);
		cfg->hypervisor = rec.hypervisor;
		cfg->autostart = false;
		vm = sv_add(cfg);
		persist_restore(vm);
		vm_event(vm, EV_REMOVE);
	}
	vmrecord_free(&rec);
	free(path);
}

/* State files in rundir that no VM of the configuration owns. */
static void
sv_take_back_ghosts(void)
{
	struct dirent	*de;
	DIR		*dir;
	char		 name[CFG_MAX_NAME + 1];
	size_t		 len;

	if ((dir = opendir(vmstated_config()->rundir)) == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 6 || strcmp(de->d_name + len - 6, ".state") != 0 ||
		    len - 6 > CFG_MAX_NAME || de->d_name[0] == '.')
			continue;
		memcpy(name, de->d_name, len - 6);
		name[len - 6] = '\0';
		if (sv_find(name) == NULL)
			sv_take_back_ghost(name);
	}
	closedir(dir);
}

/* First load: take every valid VM back as a previous daemon left it. */
void
sv_load(struct cfg_set *set)
{
	struct vm	*vm;
	size_t		 i;

	for (i = 0; i < set->nvms; i++) {
		vm = sv_add(set->vms[i]);
		set->vms[i] = NULL;
		persist_restore(vm);
	}
	set->nvms = 0;
	sv_invalid_take(set, NULL);
	sv_take_back_ghosts();
}

bool
sv_all_at_rest(void)
{
	size_t	 i;

	for (i = 0; i < nvms; i++)
		if (!vm_at_rest(vms[i]))
			return false;
	return true;
}

/* Let go of everything the daemon holds for a VM, and free it. */
static void
sv_vm_free(struct vm *vm)
{
	task_release(vm);
	probe_release(vm);
	vmproc_release(vm);
	effects_free_events(vm);
	vmlog_close(vm);
	metrics_vm_free(vm);
	vm_free(vm);
}

static void
sv_forget(size_t i)
{
	struct vm	*vm = vms[i];

	memmove(&vms[i], &vms[i + 1], (nvms - i - 1) * sizeof(*vms));
	nvms--;
	log_info("%s: removed from supervision", vm->name);
	persist_remove(vm);
	sv_vm_free(vm);
}

/* A removed VM is gone: a configuration that waited for its name comes. */
static void
sv_add_waiting(const char *name)
{
	size_t	 i;

	for (i = 0; i < nwaiting; i++)
		if (strcmp(waiting[i]->name, name) == 0) {
			log_info("%s: added by reload, now that the VM of "
			    "that name is gone", name);
			sv_add(waiting[i]);
			memmove(&waiting[i], &waiting[i + 1],
			    (nwaiting - i - 1) * sizeof(*waiting));
			nwaiting--;
			return;
		}
}

/*
 * Deferred from sv_vm_idle: never free a VM, or its run part, while its
 * code runs (the callback that brought it to rest is still on the stack,
 * with its events and its pointers).  Removed VMs go; the others at rest
 * lose their run part.  One pass over the VMs for all that came to rest
 * in one turn of the loop.
 */
static void
sv_idle_later(evutil_socket_t fd, short what, void *arg)
{
	char	*name;
	size_t	 i;

	for (i = 0; i < nvms; i++)
		if (vms[i]->intent == INTENT_REMOVE && vm_at_rest(vms[i])) {
			name = xstrdup(vms[i]->name);
			sv_forget(i);
			sv_add_waiting(name);
			free(name);
			i--;
		} else if (vms[i]->run != NULL)
			(void)vm_run_trim(vms[i]);
	vmstated_check_shutdown();
}

/* A VM has come to rest (stopped or failed, nothing running), or the
 * last reader of its console has gone. */
void
sv_vm_idle(struct vm *vm)
{
	struct timeval	 now = { 0, 0 };

	if (idle_event == NULL)
		idle_event = evtimer_new(vmstated_base(), sv_idle_later, NULL);
	evtimer_add(idle_event, &now);
}

static void
sv_reply_names(struct buf *reply, const char *key, char **names, size_t n)
{
	buf_json_member_strings(reply, key, names, n);
}

static void
sv_reload_failed(struct buf *reply, const char *why)
{
	log_warnx("%s", why);
	if (reply != NULL) {
		buf_puts(reply, "{\"ok\":false,\"error\":");
		buf_json_cstr(reply, why);
		buf_putc(reply, '}');
	}
}

static void
sv_waiting_clear(void)
{
	size_t	 i;

	for (i = 0; i < nwaiting; i++)
		cfg_vm_free(waiting[i]);
	free(waiting);
	waiting = NULL;
	nwaiting = 0;
}

/* Apply one action of the plan; names for the reply. */
static void
sv_apply(const struct reload_action *a, struct vm **cur,
    struct cfg_set *set, bool *refused)
{
	struct vm		*vm = cur[a->vm];
	struct vm_config	*old;

	switch (a->kind) {
	case RL_ADD:
		break;		/* added once the plan is applied */
	case RL_REMOVE:
		vm_event(vm, EV_REMOVE);
		break;
	case RL_TAKE_NOW:
		if (vm->rare != NULL) {
			cfg_vm_free(vm->rare->pending);
			vm->rare->pending = NULL;
		}
		old = vm->cfg;
		vm->cfg = cfg_vm_pack(set->vms[a->cfg]);
		vm->fx->config_changed(vm, old);
		cfg_vm_free(old);
		vmlog(vm, "configuration reloaded");
		break;
	case RL_SET_PENDING:
		cfg_vm_free(vm_rare(vm)->pending);
		vm->rare->pending = cfg_vm_pack(set->vms[a->cfg]);
		vmlog(vm, "configuration changed; it takes effect at the next "
		    "start");
		break;
	case RL_DROP_PENDING:
		cfg_vm_free(vm_rare(vm)->pending);
		vm->rare->pending = NULL;
		vmlog(vm, "configuration back to the one in force; no change "
		    "pending");
		break;
	case RL_KEEP_REFUSED:
		refused[a->invalid] = true;
		free(vm_rare(vm)->reload_error);
		vm->rare->reload_error = xstrdup(set->invalid[a->invalid].error);
		vmlog(vm, "new configuration refused, the old one stays in "
		    "force: %s", set->invalid[a->invalid].error);
		break;
	case RL_CLEAR_ERROR:
		free(vm_rare(vm)->reload_error);
		vm->rare->reload_error = NULL;
		break;
	case RL_WAIT_REMOVED:
		waiting = xrealloc(waiting, (nwaiting + 1) * sizeof(*waiting));
		waiting[nwaiting++] = cfg_vm_pack(set->vms[a->cfg]);
		break;
	}
}

static void
sv_reload_reply(struct buf *reply, const char *conf_error,
    const struct cfg_set *set, char **added, size_t nadded, char **removed,
    size_t nremoved, char **changed, size_t nchanged, char **pending,
    size_t npending)
{
	size_t	 i;

	buf_puts(reply, "{\"ok\":true");
	sv_reply_names(reply, "added", added, nadded);
	sv_reply_names(reply, "removed", removed, nremoved);
	sv_reply_names(reply, "changed", changed, nchanged);
	sv_reply_names(reply, "pending", pending, npending);
	buf_puts(reply, ",\"invalid\":[");
	if (conf_error != NULL) {
		buf_puts(reply, "{\"vm\":\"vmstated.conf\",\"error\":");
		buf_json_cstr(reply, conf_error);
		buf_putc(reply, '}');
	}
	for (i = 0; i < set->ninvalid; i++) {
		buf_printf(reply, "%s{\"vm\":",
		    i || conf_error != NULL ? "," : "");
		buf_json_cstr(reply, set->invalid[i].name);
		buf_puts(reply, ",\"error\":");
		buf_json_cstr(reply, set->invalid[i].error);
		buf_putc(reply, '}');
	}
	buf_puts(reply, "]}");
}

/*
 * SIGHUP or `reload`: read every configuration again and apply the plan
 * of reload_plan().  The reply (reply may be NULL) lists what happened.
 */
int
sv_reload(struct buf *reply)
{
	struct reload_current	*cur;
	struct reload_action	*plan;
	struct vm		**snapshot;
	struct cfg_set		*set;
	char			*conf_error, why[1024];
	char			**added, **removed, **changed, **pending;
	size_t			 nadded = 0, nremoved = 0, nchanged = 0;
	size_t			 npending = 0;
	size_t			 i, nplan, ncur;
	bool			*refused;

	conf_error = vmstated_reload_config();
	if ((set = cfg_load_all(vmstated_configdir(), vmstated_config()))
	    == NULL) {
		snprintf(why, sizeof(why), "reload: cannot read the "
		    "configuration directory %s: %s; nothing changed",
		    vmstated_configdir(), strerror(errno));
		free(conf_error);
		sv_reload_failed(reply, why);
		return -1;
	}
	ncur = nvms;
	snapshot = xcalloc(ncur + 1, sizeof(*snapshot));
	cur = xcalloc(ncur + 1, sizeof(*cur));
	for (i = 0; i < ncur; i++) {
		snapshot[i] = vms[i];
		cur[i].name = vms[i]->name;
		cur[i].dir = vms[i]->cfg->dir;
		cur[i].cfg = vms[i]->cfg;
		cur[i].pending = vm_rare_peek(vms[i])->pending;
		cur[i].at_rest = vm_at_rest(vms[i]);
		cur[i].removing = vms[i]->intent == INTENT_REMOVE;
		cur[i].has_error = vm_rare_peek(vms[i])->reload_error != NULL;
	}
	nplan = reload_plan(cur, ncur, set, &plan);
	free(cur);

	added = xcalloc(set->nvms + 1, sizeof(char *));
	changed = xcalloc(ncur + 1, sizeof(char *));
	pending = xcalloc(ncur + 1, sizeof(char *));
	removed = xcalloc(ncur + 1, sizeof(char *));
	refused = xcalloc(set->ninvalid + 1, sizeof(bool));
	sv_waiting_clear();
	/* The reply is written before anything changes. */
	for (i = 0; i < nplan; i++)
		if (plan[i].kind == RL_ADD)
			added[nadded++] = set->vms[plan[i].cfg]->name;
		else if (plan[i].kind == RL_REMOVE)
			removed[nremoved++] = snapshot[plan[i].vm]->name;
		else if (plan[i].kind == RL_TAKE_NOW ||
		    plan[i].kind == RL_SET_PENDING) {
			changed[nchanged++] = snapshot[plan[i].vm]->name;
			if (plan[i].kind == RL_SET_PENDING)
				pending[npending++] = snapshot[plan[i].vm]->name;
		}
	if (reply != NULL)
		sv_reload_reply(reply, conf_error, set, added, nadded, removed,
		    nremoved, changed, nchanged, pending, npending);
	log_info("reload: %zu added, %zu removed, %zu changed, %zu invalid",
	    nadded, nremoved, nchanged, set->ninvalid);
	for (i = 0; i < nplan; i++)
		sv_apply(&plan[i], snapshot, set, refused);
	for (i = 0; i < nplan; i++)
		if (plan[i].kind == RL_ADD) {
			struct vm *vm = sv_add(set->vms[plan[i].cfg]);
			set->vms[plan[i].cfg] = NULL;
			log_info("%s: added by reload", vm->name);
			/* A configuration fixed after it was invalid: the VM
			 * may have been left running. */
			persist_restore(vm);
		}
	sv_invalid_take(set, refused);
	free(plan);
	free(snapshot);
	free(added);
	free(changed);
	free(pending);
	free(removed);
	free(refused);
	cfg_set_free(set);
	free(conf_error);
	platform_memory_trim();
	control_set_mode(vmstated_config(), sv_any_owner());
	vmlog_reopen_all();
	return 0;
}

void
sv_free(void)
{
	while (nvms > 0)
		sv_vm_free(vms[--nvms]);
	free(vms);
	vms = NULL;
	capvms = 0;
	sv_invalid_clear();
	sv_waiting_clear();
	if (idle_event != NULL)
		event_free(idle_event);
	idle_event = NULL;
}
