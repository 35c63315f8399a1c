/*
 * supervisor.c: the set of VMs the daemon knows, and what happens to all of
 * them at once: loading, autostart, reload, shutdown.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "vmstated.h"

static struct vm		**vms;
static size_t			  nvms;
static struct invalid_vm	 *invalids;
static size_t			  ninvalids;

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

/* The VM loaded from this directory, if any. */
static struct vm *
sv_find_by_dir(const char *dir)
{
	size_t	 i;

	for (i = 0; i < nvms; i++)
		if (strcmp(vms[i]->cfg->dir, dir) == 0)
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

static int
sv_compare_dirname(const void *a, const void *b)
{
	const struct vm	*va = *(struct vm *const *)a;
	const struct vm	*vb = *(struct vm *const *)b;

	return strcmp(va->cfg->dirname, vb->cfg->dirname);
}

static void
sv_add(struct vm *vm)
{
	vms = xrealloc(vms, (nvms + 1) * sizeof(*vms));
	vms[nvms++] = vm;
	qsort(vms, nvms, sizeof(*vms), sv_compare_dirname);
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

static void
sv_invalid_take(struct cfg_set *set)
{
	size_t	 i;

	sv_invalid_clear();
	invalids = xcalloc(set->ninvalid, sizeof(*invalids));
	for (i = 0; i < set->ninvalid; i++) {
		log_warnx("%s", set->invalid[i].error);
		/* A known VM keeps its old configuration (reload). */
		if (sv_find_by_dir(set->invalid[i].dir) != NULL)
			continue;
		invalids[ninvalids].name = xstrdup(set->invalid[i].name);
		invalids[ninvalids].dir = xstrdup(set->invalid[i].dir);
		invalids[ninvalids].error = xstrdup(set->invalid[i].error);
		ninvalids++;
	}
}

/* First load: take every valid VM; the set keeps only what we did not. */
void
sv_load(struct cfg_set *set)
{
	size_t	 i;

	for (i = 0; i < set->nvms; i++) {
		struct vm *vm = vm_new(set->vms[i]);
		set->vms[i] = NULL;
		persist_restore(vm);
		sv_add(vm);
	}
	set->nvms = 0;
	sv_invalid_take(set);
}

/* autostart VMs start in directory-name order (vms is sorted so). */
void
sv_autostart(void)
{
	struct buf	 msg;
	size_t		 i;

	buf_init(&msg);
	for (i = 0; i < nvms; i++) {
		if (!vms[i]->cfg->autostart || vms[i]->state != VM_STOPPED)
			continue;
		buf_reset(&msg);
		if (vm_request(vms[i], REQ_START, -1, "autostart", &msg) == -1)
			log_warnx("autostart: %s", msg.data);
	}
	buf_free(&msg);
}

bool
sv_all_idle(void)
{
	size_t	 i;

	for (i = 0; i < nvms; i++)
		if (!vm_is_idle(vms[i]))
			return false;
	return true;
}

/* SIGTERM: stop every VM that is not stopped, all at once. */
void
sv_shutdown(void)
{
	struct buf	 msg;
	size_t		 i;

	buf_init(&msg);
	for (i = 0; i < nvms; i++) {
		if (vms[i]->state == VM_STOPPED || vms[i]->state == VM_FAILED)
			continue;
		buf_reset(&msg);
		if (vm_request(vms[i], REQ_STOP, -1, "daemon-shutdown",
		    &msg) == -1)
			log_debug("shutdown: %s", msg.data);
	}
	buf_free(&msg);
	vmstated_check_shutdown();
}

static void
sv_remove(struct vm *vm)
{
	size_t	 i;

	for (i = 0; i < nvms; i++)
		if (vms[i] == vm) {
			memmove(&vms[i], &vms[i + 1],
			    (nvms - i - 1) * sizeof(*vms));
			nvms--;
			break;
		}
	log_info("%s: removed from supervision", vm->name);
	persist_remove(vm);
	vm_free(vm);
}

/* Deferred from sv_vm_idle: never free a VM while its code runs. */
static void
sv_idle_later(evutil_socket_t fd, short what, void *arg)
{
	size_t	 i;

	for (i = 0; i < nvms; i++)
		if (vms[i]->forget && vm_is_idle(vms[i])) {
			sv_remove(vms[i]);
			i--;
		}
	vmstated_check_shutdown();
}

/* A VM has become idle (stopped or failed, nothing running). */
void
sv_vm_idle(struct vm *vm)
{
	struct timeval	 now = { 0, 0 };

	if (vm->forget || vmstated_shutting_down())
		event_base_once(vmstated_base(), -1, EV_TIMEOUT,
		    sv_idle_later, NULL, &now);
}

/*
 * SIGHUP or `reload`: read every configuration again.  New VMs appear;
 * removed ones are stopped with their hooks and forgotten; a changed one
 * takes its new configuration now if stopped, else at its next start; a
 * VM whose new configuration is invalid keeps its old one.  The reply
 * (reply may be NULL) lists what happened.
 */
int
sv_reload(struct buf *reply)
{
	const struct daemon_config *dc;
	struct cfg_set		*set;
	char			*conf_error;
	bool			 any_owner = false;
	struct buf		 msg;
	char			**added, **removed, **changed;
	size_t			 nadded = 0, nremoved = 0, nchanged = 0, i;
	struct vm		*vm;

	conf_error = vmstated_reload_config();
	dc = vmstated_config();
	if ((set = cfg_load_all(vmstated_configdir(), dc)) == NULL) {
		free(conf_error);
		char why[1024];
		snprintf(why, sizeof(why), "reload: cannot read the "
		    "configuration directory %s: %s; nothing changed",
		    vmstated_configdir(), strerror(errno));
		log_warnx("%s", why);
		if (reply != NULL) {
			buf_puts(reply, "{\"ok\":false,\"error\":");
			buf_json_cstr(reply, why);
			buf_putc(reply, '}');
		}
		return -1;
	}
	added = xcalloc(set->nvms + 1, sizeof(char *));
	changed = xcalloc(nvms + 1, sizeof(char *));
	removed = xcalloc(nvms + 1, sizeof(char *));
	buf_init(&msg);

	for (i = 0; i < nvms; i++)
		vms[i]->forget = true;
	for (i = 0; i < set->nvms; i++) {
		struct vm_config *cfg = set->vms[i];
		if ((vm = sv_find(cfg->name)) == NULL) {
			added[nadded++] = cfg->name;
			continue;
		}
		vm->forget = false;
		free(vm->reload_error);
		vm->reload_error = NULL;
		if (cfg_vm_equal(vm->cfg, cfg) && vm->pending == NULL)
			continue;
		if (vm->pending != NULL && cfg_vm_equal(vm->pending, cfg))
			continue;
		if (cfg_vm_equal(vm->cfg, cfg)) {
			/* Changed, then changed back before the next start. */
			cfg_vm_free(vm->pending);
			vm->pending = NULL;
			vmlog(vm, "configuration back to the one in force; "
			    "no change pending");
			continue;
		}
		changed[nchanged++] = vm->name;
		if (vm->state == VM_STOPPED || vm->state == VM_FAILED) {
			cfg_vm_free(vm->pending);
			vm->pending = NULL;
			cfg_vm_free(vm->cfg);
			vm->cfg = cfg_vm_dup(cfg);
			vm->hv = hv_ops_for(vm->cfg->hypervisor);
			vmlog(vm, "configuration reloaded");
		} else {
			cfg_vm_free(vm->pending);
			vm->pending = cfg_vm_dup(cfg);
			vmlog(vm, "configuration changed; it takes effect at "
			    "the next start");
		}
	}
	/*
	 * A VM whose new configuration is invalid keeps the old one.  It is
	 * found by its directory: an invalid file may not even give a name.
	 */
	for (i = 0; i < set->ninvalid; i++) {
		if ((vm = sv_find_by_dir(set->invalid[i].dir)) == NULL)
			continue;
		vm->forget = false;
		free(vm->reload_error);
		vm->reload_error = xstrdup(set->invalid[i].error);
		vmlog(vm, "new configuration refused, the old one stays in "
		    "force: %s", set->invalid[i].error);
	}
	for (i = 0; i < nvms; i++) {
		vm = vms[i];
		if (!vm->forget)
			continue;
		removed[nremoved++] = vm->name;
		if (vm_is_idle(vm))
			continue;
		buf_reset(&msg);
		if (vm->state == VM_RUNNING)
			vm_request(vm, REQ_STOP, -1, "removed", &msg);
		else
			vm->stop_pending = true;
	}
	if (reply != NULL) {
		buf_puts(reply, "{\"ok\":true");
		buf_json_member_strings(reply, "added", added, nadded);
		buf_json_member_strings(reply, "removed", removed,
		    nremoved);
		buf_json_member_strings(reply, "changed", changed,
		    nchanged);
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
	log_info("reload: %zu added, %zu removed, %zu changed, %zu invalid",
	    nadded, nremoved, nchanged, set->ninvalid);

	/* Now add the new VMs (names in `added` point into set). */
	for (i = 0; i < set->nvms; i++) {
		if (sv_find(set->vms[i]->name) != NULL)
			continue;
		vm = vm_new(set->vms[i]);
		set->vms[i] = NULL;
		sv_add(vm);
		log_info("%s: added by reload", vm->name);
	}
	sv_invalid_take(set);
	free(added);
	free(changed);
	free(removed);
	buf_free(&msg);
	/* Forget removed VMs that are idle already. */
	for (i = 0; i < nvms; i++)
		if (vms[i]->forget && vm_is_idle(vms[i]))
			sv_vm_idle(vms[i]);
	cfg_set_free(set);
	free(conf_error);
	for (i = 0; i < nvms; i++)
		if (request_auth_config(vms[i])->owner != NULL ||
		    request_auth_config(vms[i])->group != NULL)
			any_owner = true;
	control_set_mode(dc, any_owner);
	vmlog_reopen_all();
	return 0;
}

void
sv_free(void)
{
	size_t	 i;

	for (i = 0; i < nvms; i++)
		vm_free(vms[i]);
	free(vms);
	vms = NULL;
	nvms = 0;
	sv_invalid_clear();
}
