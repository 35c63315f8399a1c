/*
 * platform.h: what differs between FreeBSD and Linux, behind one small
 * interface.  Exactly one of linux.c and freebsd.c is built (the Makefile
 * picks src/platform/$(uname -s).c).
 */
#ifndef VMSTATED_PLATFORM_H
#define VMSTATED_PLATFORM_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

/*
 * The credentials of the process at the other end of a connected UNIX
 * socket, as the kernel recorded them when that process called
 * connect(2): its effective user and group IDs and its supplementary
 * groups.  Nothing comes from the user and group databases, which could
 * block (NSS over the network) and which may not say what the process
 * really holds.
 */
struct peer_cred {
	uid_t	 uid;
	gid_t	 gid;
	gid_t	*groups;	/* supplementary groups (malloc'd) */
	int	 ngroups;
};

/*
 * Fill *cred.  Returns 0 (the caller frees cred->groups), or -1 with
 * errno set and nothing to free.
 */
int	 platform_peer_cred(int fd, struct peer_cred *cred);

/*
 * Take an exclusive, non-blocking lock on an open pidfile.  Returns 0, or
 * -1 with errno EWOULDBLOCK/EAGAIN when another process holds it.
 */
int	 platform_lock_pidfile(int fd);

/*
 * A descriptor that becomes readable when process `pid` (not necessarily
 * our child) exits, or -1 with errno set.  Used for hypervisors adopted
 * from a previous daemon.
 */
int	 platform_watch_pid(pid_t pid);

/*
 * Copy the command line of process `pid` into buf, arguments separated by
 * spaces.  Returns 0, or -1 when the process does not exist or cannot be
 * read.
 */
int	 platform_pid_cmdline(pid_t pid, char *buf, size_t len);

/*
 * Close every descriptor from lo to hi (hi -1: to the last), in a child
 * before exec.  One system call where the system has close_range(2): a
 * loop up to the descriptor limit costs tens of milliseconds per process.
 */
void	 platform_close_range(int lo, int hi);

#endif
