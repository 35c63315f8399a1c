/*
 * request.c: the commands of the control protocol (proto.h).  Every
 * request is checked here, in one place, before it is acted on: its shape,
 * the VMs it names, and whether the client may do it.
 */
#include <sys/types.h>

#include <grp.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "ucl.h"
#include "vmstated.h"

enum cmd_kind {
	CMD_READ,	/* anyone who can connect */
	CMD_VM,		/* root, the VM's owner, members of its group */
	CMD_ADMIN,	/* root (or the daemon's own user) */
};

struct command {
	const char	*name;
	enum cmd_kind	 kind;
	int		 request;	/* enum vm_event for CMD_VM */
};

static const struct command commands[] = {
	{ "start",	CMD_VM,		EV_START },
	{ "stop",	CMD_VM,		EV_STOP },
	{ "restart",	CMD_VM,		EV_RESTART },
	{ "kill",	CMD_VM,		EV_KILL },
	{ "failreset",	CMD_VM,		EV_FAILRESET },
	{ "status",	CMD_READ,	-1 },
	{ "info",	CMD_READ,	-1 },
	{ "events",	CMD_READ,	-1 },
	{ "reload",	CMD_ADMIN,	-1 },
	{ "console",	CMD_VM,		-1 },
	{ "log",	CMD_READ,	-1 },
	{ "reopen",	CMD_ADMIN,	-1 },
};

static void
reply_error(struct buf *reply, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reply_error(struct buf *reply, const char *fmt, ...)
{
	struct buf	 msg;
	va_list		 ap;

	buf_init(&msg);
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	buf_puts(reply, "{\"ok\":false,\"error\":");
	buf_json_string(reply, msg.data, msg.len);
	buf_putc(reply, '}');
	buf_free(&msg);
}

static bool
peer_is_admin(const struct ctl_peer *peer)
{
	return peer->uid == 0 || peer->uid == geteuid();
}

/* The client's supplementary groups, looked up once per connection. */
static void
peer_load_groups(struct ctl_peer *peer)
{
	struct passwd	*pw;
	int		 n = 64;

	if (peer->groups_known)
		return;
	peer->groups_known = true;
	if ((pw = getpwuid(peer->uid)) == NULL)
		return;
	peer->groups = xcalloc((size_t)n, sizeof(gid_t));
	if (getgrouplist(pw->pw_name, pw->pw_gid, peer->groups, &n) == -1) {
		peer->groups = xrealloc(peer->groups, (size_t)n *
		    sizeof(gid_t));
		if (getgrouplist(pw->pw_name, pw->pw_gid, peer->groups,
		    &n) == -1)
			n = 0;
	}
	peer->ngroups = n;
}

/* May this client act on this VM? */
static bool
peer_may_operate(struct ctl_peer *peer, const struct vm *vm)
{
	const struct vm_config	*cfg = vm->cfg;
	int			 i;

	if (peer_is_admin(peer))
		return true;
	if (cfg->owner != NULL && peer->uid == cfg->owner_uid)
		return true;
	if (cfg->group == NULL)
		return false;
	if (peer->gid == cfg->group_gid)
		return true;
	peer_load_groups(peer);
	for (i = 0; i < peer->ngroups; i++)
		if (peer->groups[i] == cfg->group_gid)
			return true;
	return false;
}

static void
json_kv_str(struct buf *b, const char *key, const char *value)
{
	buf_printf(b, ",\"%s\":", key);
	buf_json_cstr(b, value);
}

static void
json_kv_int(struct buf *b, const char *key, long long value)
{
	buf_printf(b, ",\"%s\":%lld", key, value);
}

static void
json_kv_bool(struct buf *b, const char *key, bool value)
{
	buf_printf(b, ",\"%s\":%s", key, value ? "true" : "false");
}

/* One VM's status object. */
void
request_status_json(struct vm *vm, struct buf *b)
{
	buf_puts(b, "{\"name\":");
	buf_json_cstr(b, vm->name);
	json_kv_str(b, "state", vm_state_name(vm->state));
	if (vm->pid != -1) {
		json_kv_int(b, "pid", vm->pid);
		json_kv_int(b, "uptime", (long long)(time(NULL) -
		    vm->started_at));
	} else
		buf_puts(b, ",\"pid\":null,\"uptime\":null");
	json_kv_int(b, "restarts", vm_restarts_in_window(vm));
	json_kv_int(b, "maxrestart", vm->cfg->maxrestart);
	json_kv_int(b, "maxrestarttime", vm->cfg->maxrestarttime);
	json_kv_str(b, "owner", vm->cfg->owner);
	json_kv_str(b, "group", vm->cfg->group);
	json_kv_str(b, "description", vm->cfg->description);
	json_kv_str(b, "hypervisor", cfg_hv_name(vm->cfg->hypervisor));
	json_kv_str(b, "reason", vm->reason);
	json_kv_bool(b, "pending", vm->pending != NULL);
	json_kv_str(b, "error", vm->reload_error);
	buf_putc(b, '}');
}

static void
invalid_status_json(const struct invalid_vm *inv, struct buf *b)
{
	buf_puts(b, "{\"name\":");
	buf_json_cstr(b, inv->name);
	buf_puts(b, ",\"state\":\"invalid\",\"pid\":null,\"uptime\":null,"
	    "\"restarts\":0,\"maxrestart\":null,\"maxrestarttime\":null,"
	    "\"owner\":null,\"group\":null,\"description\":null,"
	    "\"hypervisor\":null,\"reason\":null,\"pending\":false");
	json_kv_str(b, "dir", inv->dir);
	json_kv_str(b, "error", inv->error);
	buf_putc(b, '}');
}

/* The VM names of a request, or NULL with an error reply written. */
static const struct ucl_node *
request_vms(const struct ucl_node *req, bool required, struct buf *reply)
{
	const struct ucl_node	*vms = ucl_lookup(req, "vms"), *n;

	if (vms == NULL || (vms->type == UCL_ARRAY && vms->count == 0)) {
		if (required) {
			reply_error(reply, "this command needs at least one "
			    "VM name in \"vms\"");
			return NULL;
		}
		return vms;
	}
	if (vms->type != UCL_ARRAY) {
		reply_error(reply, "\"vms\" must be an array of VM names, "
		    "not a %s", ucl_type_name(vms->type));
		return NULL;
	}
	for (n = vms->children; n != NULL; n = n->next)
		if (n->type != UCL_STRING) {
			reply_error(reply, "\"vms\" must hold VM names "
			    "(strings), not a %s", ucl_type_name(n->type));
			return NULL;
		}
	return vms;
}

static void
unknown_vm_error(struct buf *b, const char *name)
{
	const struct invalid_vm	*inv = sv_find_invalid(name);

	if (inv != NULL)
		buf_printf(b, "%s has an invalid configuration: %s; fix it "
		    "and run 'vmstatedctl reload'", name, inv->error);
	else
		buf_printf(b, "no VM named \"%s\"; 'vmstatedctl status' "
		    "lists the VMs", name);
}

static void
handle_status(const struct ucl_node *req, struct buf *reply)
{
	const struct ucl_node	*vms, *n;
	const struct invalid_vm	*inv;
	struct vm		*vm;
	size_t			 i;
	bool			 first = true;

	if ((vms = request_vms(req, false, reply)) == NULL &&
	    reply->len > 0)
		return;
	/* Check names first, so that one reply says what is wrong. */
	for (n = vms ? vms->children : NULL; n != NULL; n = n->next)
		if (sv_find(n->v.string.ptr) == NULL &&
		    sv_find_invalid(n->v.string.ptr) == NULL) {
			struct buf msg;
			buf_init(&msg);
			unknown_vm_error(&msg, n->v.string.ptr);
			reply_error(reply, "%s", msg.data);
			buf_free(&msg);
			return;
		}
	buf_puts(reply, "{\"ok\":true,\"vms\":[");
	if (vms == NULL || vms->count == 0) {
		for (i = 0; i < sv_count(); i++) {
			buf_puts(reply, first ? "" : ",");
			request_status_json(sv_vm(i), reply);
			first = false;
		}
		for (i = 0; i < sv_invalid_count(); i++) {
			buf_puts(reply, first ? "" : ",");
			invalid_status_json(sv_invalid(i), reply);
			first = false;
		}
	} else {
		for (n = vms->children; n != NULL; n = n->next) {
			buf_puts(reply, first ? "" : ",");
			first = false;
			if ((vm = sv_find(n->v.string.ptr)) != NULL)
				request_status_json(vm, reply);
			else if ((inv = sv_find_invalid(n->v.string.ptr)))
				invalid_status_json(inv, reply);
		}
	}
	buf_puts(reply, "]}");
}

static void
config_json(const struct vm_config *c, struct buf *b)
{
	static const char *flag[] = { "unset", "no", "yes" };

	buf_puts(b, "{\"name\":");
	buf_json_cstr(b, c->name);
	json_kv_str(b, "hypervisor", cfg_hv_name(c->hypervisor));
	json_kv_str(b, "configfile", c->configfile);
	json_kv_str(b, "scriptpath", c->scriptpath);
	json_kv_str(b, "os", c->os);
	json_kv_str(b, "osversion", c->osversion);
	json_kv_str(b, "owner", c->owner);
	json_kv_str(b, "group", c->group);
	json_kv_str(b, "description", c->description);
	json_kv_int(b, "maxrestart", c->maxrestart);
	json_kv_int(b, "maxrestarttime", c->maxrestarttime);
	json_kv_int(b, "stoptimeout", c->stoptimeout);
	json_kv_int(b, "hooktimeout", c->hooktimeout);
	json_kv_bool(b, "autostart", c->autostart);
	json_kv_str(b, "bootrom", c->bootrom);
	json_kv_str(b, "generate_acpi_tables",
	    flag[c->generate_acpi_tables + 1]);
	json_kv_str(b, "vmexit_on_halt", flag[c->vmexit_on_halt + 1]);
	json_kv_int(b, "memory", c->memory_mb);
	json_kv_int(b, "cpus", c->cpus);
	json_kv_int(b, "sockets", c->sockets);
	json_kv_int(b, "cores", c->cores);
	json_kv_str(b, "hostbridge", c->hostbridge);
	json_kv_str(b, "wire_memory", flag[c->wire_memory + 1]);
	json_kv_str(b, "kernel", c->kernel);
	json_kv_str(b, "initrd", c->initrd);
	json_kv_str(b, "append", c->append);
	buf_json_member_strings(b, "disk", c->disks, c->ndisks);
	buf_json_member_strings(b, "qemu_args", c->qemu_args,
	    c->nqemu_args);
	json_kv_str(b, "qemu_binary", c->qemu_binary);
	buf_putc(b, '}');
}

static void
info_file(const char *what, const char *path, void *arg)
{
	json_kv_str(arg, what, path);
}

static void
handle_info(const struct ucl_node *req, struct buf *reply)
{
	const struct ucl_node	*vms;
	struct vm		*vm;
	const char		*name;
	char			*path;
	int			 i;

	if ((vms = request_vms(req, true, reply)) == NULL)
		return;
	if (vms->count != 1) {
		reply_error(reply, "info takes exactly one VM name");
		return;
	}
	name = vms->children->v.string.ptr;
	if ((vm = sv_find(name)) == NULL) {
		const struct invalid_vm *inv = sv_find_invalid(name);
		if (inv != NULL) {
			buf_puts(reply, "{\"ok\":true,\"vm\":");
			invalid_status_json(inv, reply);
			buf_putc(reply, '}');
			return;
		}
		struct buf msg;
		buf_init(&msg);
		unknown_vm_error(&msg, name);
		reply_error(reply, "%s", msg.data);
		buf_free(&msg);
		return;
	}
	buf_puts(reply, "{\"ok\":true,\"vm\":");
	request_status_json(vm, reply);
	reply->len--;			/* reopen the object */
	buf_puts(reply, ",\"config\":");
	config_json(vm->cfg, reply);
	if (vm->pending != NULL) {
		buf_puts(reply, ",\"pending_config\":");
		config_json(vm->pending, reply);
	}
	buf_puts(reply, ",\"paths\":{\"dir\":");
	buf_json_cstr(reply, vm->cfg->dir);
	json_kv_str(reply, "config", vm->cfg->config_path);
	json_kv_str(reply, "scriptpath", vm->cfg->scriptpath ?
	    vm->cfg->scriptpath : vm->cfg->dir);
	path = vmlog_path(vm->name);
	json_kv_str(reply, "log", path);
	free(path);
	/* The back end names its own files (generated, qmp, console...). */
	if (vm->hv->files != NULL)
		vm->hv->files(vmproc_hv(vm), info_file, reply);
	buf_putc(reply, '}');
	json_kv_str(reply, "previous_state", vm_state_name(vm->previous));
	json_kv_int(reply, "state_since", (long long)vm->state_since);
	json_kv_str(reply, "last_exit", vm->last_exit);
	json_kv_str(reply, "fail_reason", vm->fail_reason);
	/* The history is kept in monotonic time; people read wall-clock. */
	buf_puts(reply, ",\"restart_history\":[");
	for (i = 0; i < vm->nrestarts; i++)
		buf_printf(reply, "%s%.3f", i ? "," : "", vm->restarts[i] -
		    vm_clock_mono() + vm_clock_wall());
	buf_puts(reply, "]}}");
}

/* start, stop, restart, kill, failreset on each named VM. */
static void
handle_vm_command(struct ctl_peer *peer, const struct command *cmd,
    const struct ucl_node *req, struct buf *reply)
{
	const struct ucl_node	*vms, *n;
	struct buf		 msg, results;
	struct vm		*vm;
	bool			 all_ok = true;

	if ((vms = request_vms(req, true, reply)) == NULL)
		return;
	buf_init(&msg);
	buf_init(&results);
	for (n = vms->children; n != NULL; n = n->next) {
		const char *name = n->v.string.ptr;
		bool ok = false;
		const char *was = NULL;

		buf_reset(&msg);
		if ((vm = sv_find(name)) != NULL)
			was = vm_state_name(vm->state);
		if (vm == NULL)
			unknown_vm_error(&msg, name);
		else if (!peer_may_operate(peer, vm)) {
			buf_printf(&msg, "permission denied: uid %ld may not "
			    "%s %s (only root, its owner and members of its "
			    "group may)", (long)peer->uid, cmd->name, name);
			log_warnx("permission denied: uid %ld tried to %s %s",
			    (long)peer->uid, cmd->name, name);
		} else if (vm_request(vm, (enum vm_event)cmd->request,
		    (long)peer->uid, "request", &msg) == 0)
			ok = true;
		buf_puts(&results, results.len > 0 ? ",{\"vm\":" :
		    "{\"vm\":");
		buf_json_cstr(&results, name);
		json_kv_bool(&results, "ok", ok);
		/* The VM may be gone if the request freed it: look again. */
		if ((vm = sv_find(name)) != NULL)
			json_kv_str(&results, "state",
			    vm_state_name(vm->state));
		if (was != NULL)
			json_kv_str(&results, "was", was);
		if (!ok) {
			json_kv_str(&results, "error", msg.data);
			all_ok = false;
		}
		buf_putc(&results, '}');
	}
	buf_printf(reply, "{\"ok\":%s,\"results\":[%s]}",
	    all_ok ? "true" : "false", results.data ? results.data : "");
	buf_free(&results);
	buf_free(&msg);
}

/*
 * A boolean member of req: 0 with *value (dflt when absent), or -1 with
 * an error reply.
 */
static int
request_bool(const struct ucl_node *req, const char *key, bool dflt,
    bool *value, struct buf *reply)
{
	const struct ucl_node	*n = ucl_lookup(req, key);

	*value = dflt;
	if (n == NULL)
		return 0;
	if (n->type != UCL_BOOLEAN) {
		reply_error(reply, "\"%s\" must be true or false", key);
		return -1;
	}
	*value = n->v.boolean;
	return 0;
}

/* The one VM a console or log request names, or NULL after replying. */
static struct vm *
request_one_vm(const struct ucl_node *req, const char *command,
    struct buf *reply)
{
	const struct ucl_node	*vms;
	struct vm		*vm;
	struct buf		 msg;

	if ((vms = request_vms(req, true, reply)) == NULL)
		return NULL;
	if (vms->count != 1) {
		reply_error(reply, "%s takes exactly one VM name", command);
		return NULL;
	}
	if ((vm = sv_find(vms->children->v.string.ptr)) == NULL) {
		buf_init(&msg);
		unknown_vm_error(&msg, vms->children->v.string.ptr);
		reply_error(reply, "%s", msg.data);
		buf_free(&msg);
	}
	return vm;
}

/*
 * console: attach to the VM's serial console; authorized as start and
 * stop are.  On success the reply says whether the client has the
 * keyboard, and the connection switches (switch.c).
 */
static int
handle_console(struct ctl_peer *peer, const struct ucl_node *req,
    struct buf *reply)
{
	struct vm	*vm;
	struct buf	 why;
	bool		 readonly, scrollback, writer;
	long		 writer_uid;

	if ((vm = request_one_vm(req, "console", reply)) == NULL ||
	    request_bool(req, "readonly", false, &readonly, reply) == -1 ||
	    request_bool(req, "scrollback", true, &scrollback, reply) == -1)
		return 0;
	if (!peer_may_operate(peer, vm)) {
		reply_error(reply, "permission denied: uid %ld may not attach "
		    "to the console of %s (only root, its owner and members "
		    "of its group may)", (long)peer->uid, vm->name);
		log_warnx("permission denied: uid %ld tried to attach to the "
		    "console of %s", (long)peer->uid, vm->name);
		return 0;
	}
	buf_init(&why);
	if (console_check(vm, !readonly, &writer, &writer_uid, &why) == -1) {
		reply_error(reply, "%s", why.data);
		buf_free(&why);
		return 0;
	}
	buf_free(&why);
	buf_puts(reply, "{\"ok\":true,\"vm\":");
	buf_json_cstr(reply, vm->name);
	json_kv_str(reply, "mode", writer ? "read-write" : "read-only");
	if (writer_uid >= 0)
		json_kv_int(reply, "writer_uid", writer_uid);
	else
		buf_puts(reply, ",\"writer_uid\":null");
	buf_putc(reply, '}');
	peer->sw.kind = SWITCH_CONSOLE;
	free(peer->sw.vm);
	peer->sw.vm = xstrdup(vm->name);
	peer->sw.writer = writer;
	peer->sw.scrollback = scrollback;
	return REQUEST_SWITCH;
}

/*
 * log: the VM's log down the connection; authorized as info is.
 * "lines": the last ones only; "follow": then what is added.
 */
static int
handle_log(struct ctl_peer *peer, const struct ucl_node *req,
    struct buf *reply)
{
	const struct ucl_node	*n;
	struct vm		*vm;
	struct buf		 why;
	bool			 follow;
	long			 lines = -1;
	char			*path;

	if ((vm = request_one_vm(req, "log", reply)) == NULL ||
	    request_bool(req, "follow", false, &follow, reply) == -1)
		return 0;
	if ((n = ucl_lookup(req, "lines")) != NULL) {
		if (n->type != UCL_INT || n->v.integer < 0 ||
		    n->v.integer > 100000000) {
			reply_error(reply, "\"lines\" must be a whole number "
			    "from 0 to 100000000");
			return 0;
		}
		lines = (long)n->v.integer;
	}
	buf_init(&why);
	if (logview_check(follow, &why) == -1) {
		reply_error(reply, "%s", why.data);
		buf_free(&why);
		return 0;
	}
	buf_free(&why);
	path = vmlog_path(vm->name);
	buf_puts(reply, "{\"ok\":true,\"vm\":");
	buf_json_cstr(reply, vm->name);
	json_kv_str(reply, "path", path);
	buf_putc(reply, '}');
	free(path);
	peer->sw.kind = SWITCH_LOG;
	free(peer->sw.vm);
	peer->sw.vm = xstrdup(vm->name);
	peer->sw.lines = lines;
	peer->sw.follow = follow;
	return REQUEST_SWITCH;
}

int
request_handle(struct ctl_peer *peer, const struct ucl_node *req,
    struct buf *reply)
{
	const struct ucl_node	*name, *watch;
	const struct command	*cmd = NULL;
	size_t			 i;
	bool			 subscribe = false;

	if (req->type != UCL_OBJECT) {
		reply_error(reply, "a request must be a JSON object such as "
		    "{\"command\":\"status\"}");
		return 0;
	}
	name = ucl_lookup(req, "command");
	if (name == NULL || name->type != UCL_STRING) {
		reply_error(reply, "a request needs \"command\" (a string)");
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name->v.string.ptr) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		reply_error(reply, "unknown command \"%.64s\"; known: start, "
		    "stop, restart, kill, failreset, status, info, reload, "
		    "events, console, log, reopen", name->v.string.ptr);
		return 0;
	}
	if ((watch = ucl_lookup(req, "watch")) != NULL) {
		if (watch->type != UCL_BOOLEAN) {
			reply_error(reply, "\"watch\" must be true or false");
			return 0;
		}
		subscribe = watch->v.boolean;
	}
	if (cmd->kind == CMD_ADMIN && !peer_is_admin(peer)) {
		reply_error(reply, "permission denied: uid %ld may not %s "
		    "(only root may)", (long)peer->uid, cmd->name);
		log_warnx("permission denied: uid %ld tried to %s",
		    (long)peer->uid, cmd->name);
		return 0;
	}
	if (strcmp(cmd->name, "console") == 0)
		return handle_console(peer, req, reply);
	if (strcmp(cmd->name, "log") == 0)
		return handle_log(peer, req, reply);
	if (strcmp(cmd->name, "reopen") == 0) {
		vmlog_reopen_all();
		log_info("reopening the VM logs (asked by uid %ld)",
		    (long)peer->uid);
		buf_puts(reply, "{\"ok\":true}");
		return 0;
	}
	if (strcmp(cmd->name, "status") == 0)
		handle_status(req, reply);
	else if (strcmp(cmd->name, "info") == 0)
		handle_info(req, reply);
	else if (strcmp(cmd->name, "reload") == 0)
		sv_reload(reply);
	else if (strcmp(cmd->name, "events") == 0) {
		buf_puts(reply, "{\"ok\":true}");
		return 1;
	} else
		handle_vm_command(peer, cmd, req, reply);
	return subscribe ? 1 : 0;
}
