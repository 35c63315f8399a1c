/*
 * proc.h: child processes (hypervisors, hooks, helpers) started and reaped
 * from the event loop.
 */
#ifndef VMSTATED_PROC_H
#define VMSTATED_PROC_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

struct event_base;

typedef void	(*proc_exit_cb)(pid_t pid, int wait_status, void *arg);

struct proc_spec {
	const char	*path;		/* program; searched on PATH without '/' */
	char *const	*argv;
	char *const	*env_add;	/* "NAME=value" set on top of environ */
	const char	*cwd;		/* NULL: stay */
	int		 out_fd;	/* stdout and stderr; -1: /dev/null */
	int		 pass_fds[2];	/* become fds 3, 4... in the child */
	int		 npass;
	/*
	 * When set, the program's stdout and stderr are a pipe that a small
	 * runner (below) reads: each line it writes reaches out_fd as one
	 * whole line "TIME TAG: text" (relay.c), so that the log tells its
	 * lines from the daemon's and the guest's.
	 */
	const char	*out_tag;
	bool		 new_pgrp;	/* own process group (hooks) */
	/*
	 * Called in the parent once the child exists and before it may
	 * exec: the caller records the pid (a state file), so that a daemon
	 * killed at any instant leaves no process it did not record.  If the
	 * daemon dies first, the child exits without executing anything.
	 */
	void		 (*before_exec)(pid_t, void *arg);
	/*
	 * When set (or out_tag is), the child is a small runner that
	 * executes the program as its own child, waits for it, writes "task
	 * PID STATUS" (its own pid, the program's wait status) at
	 * status_offset of status_path, and ends the way the program ended.
	 * The end of a hook is thus on disk even if the daemon died
	 * meanwhile (persist.c reads it).
	 */
	const char	*status_path;
	off_t		 status_offset;
};

void	 proc_init(struct event_base *);
void	 proc_shutdown(void);
/*
 * Start a child.  Returns its pid, or -1 with a sentence in err (e.g.
 * "cannot execute /usr/sbin/bhyve: No such file or directory") and errno
 * set when the fork or the exec failed.  cb runs from the event loop once
 * the child has been reaped.
 */
pid_t	 proc_spawn(const struct proc_spec *, proc_exit_cb, void *arg,
	    char *err, size_t errlen);
/* Stop reporting this child's exit (it is still reaped). */
void	 proc_forget(pid_t);
/* Describe a wait status: "exit status 3", "killed by signal 9 (SIGKILL)". */
void	 proc_describe_status(int wait_status, char *buf, size_t len);

/*
 * relay.c, in a runner: copy the program's output from in to out as
 * whole lines "TIME TAG: text" until the program (pid) has ended and its
 * output is read; returns its wait status.  Output that children it left
 * behind write later is relayed by a process of its own until they close
 * it.
 */
int	 relay_run(int in, int out, const char *tag, pid_t pid);
/* One "TIME TAG: " prefix (UTC, as the daemon's lines) into buf. */
void	 relay_stamp(char *buf, size_t len, const char *tag);

#endif
