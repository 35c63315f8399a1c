/*
 * persist.c: each VM's state, hypervisor pid and restart history, kept in
 * <rundir>/<name>.state so that a daemon started again finds its VMs.  The
 * file is written atomically (temporary file + rename) at every state
 * change: a crash of the daemon never leaves half a file.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "platform.h"
#include "ucl.h"
#include "vmstated.h"

static char *
persist_path(const struct vm *vm, const char *suffix)
{
	char	*path;

	xasprintf(&path, "%s/%s.state%s", vmstated_config()->rundir,
	    vm->name, suffix);
	return path;
}

void
persist_save(struct vm *vm)
{
	struct buf	 b;
	char		*path, *tmp, cmdline[4096];
	int		 fd, i;

	/* The command line of a process never changes once it has exec'd:
	 * read it once per hypervisor, not at every transition. */
	if (vm->pid != -1 && vm->cmdline_pid != vm->pid) {
		free(vm->cmdline);
		vm->cmdline = NULL;
		vm->cmdline_pid = vm->pid;
		if (platform_pid_cmdline(vm->pid, cmdline, sizeof(cmdline)) == 0)
			vm->cmdline = xstrdup(cmdline);
	}
	ssize_t		 n;

	buf_init(&b);
	buf_puts(&b, "{\"name\":");
	buf_json_cstr(&b, vm->name);
	buf_printf(&b, ",\"state\":\"%s\",\"pid\":%ld,\"phases\":%d,"
	    "\"started_at\":%lld,\"restarts\":[", vm_state_name(vm->state),
	    (long)vm->pid, vm->phases, (long long)vm->started_at);
	for (i = 0; i < vm->nrestarts; i++)
		buf_printf(&b, "%s%.3f", i ? "," : "", vm->restarts[i]);
	buf_puts(&b, "],\"cmdline\":");
	buf_json_cstr(&b, vm->pid != -1 ? vm->cmdline : NULL);
	buf_puts(&b, "}\n");

	path = persist_path(vm, "");
	tmp = persist_path(vm, ".tmp");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		goto failed;
	n = write(fd, b.data, b.len);
	if (n != (ssize_t)b.len) {
		if (n >= 0)
			errno = ENOSPC;
		close(fd);
		goto failed;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1)
		goto failed;
	if (vm->state_error_reported) {
		log_info("%s: writing its state file works again", vm->name);
		vm->state_error_reported = false;
	}
	goto done;
failed:
	/* Reported once, like a failing log: supervision goes on. */
	if (!vm->state_error_reported)
		log_warn("%s: cannot write state file %s (reported once until "
		    "it works again)", vm->name, tmp);
	vm->state_error_reported = true;
	unlink(tmp);
done:
	free(path);
	free(tmp);
	buf_free(&b);
}

void
persist_remove(struct vm *vm)
{
	char	*path = persist_path(vm, "");

	unlink(path);
	free(path);
}

static enum vm_state
persist_state_by_name(const char *name)
{
	int	 s;

	for (s = 0; s < VM_NSTATES; s++)
		if (strcmp(vm_state_name((enum vm_state)s), name) == 0)
			return (enum vm_state)s;
	return VM_STOPPED;
}

/*
 * Read the state a previous daemon left.  The restart history comes back;
 * a hypervisor that still runs the same command line is taken back; one
 * that is gone has its VM torn down with its hooks (vm_recover()).
 */
void
persist_restore(struct vm *vm)
{
	struct ucl_node		*root;
	const struct ucl_node	*n;
	struct ucl_error	 err;
	char			*path, cmdline[4096];
	enum vm_state		 state = VM_STOPPED;
	pid_t			 pid = -1;
	int			 phases = 0;
	bool			 same = false;

	path = persist_path(vm, "");
	if (access(path, F_OK) == -1) {
		free(path);
		return;
	}
	root = ucl_parse_file(path, &err);
	if (root == NULL) {
		log_warnx("%s: ignoring unreadable state file %s:%d: %s",
		    vm->name, err.file, err.line, err.message);
		free(path);
		return;
	}
	free(path);
	if ((n = ucl_lookup(root, "restarts")) != NULL &&
	    n->type == UCL_ARRAY)
		for (n = n->children; n != NULL; n = n->next)
			if (n->type == UCL_FLOAT || n->type == UCL_INT)
				vm_record_restart(vm, n->type == UCL_FLOAT ?
				    n->v.number : (double)n->v.integer);
	if ((n = ucl_lookup(root, "state")) != NULL && n->type == UCL_STRING)
		state = persist_state_by_name(n->v.string.ptr);
	if ((n = ucl_lookup(root, "pid")) != NULL && n->type == UCL_INT)
		pid = (pid_t)n->v.integer;
	if ((n = ucl_lookup(root, "started_at")) != NULL &&
	    n->type == UCL_INT && n->v.integer > 0)
		vm->started_at = (time_t)n->v.integer;
	if ((n = ucl_lookup(root, "phases")) != NULL && n->type == UCL_INT)
		phases = (int)n->v.integer & (VM_PHASE_NETWORK |
		    VM_PHASE_STORAGE);
	if (pid > 0 && (n = ucl_lookup(root, "cmdline")) != NULL &&
	    n->type == UCL_STRING &&
	    platform_pid_cmdline(pid, cmdline, sizeof(cmdline)) == 0 &&
	    strcmp(cmdline, n->v.string.ptr) == 0)
		same = true;
	ucl_free(root);
	if (state == VM_FAILED) {
		vm->state = VM_FAILED;
		vm->fail_reason = "failed before the daemon restarted";
		return;
	}
	if (state == VM_STOPPED)
		return;
	vm_recover(vm, same ? pid : -1, state, phases);
}
