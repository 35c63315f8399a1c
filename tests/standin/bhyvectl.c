/*
 * bhyvectl.c: a stand-in for bhyvectl(8), for the tests and the benchmark.
 *
 * As FreeBSD's bhyvectl (usr.sbin/bhyvectl/bhyvectl.c main()) does:
 *   - long options only (getopt_long with an empty short option string);
 *     an unknown option or a missing --vm prints the usage and exits 1;
 *     operands are ignored;
 *   - --create of an instance that exists prints "errno = 17", exits 255;
 *   - an instance that does not exist: "VM:NAME is not created." on
 *     stdout, exit 1 (this is what --destroy does before a VM's first start);
 *   - --destroy removes the instance (vm_destroy()); a bhyve that runs it
 *     fails (its vm_run() errors out and it exits 1); --force-poweroff and
 *     --force-reset suspend a running VM, whose bhyve exits 1 and 0.
 * Instances exist only with VMSTATED_STANDIN_VMM=DIR (see vmm.h); without
 * it every VM "exists" and every operation succeeds (exit 0).
 * Only the options listed in usage() are known; bhyvectl's register and
 * VMCS options are refused like unknown ones.
 *
 * With VMSTATED_STANDIN_LOG=PATH each run appends one JSON line: argv, pid,
 * ppid, time, vm, what it found ("instance": "absent", "idle", "running"
 * or null without instances), what it inherited, and its exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "standin.h"
#include "vmm.h"

static int	 argc_saved;
static char	**argv_saved;
static double	 start_time;
static const char *vmname;
static const char *instance_state;	/* NULL: no instances kept */

static void	 finish(int) __attribute__((noreturn));

static int	 create, destroy, force_reset, force_poweroff, get_stats;
static int	 get_all, get_active_cpus, get_suspended_cpus;
static int	 get_cpu_topology, get_memmap, get_memseg, inject_nmi;

enum { OPT_VM = 1000, OPT_CPU };

static const struct option options[] = {
	{ "vm",			required_argument, NULL, OPT_VM },
	{ "cpu",		required_argument, NULL, OPT_CPU },
	{ "create",		no_argument, &create, 1 },
	{ "destroy",		no_argument, &destroy, 1 },
	{ "force-reset",	no_argument, &force_reset, 1 },
	{ "force-poweroff",	no_argument, &force_poweroff, 1 },
	{ "get-stats",		no_argument, &get_stats, 1 },
	{ "get-all",		no_argument, &get_all, 1 },
	{ "get-active-cpus",	no_argument, &get_active_cpus, 1 },
	{ "get-suspended-cpus",	no_argument, &get_suspended_cpus, 1 },
	{ "get-cpu-topology",	no_argument, &get_cpu_topology, 1 },
	{ "get-memmap",		no_argument, &get_memmap, 1 },
	{ "get-memseg",		no_argument, &get_memseg, 1 },
	{ "inject-nmi",		no_argument, &inject_nmi, 1 },
	{ NULL, 0, NULL, 0 }
};

/* getprogname() of the real one, whatever the stand-in is called. */
static void
usage(void)
{
	const char	*progname = "bhyvectl";

	fprintf(stderr,
	    "Usage: %s --vm=<vmname>\n"
	    "       [--cpu=<vcpu_number>]\n"
	    "       [--create]\n"
	    "       [--destroy]\n"
	    "       [--get-all]\n"
	    "       [--get-stats]\n"
	    "       [--get-memmap]\n"
	    "       [--get-memseg]\n"
	    "       [--inject-nmi]\n"
	    "       [--force-reset]\n"
	    "       [--force-poweroff]\n"
	    "       [--get-active-cpus]\n"
	    "       [--get-suspended-cpus]\n"
	    "       [--get-cpu-topology]\n", progname);
	finish(1);
}

/* Append this run to VMSTATED_STANDIN_LOG, then exit with status. */
static void
finish(int status)
{
	struct buf	 b;
	const char	*path;
	bool		 first = true;
	int		 i;

	fflush(stdout);
	path = getenv(STANDIN_CTL_LOG_ENV);
	if (path != NULL && *path != '\0') {
		buf_init(&b);
		buf_putc(&b, '{');
		standin_json_key(&b, "argv", &first);
		for (i = 0; i < argc_saved; i++) {
			buf_puts(&b, i == 0 ? "[" : ", ");
			buf_json_cstr(&b, argv_saved[i]);
		}
		buf_putc(&b, ']');
		standin_json_key(&b, "pid", &first);
		buf_printf(&b, "%ld", (long)getpid());
		standin_json_key(&b, "ppid", &first);
		buf_printf(&b, "%ld", (long)getppid());
		standin_json_key(&b, "time", &first);
		buf_printf(&b, "%.6f", start_time);
		standin_json_key(&b, "vm", &first);
		buf_json_cstr(&b, vmname);
		standin_json_key(&b, "instance", &first);
		buf_json_cstr(&b, instance_state);
		standin_record_inherited(&b, &first);
		standin_json_key(&b, "status", &first);
		buf_printf(&b, "%d", status);
		buf_putc(&b, '}');
		if (standin_append_line(path, &b) == -1)
			fprintf(stderr, "bhyvectl: %s: %s\n", path,
			    strerror(errno));
		buf_free(&b);
	}
	exit(status);
}

/* Ask the bhyve that runs the instance to act, as the kernel would. */
static void
notify_bhyve(struct vmm *vm, int op)
{
	union sigval	 value;

	if (vm->pid <= 0)
		return;
	value.sival_int = op;
	sigqueue((pid_t)vm->pid, SIGUSR2, value);
}

/* Act on the instance: create, open, suspend, destroy.  Returns the exit
 * status bhyvectl would have. */
static int
operate(void)
{
	struct vmm	 vm;
	bool		 running;

	if (create && vmm_create(vmname) != 0) {
		printf("errno = %d\n", errno);
		return 255;
	}
	if (vmm_open(vmname, &vm) != 0) {
		instance_state = "absent";
		printf("VM:%s is not created.\n", vmname);
		return 1;
	}
	running = vmm_running(&vm);
	instance_state = running ? "running" : "idle";
	if (running && force_reset)
		notify_bhyve(&vm, STANDIN_OP_RESET);
	else if (running && force_poweroff)
		notify_bhyve(&vm, STANDIN_OP_POWEROFF);
	if (destroy) {
		(void)vmm_destroy(vmname);
		if (running)
			notify_bhyve(&vm, STANDIN_OP_DESTROYED);
	}
	vmm_close(&vm);
	return 0;
}

int
main(int argc, char **argv)
{
	int		 ch, status;

	start_time = standin_now();
	argc_saved = argc;
	argv_saved = argv;
	while ((ch = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (ch) {
		case 0:
			break;
		case OPT_VM:
			vmname = optarg;
			break;
		case OPT_CPU:
			break;
		default:
			usage();
		}
	}
	if (vmname == NULL)
		usage();
	status = vmm_enabled() ? operate() : 0;
	finish(status);
}
