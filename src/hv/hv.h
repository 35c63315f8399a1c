/*
 * hv.h: the interface between the supervisor and a hypervisor back end.
 *
 * The supervisor owns the process: it forks, execs the argv a back end
 * builds, reaps it and runs the back end's helper commands (bhyvectl
 * --destroy) as child processes of its own, so that nothing here blocks.
 * A back end only builds command lines, writes files, and, for qemu, talks
 * QMP from the event loop.
 */
#ifndef VMSTATED_HV_H
#define VMSTATED_HV_H

#include <sys/types.h>

#include <stdbool.h>

#include "buf.h"

struct vm;

/* Why a hypervisor process ended, as far as the back end can tell. */
enum hv_exit {
	HV_EXIT_REBOOT,		/* the guest rebooted: restart */
	HV_EXIT_POWEROFF,	/* the guest powered off: stop */
	HV_EXIT_HALT,		/* the guest halted: stop */
	HV_EXIT_CRASH,		/* anything else: restart, counted */
};

struct hv_ops {
	const char	*name;
	/*
	 * Before each start: write generated files.  Returns 0; -1 with a
	 * sentence in *err naming the file and what went wrong; -2 when it
	 * failed for lack of resources (descriptors, memory): worth trying
	 * again later.
	 */
	int		 (*prepare)(struct vm *, struct buf *err);
	/* The command line to exec; a NULL-terminated array the caller frees
	 * with hv_argv_free(). */
	char		**(*argv)(struct vm *);
	/* Whether the kernel holds an instance of the VM (bhyve: vmmdir/NAME),
	 * which must be destroyed before a start and after an exit; NULL when
	 * the back end has no such thing. */
	bool		 (*instance_exists)(struct vm *);
	/* The command that destroys the instance (bhyvectl --destroy), for
	 * systems where the daemon cannot do it itself. */
	char		**(*destroy_argv)(struct vm *);
	/* A descriptor the child must inherit as fd 3 (e.g. qemu's
	 * pre-opened QMP listening socket), or -1.  The supervisor dup2()s
	 * it to 3 in the child; all other descriptors above 2 are closed. */
	int		 (*child_fd)(struct vm *);
	/* Called in the parent right after the process was spawned, and
	 * for a hypervisor taken back from a previous daemon. */
	void		 (*spawned)(struct vm *);
	/* Ask the guest to power down (ACPI).  Returns 0 when asked, -1 when
	 * it cannot be.  NULL, or -1: the supervisor sends SIGTERM, and
	 * SIGKILL once stoptimeout has passed; after a request that worked,
	 * SIGTERM at stoptimeout and SIGKILL 5 seconds later. */
	int		 (*request_stop)(struct vm *);
	/* Tell why the process ended, from its wait(2) status (when known:
	 * a process that is not our child may end without one) and whatever
	 * the back end learnt while it ran. */
	enum hv_exit	 (*classify_exit)(struct vm *, int wait_status,
			    bool known);
	/* A live hypervisor of this VM that no state file names (qemu: the
	 * holder of its pidfile's lock; bhyve: a process titled "bhyve:
	 * NAME"), or -1. */
	pid_t		 (*find)(struct vm *);
	/* After the process is gone: close connections, remove sockets. */
	void		 (*cleanup)(struct vm *);
	/* Release back-end state when the VM is forgotten or changes back
	 * end. */
	void		 (*release)(struct vm *);
};

extern const struct hv_ops hv_bhyve_ops;
extern const struct hv_ops hv_qemu_ops;

const struct hv_ops *hv_ops_for(int hv_kind);
void		 hv_argv_free(char **);
const char	*hv_exit_name(enum hv_exit);

#endif
