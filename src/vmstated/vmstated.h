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

/* Requests from a client (or the daemon itself, uid -1). */
enum vm_request {
	REQ_START,
	REQ_STOP,
	REQ_RESTART,
	REQ_KILL,
	REQ_FAILRESET,
};

#define VM_PHASE_NETWORK	0x1	/* start_network completed */
#define VM_PHASE_STORAGE	0x2	/* start_storage completed */

struct vm {
	char			*name;
	struct vm_config	*cfg;		/* in force */
	struct vm_config	*pending;	/* changed config, for next start */
	char			*reload_error;	/* new config refused by reload */
	const struct hv_ops	*hv;
	void			*hv_state;	/* the back end's own */

	enum vm_state		 state;
	enum vm_state		 previous;
	const char		*reason;	/* why the last transition */
	const char		*request_reason; /* of the request in hand */
	long			 by_uid;	/* who asked, -1: nobody */
	char			*last_exit;	/* "crash (exit status 4)" */
	time_t			 state_since;

	/* The hypervisor process. */
	pid_t			 pid;		/* -1: none */
	char			*cmdline;	/* of cmdline_pid (persist.c) */
	pid_t			 cmdline_pid;
	int			 watch_fd;	/* adopted process: exit fd */
	struct event		*watch_event;
	bool			 adopted;	/* not our child */
	bool			 cleaning;	/* exited, destroy running */
	bool			 instance_destroyed; /* since the last exit */
	bool			 exit_pending;	/* exited, not yet handled */
	int			 exit_status;	/* wait(2) status */
	bool			 exit_known;	/* exit_status is of the
						   process that just ended */
	enum hv_exit		 exit_kind;
	time_t			 started_at;	/* spawn time of this process */
	enum vm_state		 after_spawn;	/* running or restarted */

	/* The hook or helper running for this VM. */
	pid_t			 hook_pid;	/* -1: none */
	char			*hook_path;
	struct event		*hook_timer;
	bool			 hook_term_sent;
	bool			 hook_timed_out;
	pid_t			 helper_pid;	/* bhyvectl --destroy */
	void			 (*helper_done)(struct vm *);

	/* Stopping. */
	struct event		*stop_timer;
	int			 stop_stage;	/* 0 asked, 1 SIGTERM, 2 KILL */
	int			 stop_wait;	/* seconds the timer waits */

	/* Where the VM is going. */
	int			 phases;	/* VM_PHASE_* completed */
	bool			 failing;	/* on its way to failed */
	const char		*fail_reason;
	bool			 stop_pending;	/* stop once current step ends */
	bool			 killing;	/* kill requested */
	bool			 counted;	/* this restart is automatic */
	bool			 forget;	/* removed by reload */
	int			 queued;	/* request waiting for a hook,
						   or -1 */
	long			 queued_uid;
	const char		*queued_reason;

	double			*restarts;	/* unix times, in the window */
	int			 nrestarts;
	int			 caprestarts;

	/* Log file (logdir/<name>.log). */
	int			 log_fd;
	bool			 log_error_reported;
	bool			 state_error_reported;
};

/* An entry of configdir that could not be loaded: status shows it. */
struct invalid_vm {
	char	*name;
	char	*dir;
	char	*error;
};

/* main.c */
struct event_base	*vmstated_base(void);
const struct daemon_config *vmstated_config(void);
const char		*vmstated_logdir(void);
const char		*vmstated_configdir(void);
char			*vmstated_reload_config(void);
void			 vmstated_check_shutdown(void);
bool			 vmstated_shutting_down(void);

/* vm.c: the state machine */
const char	*vm_state_name(enum vm_state);
struct vm	*vm_new(struct vm_config *);
void		 vm_free(struct vm *);
/* Act on a request.  0 when accepted; -1 with the reason in msg. */
int		 vm_request(struct vm *, enum vm_request, long uid,
		    const char *reason, struct buf *msg);
void		 vm_hook_finished(struct vm *, bool ok);
void		 vm_process_exited(pid_t, int wait_status, void *vm);
bool		 vm_is_idle(const struct vm *);	/* stopped or failed */
int		 vm_restarts_in_window(struct vm *);
void		 vm_record_restart(struct vm *, double when);
void		 vm_fail(struct vm *, const char *reason);
void		 vm_spawned(struct vm *);
void		 vm_exit_arrived(struct vm *);
void		 vm_teardown(struct vm *);

/* vmproc.c: the hypervisor process */
void		 vm_spawn(struct vm *, enum vm_state after);
void		 vm_ask_stop(struct vm *);
void		 vm_recover(struct vm *, pid_t, enum vm_state, int phases);
/* The wait status an adopted hypervisor is given when it exits. */
#define VM_ADOPTED_EXIT_STATUS	(4 << 8)

/* hook.c */
/* Run the hook of vm's current state; 1 if started, 0 if there is none
 * (the caller goes on at once), -1 on failure with a reason logged. */
int		 hook_run(struct vm *);
void		 hook_kill(struct vm *, int sig);
void		 hook_cancel_timer(struct vm *);

/* supervisor.c: the set of VMs */
void		 sv_init(void);
void		 sv_load(struct cfg_set *);
size_t		 sv_count(void);
struct vm	*sv_vm(size_t);
struct vm	*sv_find(const char *name);
size_t		 sv_invalid_count(void);
const struct invalid_vm *sv_invalid(size_t);
const struct invalid_vm *sv_find_invalid(const char *name);
void		 sv_autostart(void);
void		 sv_shutdown(void);
bool		 sv_all_idle(void);
int		 sv_reload(struct buf *reply);
void		 sv_vm_idle(struct vm *);
void		 sv_free(void);

/* control.c */
int		 control_listen(const char *path, const struct daemon_config *,
		    bool any_owner, char *err, size_t errlen);
void		 control_close(void);
void		 control_set_mode(const struct daemon_config *, bool any_owner);
void		 control_broadcast_state(struct vm *, enum vm_state from,
		    enum vm_state to);
void		 control_log_refusal(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

/* request.c: the commands of the control protocol */
struct ucl_node;
/* A client, as the kernel saw it connect (platform_peer_cred). */
struct ctl_peer {
	uid_t	 uid;
	gid_t	 gid;
	gid_t	*groups;	/* supplementary */
	int	 ngroups;
};
/* Handle one request; append the reply (one JSON object, no newline) to
 * reply.  Returns 1 when the connection should be subscribed to events. */
int		 request_handle(struct ctl_peer *, const struct ucl_node *req,
		    struct buf *reply);
void		 request_status_json(struct vm *, struct buf *);
bool		 request_is_admin(const struct ctl_peer *);
bool		 request_may_operate(const struct ctl_peer *,
		    const struct vm *);
/* The configuration whose owner and group are in force (the newest). */
const struct vm_config *request_auth_config(const struct vm *);

/* vmlog.c */
int		 vmlog_open(struct vm *);
void		 vmlog_close(struct vm *);
void		 vmlog_reopen_all(void);
void		 vmlog(struct vm *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* persist.c */
void		 persist_save(struct vm *);
void		 persist_remove(struct vm *);
void		 persist_restore(struct vm *);

/* daemon.c */
int		 daemon_pidfile(const char *path, char *err, size_t errlen);
void		 daemon_pidfile_remove(void);
int		 daemon_detach(void);
void		 daemon_report(int ok, const char *msg);

#endif
