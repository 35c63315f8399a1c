/*
 * vmproc.c: the hypervisor process of a VM: spawning it (after the back
 * end's destroy helper and generated files), asking it to stop and
 * escalating to SIGTERM and SIGKILL, learning of its exit (as its parent,
 * or through a platform watch for one a previous daemon started), and
 * destroying the instance afterwards.  What each of these means for the
 * VM's state is decided in vm.c, through vm_spawned(), vm_exit_arrived(),
 * vm_fail() and vm_teardown().
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "platform.h"
#include "proc.h"
#include "vmstated.h"

#define KILL_GRACE_SECONDS	5	/* SIGTERM -> SIGKILL */

static void	vm_stop_timer_arm(struct vm *, int seconds);
static void	vm_run_destroy(struct vm *, void (*done)(struct vm *));

/*
 * Spawning is asynchronous: destroy any leftover instance (a helper
 * process), write the generated files, exec.  Then enter `after`.
 */
static void
vm_spawn_exec(struct vm *vm)
{
	struct proc_spec	 spec;
	struct buf		 err;
	char			 why[512], **argv;
	int			 i;

	buf_init(&err);
	if (vm->stop_pending) {
		buf_free(&err);
		vm_teardown(vm);
		return;
	}
	if (vm->hv->prepare(vm, &err) == -1) {
		log_warnx("%s: %s", vm->name, err.data);
		vmlog(vm, "cannot start: %s", err.data);
		buf_free(&err);
		vm_fail(vm, "start-failed");
		return;
	}
	buf_free(&err);
	argv = vm->hv->argv(vm);
	buf_init(&err);
	for (i = 0; argv[i] != NULL; i++) {
		if (i > 0)
			buf_putc(&err, ' ');
		buf_shell_quote(&err, argv[i]);
	}
	vmlog(vm, "exec: %s", err.data);
	buf_free(&err);

	memset(&spec, 0, sizeof(spec));
	spec.path = argv[0];
	spec.argv = argv;
	spec.out_fd = vm->log_fd;
	spec.pass_fd = vm->hv->child_fd ? vm->hv->child_fd(vm) : -1;
	vm->pid = proc_spawn(&spec, vm_process_exited, vm, why, sizeof(why));
	hv_argv_free(argv);
	if (vm->pid == -1) {
		log_warnx("%s: %s", vm->name, why);
		vmlog(vm, "cannot start: %s", why);
		vm_fail(vm, "start-failed");
		return;
	}
	vm->adopted = false;
	vm->instance_destroyed = false;
	vm->started_at = time(NULL);
	if (vm->hv->spawned != NULL)
		vm->hv->spawned(vm);
	vm_spawned(vm);
}

void
vm_spawn(struct vm *vm, enum vm_state after)
{
	vm->exit_known = false;
	vm->after_spawn = after;
	/* Right after an exit the instance was destroyed already, and
	 * nothing can have made another since: do not run it twice. */
	if (vm->instance_destroyed)
		vm_spawn_exec(vm);
	else
		vm_run_destroy(vm, vm_spawn_exec);
}

/* Ask the guest to stop and arm the escalation timer. */
void
vm_ask_stop(struct vm *vm)
{
	if (vm->killing) {
		kill(vm->pid, SIGKILL);
		return;
	}
	vm->stop_stage = 0;
	if (vm->hv->request_stop == NULL || vm->hv->request_stop(vm) == -1) {
		/* SIGTERM is the request itself (bhyve presses the power
		 * button on it): the next step is SIGKILL. */
		vmlog(vm, "sending SIGTERM to pid %ld", (long)vm->pid);
		kill(vm->pid, SIGTERM);
		vm->stop_stage = 1;
	}
	vm_stop_timer_arm(vm, (int)vm->cfg->stoptimeout);
}

static void
vm_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct vm	*vm = arg;

	if (vm->pid == -1)
		return;
	if (vm->stop_stage == 0) {
		vmlog(vm, "did not stop within %lld s; sending SIGTERM",
		    (long long)vm->cfg->stoptimeout);
		vm->stop_stage = 1;
		kill(vm->pid, SIGTERM);
		vm_stop_timer_arm(vm, KILL_GRACE_SECONDS);
	} else {
		vmlog(vm, "did not stop within %d s; sending SIGKILL",
		    vm->stop_wait);
		vm->stop_stage = 2;
		kill(vm->pid, SIGKILL);
	}
}

static void
vm_stop_timer_arm(struct vm *vm, int seconds)
{
	struct timeval	 tv = { seconds, 0 };

	vm->stop_wait = seconds;

	if (vm->stop_timer == NULL)
		vm->stop_timer = evtimer_new(vmstated_base(), vm_stop_timeout,
		    vm);
	evtimer_add(vm->stop_timer, &tv);
}

static void
vm_destroy_done(pid_t pid, int status, void *arg)
{
	struct vm	*vm = arg;
	void		 (*done)(struct vm *) = vm->helper_done;

	vm->helper_pid = -1;
	vm->helper_done = NULL;
	vm->instance_destroyed = true;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_debug("%s: destroy helper ended with status %#x", vm->name,
		    status);
	done(vm);
}

/* Run the back end's destroy command, if any, then call done. */
static void
vm_run_destroy(struct vm *vm, void (*done)(struct vm *))
{
	struct proc_spec	 spec;
	char			**argv, why[512];

	if (vm->hv->destroy_argv == NULL ||
	    (argv = vm->hv->destroy_argv(vm)) == NULL) {
		done(vm);
		return;
	}
	memset(&spec, 0, sizeof(spec));
	spec.path = argv[0];
	spec.argv = argv;
	spec.out_fd = vm->log_fd;
	spec.pass_fd = -1;
	vm->helper_done = done;
	vm->helper_pid = proc_spawn(&spec, vm_destroy_done, vm, why,
	    sizeof(why));
	hv_argv_free(argv);
	if (vm->helper_pid == -1) {
		log_warnx("%s: %s", vm->name, why);
		vmlog(vm, "%s", why);
		vm->helper_done = NULL;
		done(vm);
	}
}

static void
vm_exit_cleaned(struct vm *vm)
{
	vm->cleaning = false;
	vm->exit_pending = true;
	if (vm->hook_pid == -1) {
		vm->exit_pending = false;
		vm_exit_arrived(vm);
	}
}

/* The hypervisor has exited: record why, destroy the instance. */
void
vm_process_exited(pid_t pid, int status, void *arg)
{
	struct vm	*vm = arg;
	char		 desc[128];

	vm->pid = -1;
	vm->exit_status = status;
	vm->exit_known = !vm->adopted;
	vm->exit_kind = vm->hv->classify_exit(vm, status);
	if (vm->adopted)
		snprintf(desc, sizeof(desc), "status unknown (started by a "
		    "previous vmstated)");
	else
		proc_describe_status(status, desc, sizeof(desc));
	vm->adopted = false;
	free(vm->last_exit);
	xasprintf(&vm->last_exit, "%s (%s)", hv_exit_name(vm->exit_kind),
	    desc);
	vmlog(vm, "hypervisor pid %ld ended: %s, %s", (long)pid, desc,
	    hv_exit_name(vm->exit_kind));
	if (vm->stop_timer != NULL)
		event_del(vm->stop_timer);
	if (vm->hv->cleanup != NULL)
		vm->hv->cleanup(vm);
	vm->cleaning = true;
	vm_run_destroy(vm, vm_exit_cleaned);
}

/* An adopted hypervisor (not our child) has exited. */
static void
vm_adopted_exit(evutil_socket_t fd, short what, void *arg)
{
	struct vm	*vm = arg;

	event_free(vm->watch_event);
	vm->watch_event = NULL;
	close(vm->watch_fd);
	vm->watch_fd = -1;
	/* Not our child: its status is lost; it counts as a crash. */
	vm_process_exited(vm->pid, VM_ADOPTED_EXIT_STATUS, vm);
}

static void
vm_recovered_teardown(struct vm *vm)
{
	vm->cleaning = false;
	vm_teardown(vm);
}

/*
 * A previous daemon left this VM in `state` with hypervisor `pid` (-1 when
 * it is gone).  A live one is taken back under supervision; otherwise the
 * VM's instance is destroyed and its teardown hooks run.
 */
void
vm_recover(struct vm *vm, pid_t pid, enum vm_state state, int phases)
{
	vm->phases = phases;
	vm->previous = state;
	if (pid > 0 && (vm->watch_fd = platform_watch_pid(pid)) == -1) {
		/* Alive, but its end could not be seen: stop it now rather
		 * than leave it unsupervised. */
		log_warn("%s: cannot watch pid %ld; killing it", vm->name,
		    (long)pid);
		vmlog(vm, "cannot watch hypervisor pid %ld left by the "
		    "previous daemon; killing it and tearing down", (long)pid);
		kill(pid, SIGKILL);
		pid = -1;
	}
	if (pid > 0) {
		vm->pid = pid;
		vm->adopted = true;
		vm->state = VM_RUNNING;
		vm->reason = "adopted";
		if (vm->started_at == 0)
			vm->started_at = time(NULL);
		vm->watch_event = event_new(vmstated_base(), vm->watch_fd,
		    EV_READ, vm_adopted_exit, vm);
		event_add(vm->watch_event, NULL);
		/* qemu: talk QMP again, to learn why it ends. */
		if (vm->hv->spawned != NULL)
			vm->hv->spawned(vm);
		vmlog(vm, "taken back under supervision: pid %ld (was in "
		    "state %s)", (long)pid, vm_state_name(state));
		log_info("%s: taken back under supervision, pid %ld",
		    vm->name, (long)pid);
		persist_save(vm);
		return;
	}
	vmlog(vm, "was in state %s when the previous daemon ended, and its "
	    "hypervisor is gone; tearing down", vm_state_name(state));
	vm->state = VM_STOPPING;
	vm->reason = "daemon-restart";
	vm->cleaning = true;
	vm_run_destroy(vm, vm_recovered_teardown);
}
