/*
 * hook.c: run the executable named after a VM's state, in its own process
 * group, without ever waiting for it: its end arrives through SIGCHLD
 * (proc.c) and its time limit through a timer.  The hook writes straight to
 * the VM's log, so a background child that keeps the log open does not
 * keep the hook from ending.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "trust.h"
#include "vmstated.h"

#define HOOK_KILL_GRACE_SECONDS	5

static const char *
hook_dir(const struct vm *vm)
{
	return vm->cfg->scriptpath != NULL ? vm->cfg->scriptpath :
	    vm->cfg->dir;
}

void
hook_cancel_timer(struct vm *vm)
{
	if (vm->hook_timer != NULL) {
		event_free(vm->hook_timer);
		vm->hook_timer = NULL;
	}
}

void
hook_kill(struct vm *vm, int sig)
{
	if (vm->hook_pid != -1)
		kill(-vm->hook_pid, sig);
}

static void
hook_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct vm	*vm = arg;
	struct timeval	 tv = { HOOK_KILL_GRACE_SECONDS, 0 };

	if (vm->hook_pid == -1)
		return;
	if (!vm->hook_term_sent) {
		vmlog(vm, "hook %s did not finish within %lld s; sending "
		    "SIGTERM to its process group", vm->hook_path,
		    (long long)vm->cfg->hooktimeout);
		vm->hook_term_sent = true;
		vm->hook_timed_out = true;
		hook_kill(vm, SIGTERM);
		evtimer_add(vm->hook_timer, &tv);
	} else {
		vmlog(vm, "hook %s still running %d s after SIGTERM; sending "
		    "SIGKILL", vm->hook_path, HOOK_KILL_GRACE_SECONDS);
		hook_kill(vm, SIGKILL);
	}
}

static void
hook_exited(pid_t pid, int status, void *arg)
{
	struct vm	*vm = arg;
	char		 desc[128];
	bool		 ok;

	vm->hook_pid = -1;
	hook_cancel_timer(vm);
	ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    !vm->hook_timed_out;
	if (!ok) {
		proc_describe_status(status, desc, sizeof(desc));
		vmlog(vm, "hook %s failed: %s", vm->hook_path,
		    vm->hook_timed_out ? "timed out" : desc);
		log_warnx("%s: hook %s failed: %s", vm->name, vm->hook_path,
		    vm->hook_timed_out ? "timed out" : desc);
	}
	vm_hook_finished(vm, ok);
}

/* Build one "NAME=value" string. */
static char *
hook_env(const char *name, const char *value)
{
	char	*s;

	xasprintf(&s, "%s=%s", name, value != NULL ? value : "");
	return s;
}

int
hook_run(struct vm *vm)
{
	struct proc_spec	 spec;
	struct stat		 sb;
	struct timeval		 tv;
	char			*env[10], *argv[2], pidbuf[32], statbuf[32];
	char			 why[TRUST_ERR_MAX];
	const char		*state = vm_state_name(vm->state);
	int			 i, n = 0;

	free(vm->hook_path);
	xasprintf(&vm->hook_path, "%s/%s", hook_dir(vm), state);
	if (stat(vm->hook_path, &sb) == -1) {
		if (errno == ENOENT)
			return 0;
		vmlog(vm, "hook %s: cannot stat: %s", vm->hook_path,
		    strerror(errno));
		return -1;
	}
	if (trust_path(vm->hook_path, why, sizeof(why)) == -1) {
		vmlog(vm, "hook %s not run: %s", vm->hook_path, why);
		log_warnx("%s: hook %s not run: %s", vm->name, vm->hook_path,
		    why);
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || access(vm->hook_path, X_OK) == -1) {
		vmlog(vm, "hook %s exists but is not an executable file; "
		    "chmod +x it or remove it", vm->hook_path);
		log_warnx("%s: hook %s exists but is not executable",
		    vm->name, vm->hook_path);
		return -1;
	}

	snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)vm->pid);
	env[n++] = hook_env("VMSTATED_VM", vm->name);
	env[n++] = hook_env("VMSTATED_STATE", state);
	env[n++] = hook_env("VMSTATED_PREVIOUS_STATE",
	    vm_state_name(vm->previous));
	env[n++] = hook_env("VMSTATED_CONFIGDIR", vm->cfg->dir);
	env[n++] = hook_env("VMSTATED_REASON", vm->reason);
	env[n++] = hook_env("VMSTATED_PID", vm->pid != -1 ? pidbuf : "");
	if (vm->exit_known && WIFEXITED(vm->exit_status))
		snprintf(statbuf, sizeof(statbuf), "%d",
		    WEXITSTATUS(vm->exit_status));
	else if (vm->exit_known && WIFSIGNALED(vm->exit_status))
		snprintf(statbuf, sizeof(statbuf), "signal %d",
		    WTERMSIG(vm->exit_status));
	else
		statbuf[0] = '\0';
	env[n++] = hook_env("VMSTATED_EXIT_STATUS", statbuf);
	env[n] = NULL;
	argv[0] = vm->hook_path;
	argv[1] = NULL;

	memset(&spec, 0, sizeof(spec));
	spec.path = vm->hook_path;
	spec.argv = argv;
	spec.env_add = env;
	spec.cwd = hook_dir(vm);
	spec.out_fd = vm->log_fd;
	spec.pass_fd = -1;
	spec.new_pgrp = true;
	vm->hook_timed_out = vm->hook_term_sent = false;
	vm->hook_pid = proc_spawn(&spec, hook_exited, vm, why, sizeof(why));
	for (i = 0; i < n; i++)
		free(env[i]);
	if (vm->hook_pid == -1) {
		vmlog(vm, "hook %s: %s", vm->hook_path, why);
		log_warnx("%s: hook: %s", vm->name, why);
		return -1;
	}
	if (vm->cfg->hooktimeout > 0) {
		tv.tv_sec = (time_t)vm->cfg->hooktimeout;
		tv.tv_usec = 0;
		vm->hook_timer = evtimer_new(vmstated_base(), hook_timeout, vm);
		evtimer_add(vm->hook_timer, &tv);
	}
	return 1;
}
