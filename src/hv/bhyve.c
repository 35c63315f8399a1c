/*
 * bhyve.c: the bhyve back end.  bhyve reads everything from the generated
 * configuration file (bhyve -k), tells how the guest ended through its
 * exit status, and turns SIGTERM into an ACPI power-button press.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bhyve_config.h"
#include "log.h"
#include "platform.h"
#include "vmstated.h"

static int
bhyve_prepare(struct vm *vm, struct buf *err)
{
	return bhyve_config_write(vm->cfg, err);
}

static char **
bhyve_argv(struct vm *vm)
{
	char	**argv = xcalloc(4, sizeof(*argv));

	argv[0] = xstrdup(vmstated_config()->bhyve_path);
	argv[1] = xstrdup("-k");
	argv[2] = bhyve_config_generated_path(vm->cfg);
	return argv;
}

/*
 * bhyve's VM instances live in the kernel, shown as /dev/vmm/NAME (vmmdir
 * of vmstated.conf), from the first bhyve that runs the VM until they are
 * destroyed: a bhyve that exits leaves its instance behind.
 */
static bool
bhyve_instance_exists(struct vm *vm)
{
	char	*path;
	bool	 exists;

	xasprintf(&path, "%s/%s", vmstated_config()->vmmdir, vm->name);
	exists = access(path, F_OK) == 0;
	free(path);
	return exists;
}

/*
 * A running bhyve renames itself to "bhyve: NAME" (setproctitle(3) in
 * bhyverun.c), and holds the VM's instance: without an instance, no bhyve
 * runs the VM, and the processes need not be searched.
 */
static pid_t
bhyve_find(struct vm *vm)
{
	char	*title;
	pid_t	 pid;

	if (!bhyve_instance_exists(vm))
		return -1;
	xasprintf(&title, "bhyve: %s", vm->name);
	pid = platform_find_title(title);
	free(title);
	return pid > 0 ? pid : -1;
}

static char **
bhyve_destroy_argv(struct vm *vm)
{
	char	**argv = xcalloc(4, sizeof(*argv));

	argv[0] = xstrdup(vmstated_config()->bhyvectl_path);
	argv[1] = xstrdup("--destroy");
	xasprintf(&argv[2], "--vm=%s", vm->name);
	return argv;
}

/*
 * bhyve(8): 0 rebooted, 1 powered off, 2 halted, 3 triple fault, 4 exited
 * due to an error.  Anything else, and death by a signal, is a crash; so
 * is an end whose status is unknown (a bhyve a previous daemon started,
 * where the system cannot tell: vmstated(8)).
 */
static enum hv_exit
bhyve_classify_exit(struct vm *vm, int status, bool known)
{
	if (!known || !WIFEXITED(status))
		return HV_EXIT_CRASH;
	switch (WEXITSTATUS(status)) {
	case 0:
		return HV_EXIT_REBOOT;
	case 1:
		return HV_EXIT_POWEROFF;
	case 2:
		return HV_EXIT_HALT;
	default:
		return HV_EXIT_CRASH;
	}
}

const struct hv_ops hv_bhyve_ops = {
	.name = "bhyve",
	.prepare = bhyve_prepare,
	.argv = bhyve_argv,
	.instance_exists = bhyve_instance_exists,
	.destroy_argv = bhyve_destroy_argv,
	.child_fd = NULL,
	.spawned = NULL,
	.request_stop = NULL,		/* SIGTERM: the power button */
	.classify_exit = bhyve_classify_exit,
	.find = bhyve_find,
	.cleanup = NULL,
	.release = NULL,
};
