/*
 * bhyve.c: the bhyve back end.  bhyve reads everything from the generated
 * configuration file (bhyve -k), tells how the guest ended through its
 * exit status, and turns SIGTERM into an ACPI power-button press.
 *
 * The VM's first serial port, com1, is the daemon's (vmstated(8),
 * CONSOLE): before each start, prepare() makes a console pair
 * (platform.h: an nmdm(4) pair on FreeBSD) and appends lpc.com1.path=<the
 * side bhyve opens> to the generated file, unless the VM's configuration
 * puts com1 somewhere itself.  The generated file also tells a daemon
 * started later where the console is.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bhyve_config.h"
#include "config.h"
#include "file.h"
#include "hv.h"
#include "log.h"
#include "platform.h"

struct bhyve_state {
	int		 console_fd;	/* the daemon's side, until taken */
	int		 keep_fd;	/* for the child (Linux), or -1 */
	const char	*owner;		/* where the config puts com1, or NULL */
};

static struct bhyve_state *
bhyve_state(struct hv_vm *hv)
{
	struct bhyve_state	*bs = hv->state;

	if (bs == NULL) {
		bs = xcalloc(1, sizeof(*bs));
		bs->console_fd = bs->keep_fd = -1;
		hv->state = bs;
	}
	return bs;
}

static void
bhyve_close_console(struct bhyve_state *bs)
{
	if (bs->console_fd != -1)
		close(bs->console_fd);
	if (bs->keep_fd != -1)
		close(bs->keep_fd);
	bs->console_fd = bs->keep_fd = -1;
}

/*
 * Read the configfile, make the console pair unless the configuration
 * names its own com1, and write the generated file.  A pair that cannot
 * be made costs the console, not the start: it is logged, and bhyve runs
 * without lpc.com1.path.
 */
static int
bhyve_prepare(struct hv_vm *hv, struct buf *err)
{
	struct bhyve_state	*bs = bhyve_state(hv);
	struct buf		 orig;
	char			 path[256];
	const char		*console = NULL;
	mode_t			 mode;
	int			 rc;

	bhyve_close_console(bs);
	buf_init(&orig);
	if ((rc = bhyve_config_read_orig(hv->cfg, &orig, &mode, err)) < 0) {
		buf_free(&orig);
		return rc;
	}
	bs->owner = bhyve_config_console_owner(hv->cfg, orig.data, orig.len);
	if (bs->owner == NULL) {
		if (platform_console_pair(hv->name, path, sizeof(path),
		    &bs->console_fd, &bs->keep_fd) == 0)
			console = path;
		else if (file_transient(errno)) {
			/* For lack of resources: the start waits for them,
			 * rather than run the VM without a console. */
			buf_printf(err, "cannot make its console pair: %s",
			    strerror(errno));
			buf_free(&orig);
			return -2;
		} else
			hv->log(hv, "no console: cannot make its console pair "
			    "(nmdm(4): is the nmdm module loaded?): %s",
			    strerror(errno));
	}
	rc = bhyve_config_write_from(hv->cfg, orig.data, orig.len, mode,
	    console, err);
	buf_free(&orig);
	if (rc < 0)
		bhyve_close_console(bs);
	return rc;
}

static char **
bhyve_argv(struct hv_vm *hv)
{
	char	**argv = xcalloc(4, sizeof(*argv));

	argv[0] = xstrdup(hv->dc->bhyve_path);
	argv[1] = xstrdup("-k");
	argv[2] = bhyve_config_generated_path(hv->cfg);
	return argv;
}

/* Linux: the pty's master, so that the pair outlives the daemon. */
static int
bhyve_child_fds(struct hv_vm *hv, int fds[HV_MAX_FDS])
{
	struct bhyve_state	*bs = bhyve_state(hv);

	if (bs->keep_fd == -1)
		return 0;
	fds[0] = bs->keep_fd;
	return 1;
}

/* The child has its copy: the daemon's is not needed any more. */
static void
bhyve_spawned(struct hv_vm *hv)
{
	struct bhyve_state	*bs = bhyve_state(hv);

	if (bs->keep_fd != -1)
		close(bs->keep_fd);
	bs->keep_fd = -1;
}

/*
 * The console made by prepare(); for a bhyve a previous daemon started,
 * the one its generated file names (lpc.com1.path), if it is of the
 * daemon's making.
 */
static int
bhyve_console(struct hv_vm *hv, const char **why)
{
	struct bhyve_state	*bs = bhyve_state(hv);
	struct buf		 text, err;
	char			*generated, *path;
	mode_t			 mode;
	int			 fd;

	*why = NULL;
	if ((fd = bs->console_fd) != -1) {
		bs->console_fd = -1;
		return fd;
	}
	if (hv->watch_fd == -1) {
		*why = bs->owner;
		return -1;
	}
	buf_init(&text);
	buf_init(&err);
	generated = bhyve_config_generated_path(hv->cfg);
	path = NULL;
	if (generated != NULL &&
	    bhyve_config_read(generated, &text, &mode, &err) == 0)
		path = bhyve_config_last_value(text.data, text.len,
		    "lpc.com1.path");
	fd = -1;
	if (path == NULL)
		*why = "no lpc.com1.path in the generated configuration";
	else if ((fd = platform_console_reattach(hv->name, path,
	    hv->watch_fd)) == -1 && errno == EINVAL)
		*why = "lpc.com1.path of its configuration";
	else if (fd == -1)
		hv->log(hv, "cannot reach the console %s again: %s", path,
		    strerror(errno));
	free(path);
	free(generated);
	buf_free(&text);
	buf_free(&err);
	return fd;
}

/*
 * bhyve's VM instances live in the kernel, shown as /dev/vmm/NAME (vmmdir
 * of vmstated.conf), from the first bhyve that runs the VM until they are
 * destroyed: a bhyve that exits leaves its instance behind.
 */
static bool
bhyve_instance_exists(struct hv_vm *hv)
{
	char	*path;
	bool	 exists;

	xasprintf(&path, "%s/%s", hv->dc->vmmdir, hv->name);
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
bhyve_find(struct hv_vm *hv, bool anywhere)
{
	char	*title;
	pid_t	 pid;

	if (!bhyve_instance_exists(hv))
		return -1;
	xasprintf(&title, "bhyve: %s", hv->name);
	pid = platform_find_title(title, anywhere ? NULL : hv->cfg->dir);
	free(title);
	return pid > 0 ? pid : -1;
}

/*
 * do_open() in bhyverun.c: an instance that exists (vm_create() fails
 * with EEXIST) is reinitialised and reused when bhyve boots from a
 * bootrom; vm_reinit() succeeds when every vCPU is suspended, as the
 * guest's reset the caller saw (exit status 0) leaves them.  What the
 * next bhyve boots from is what its configfile says now.
 */
static bool
bhyve_reuses_instance(struct hv_vm *hv)
{
	struct buf	 orig, err;
	mode_t		 mode;
	bool		 romboot;

	if (!bhyve_instance_exists(hv))
		return false;
	buf_init(&orig);
	buf_init(&err);
	romboot = bhyve_config_read_orig(hv->cfg, &orig, &mode, &err) == 0 &&
	    bhyve_config_has_bootrom(hv->cfg, orig.data, orig.len);
	buf_free(&orig);
	buf_free(&err);
	return romboot;
}

static char **
bhyve_destroy_argv(struct hv_vm *hv)
{
	char	**argv = xcalloc(4, sizeof(*argv));

	argv[0] = xstrdup(hv->dc->bhyvectl_path);
	argv[1] = xstrdup("--destroy");
	xasprintf(&argv[2], "--vm=%s", hv->name);
	return argv;
}

/*
 * bhyve(8): 0 rebooted, 1 powered off, 2 halted, 3 triple fault, 4 exited
 * due to an error.  Anything else, and death by a signal, is a crash; so
 * is an end whose status is unknown (a bhyve a previous daemon started,
 * where the system cannot tell: vmstated(8)).
 */
static enum hv_exit
bhyve_classify_exit(struct hv_vm *hv, int status, bool known)
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

static void
bhyve_cleanup(struct hv_vm *hv)
{
	if (hv->state != NULL)
		bhyve_close_console(hv->state);
}

static void
bhyve_release(struct hv_vm *hv)
{
	bhyve_cleanup(hv);
	free(hv->state);
	hv->state = NULL;
}

static void
bhyve_files(struct hv_vm *hv, hv_file_cb cb, void *arg)
{
	char	*path;

	if ((path = bhyve_config_generated_path(hv->cfg)) != NULL)
		cb("generated", path, arg);
	free(path);
}

const struct hv_ops hv_bhyve_ops = {
	.name = "bhyve",
	.prepare = bhyve_prepare,
	.argv = bhyve_argv,
	.instance_exists = bhyve_instance_exists,
	.destroy_argv = bhyve_destroy_argv,
	.reuses_instance = bhyve_reuses_instance,
	.child_fds = bhyve_child_fds,
	.spawned = bhyve_spawned,
	.console = bhyve_console,
	.request_stop = NULL,		/* SIGTERM: the power button */
	.classify_exit = bhyve_classify_exit,
	.find = bhyve_find,
	.cleanup = bhyve_cleanup,
	.release = bhyve_release,
	.files = bhyve_files,
};
