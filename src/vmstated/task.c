/*
 * task.c: the one child process a VM may have besides its hypervisor: the
 * hook of its state, or a helper (bhyvectl --destroy).  Each runs in a
 * process group of its own, in the VM's directory, with the VM's log as
 * output, and is bounded: after the hook time limit its group gets
 * SIGTERM, and SIGKILL 5 seconds later.  Its pid and start time are
 * recorded in the state file before it may execute anything, so that a
 * daemon killed at any instant leaves nothing it does not know of: the
 * next daemon ends such a task (task_reclaim) before the VM goes on.
 *
 * A task that cannot be started for lack of resources (no descriptor,
 * process or memory: EMFILE, ENFILE, EAGAIN, ENOMEM) has not failed: it
 * is started again after 1 second, then 2, 4 and so on up to 30, within
 * its time limit, and only fails when that has passed.  Meanwhile the
 * machine sees it run; ending it (kill, the shutdown's deadline) ends it
 * as a failure.
 *
 * The machine (vm.c) learns of the end as EV_HOOK_OK/EV_HOOK_FAILED or
 * EV_HELPER_OK/EV_HELPER_FAILED.
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

#include "file.h"
#include "log.h"
#include "platform.h"
#include "proc.h"
#include "trust.h"
#include "vmstated.h"

/* Helpers are bounded even when hooks are not (hooktimeout 0). */
#define TASK_HELPER_DEFAULT_LIMIT	60

/* A task to start again (vm->run->task_retry). */
struct task_retry {
	char		**argv;
	char		**env;		/* NULL for a helper */
	struct event	*timer;
	double		 delay;		/* before the next attempt */
	double		 deadline;	/* monotonic; 0: none */
	double		 limit;		/* seconds, for the message */
	bool		 ended;		/* ended meanwhile: report it */
};

static int	task_spawn(struct vm *, char **, char **);

static const char *
task_hook_dir(const struct vm *vm)
{
	return vm->cfg->scriptpath != NULL ? vm->cfg->scriptpath :
	    vm->cfg->dir;
}

static void
task_cancel_timer(struct vm *vm)
{
	struct vm_run	*run = vm_run(vm);

	if (run->task_timer != NULL) {
		event_free(run->task_timer);
		run->task_timer = NULL;
	}
}

static void
task_arm_timer(struct vm *vm, double seconds, event_callback_fn cb)
{
	struct timeval	 tv;
	struct vm_run	*run = vm_run(vm);

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	if (run->task_timer == NULL)
		run->task_timer = evtimer_new(vmstated_base(), cb, vm);
	evtimer_add(run->task_timer, &tv);
}

void
task_signal(struct vm *vm, int sig)
{
	const struct vm_run	*run = vm_run_peek(vm);
	struct timeval		 now = { 0, 0 };

	if (run->task_pid != -1)
		kill(-run->task_pid, sig);
	else if (run->task_retry != NULL && !run->task_retry->ended) {
		/* Not started yet: it ends here, reported from the loop
		 * (never before an effect returns). */
		run->task_retry->ended = true;
		evtimer_add(run->task_retry->timer, &now);
	}
}

static double
task_limit(const struct vm *vm)
{
	const struct vm_run	*run = vm_run_peek(vm);

	if (vm->cfg->hooktimeout > 0)
		return (double)vm->cfg->hooktimeout;
	return run->task_is_helper ? TASK_HELPER_DEFAULT_LIMIT : 0;
}

static const char *
task_what(const struct vm *vm)
{
	const struct vm_run	*run = vm_run_peek(vm);

	return run->task_is_helper ? "helper" : "hook";
}

/* The time limit: SIGTERM to the group, then SIGKILL. */
static void
task_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct vm	*vm = arg;
	struct vm_run	*run = vm_run(vm);

	if (run->task_pid == -1)
		return;
	if (!run->task_term_sent) {
		if (run->task_reclaimed)
			vmlog(vm, "%s %s left by the previous daemon: sending "
			    "SIGTERM to its process group", task_what(vm),
			    run->task_path);
		else
			vmlog(vm, "%s %s did not finish within %g s; sending "
			    "SIGTERM to its process group", task_what(vm),
			    run->task_path, task_limit(vm));
		run->task_term_sent = true;
		run->task_timed_out = true;
		task_signal(vm, SIGTERM);
		task_arm_timer(vm, VM_KILL_GRACE, task_timeout);
	} else {
		vmlog(vm, "%s %s still running %d s after SIGTERM; sending "
		    "SIGKILL", task_what(vm), run->task_path, VM_KILL_GRACE);
		task_signal(vm, SIGKILL);
	}
}

/* The task has ended: tell the machine. */
static void
task_ended(struct vm *vm, int status, bool known)
{
	struct vm_run	*run = vm_run(vm);
	char		 desc[128];
	bool		 helper = run->task_is_helper, ok;
	pid_t		 pid = run->task_pid;
	int		 recorded;

	run->task_pid = -1;
	run->task_start = 0;
	task_cancel_timer(vm);
	if (run->task_reclaimed) {
		/* Ran to its end (its runner says so), or was ended. */
		run->task_reclaimed = false;
		ok = persist_task_done(vm, pid, &recorded) == 1;
		vmlog(vm, "the previous daemon's %s %s has %s", task_what(vm),
		    run->task_path, ok ? "run to its end" : "been ended");
		vm_event(vm, ok ? EV_HOOK_OK : EV_HOOK_FAILED);
		return;
	}
	/* A helper's exit status says little (bhyvectl --destroy exits 1
	 * when there is nothing to destroy); its time limit is what counts. */
	ok = !run->task_timed_out && (helper || (known &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0));
	if (!ok) {
		proc_describe_status(status, desc, sizeof(desc));
		vmlog(vm, "%s %s failed: %s", task_what(vm), run->task_path,
		    run->task_timed_out ? "timed out" : desc);
		log_warnx("%s: %s %s failed: %s", vm->name, task_what(vm),
		    run->task_path, run->task_timed_out ? "timed out" : desc);
	}
	if (helper)
		vm_event(vm, ok ? EV_HELPER_OK : EV_HELPER_FAILED);
	else {
		metrics_hook_ended(vm, ok);
		vm_event(vm, ok ? EV_HOOK_OK : EV_HOOK_FAILED);
	}
}

static void
task_exited(pid_t pid, int status, void *arg)
{
	task_ended(arg, status, true);
}

/* In the parent, before the task may exec: record it. */
static void
task_recorded(pid_t pid, void *arg)
{
	struct vm	*vm = arg;
	struct vm_run	*run = vm_run(vm);

	run->task_pid = pid;
	if (platform_proc_start(pid, &run->task_start) == -1)
		run->task_start = 0;
	persist_save(vm);
}

static char *
task_env(const char *name, const char *value)
{
	char	*s;

	xasprintf(&s, "%s=%s", name, value != NULL ? value : "");
	return s;
}

static char **
task_strv_dup(char **v)
{
	char	**copy;
	size_t	  i, n;

	if (v == NULL)
		return NULL;
	for (n = 0; v[n] != NULL; n++)
		;
	copy = xcalloc(n + 1, sizeof(*copy));
	for (i = 0; i < n; i++)
		copy[i] = xstrdup(v[i]);
	return copy;
}

static void
task_strv_free(char **v)
{
	size_t	 i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static void
task_retry_free(struct vm *vm)
{
	struct vm_run		*run = vm_run(vm);
	struct task_retry	*r = run->task_retry;

	if (r == NULL)
		return;
	event_free(r->timer);
	task_strv_free(r->argv);
	task_strv_free(r->env);
	free(r);
	run->task_retry = NULL;
}

/* A task that was never started ends as a failure. */
static void
task_retry_failed(struct vm *vm, const char *why)
{
	struct vm_run	*run = vm_run(vm);
	bool		 helper = run->task_is_helper;

	vmlog(vm, "%s %s failed: %s", task_what(vm), run->task_path, why);
	log_warnx("%s: %s %s failed: %s", vm->name, task_what(vm),
	    run->task_path, why);
	task_retry_free(vm);
	vm_event(vm, helper ? EV_HELPER_FAILED : EV_HOOK_FAILED);
}

static void
task_retry_timer(evutil_socket_t fd, short what, void *arg)
{
	struct vm		*vm = arg;
	struct task_retry	*r = vm_run(vm)->task_retry;

	if (r->ended) {
		task_retry_failed(vm, "ended before it could be started");
		return;
	}
	if (task_spawn(vm, r->argv, r->env) == -1)
		task_retry_failed(vm, "cannot be started");
}

/*
 * The start of a task failed for lack of resources (why): try again
 * later, within its time limit.  1 while it will be tried again; -1 when
 * its time is up.
 */
static int
task_retry_later(struct vm *vm, char **argv, char **env, double limit,
    const char *why)
{
	struct vm_run		*run = vm_run(vm);
	struct task_retry	*r = run->task_retry;
	struct timeval		 tv;
	double			 now = vm_clock_mono(), wait;

	if (r == NULL) {
		r = run->task_retry = xcalloc(1, sizeof(*r));
		r->argv = task_strv_dup(argv);
		r->env = task_strv_dup(env);
		r->timer = evtimer_new(vmstated_base(), task_retry_timer, vm);
		r->delay = VM_RETRY_FIRST;
		r->limit = limit;
		r->deadline = limit > 0 ? now + limit : 0;
	}
	if (r->deadline > 0 && now >= r->deadline) {
		vmlog(vm, "%s %s: %s; not started within %g s", task_what(vm),
		    run->task_path, why, r->limit);
		return -1;
	}
	wait = r->delay;
	if (r->deadline > 0 && now + wait > r->deadline)
		wait = r->deadline - now;
	vmlog(vm, "%s %s: %s; trying again in %g s", task_what(vm),
	    run->task_path, why, wait);
	log_warnx("%s: %s %s: %s; trying again in %g s", vm->name,
	    task_what(vm), run->task_path, why, wait);
	r->delay = r->delay * 2 > VM_RETRY_MAX ? VM_RETRY_MAX : r->delay * 2;
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
	evtimer_add(r->timer, &tv);
	return 1;
}

/*
 * Start a task; 1 (started, or to be tried again for lack of resources),
 * or -1 (logged).  run->task_path and task_is_helper are set by the
 * caller.
 */
static int
task_spawn(struct vm *vm, char **argv, char **env)
{
	struct proc_spec	 spec;
	char			 why[512], *status_path = NULL, *tag;
	const char		*base;
	pid_t			 pid;
	double			 limit;
	off_t			 offset = 0;
	int			 out_fd, saved;
	struct vm_run		*run = vm_run(vm);

	memset(&spec, 0, sizeof(spec));
	spec.path = argv[0];
	spec.argv = argv;
	spec.env_add = env;
	/* The VM's directory; a VM removed with its directory still runs
	 * the stop hooks of its script directory, there, and its helpers
	 * anywhere. */
	if (access(vm->cfg->dir, X_OK) == 0)
		spec.cwd = vm->cfg->dir;
	else if (access(task_hook_dir(vm), X_OK) == 0)
		spec.cwd = task_hook_dir(vm);
	else
		spec.cwd = "/";
	/* Its output reaches the log as whole lines of its own ("hook
	 * STATE: ..."), through a file description of its own. */
	out_fd = vmlog_child_fd(vm);
	if (run->task_is_helper) {
		base = strrchr(argv[0], '/');
		xasprintf(&tag, "helper %s", base != NULL ? base + 1 : argv[0]);
	} else
		xasprintf(&tag, "hook %s", vm_state_name(vm->state));
	spec.out_fd = out_fd;
	spec.out_tag = tag;
	spec.npass = 0;
	spec.new_pgrp = true;
	spec.before_exec = task_recorded;
	/* A hook's end is recorded even if the daemon dies meanwhile. */
	if (!run->task_is_helper &&
	    (status_path = persist_task_status_path(vm, &offset)) != NULL) {
		spec.status_path = status_path;
		spec.status_offset = offset;
	}
	run->task_timed_out = run->task_term_sent = false;
	run->task_reclaimed = false;
	/* After the shutdown's deadline, never past its end. */
	limit = order_task_limit(task_limit(vm));
	pid = proc_spawn(&spec, task_exited, vm, why, sizeof(why));
	saved = errno;
	free(status_path);
	free(tag);
	if (out_fd != -1)
		close(out_fd);
	if (pid == -1) {
		run->task_pid = -1;
		run->task_start = 0;
		if (file_transient(saved))
			return task_retry_later(vm, argv, env, limit, why);
		vmlog(vm, "%s %s: %s", task_what(vm), run->task_path, why);
		log_warnx("%s: %s: %s", vm->name, task_what(vm), why);
		return -1;
	}
	if (!run->task_is_helper)
		metrics_hook_began(vm);
	/* What is left of the time limit, from the first attempt. */
	if (run->task_retry != NULL) {
		vmlog(vm, "%s %s started", task_what(vm), run->task_path);
		if (run->task_retry->deadline > 0)
			limit = run->task_retry->deadline - vm_clock_mono();
		if (limit <= 0)
			limit = 0.1;
		task_retry_free(vm);
	}
	if (limit > 0)
		task_arm_timer(vm, limit, task_timeout);
	return 1;
}

/*
 * The hook of the VM's state: 1 started, 0 there is none, -1 it exists
 * but cannot be run (logged).
 */
int
task_hook_start(struct vm *vm)
{
	struct stat	 sb;
	char		*env[10], *argv[2], pidbuf[32], statbuf[32];
	char		 why[TRUST_ERR_MAX];
	const char	*state = vm_state_name(vm->state);
	int		 i, n = 0, r;
	struct vm_run	*run = vm_run(vm);

	free(run->task_path);
	xasprintf(&run->task_path, "%s/%s", task_hook_dir(vm), state);
	run->task_is_helper = false;
	if (stat(run->task_path, &sb) == -1) {
		if (errno == ENOENT)
			return 0;
		vmlog(vm, "hook %s: cannot stat: %s", run->task_path,
		    strerror(errno));
		return -1;
	}
	/* Run as root: only what root controls (trust.c). */
	if (trust_path(run->task_path, why, sizeof(why)) == -1) {
		vmlog(vm, "hook %s not run: %s", run->task_path, why);
		log_warnx("%s: hook %s not run: %s", vm->name, run->task_path,
		    why);
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || access(run->task_path, X_OK) == -1) {
		vmlog(vm, "hook %s exists but is not an executable file; "
		    "chmod +x it or remove it", run->task_path);
		log_warnx("%s: hook %s exists but is not executable",
		    vm->name, run->task_path);
		return -1;
	}

	snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)run->pid);
	env[n++] = task_env("VMSTATED_VM", vm->name);
	env[n++] = task_env("VMSTATED_STATE", state);
	env[n++] = task_env("VMSTATED_PREVIOUS_STATE",
	    vm_state_name(vm->previous));
	env[n++] = task_env("VMSTATED_CONFIGDIR", vm->cfg->dir);
	env[n++] = task_env("VMSTATED_REASON", vm->reason);
	env[n++] = task_env("VMSTATED_PID", run->pid != -1 ? pidbuf : "");
	if (vm->exit_known && run->pid == -1 && WIFEXITED(vm->exit_status))
		snprintf(statbuf, sizeof(statbuf), "%d",
		    WEXITSTATUS(vm->exit_status));
	else if (vm->exit_known && run->pid == -1 &&
	    WIFSIGNALED(vm->exit_status))
		snprintf(statbuf, sizeof(statbuf), "signal %d",
		    WTERMSIG(vm->exit_status));
	else
		statbuf[0] = '\0';
	env[n++] = task_env("VMSTATED_EXIT_STATUS", statbuf);
	env[n] = NULL;
	argv[0] = run->task_path;
	argv[1] = NULL;
	r = task_spawn(vm, argv, env);
	for (i = 0; i < n; i++)
		free(env[i]);
	return r;
}

/* A helper command (argv[0] is the program): 1 started, -1 not (logged). */
int
task_helper_start(struct vm *vm, char **argv)
{
	struct vm_run	*run = vm_run(vm);

	free(run->task_path);
	run->task_path = xstrdup(argv[0]);
	run->task_is_helper = true;
	return task_spawn(vm, argv, NULL);
}

static void
task_reclaimed_exit(evutil_socket_t fd, short what, void *arg)
{
	struct vm	*vm = arg;
	struct vm_run	*run = vm_run(vm);

	event_free(run->task_watch);
	run->task_watch = NULL;
	close(run->task_watch_fd);
	run->task_watch_fd = -1;
	task_ended(vm, 0, false);
}

/*
 * A previous daemon's hook or helper (recorded pid and start time): if it
 * still runs, end it -- SIGTERM to its process group, SIGKILL 5 seconds
 * later -- and report its end as an event.  1 when it runs, 0 when not.
 */
int
task_reclaim(struct vm *vm, pid_t pid, uint64_t start)
{
	struct vm_run	*run;
	uint64_t	 now_start;
	int		 fd;

	if (pid <= 0 || platform_proc_start(pid, &now_start) == -1 ||
	    (start != 0 && now_start != start))
		return 0;
	if ((fd = platform_watch_pid(pid)) == -1) {
		log_warn("%s: cannot watch pid %ld left by the previous "
		    "daemon; killing its process group", vm->name,
		    (long)pid);
		kill(-pid, SIGKILL);
		return 0;
	}
	run = vm_run(vm);
	run->task_pid = pid;
	run->task_start = now_start;
	run->task_is_helper = false;
	run->task_reclaimed = true;
	run->task_term_sent = false;
	free(run->task_path);
	xasprintf(&run->task_path, "pid %ld", (long)pid);
	run->task_watch_fd = fd;
	run->task_watch = event_new(vmstated_base(), fd, EV_READ,
	    task_reclaimed_exit, vm);
	event_add(run->task_watch, NULL);
	task_timeout(-1, 0, vm);
	return 1;
}

/* The VM, or its run part, is being freed: stop caring about its task. */
void
task_release(struct vm *vm)
{
	struct vm_run	*run = vm->run;

	if (run == NULL)
		return;
	task_retry_free(vm);
	if (run->task_pid != -1 && !run->task_reclaimed)
		proc_forget(run->task_pid);
	task_cancel_timer(vm);
	if (run->task_watch != NULL)
		event_free(run->task_watch);
	run->task_watch = NULL;
	if (run->task_watch_fd != -1)
		close(run->task_watch_fd);
	run->task_watch_fd = -1;
}
