/*
 * probe.c: health probes.  While a VM is running at rest (position
 * running), the executable `probe` of its script directory runs at once and
 * then every probe_interval seconds, in the VM's directory, with its
 * output in the VM's log, bounded by probe_timeout: its process group then
 * gets SIGKILL and the probe has failed.  probe_failures failures in a row
 * make the machine treat the VM as crashed (EV_PROBE_FAILED: killed, and
 * restarted through the restart window).  A VM with a probe is ready, for
 * the VMs that depend on it, once a probe has passed.
 *
 * A probe is not a hook: it runs only while no hook does, and it is killed
 * (not waited for) when the VM leaves running; what it leaves behind in
 * its process group is killed when it ends.  A probe removed while the VM
 * runs is not run again until the VM next enters running.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "trust.h"
#include "vmstated.h"

static void	probe_run(evutil_socket_t, short, void *);

static const char *
probe_dir(const struct vm *vm)
{
	return vm->cfg->scriptpath != NULL ? vm->cfg->scriptpath :
	    vm->cfg->dir;
}

static void
probe_arm(struct vm *vm, struct event **ev, event_callback_fn cb,
    double seconds)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	if (*ev == NULL)
		*ev = evtimer_new(vmstated_base(), cb, vm);
	evtimer_add(*ev, &tv);
}

/* The probe's result: on change (and on each failure) to the log, the
 * clients and, after too many failures, the machine. */
static void
probe_result(struct vm *vm, bool ok, const char *how)
{
	struct vm_run	*run = vm_run(vm);
	struct vm_rare	*rare = vm_rare(vm);
	bool		 changed = vm->probe_ok != ok || rare->probe_runs == 0;

	metrics_probe(vm, ok);
	rare->probe_runs++;
	vm->probe_ok = ok;
	rare->probe_last = time(NULL);
	if (ok) {
		rare->probe_failed_in_row = 0;
		vm->probe_passed_at = vm_clock_mono();	/* vm.c: window */
		if (!run->probe_passed) {
			run->probe_passed = true;
			vm->fx->moved(vm);	/* it may be ready now */
		}
	} else
		rare->probe_failed_in_row++;
	if (changed || !ok) {
		vmlog(vm, "probe %s: %s", ok ? "passed" : "failed", how);
		control_broadcast_probe(vm);
	}
	if (changed && !ok)
		vm->fx->moved(vm);	/* autostart says why others wait */
	if (!ok && rare->probe_failed_in_row >= vm->cfg->probe_failures) {
		vmlog(vm, "probe failed %d times in a row (probe_failures %lld)",
		    rare->probe_failed_in_row,
		    (long long)vm->cfg->probe_failures);
		rare->probe_failed_in_row = 0;
		vm_event(vm, EV_PROBE_FAILED);
		return;
	}
	if (vm->pos == P_RUNNING)
		probe_arm(vm, &run->probe_timer, probe_run,
		    (double)vm->cfg->probe_interval);
}

static void
probe_exited(pid_t pid, int status, void *arg)
{
	struct vm	*vm = arg;
	char		 desc[128];
	struct vm_run	*run = vm_run(vm);

	/* A probe is a check, not a service: what it left running in its
	 * process group would pile up, one more every probe_interval. */
	kill(-pid, SIGKILL);
	run->probe_pid = -1;
	if (run->probe_deadline != NULL)
		evtimer_del(run->probe_deadline);
	if (run->probe_timed_out) {
		snprintf(desc, sizeof(desc), "did not end within %lld s",
		    (long long)vm->cfg->probe_timeout);
		probe_result(vm, false, desc);
		return;
	}
	proc_describe_status(status, desc, sizeof(desc));
	probe_result(vm, WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    desc);
}

static void
probe_too_long(evutil_socket_t fd, short what, void *arg)
{
	struct vm	*vm = arg;
	struct vm_run	*run = vm_run(vm);

	if (run->probe_pid == -1)
		return;
	run->probe_timed_out = true;
	kill(-run->probe_pid, SIGKILL);
}

/* Run the probe once; its end comes to probe_exited(). */
static void
probe_run(evutil_socket_t fd, short what, void *arg)
{
	struct vm		*vm = arg;
	struct proc_spec	 spec;
	char			*path, *argv[2], *env[3], pidbuf[64];
	char			 trust[TRUST_ERR_MAX], why[TRUST_ERR_MAX + 1024];
	struct vm_run		*run = vm_run(vm);

	if (vm->pos != P_RUNNING || run->probe_pid != -1)
		return;
	xasprintf(&path, "%s/probe", probe_dir(vm));
	/* Removed while the VM runs: the administrator no longer wants it
	 * (a probe that cannot be run, on the other hand, fails). */
	if (!probe_configured(vm)) {
		vmlog(vm, "probe: %s is gone; no more probes until the VM next "
		    "starts", path);
		free(path);
		vm->has_probe = false;
		vm->fx->moved(vm);	/* ready now, for those that wait */
		return;
	}
	if (access(path, X_OK) == -1 ||
	    trust_path(path, trust, sizeof(trust)) == -1) {
		snprintf(why, sizeof(why), "%s cannot be run: %s", path,
		    access(path, X_OK) == -1 ? strerror(errno) : trust);
		free(path);
		probe_result(vm, false, why);
		return;
	}
	snprintf(pidbuf, sizeof(pidbuf), "VMSTATED_PID=%ld", (long)run->pid);
	xasprintf(&env[0], "VMSTATED_VM=%s", vm->name);
	env[1] = pidbuf;
	env[2] = NULL;
	argv[0] = path;
	argv[1] = NULL;
	memset(&spec, 0, sizeof(spec));
	spec.path = path;
	spec.argv = argv;
	spec.env_add = env;
	spec.cwd = vm->cfg->dir;
	/* Its output: whole "probe:" lines, through a file description of
	 * its own (vmlog.c, relay.c). */
	spec.out_fd = vmlog_child_fd(vm);
	spec.out_tag = "probe";
	spec.npass = 0;
	spec.new_pgrp = true;
	run->probe_timed_out = false;
	run->probe_pid = proc_spawn(&spec, probe_exited, vm, why, sizeof(why));
	if (spec.out_fd != -1)
		close(spec.out_fd);
	free(env[0]);
	free(path);
	if (run->probe_pid == -1) {
		probe_result(vm, false, why);
		return;
	}
	probe_arm(vm, &run->probe_deadline, probe_too_long,
	    (double)vm->cfg->probe_timeout);
}

/* Does the VM have a probe?  (A file named probe in its script dir.) */
bool
probe_configured(const struct vm *vm)
{
	struct stat	 sb;
	char		*path;
	bool		 there;

	xasprintf(&path, "%s/probe", probe_dir(vm));
	there = stat(path, &sb) == 0;
	free(path);
	return there;
}

/* Ready for the VMs that depend on it: running at rest, and its probe,
 * if it has one, has passed since it started. */
bool
probe_ready(const struct vm *vm)
{
	const struct vm_run	*run = vm_run_peek(vm);

	return vm->pos == P_RUNNING && (run->probe_passed || !vm->has_probe);
}

/* The machine: the VM entered (on) or left (off) running at rest. */
void
probe_set(struct vm *vm, bool on)
{
	struct vm_run	*run = vm_run(vm);

	if (on) {
		vm->has_probe = probe_configured(vm);
		run->probe_passed = false;
		if (vm->rare != NULL) {
			vm->rare->probe_failed_in_row = 0;
			vm->rare->probe_runs = 0;
		}
		if (vm->has_probe)
			probe_arm(vm, &run->probe_timer, probe_run, 0);
		return;
	}
	if (run->probe_timer != NULL)
		evtimer_del(run->probe_timer);
	if (run->probe_deadline != NULL)
		evtimer_del(run->probe_deadline);
	if (run->probe_pid != -1) {
		kill(-run->probe_pid, SIGKILL);
		proc_forget(run->probe_pid);
		run->probe_pid = -1;
	}
	run->probe_passed = false;
}

/* The VM, or its run part, is being freed. */
void
probe_release(struct vm *vm)
{
	struct vm_run	*run = vm->run;

	if (run == NULL)
		return;
	probe_set(vm, false);
	if (run->probe_timer != NULL)
		event_free(run->probe_timer);
	if (run->probe_deadline != NULL)
		event_free(run->probe_deadline);
	run->probe_timer = run->probe_deadline = NULL;
}
