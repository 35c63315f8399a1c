/*
 * request.c: the commands of the control protocol (proto.h).  Every
 * request is checked here, in one place, before it is acted on: its shape
 * (command, VM names, members), then whether this client may do it, by the
 * rule each command has in the table below.  The client's identity comes
 * from the kernel (control.c), never from the request.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "expfmt.h"
#include "log.h"
#include "proto.h"
#include "ucl.h"
#include "vmstated.h"

/* Who may use a command. */
enum auth_rule {
	AUTH_ANYONE,	/* anyone who can connect */
	AUTH_OPERATOR,	/* per VM: root, the VM's owner, members of its group */
	AUTH_ADMIN,	/* root, or the daemon's own user */
};

struct request;

struct command {
	const char	*name;
	enum auth_rule	 auth;
	const char	*may_not;	/* "may not <this> VM" in a refusal */
	const char	*refusal_hint;	/* what to do instead, or NULL */
	int		 min_vms;
	int		 max_vms;	/* -1: any number */
	int		 vm_request;	/* enum vm_event, or -1 */
	void		 (*handle)(struct request *);
};

/* One request being handled. */
struct request {
	struct ctl_peer		*peer;
	const struct command	*cmd;
	const struct ucl_node	*req;	/* the whole request */
	const struct ucl_node	*vms;	/* array of strings, or NULL */
	bool			 watch;	/* "watch": true */
	bool			 recursive; /* stop, "recursive": true */
	bool			 subscribe; /* stay subscribed to events */
	bool			 switched; /* the connection switches: sw */
	bool			 openmetrics; /* metrics, "format" */
	bool			 replay;    /* events, "since" given */
	uint64_t		 since;
	const char		*epoch;     /* events, "epoch", or NULL */
	struct buf		*reply;
};

static void	handle_vm_command(struct request *);
static void	handle_status(struct request *);
static void	handle_info(struct request *);
static void	handle_reload(struct request *);
static void	handle_events(struct request *);
static void	handle_console(struct request *);
static void	handle_log(struct request *);
static void	handle_reopen(struct request *);
static void	handle_metrics(struct request *);

static const struct command commands[] = {
	{ "start",	AUTH_OPERATOR,	"start", NULL,		1, -1,
	    EV_START,		handle_vm_command },
	{ "stop",	AUTH_OPERATOR,	"stop", NULL,		1, -1,
	    EV_STOP,		handle_vm_command },
	{ "restart",	AUTH_OPERATOR,	"restart", NULL,	1, -1,
	    EV_RESTART,	handle_vm_command },
	{ "kill",	AUTH_OPERATOR,	"kill", NULL,		1, -1,
	    EV_KILL,		handle_vm_command },
	{ "failreset",	AUTH_OPERATOR,	"failreset", NULL,	1, -1,
	    EV_FAILRESET,	handle_vm_command },
	/* Configuration and paths often hold secrets (append, qemu_args). */
	{ "info",	AUTH_OPERATOR,	"see the details of",
	    "'vmstatedctl status' shows its state", 1, 1,
	    -1,			handle_info },
	{ "status",	AUTH_ANYONE,	NULL, NULL,		0, -1,
	    -1,			handle_status },
	/* Anyone may subscribe; each event goes only to those who may
	 * operate its VM (request_may_operate, called by control.c). */
	{ "events",	AUTH_ANYONE,	NULL, NULL,		0, 0,
	    -1,			handle_events },
	{ "reload",	AUTH_ADMIN,	"reload", NULL,		0, 0,
	    -1,			handle_reload },
	/* The guest's console, both ways: as start and stop. */
	{ "console",	AUTH_OPERATOR,	"attach to the console of", NULL,
	    1, 1,		-1,		handle_console },
	/* The log holds the console's output: as info. */
	{ "log",	AUTH_OPERATOR,	"read the log of", NULL, 1, 1,
	    -1,			handle_log },
	{ "reopen",	AUTH_ADMIN,	"reopen", NULL,		0, 0,
	    -1,			handle_reopen },
	/* The daemon's series to anyone; a VM's to those who may operate
	 * it (metrics.c). */
	{ "metrics",	AUTH_ANYONE,	NULL, NULL,		0, 0,
	    -1,			handle_metrics },
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

/*
 * The few facts about a VM that authorization needs, each in one small
 * function so that a change of struct vm touches only these.
 */

/*
 * The configuration whose owner and group are in force: the newest valid
 * one.  A reload that changes a running VM keeps its other new values
 * pending until the next start, but who may operate it changes at once.
 */
const struct vm_config *
request_auth_config(const struct vm *vm)
{
	return vm_rare_peek(vm)->pending != NULL ? vm->rare->pending :
	    vm->cfg;
}

/* root, or the daemon's own user. */
bool
request_is_admin(const struct ctl_peer *peer)
{
	return peer->uid == 0 || peer->uid == geteuid();
}

/* Does the client hold gid, as its group or a supplementary group? */
static bool
peer_in_group(const struct ctl_peer *peer, gid_t gid)
{
	int	 i;

	if (peer->gid == gid)
		return true;
	for (i = 0; i < peer->ngroups; i++)
		if (peer->groups[i] == gid)
			return true;
	return false;
}

/* May this client operate this VM (and see its details and events)? */
bool
request_may_operate(const struct ctl_peer *peer, const struct vm *vm)
{
	const struct vm_config	*cfg = request_auth_config(vm);

	if (request_is_admin(peer))
		return true;
	if (cfg->owner != NULL && peer->uid == cfg->owner_uid)
		return true;
	return cfg->group != NULL && peer_in_group(peer, cfg->group_gid);
}

/*
 * Refuse a command the client may not use, on the VM vmname (NULL for a
 * command on the daemon): the message goes into msg, and to the log
 * through the rate limit of control.c.
 */
static void
refuse(struct request *r, const char *vmname, struct buf *msg)
{
	const struct command	*cmd = r->cmd;
	long			 uid = (long)r->peer->uid;

	if (vmname == NULL) {
		buf_printf(msg, "permission denied: uid %ld may not %s (only "
		    "root may)", uid, cmd->may_not);
		control_log_refusal("permission denied: uid %ld tried to %s",
		    uid, cmd->may_not);
		return;
	}
	buf_printf(msg, "permission denied: uid %ld may not %s %s (only "
	    "root, its owner and members of its group may)", uid,
	    cmd->may_not, vmname);
	if (cmd->refusal_hint != NULL)
		buf_printf(msg, "; %s", cmd->refusal_hint);
	control_log_refusal("permission denied: uid %ld tried to %s %s", uid,
	    cmd->may_not, vmname);
}

/*
 * ,"key": then the value.  A status reply of 10,000 VMs is some 2 MB of
 * these: they are copied, not formatted (no printf).
 */
static void
json_key(struct buf *b, const char *key)
{
	buf_append(b, ",\"", 2);
	buf_puts(b, key);
	buf_append(b, "\":", 2);
}

static void
json_kv_str(struct buf *b, const char *key, const char *value)
{
	json_key(b, key);
	buf_json_cstr(b, value);
}

static void
json_kv_int(struct buf *b, const char *key, long long value)
{
	json_key(b, key);
	buf_put_int(b, value);
}

static void
json_kv_bool(struct buf *b, const char *key, bool value)
{
	json_key(b, key);
	buf_puts(b, value ? "true" : "false");
}

/* One VM's status object; STATUS_VM_BYTES is about its size. */
#define STATUS_VM_BYTES		288

void
request_status_json(struct vm *vm, struct buf *b)
{
	buf_puts(b, "{\"name\":");
	buf_json_cstr(b, vm->name);
	json_kv_str(b, "state", vm_state_name(vm->state));
	if (vm_is_up(vm)) {
		json_kv_int(b, "pid", vm->run->pid);
		json_kv_int(b, "uptime", vm_uptime(vm));
	} else
		buf_puts(b, ",\"pid\":null,\"uptime\":null");
	json_kv_int(b, "restarts", vm_restarts_in_window(vm));
	json_kv_int(b, "maxrestart", vm->cfg->maxrestart);
	json_kv_int(b, "maxrestarttime", vm->cfg->maxrestarttime);
	/* Who may operate it, which a reload changes at once. */
	json_kv_str(b, "owner", request_auth_config(vm)->owner);
	json_kv_str(b, "group", request_auth_config(vm)->group);
	json_kv_str(b, "description", cfg_extra(vm->cfg)->description);
	json_kv_str(b, "hypervisor", cfg_hv_name(vm->cfg->hypervisor));
	json_kv_str(b, "reason", vm->reason);
	json_kv_bool(b, "pending", vm_rare_peek(vm)->pending != NULL);
	json_kv_str(b, "error", vm_rare_peek(vm)->reload_error);
	json_kv_bool(b, "ready", order_vm_ready(vm));
	buf_json_member_strings(b, "depends", vm->cfg->depends,
	    vm->cfg->ndepends);
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
	    "\"hypervisor\":null,\"reason\":null,\"pending\":false,"
	    "\"ready\":false,\"depends\":[]");
	json_kv_str(b, "dir", inv->dir);
	json_kv_str(b, "error", inv->error);
	buf_putc(b, '}');
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

/*
 * The VM named by a request of an AUTH_OPERATOR command, if it exists and
 * the client may operate it; else NULL with the reason in msg (and a
 * refusal logged).
 */
static struct vm *
request_vm(struct request *r, const char *name, struct buf *msg)
{
	struct vm	*vm;

	if ((vm = sv_find(name)) == NULL) {
		unknown_vm_error(msg, name);
		return NULL;
	}
	if (!request_may_operate(r->peer, vm)) {
		refuse(r, name, msg);
		return NULL;
	}
	return vm;
}

static void
handle_status(struct request *r)
{
	const struct ucl_node	*n;
	const struct invalid_vm	*inv;
	struct buf		*reply = r->reply;
	struct vm		*vm;
	size_t			 i;
	bool			 first = true;

	/* Check names first, so that one reply says what is wrong. */
	for (n = r->vms ? r->vms->children : NULL; n != NULL; n = n->next)
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
	if (r->vms == NULL || r->vms->count == 0) {
		/* About what a VM takes, at once: 10,000 VMs are 2.5 MB,
		 * which doubling would reach through a dozen copies. */
		buf_reserve(reply, (sv_count() + sv_invalid_count()) *
		    STATUS_VM_BYTES);
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
		for (n = r->vms->children; n != NULL; n = n->next) {
			buf_puts(reply, first ? "" : ",");
			first = false;
			if ((vm = sv_find(n->v.string.ptr)) != NULL)
				request_status_json(vm, reply);
			else if ((inv = sv_find_invalid(n->v.string.ptr)))
				invalid_status_json(inv, reply);
		}
	}
	buf_puts(reply, "]}");
	r->subscribe = r->watch;
}

static void
config_json(const struct vm_config *c, struct buf *b)
{
	static const char *flag[] = { "unset", "no", "yes" };
	const struct cfg_qemu *q = cfg_qemu(c);
	const struct cfg_extra *x = cfg_extra(c);
	char		 path[PATH_MAX];

	buf_puts(b, "{\"name\":");
	buf_json_cstr(b, c->name);
	json_kv_str(b, "hypervisor", cfg_hv_name(c->hypervisor));
	json_kv_str(b, "configfile", cfg_configfile(c, path, sizeof(path)));
	json_kv_str(b, "scriptpath", c->scriptpath);
	json_kv_str(b, "os", x->os);
	json_kv_str(b, "osversion", x->osversion);
	json_kv_str(b, "owner", c->owner);
	json_kv_str(b, "group", c->group);
	json_kv_str(b, "description", x->description);
	json_kv_int(b, "maxrestart", c->maxrestart);
	json_kv_int(b, "maxrestarttime", c->maxrestarttime);
	json_kv_int(b, "stoptimeout", c->stoptimeout);
	json_kv_int(b, "hooktimeout", c->hooktimeout);
	json_kv_bool(b, "autostart", c->autostart);
	json_kv_str(b, "bootrom", x->bootrom);
	json_kv_str(b, "generate_acpi_tables",
	    flag[c->generate_acpi_tables + 1]);
	json_kv_str(b, "vmexit_on_halt", flag[c->vmexit_on_halt + 1]);
	json_kv_int(b, "memory", c->memory_mb);
	json_kv_int(b, "cpus", c->cpus);
	json_kv_int(b, "sockets", c->sockets);
	json_kv_int(b, "cores", c->cores);
	json_kv_str(b, "hostbridge", x->hostbridge);
	json_kv_str(b, "wire_memory", flag[c->wire_memory + 1]);
	json_kv_str(b, "kernel", q->kernel);
	json_kv_str(b, "initrd", q->initrd);
	json_kv_str(b, "append", q->append);
	buf_json_member_strings(b, "disk", q->disks, q->ndisks);
	buf_json_member_strings(b, "qemu_args", q->qemu_args,
	    q->nqemu_args);
	json_kv_str(b, "qemu_binary", q->qemu_binary);
	buf_putc(b, '}');
}

static void
paths_file(const char *what, const char *path, void *arg)
{
	json_kv_str(arg, what, path);
}

/* The paths of a VM, for info; the back end names its own files
 * (generated configuration, QMP and console sockets...). */
static void
paths_json(struct vm *vm, struct buf *reply)
{
	char	*path, config[PATH_MAX];

	buf_puts(reply, ",\"paths\":{\"dir\":");
	buf_json_cstr(reply, vm->cfg->dir);
	json_kv_str(reply, "config", cfg_config_path(vm->cfg, config,
	    sizeof(config)));
	json_kv_str(reply, "scriptpath", vm->cfg->scriptpath ?
	    vm->cfg->scriptpath : vm->cfg->dir);
	path = vmlog_path(vm->name);
	json_kv_str(reply, "log", path);
	free(path);
	if (vm->hv->files != NULL)
		vm->hv->files(vmproc_hv(vm), paths_file, reply);
	buf_putc(reply, '}');
}

/*
 * info: every detail of one VM, for those who may operate it.  Its
 * configuration (append, qemu_args) and paths often hold what others must
 * not read; status shows anyone its state.  An invalid VM has only what
 * status shows.
 */
static void
handle_info(struct request *r)
{
	struct buf		*reply = r->reply, msg;
	const struct invalid_vm	*inv;
	const struct vm_rare	*rare;
	struct vm		*vm;
	const char		*name;
	int			 i;

	name = r->vms->children->v.string.ptr;
	/* An invalid VM has no owner yet, and only what status shows. */
	if (sv_find(name) == NULL && (inv = sv_find_invalid(name)) != NULL) {
		buf_puts(reply, "{\"ok\":true,\"vm\":");
		invalid_status_json(inv, reply);
		buf_putc(reply, '}');
		r->subscribe = r->watch;
		return;
	}
	buf_init(&msg);
	if ((vm = request_vm(r, name, &msg)) == NULL) {
		reply_error(reply, "%s", msg.data);
		buf_free(&msg);
		return;
	}
	buf_free(&msg);
	rare = vm_rare_peek(vm);
	buf_puts(reply, "{\"ok\":true,\"vm\":");
	request_status_json(vm, reply);
	reply->len--;			/* reopen the object */
	buf_puts(reply, ",\"config\":");
	config_json(vm->cfg, reply);
	if (rare->pending != NULL) {
		buf_puts(reply, ",\"pending_config\":");
		config_json(rare->pending, reply);
	}
	paths_json(vm, reply);
	json_kv_str(reply, "previous_state", vm_state_name(vm->previous));
	json_kv_int(reply, "state_since", (long long)vm->state_since);
	json_kv_str(reply, "last_exit", vm->last_exit);
	json_kv_str(reply, "fail_reason", vm->fail_reason);
	json_kv_str(reply, "position", vm_pos_name(vm->pos));
	json_kv_str(reply, "intent", vm_intent_name(vm->intent));
	if (vm->has_probe && rare->probe_runs > 0)
		buf_printf(reply, ",\"probe\":{\"ok\":%s,\"failures\":%d,"
		    "\"runs\":%lu,\"time\":%lld}", vm->probe_ok ? "true" :
		    "false", rare->probe_failed_in_row, rare->probe_runs,
		    (long long)rare->probe_last);
	else
		buf_puts(reply, ",\"probe\":null");
	/* The history is kept in monotonic time; people read wall-clock. */
	buf_puts(reply, ",\"restart_history\":[");
	for (i = 0; i < vm->nrestarts; i++)
		buf_printf(reply, "%s%.3f", i ? "," : "", vm->restarts[i] -
		    vm_clock_mono() + vm_clock_wall());
	buf_puts(reply, "]}}");
	r->subscribe = r->watch;
}

/*
 * One VM of a start, stop, restart, kill or failreset.  Returns true when
 * the request was accepted; else the reason is in msg.
 */
static bool
vm_command_one(struct request *r, const char *name, struct buf *msg)
{
	struct vm	*vm;

	if ((vm = request_vm(r, name, msg)) == NULL)
		return false;
	return vm_request(vm, r->recursive ? EV_STOP_RECURSIVE :
	    (enum vm_event)r->cmd->vm_request, (long)r->peer->uid, "request",
	    msg) == 0;
}

/*
 * start, stop, restart, kill, failreset on each named VM.  With "watch",
 * the connection stays subscribed when at least one VM was accepted, so
 * that the client can follow those while it reports the others.
 */
static void
handle_vm_command(struct request *r)
{
	const struct ucl_node	*n;
	struct buf		 msg, results;
	struct vm		*vm;
	bool			 ok, all_ok = true, any_ok = false;

	buf_init(&msg);
	buf_init(&results);
	for (n = r->vms->children; n != NULL; n = n->next) {
		const char *name = n->v.string.ptr;
		const char *was;

		buf_reset(&msg);
		/* The state before the request, for a client that waits. */
		vm = sv_find(name);
		was = vm != NULL ? vm_state_name(vm->state) : NULL;
		ok = vm_command_one(r, name, &msg);
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
		if (!ok)
			json_kv_str(&results, "error", msg.data);
		buf_putc(&results, '}');
		all_ok = all_ok && ok;
		any_ok = any_ok || ok;
	}
	r->subscribe = r->watch && any_ok;
	buf_printf(r->reply, "{\"ok\":%s", all_ok ? "true" : "false");
	if (r->watch)
		json_kv_bool(r->reply, "watching", r->subscribe);
	buf_printf(r->reply, ",\"results\":[%s]}",
	    results.data ? results.data : "");
	buf_free(&results);
	buf_free(&msg);
}

static void
handle_reload(struct request *r)
{
	r->subscribe = sv_reload(r->reply) == 0 && r->watch;
}

/*
 * events: the reply says which daemon this is (epoch) and the number of
 * its last event; with "since", the kept events after that number follow
 * the reply, before any live one (events.c), and "missed" says whether
 * the client lost some.
 */
static void
handle_events(struct request *r)
{
	struct buf	 why, lines;
	int		 missed;

	buf_puts(r->reply, "{\"ok\":true");
	json_kv_str(r->reply, "epoch", events_epoch());
	buf_printf(r->reply, ",\"seq\":%" PRIu64, events_last());
	if (r->replay) {
		buf_init(&why);
		buf_init(&lines);
		missed = events_replay(r->peer, r->since, r->epoch, &why,
		    &lines);
		buf_printf(r->reply, ",\"since\":%" PRIu64, r->since);
		json_kv_bool(r->reply, "missed", missed);
		if (missed)
			json_kv_str(r->reply, "warning", why.data);
		buf_putc(r->reply, '}');
		/* Each replayed event on a line of its own. */
		if (lines.len > 0)
			buf_append(r->reply, lines.data, lines.len);
		buf_free(&why);
		buf_free(&lines);
	} else
		buf_putc(r->reply, '}');
	r->subscribe = true;
}

/* metrics: the text exposition, in a string (metrics.c). */
static void
handle_metrics(struct request *r)
{
	enum expfmt_format	 f = r->openmetrics ? EXPFMT_OPENMETRICS :
	    EXPFMT_PROMETHEUS;
	struct buf		 text;

	buf_init(&text);
	metrics_write(r->peer, r->openmetrics, &text);
	buf_puts(r->reply, "{\"ok\":true");
	json_kv_str(r->reply, "format", expfmt_format_name(f));
	json_kv_str(r->reply, "content_type", expfmt_content_type(f));
	buf_puts(r->reply, ",\"text\":");
	buf_json_string(r->reply, text.data != NULL ? text.data : "",
	    text.len);
	buf_putc(r->reply, '}');
	buf_free(&text);
}

/*
 * The members only some commands take: "format" (metrics: "prometheus"
 * or "openmetrics"), "since" (events: the number of the last event the
 * client saw, 0 or more) and "epoch" (events, with since: the daemon
 * that numbered it).  0, or -1 with an error reply written.
 */
static int
request_check_options(const struct ucl_node *req, struct request *r,
    const struct command *cmd)
{
	const struct ucl_node	*format, *since, *epoch;
	bool			 events = strcmp(cmd->name, "events") == 0;

	if ((format = ucl_lookup(req, "format")) != NULL) {
		if (strcmp(cmd->name, "metrics") != 0 ||
		    format->type != UCL_STRING ||
		    (strcmp(format->v.string.ptr, "prometheus") != 0 &&
		    strcmp(format->v.string.ptr, "openmetrics") != 0)) {
			reply_error(r->reply, "\"format\" is \"prometheus\" "
			    "or \"openmetrics\", and only for metrics");
			return -1;
		}
		r->openmetrics = strcmp(format->v.string.ptr,
		    "openmetrics") == 0;
	}
	since = ucl_lookup(req, "since");
	epoch = ucl_lookup(req, "epoch");
	if (since != NULL) {
		if (!events || since->type != UCL_INT ||
		    since->v.integer < 0) {
			reply_error(r->reply, "\"since\" is the number of an "
			    "event (0 or more), and only for events");
			return -1;
		}
		r->replay = true;
		r->since = (uint64_t)since->v.integer;
	}
	if (epoch != NULL) {
		if (since == NULL || epoch->type != UCL_STRING) {
			reply_error(r->reply, "\"epoch\" is a string, and "
			    "only for events with \"since\"");
			return -1;
		}
		r->epoch = epoch->v.string.ptr;
	}
	return 0;
}

/*
 * A boolean member of the request: 0 with *value (dflt when absent), or
 * -1 with an error reply.
 */
static int
request_bool(struct request *r, const char *key, bool dflt, bool *value)
{
	const struct ucl_node	*n = ucl_lookup(r->req, key);

	*value = dflt;
	if (n == NULL)
		return 0;
	if (n->type != UCL_BOOLEAN) {
		reply_error(r->reply, "\"%s\" must be true or false", key);
		return -1;
	}
	*value = n->v.boolean;
	return 0;
}

/*
 * console: attach to the VM's serial console.  On success the reply says
 * whether the client has the keyboard, and the connection switches
 * (switch.c) once it is sent.
 */
static void
handle_console(struct request *r)
{
	struct ctl_peer	*peer = r->peer;
	struct vm	*vm;
	struct buf	 why;
	bool		 readonly, scrollback, writer;
	long		 writer_uid;

	if (request_bool(r, "readonly", false, &readonly) == -1 ||
	    request_bool(r, "scrollback", true, &scrollback) == -1)
		return;
	buf_init(&why);
	if ((vm = request_vm(r, r->vms->children->v.string.ptr,
	    &why)) == NULL ||
	    console_check(vm, !readonly, &writer, &writer_uid, &why) == -1) {
		reply_error(r->reply, "%s", why.data);
		buf_free(&why);
		return;
	}
	buf_free(&why);
	buf_puts(r->reply, "{\"ok\":true,\"vm\":");
	buf_json_cstr(r->reply, vm->name);
	json_kv_str(r->reply, "mode", writer ? "read-write" : "read-only");
	if (writer_uid >= 0)
		json_kv_int(r->reply, "writer_uid", writer_uid);
	else
		buf_puts(r->reply, ",\"writer_uid\":null");
	buf_putc(r->reply, '}');
	peer->sw.kind = SWITCH_CONSOLE;
	free(peer->sw.vm);
	peer->sw.vm = xstrdup(vm->name);
	peer->sw.writer = writer;
	peer->sw.scrollback = scrollback;
	r->switched = true;
}

/*
 * log: the VM's log down the connection.  "lines": the last ones only;
 * "follow": then what is added.
 */
static void
handle_log(struct request *r)
{
	struct ctl_peer		*peer = r->peer;
	const struct ucl_node	*n;
	struct vm		*vm;
	struct buf		 why;
	bool			 follow;
	long			 lines = -1;
	char			*path;

	if (request_bool(r, "follow", false, &follow) == -1)
		return;
	if ((n = ucl_lookup(r->req, "lines")) != NULL) {
		if (n->type != UCL_INT || n->v.integer < 0 ||
		    n->v.integer > 100000000) {
			reply_error(r->reply, "\"lines\" must be a whole "
			    "number from 0 to 100000000");
			return;
		}
		lines = (long)n->v.integer;
	}
	buf_init(&why);
	if ((vm = request_vm(r, r->vms->children->v.string.ptr,
	    &why)) == NULL || logview_check(follow, &why) == -1) {
		reply_error(r->reply, "%s", why.data);
		buf_free(&why);
		return;
	}
	buf_free(&why);
	path = vmlog_path(vm->name);
	buf_puts(r->reply, "{\"ok\":true,\"vm\":");
	buf_json_cstr(r->reply, vm->name);
	json_kv_str(r->reply, "path", path);
	buf_putc(r->reply, '}');
	free(path);
	peer->sw.kind = SWITCH_LOG;
	free(peer->sw.vm);
	peer->sw.vm = xstrdup(vm->name);
	peer->sw.lines = lines;
	peer->sw.follow = follow;
	r->switched = true;
}

/* reopen: every VM log opened anew at its next line (vmlog.c). */
static void
handle_reopen(struct request *r)
{
	vmlog_reopen_all();
	log_info("reopening the VM logs (asked by uid %ld)",
	    (long)r->peer->uid);
	buf_puts(r->reply, "{\"ok\":true}");
}

/*
 * The shape of a request: an object with a known "command", "vms" an array
 * of as many names (strings) as the command takes, "watch" a boolean.
 * Returns the command, or NULL with an error reply written.
 */
static const struct command *
request_check(const struct ucl_node *req, struct request *r)
{
	const struct ucl_node	*name, *watch, *rec, *n;
	const struct command	*cmd = NULL;
	size_t			 i, count;

	if (req->type != UCL_OBJECT) {
		reply_error(r->reply, "a request must be a JSON object such "
		    "as {\"command\":\"status\"}");
		return NULL;
	}
	name = ucl_lookup(req, "command");
	if (name == NULL || name->type != UCL_STRING) {
		reply_error(r->reply, "a request needs \"command\" (a "
		    "string)");
		return NULL;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name->v.string.ptr) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		reply_error(r->reply, "unknown command \"%.64s\"; known: "
		    "start, stop, restart, kill, failreset, status, info, "
		    "reload, events, console, log, reopen, metrics",
		    name->v.string.ptr);
		return NULL;
	}
	if ((watch = ucl_lookup(req, "watch")) != NULL) {
		if (watch->type != UCL_BOOLEAN) {
			reply_error(r->reply, "\"watch\" must be true or "
			    "false");
			return NULL;
		}
		r->watch = watch->v.boolean;
	}
	/* stop -r: the VMs that depend on it stop first. */
	if ((rec = ucl_lookup(req, "recursive")) != NULL) {
		if (rec->type != UCL_BOOLEAN || strcmp(cmd->name, "stop") != 0) {
			reply_error(r->reply, "\"recursive\" is true or false, "
			    "and only for stop");
			return NULL;
		}
		r->recursive = rec->v.boolean;
	}
	if (request_check_options(req, r, cmd) == -1)
		return NULL;
	r->vms = ucl_lookup(req, "vms");
	if (r->vms != NULL && r->vms->type != UCL_ARRAY) {
		reply_error(r->reply, "\"vms\" must be an array of VM names, "
		    "not a %s", ucl_type_name(r->vms->type));
		return NULL;
	}
	for (n = r->vms ? r->vms->children : NULL; n != NULL; n = n->next)
		if (n->type != UCL_STRING) {
			reply_error(r->reply, "\"vms\" must hold VM names "
			    "(strings), not a %s", ucl_type_name(n->type));
			return NULL;
		}
	count = r->vms != NULL ? r->vms->count : 0;
	if (count < (size_t)cmd->min_vms) {
		reply_error(r->reply, "%s needs at least one VM name in "
		    "\"vms\"", cmd->name);
		return NULL;
	}
	if (cmd->max_vms >= 0 && count > (size_t)cmd->max_vms) {
		if (cmd->max_vms == 1)
			reply_error(r->reply, "%s takes exactly one VM name",
			    cmd->name);
		else
			reply_error(r->reply, "%s takes no VM names",
			    cmd->name);
		return NULL;
	}
	return cmd;
}

/*
 * Handle one request: check its shape, then the client's right to the
 * command (per VM for the commands that name VMs, in their handlers, by
 * request_may_operate), then act.  Returns REQUEST_SUBSCRIBE when the
 * connection should be subscribed to events, REQUEST_SWITCH when it
 * switches to a console or a log once the reply is sent (peer->sw).
 */
int
request_handle(struct ctl_peer *peer, const struct ucl_node *req,
    struct buf *reply)
{
	struct request	 r;

	memset(&r, 0, sizeof(r));
	r.peer = peer;
	r.req = req;
	r.reply = reply;
	if ((r.cmd = request_check(req, &r)) == NULL)
		return 0;
	if (r.cmd->auth == AUTH_ADMIN && !request_is_admin(peer)) {
		struct buf msg;
		buf_init(&msg);
		refuse(&r, NULL, &msg);
		reply_error(reply, "%s", msg.data);
		buf_free(&msg);
		return 0;
	}
	r.cmd->handle(&r);
	if (r.switched)
		return REQUEST_SWITCH;
	return r.subscribe ? REQUEST_SUBSCRIBE : 0;
}
