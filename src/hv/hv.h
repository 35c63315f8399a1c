/*
 * hv.h: the interface between the supervisor and a hypervisor back end.
 *
 * The supervisor owns the process: it forks, execs the argv a back end
 * builds, reaps it and runs the back end's helper commands (bhyvectl
 * --destroy) as child processes of its own, so that nothing here blocks.
 * A back end only builds command lines, writes files, sets up the VM's
 * serial console, and, for qemu, talks QMP from the event loop.
 *
 * A back end sees a VM through struct hv_vm alone: its name, its
 * configuration, the daemon's settings, the event loop, a log function and
 * a place for its own state.  It includes nothing of the daemon
 * (vmstated.h), so that it could be tested alone.
 */
#ifndef VMSTATED_HV_H
#define VMSTATED_HV_H

#include <sys/types.h>

#include <stdbool.h>

#include "buf.h"

struct daemon_config;
struct event_base;
struct vm_config;

/* Why a hypervisor process ended, as far as the back end can tell. */
enum hv_exit {
	HV_EXIT_REBOOT,		/* the guest rebooted: restart */
	HV_EXIT_POWEROFF,	/* the guest powered off: stop */
	HV_EXIT_HALT,		/* the guest halted: stop */
	HV_EXIT_CRASH,		/* anything else: restart, counted */
};

/* Descriptors a hypervisor may inherit: they become 3, 4, ... */
#define HV_MAX_FDS	2

/* A VM as a back end sees it; the daemon keeps the fields current. */
struct hv_vm {
	const char			*name;
	const struct vm_config		*cfg;	/* the configuration in force */
	const struct daemon_config	*dc;	/* rundir, program paths */
	struct event_base		*base;
	pid_t				 pid;	/* the hypervisor, or -1 */
	/* For a hypervisor a previous daemon started: the descriptor of
	 * platform_watch_pid() that watches it (Linux: a pidfd), or -1. */
	int				 watch_fd;
	/* One line in the VM's log, written by the daemon. */
	void				(*log)(struct hv_vm *, const char *, ...)
					    __attribute__((format(printf, 2, 3)));
	/* The guest's watchdog expired (qemu, watchdog = yes): the daemon
	 * treats the guest as crashed. */
	void				(*watchdog)(struct hv_vm *);
	void				*daemon;	/* the daemon's */
	void				*state;		/* the back end's */
};

/* Called by hv_ops.files for each file a back end keeps for a VM. */
typedef void	(*hv_file_cb)(const char *what, const char *path, void *arg);

struct hv_ops {
	const char	*name;
	/*
	 * Before each start: write generated files, make the console.
	 * Returns 0; -1 with a sentence in *err naming the file and what
	 * went wrong; -2 when it failed for lack of resources (descriptors,
	 * memory): worth trying again later.
	 */
	int		 (*prepare)(struct hv_vm *, struct buf *err);
	/* The command line to exec; a NULL-terminated array the caller frees
	 * with hv_argv_free(). */
	char		**(*argv)(struct hv_vm *);
	/* Whether the kernel holds an instance of the VM (bhyve: vmmdir/NAME),
	 * which must be destroyed before a start and after an exit; NULL when
	 * the back end has no such thing. */
	bool		 (*instance_exists)(struct hv_vm *);
	/* The command that destroys the instance (bhyvectl --destroy), for
	 * systems where the daemon cannot do it itself. */
	char		**(*destroy_argv)(struct hv_vm *);
	/* After the guest reset the VM (its vCPUs suspended), would the
	 * hypervisor started again with the files of its last start
	 * reinitialise and reuse the instance, so that it need not be
	 * destroyed?  NULL: no. */
	bool		 (*reuses_instance)(struct hv_vm *);
	/* Descriptors the child must inherit as 3, 4, ... (qemu's QMP and
	 * console listening sockets): fills fds, returns how many (at most
	 * HV_MAX_FDS).  All other descriptors above 2 are closed. */
	int		 (*child_fds)(struct hv_vm *, int fds[HV_MAX_FDS]);
	/* Called in the parent right after the process was spawned, and
	 * for a hypervisor taken back from a previous daemon. */
	void		 (*spawned)(struct hv_vm *);
	/*
	 * After spawned(): the daemon's end of the VM's serial console, a
	 * descriptor the caller then owns (non-blocking, close-on-exec).
	 * -1 when there is none: *why then says where the configuration
	 * put the console instead, or is NULL when the console could not
	 * be reached (the reason was logged).
	 */
	int		 (*console)(struct hv_vm *, const char **why);
	/* Ask the guest to power down (ACPI).  Returns 0 when asked, -1 when
	 * it cannot be.  NULL, or -1: the supervisor sends SIGTERM, and
	 * SIGKILL once stoptimeout has passed; after a request that worked,
	 * SIGTERM at stoptimeout and SIGKILL 5 seconds later. */
	int		 (*request_stop)(struct hv_vm *);
	/* Tell why the process ended, from its wait(2) status (when known:
	 * a process that is not our child may end without one) and whatever
	 * the back end learnt while it ran. */
	enum hv_exit	 (*classify_exit)(struct hv_vm *, int wait_status,
			    bool known);
	/* A live hypervisor of this VM that no state file names (qemu: the
	 * holder of its pidfile's lock; bhyve: a process titled "bhyve:
	 * NAME"), or -1.  With anywhere false, only one vmstated started
	 * (in the VM's directory): one to take back. */
	pid_t		 (*find)(struct hv_vm *, bool anywhere);
	/* After the process is gone: close connections, remove sockets. */
	void		 (*cleanup)(struct hv_vm *);
	/* Release back-end state when the VM is forgotten or changes back
	 * end. */
	void		 (*release)(struct hv_vm *);
	/* Name each file the back end keeps for the VM (generated
	 * configuration, sockets, pidfile, console device): cb(what, path). */
	void		 (*files)(struct hv_vm *, hv_file_cb, void *arg);
};

extern const struct hv_ops hv_bhyve_ops;
extern const struct hv_ops hv_qemu_ops;

const struct hv_ops *hv_ops_for(int hv_kind);
void		 hv_argv_free(char **);
const char	*hv_exit_name(enum hv_exit);

#endif
