/*
 * vmstated.h: the daemon's map.  Prototypes are grouped by the file that
 * defines them.
 */
#ifndef VMSTATED_VMSTATED_H
#define VMSTATED_VMSTATED_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "hv.h"

struct event_base;
struct event;

enum vm_state {
	VM_STOPPED,
	VM_START_NETWORK,
	VM_START_STORAGE,
	VM_RUNNING,
	VM_RESTARTING,
	VM_RESTARTED,
	VM_STOPPING,
	VM_STOP_STORAGE,
	VM_STOP_NETWORK,
	VM_FAILED,
	VM_NSTATES
};

#define VM_MAX_RESTART_HISTORY	64

struct vm {
	char			*name;
	struct vm_config	*cfg;		/* in force */
	struct vm_config	*pending;	/* changed config, for next start */
	const struct hv_ops	*hv;
	void			*hv_state;	/* the back end's own */

	enum vm_state		 state;
	enum vm_state		 previous;
	const char		*reason;	/* of the last transition */
	char			*last_exit;	/* "guest-reboot (status 0)" ... */

	pid_t			 pid;		/* hypervisor, or -1 */
	time_t			 started_at;	/* when it last reached running */
	int			 exit_status;	/* wait status, when exited */
	bool			 exited;	/* process gone, not yet handled */

	/* The state machine's bookkeeping: see vm.c. */
	pid_t			 hook_pid;	/* running hook or helper, or -1 */
	struct event		*hook_timer;
	struct event		*stop_timer;
	int			 phase_done;	/* bit per completed start phase */
	int			 intent;	/* what the VM is on its way to */
	bool			 counted;	/* this restart is automatic */
	bool			 forget;	/* removed by reload */

	time_t			 restarts[VM_MAX_RESTART_HISTORY];
	int			 nrestarts;

	/* Log file (logdir/<name>.log). */
	int			 log_fd;
	bool			 log_error_reported;
};

/* main.c */
struct event_base	*vmstated_base(void);
const struct daemon_config *vmstated_config(void);
const char		*vmstated_logdir(void);

/* vmlog.c */
int	 vmlog_open(struct vm *);
void	 vmlog_close(struct vm *);
/* Append a timestamped line written by the daemon to the VM's log. */
void	 vmlog(struct vm *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
