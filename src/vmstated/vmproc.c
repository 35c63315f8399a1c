/*
 * vmproc.c: the hypervisor process of a VM: executing it in the VM's
 * directory (recorded before it may exec), asking it to stop, signalling
 * it, learning of its end (as its parent, or through a platform watch for
 * one a previous daemon started), finding and taking back one that a
 * previous daemon left, and destroying its kernel instance.  What each of
 * these means for the VM is decided in vm.c.
 *
 * A process is known by its pid and its start time (platform.h), which
 * neither an exec nor a retitling changes: bhyve renames itself to
 * "bhyve: NAME" once running, and a bhyve_path may be a wrapper script
 * ending in exec.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "file.h"
#include "log.h"
#include "platform.h"
#include "proc.h"
#include "vmstated.h"

/* A back end's line in the VM log. */
static void
vmproc_hv_log(struct hv_vm *hv, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vmlogv(hv->daemon, fmt, ap);
	va_end(ap);
}

/* The guest's watchdog fired (qemu's QMP WATCHDOG event): the machine
 * kills the hypervisor and restarts the VM as after a crash. */
static void
vmproc_hv_watchdog(struct hv_vm *hv)
{
	struct vm	*vm = hv->daemon;

	vm_event(vm, EV_WATCHDOG);
}

/*
 * What the back end sees of the VM (hv.h), brought up to date: the
 * configuration in force and the pid change over the VM's life.  Made
 * when first needed: most of 10,000 VMs never are.
 */
struct hv_vm *
vmproc_hv(struct vm *vm)
{
	const struct vm_run	*run = vm_run_peek(vm);
	struct hv_vm		*hv;

	if (vm->hvc == NULL)
		vm->hvc = xcalloc(1, sizeof(*vm->hvc));
	hv = vm->hvc;

	hv->name = vm->name;
	hv->cfg = vm->cfg;
	hv->dc = vmstated_config();
	hv->base = vmstated_base();
	hv->pid = run->pid;
	hv->watch_fd = run->adopted ? run->watch_fd : -1;
	hv->log = vmproc_hv_log;
	hv->watchdog = vmproc_hv_watchdog;
	hv->daemon = vm;
	return hv;
}

/* Once the hypervisor runs: its console, if the daemon has one. */
static void
vmproc_console(struct vm *vm)
{
	const char	*why = NULL;
	int		 fd = -1;

	if (vm->hv->console != NULL)
		fd = vm->hv->console(vmproc_hv(vm), &why);
	if (fd != -1)
		console_attach(vm, fd);
	else
		console_none(vm, why);
}

/* The hypervisor is gone: what it said last, then the back end's end. */
static void
vmproc_gone(struct vm *vm)
{
	console_detach(vm);
	if (vm->hv->cleanup != NULL)
		vm->hv->cleanup(vmproc_hv(vm));
}

static void
vmproc_exited(pid_t pid, int status, void *arg)
{
	struct vm	*vm = arg;
	char		 desc[128];
	enum hv_exit	 kind;
	struct vm_run	*run = vm_run(vm);

	run->pid = -1;
	run->pid_start = 0;
	kind = vm->hv->classify_exit(vmproc_hv(vm), status, true);
	console_drain(vm);
	proc_describe_status(status, desc, sizeof(desc));
	vmlog(vm, "hypervisor pid %ld ended: %s, %s", (long)pid, desc,
	    hv_exit_name(kind));
	vmproc_gone(vm);
	vm_exited(vm, kind, status, true, desc);
}

/* In the parent, before the hypervisor may exec: record it. */
static void
vmproc_recorded(pid_t pid, void *arg)
{
	struct vm	*vm = arg;
	struct vm_run	*run = vm_run(vm);

	run->pid = pid;
	run->adopted = false;
	run->started_at = time(NULL);
	run->started_mono = vm_clock_mono();
	if (platform_proc_start(pid, &run->pid_start) == -1)
		run->pid_start = 0;
	persist_save(vm);
}

/*
 * Write the generated files and execute the hypervisor in the VM's
 * directory (relative paths of its configuration are relative to it).
 * 0 with vm->run->pid set; -1 with why; -2 for lack of resources.
 */
int
vmproc_spawn(struct vm *vm, struct buf *why)
{
	struct proc_spec	 spec;
	struct buf		 line;
	char			 err[512], **argv;
	int			 i, r, saved, out_fd;
	pid_t			 pid;
	struct vm_run		*run = vm_run(vm);

	if ((r = vm->hv->prepare(vmproc_hv(vm), why)) != 0)
		return r;
	argv = vm->hv->argv(vmproc_hv(vm));
	buf_init(&line);
	for (i = 0; argv[i] != NULL; i++) {
		if (i > 0)
			buf_putc(&line, ' ');
		buf_shell_quote(&line, argv[i]);
	}
	vmlog(vm, "exec: %s", line.data);
	buf_free(&line);

	/* The hypervisor's own messages go to the log through a file
	 * description of its own: what it does to it (bhyve's stdio
	 * console sets O_NONBLOCK, which clears O_APPEND) stays its own.
	 * It keeps that descriptor for its whole life, rotation or not. */
	out_fd = vmlog_child_fd(vm);
	memset(&spec, 0, sizeof(spec));
	spec.path = argv[0];
	spec.argv = argv;
	spec.cwd = vm->cfg->dir;
	spec.out_fd = out_fd;
	spec.npass = vm->hv->child_fds != NULL ?
	    vm->hv->child_fds(vmproc_hv(vm), spec.pass_fds) : 0;
	spec.before_exec = vmproc_recorded;
	pid = proc_spawn(&spec, vmproc_exited, vm, err, sizeof(err));
	saved = errno;
	hv_argv_free(argv);
	if (out_fd != -1)
		close(out_fd);
	if (pid == -1) {
		run->pid = -1;
		run->pid_start = 0;
		buf_puts(why, err);
		if (vm->hv->cleanup != NULL)
			vm->hv->cleanup(vmproc_hv(vm));
		return file_transient(saved) ? -2 : -1;
	}
	if (vm->hv->spawned != NULL)
		vm->hv->spawned(vmproc_hv(vm));
	vmproc_console(vm);
	return 0;
}

void
vmproc_signal(struct vm *vm, int sig)
{
	const struct vm_run	*run = vm_run_peek(vm);

	if (run->pid == -1)
		return;
	if (run->adopted)
		(void)platform_signal(run->watch_fd, run->pid, sig);
	else
		(void)kill(run->pid, sig);
}

/* Ask the guest to power off: 0 asked through the back end (ACPI), 1
 * SIGTERM sent instead (bhyve turns it into the power button). */
int
vmproc_ask_stop(struct vm *vm)
{
	if (vm->hv->request_stop != NULL &&
	    vm->hv->request_stop(vmproc_hv(vm)) == 0)
		return 0;
	vmlog(vm, "sending SIGTERM to pid %ld", (long)vm_run_peek(vm)->pid);
	vmproc_signal(vm, SIGTERM);
	return 1;
}

/*
 * Destroy the VM's kernel instance if it has one: at once where the
 * system allows it (FreeBSD's hw.vmm.destroy), else through the back
 * end's helper.  0 done or nothing to do; 1 a helper runs; -1 failed.
 */
int
vmproc_destroy_start(struct vm *vm)
{
	char	**argv;
	int	  r;

	if (vm->hv->instance_exists == NULL ||
	    !vm->hv->instance_exists(vmproc_hv(vm)))
		return 0;
	if (platform_vmm_destroy(vmstated_config()->vmmdir, vm->name) == 0) {
		vmlog(vm, "destroyed VM instance %s", vm->name);
		return 0;
	}
	if (errno != ENOSYS && errno != ENOENT)	/* ENOENT: no such sysctl */
		vmlog(vm, "could not destroy VM instance %s itself: %s; "
		    "running the back end's helper", vm->name, strerror(errno));
	if (vm->hv->destroy_argv == NULL ||
	    (argv = vm->hv->destroy_argv(vmproc_hv(vm))) == NULL)
		return 0;
	r = task_helper_start(vm, argv);
	hv_argv_free(argv);
	return r;
}

/* After a reset by its guest: does the back end reuse the instance? */
bool
vmproc_instance_reusable(struct vm *vm)
{
	return vm->hv->reuses_instance != NULL &&
	    vm->hv->reuses_instance(vmproc_hv(vm));
}

/*
 * A live hypervisor of this VM: the recorded one if the same process
 * still runs, else one the back end finds (qemu's pidfile lock, bhyve's
 * title).  Records older than version 2 name the process by its command
 * line.  Returns its pid, or -1.
 */
pid_t
vmproc_find(struct vm *vm, pid_t pid, uint64_t start,
    const char *legacy_cmdline)
{
	uint64_t	 now_start;
	char		 cmdline[4096];

	if (pid > 0 && platform_proc_start(pid, &now_start) == 0) {
		if (start != 0 && now_start == start)
			return pid;
		if (start == 0 && legacy_cmdline != NULL &&
		    platform_pid_cmdline(pid, cmdline, sizeof(cmdline)) == 0 &&
		    strcmp(cmdline, legacy_cmdline) == 0)
			return pid;
	}
	if (vm->hv->find != NULL)
		return vm->hv->find(vmproc_hv(vm), false);
	return -1;
}

static void
vmproc_adopted_exit(evutil_socket_t fd, short what, void *arg)
{
	struct vm	*vm = arg;
	struct vm_run	*run = vm_run(vm);
	pid_t		 pid = run->pid;
	enum hv_exit	 kind;
	char		 desc[160];
	int		 status = 0;
	bool		 known;

	known = platform_watch_status(run->watch_fd, &status) == 0;
	event_free(run->watch_event);
	run->watch_event = NULL;
	close(run->watch_fd);
	run->watch_fd = -1;
	run->pid = -1;
	run->pid_start = 0;
	kind = vm->hv->classify_exit(vmproc_hv(vm), status, known);
	console_drain(vm);
	if (known)
		proc_describe_status(status, desc, sizeof(desc));
	else
		snprintf(desc, sizeof(desc), "exit status unknown: it was "
		    "started by a previous vmstated and this system does not "
		    "tell the status of a process that is not our child");
	vmlog(vm, "hypervisor pid %ld ended: %s, %s", (long)pid, desc,
	    hv_exit_name(kind));
	run->adopted = false;
	vmproc_gone(vm);
	vm_exited(vm, kind, status, known, known ? desc : "exit status "
	    "unknown");
}

/*
 * Watch a hypervisor a previous daemon started.  0; -1 when it cannot be
 * watched (it is then killed: unsupervised is worse than stopped).
 */
int
vmproc_adopt(struct vm *vm, pid_t pid)
{
	struct vm_run	*run = vm_run(vm);

	if ((run->watch_fd = platform_watch_pid(pid)) == -1) {
		log_warn("%s: cannot watch pid %ld; killing it", vm->name,
		    (long)pid);
		vmlog(vm, "cannot watch hypervisor pid %ld left by the "
		    "previous daemon; killing it and tearing down", (long)pid);
		kill(pid, SIGKILL);
		return -1;
	}
	run->pid = pid;
	if (platform_proc_start(pid, &run->pid_start) == -1)
		run->pid_start = 0;
	run->adopted = true;
	if (run->started_at == 0 || run->started_at > time(NULL))
		run->started_at = time(NULL);
	/* Its age from the wall clock, once; from here on monotonic. */
	run->started_mono = vm_clock_mono() - (double)(time(NULL) -
	    run->started_at);
	run->watch_event = event_new(vmstated_base(), run->watch_fd, EV_READ,
	    vmproc_adopted_exit, vm);
	event_add(run->watch_event, NULL);
	/* qemu: talk QMP again, to learn why it ends. */
	if (vm->hv->spawned != NULL)
		vm->hv->spawned(vmproc_hv(vm));
	vmproc_console(vm);
	vmlog(vm, "taken back under supervision: pid %ld (was in state %s)",
	    (long)pid, vm_state_name(vm->state));
	log_info("%s: taken back under supervision, pid %ld", vm->name,
	    (long)pid);
	return 0;
}

/* The VM is being freed. */
void
vmproc_release(struct vm *vm)
{
	struct vm_run	*run = vm->run;

	if (run != NULL) {
		if (run->pid != -1 && !run->adopted)
			proc_forget(run->pid);
		if (run->watch_event != NULL)
			event_free(run->watch_event);
		run->watch_event = NULL;
		if (run->watch_fd != -1)
			close(run->watch_fd);
		run->watch_fd = -1;
	}
	console_release(vm);
	if (vm->hvc != NULL && vm->hv->release != NULL)
		vm->hv->release(vmproc_hv(vm));
	free(vm->hvc);
	vm->hvc = NULL;
}
