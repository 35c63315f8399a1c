/*
 * vmrecord.c: what the state file of a VM says (persist.c writes it).
 *
 * One JSON object: where the machine was (its position, state, intent and
 * the start phases begun), the hypervisor's and the running hook's pid
 * with their start times (which identify a process: platform.h), and the
 * restart history.  Times that measure intervals are monotonic in the
 * daemon; here they are wall-clock times, converted on the way in and
 * out, so that a daemon started after a reboot or a clock step reads them
 * sensibly.  Records written before version 2 carry the hypervisor's
 * command line instead of its start time; they are still read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ucl.h"
#include "vmstated.h"

#define VMRECORD_VERSION	2

/* ,"key":"value" (a name of ours: nothing to escape). */
static void
record_str(struct buf *b, const char *key, const char *value)
{
	buf_puts(b, ",\"");
	buf_puts(b, key);
	buf_puts(b, "\":\"");
	buf_puts(b, value);
	buf_putc(b, '"');
}

static void
record_int(struct buf *b, const char *key, long long value)
{
	buf_puts(b, ",\"");
	buf_puts(b, key);
	buf_puts(b, "\":");
	buf_put_int(b, value);
}

/* A start time (platform.h) is unsigned and may use all 64 bits. */
static void
record_uint(struct buf *b, const char *key, unsigned long long value)
{
	char	 digits[24], *p = digits + sizeof(digits);

	buf_puts(b, ",\"");
	buf_puts(b, key);
	buf_puts(b, "\":");
	do
		*--p = (char)('0' + value % 10);
	while ((value /= 10) != 0);
	buf_append(b, p, (size_t)(digits + sizeof(digits) - p));
}

/* A wall-clock time to the millisecond, as "%.3f" writes it. */
static void
record_millis(struct buf *b, double seconds)
{
	long long	 ms;
	char		 frac[4];

	ms = (long long)(seconds * 1000.0 + (seconds < 0 ? -0.5 : 0.5));
	if (ms < 0) {
		buf_putc(b, '-');
		ms = -ms;
	}
	buf_put_int(b, ms / 1000);
	frac[0] = '.';
	frac[1] = (char)('0' + ms / 100 % 10);
	frac[2] = (char)('0' + ms / 10 % 10);
	frac[3] = (char)('0' + ms % 10);
	buf_append(b, frac, sizeof(frac));
}

void
vmrecord_encode(const struct vm *vm, double mono_now, double wall_now,
    struct buf *b)
{
	const struct vm_run	*run = vm_run_peek(vm);
	int			 i;

	/* While a previous daemon's hook is being ended, the record still
	 * says where that daemon left the VM: a daemon killed meanwhile
	 * must take it back from there. */
	enum vm_pos	 pos = vm->pos == P_RECOVER_TASK ? vm->recover_pos :
	    vm->pos;
	enum vm_intent	 intent = vm->pos == P_RECOVER_TASK ?
	    vm->recover_intent : vm->intent;

	/* Written four times between a crash and the restart: copied and
	 * converted by hand, not formatted by printf. */
	buf_puts(b, "{\"version\":");
	buf_put_int(b, VMRECORD_VERSION);
	buf_puts(b, ",\"name\":");
	buf_json_cstr(b, vm->name);
	record_str(b, "position", vm_pos_name(pos));
	record_str(b, "state", vm_state_name(vm->state));
	record_str(b, "intent", vm_intent_name(intent));
	record_int(b, "phases", vm->phases);
	record_int(b, "pid", run->pid);
	record_uint(b, "pid_start", run->pid_start);
	record_int(b, "task_pid", run->task_pid);
	record_uint(b, "task_start", run->task_start);
	record_int(b, "started_at", (long long)run->started_at);
	buf_puts(b, ",\"restarts\":[");
	for (i = 0; i < vm->nrestarts; i++) {
		if (i > 0)
			buf_putc(b, ',');
		record_millis(b, vm->restarts[i] - mono_now + wall_now);
	}
	buf_puts(b, "],\"fail_reason\":");
	buf_json_cstr(b, vm->fail_reason);
	buf_puts(b, ",\"last_exit\":");
	buf_json_cstr(b, vm->last_exit);
	/* Enough to stop it should its configuration be gone next time. */
	buf_printf(b, ",\"hypervisor\":\"%s\",\"dir\":",
	    cfg_hv_name(vm->cfg->hypervisor));
	buf_json_cstr(b, vm->cfg->dir);
	buf_putc(b, '}');
}

static const char *
rec_string(const struct ucl_node *root, const char *key)
{
	const struct ucl_node	*n = ucl_lookup(root, key);

	return n != NULL && n->type == UCL_STRING ? n->v.string.ptr : NULL;
}

static long long
rec_int(const struct ucl_node *root, const char *key, long long dflt)
{
	const struct ucl_node	*n = ucl_lookup(root, key);

	return n != NULL && n->type == UCL_INT ? (long long)n->v.integer :
	    dflt;
}

static bool
rec_state_by_name(const char *name, enum vm_state *s)
{
	int	 i;

	for (i = 0; i < VM_NSTATES; i++)
		if (strcmp(vm_state_name((enum vm_state)i), name) == 0) {
			*s = (enum vm_state)i;
			return true;
		}
	return false;
}

/* A record of version 1 knew states only: the position that matches. */
static enum vm_pos
rec_legacy_pos(enum vm_state s)
{
	switch (s) {
	case VM_STOPPED:
		return P_STOPPED;
	case VM_START_NETWORK:
		return P_NET_HOOK;
	case VM_START_STORAGE:
		return P_STORAGE_HOOK;
	case VM_RUNNING:
		return P_RUNNING;
	case VM_RESTARTING:
		return P_RESTART_HOOK;
	case VM_RESTARTED:
		return P_RESTARTED_HOOK;
	case VM_STOPPING:
		return P_STOPPING_WAIT;
	case VM_STOP_STORAGE:
		return P_STOP_STORAGE_HOOK;
	case VM_STOP_NETWORK:
		return P_STOP_NETWORK_HOOK;
	default:
		return P_FAILED;
	}
}

/*
 * Read a record.  0, or -1 with a sentence in err (the file is then
 * ignored: the VM is taken as stopped, and the caller says so).
 */
int
vmrecord_decode(const char *text, size_t len, struct vm_record *rec,
    double mono_now, double wall_now, char *err, size_t errlen)
{
	struct ucl_node		*root;
	const struct ucl_node	*n;
	struct ucl_error	 uerr;
	const char		*s, *nl;
	int			 i;

	memset(rec, 0, sizeof(*rec));
	rec->pid = rec->task_pid = -1;
	rec->pos = P_STOPPED;
	rec->intent = INTENT_STOP;
	/* The record is the first line; the rest is padding and the tail
	 * of the running hook (persist.c). */
	if ((nl = memchr(text, '\n', len)) != NULL)
		len = (size_t)(nl - text);
	root = ucl_parse_buffer(text, len, "state file", &uerr);
	if (root == NULL) {
		snprintf(err, errlen, "line %d: %s", uerr.line,
		    uerr.message);
		return -1;
	}
	if (root->type != UCL_OBJECT) {
		snprintf(err, errlen, "not a JSON object");
		ucl_free(root);
		return -1;
	}
	if ((s = rec_string(root, "state")) == NULL ||
	    !rec_state_by_name(s, &rec->state)) {
		snprintf(err, errlen, "no valid \"state\"");
		ucl_free(root);
		return -1;
	}
	rec->legacy = rec_int(root, "version", 1) < 2;
	if (rec->legacy)
		rec->pos = rec_legacy_pos(rec->state);
	else if ((s = rec_string(root, "position")) == NULL ||
	    !vm_pos_by_name(s, &rec->pos)) {
		snprintf(err, errlen, "no valid \"position\"");
		ucl_free(root);
		return -1;
	}
	rec->intent = rec->legacy ? INTENT_UP : INTENT_STOP;
	if ((s = rec_string(root, "intent")) != NULL)
		for (i = 0; i < VM_NINTENTS; i++)
			if (strcmp(vm_intent_name((enum vm_intent)i), s) == 0)
				rec->intent = (enum vm_intent)i;
	rec->phases = (int)rec_int(root, "phases", 0) &
	    (VM_PHASE_NETWORK | VM_PHASE_STORAGE);
	rec->pid = (pid_t)rec_int(root, "pid", -1);
	rec->pid_start = (uint64_t)rec_int(root, "pid_start", 0);
	rec->task_pid = (pid_t)rec_int(root, "task_pid", -1);
	rec->task_start = (uint64_t)rec_int(root, "task_start", 0);
	rec->started_at = (time_t)rec_int(root, "started_at", 0);
	if ((n = ucl_lookup(root, "restarts")) != NULL &&
	    n->type == UCL_ARRAY && n->count > 0) {
		rec->restarts = xcalloc(n->count, sizeof(double));
		for (n = n->children; n != NULL; n = n->next)
			if (n->type == UCL_FLOAT || n->type == UCL_INT)
				rec->restarts[rec->nrestarts++] =
				    (n->type == UCL_FLOAT ? n->v.number :
				    (double)n->v.integer) - wall_now +
				    mono_now;
	}
	if ((s = rec_string(root, "fail_reason")) != NULL)
		rec->fail_reason = xstrdup(s);
	if ((s = rec_string(root, "last_exit")) != NULL)
		rec->last_exit = xstrdup(s);
	if (rec->legacy && (s = rec_string(root, "cmdline")) != NULL)
		rec->cmdline = xstrdup(s);
	rec->hypervisor = (s = rec_string(root, "hypervisor")) != NULL &&
	    strcmp(s, "qemu") == 0 ? HV_QEMU : HV_BHYVE;
	if ((s = rec_string(root, "dir")) != NULL)
		rec->dir = xstrdup(s);
	if (rec->pid <= 0)
		rec->pid = -1;
	if (rec->task_pid <= 0)
		rec->task_pid = -1;
	ucl_free(root);
	return 0;
}

void
vmrecord_free(struct vm_record *rec)
{
	free(rec->restarts);
	free(rec->fail_reason);
	free(rec->last_exit);
	free(rec->cmdline);
	free(rec->dir);
	memset(rec, 0, sizeof(*rec));
}
