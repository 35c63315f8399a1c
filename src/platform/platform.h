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
#include <stdint.h>

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

/*
 * The start time of process `pid`, which neither exec nor a retitling
 * changes: with the pid it identifies a process.  Linux: field 22 of
 * /proc/PID/stat, clock ticks since boot; FreeBSD: kinfo_proc.ki_start less
 * kern.boottime, microseconds since boot (ki_start alone moves when the
 * clock is stepped).  Comparable only with another value of the same
 * system and boot.  Returns 0 with *start set, or -1 with errno (ESRCH: no
 * such process, or a zombie: it has ended).
 */
int	 platform_proc_start(pid_t pid, uint64_t *start);

/*
 * After the descriptor of platform_watch_pid() became readable: the
 * process's wait(2) status when the system tells it (FreeBSD: the data of
 * the EVFILT_PROC/NOTE_EXIT event, for any process, child or not), 0; or
 * -1 when it cannot be known (Linux, for a process that is not our child;
 * FreeBSD, when the exit was already read).  Reads the event: call it once.
 */
int	 platform_watch_status(int fd, int *status);

/*
 * Send `sig` to a watched process through its descriptor from
 * platform_watch_pid(), so that a reused pid is never signalled.  Linux:
 * pidfd_send_signal(2).  FreeBSD: kill(2), unless the kqueue already holds
 * the exit.  fd -1 (a child not yet waited for, whose pid cannot be
 * reused): kill(2).  Returns 0, or -1 with errno (ESRCH: the process has
 * exited).
 */
int	 platform_signal(int fd, pid_t pid, int sig);

/*
 * A live process whose whole command line is exactly `title`, as
 * setproctitle(3) leaves it (bhyve: "bhyve: vm1").  Linux scans /proc,
 * FreeBSD kern.proc.proc and kern.proc.args.  With cwd, only one whose
 * working directory is cwd: vmstated starts bhyve in its VM's directory,
 * and takes back only what it started.  Returns its pid, 0 when there is
 * none, -1 with errno on error.
 */
pid_t	 platform_find_title(const char *title, const char *cwd);

/*
 * Destroy bhyve's kernel instance of VM name, shown as vmmdir/name, without
 * a helper process (FreeBSD: the hw.vmm.destroy sysctl, what libvmmapi's
 * vm_destroy() does; Linux: the same done to the bhyve stand-in's
 * instances, where its kernel is said to have the sysctl).  0, or -1 with
 * errno (ENOSYS where the system has no such thing).
 */
int	 platform_vmm_destroy(const char *vmmdir, const char *name);

/*
 * The serial console of a bhyve VM: a pair of terminals joined like a null
 * modem cable.  bhyve opens one by path (lpc.com1.path, written into
 * hv_path); the daemon reads and writes the other (*fd: non-blocking,
 * close-on-exec, raw).  FreeBSD: an nmdm(4) pair, /dev/nmdm-NAME-A for
 * bhyve, /dev/nmdm-NAME-B for the daemon; opening B creates the pair, which
 * lives while either side is open.  Linux, which has no nmdm and where
 * only the bhyve stand-in runs: a pty, the slave for bhyve, the master for
 * the daemon; *keep_fd is another descriptor of the master that the
 * hypervisor must inherit (as descriptor 3) so that the pair outlives the
 * daemon, as an nmdm pair outlives the close of its B side (-1 on
 * FreeBSD).  Returns 0, or -1 with errno.
 */
int	 platform_console_pair(const char *name, char *hv_path, size_t len,
	    int *fd, int *keep_fd);

/*
 * The daemon's side of the console pair of a bhyve that a previous daemon
 * started with hv_path as its lpc.com1.path (watch_fd: the descriptor of
 * platform_watch_pid() that watches it).  FreeBSD: opens
 * /dev/nmdm-NAME-B again.  Linux: takes the master back from the
 * hypervisor's descriptor 3 (pidfd_getfd(2)) and checks that its slave is
 * hv_path.  Returns the descriptor, or -1 with errno (EINVAL: hv_path is
 * not a console of the daemon's making).
 */
int	 platform_console_reattach(const char *name, const char *hv_path,
	    int watch_fd);

/*
 * The daemon's memory.  platform_memory_init(), once at start: freed
 * blocks as large as a status reply of thousands of VMs go back to the
 * system (glibc raises its mmap and trim thresholds to the largest block
 * freed, and then keeps megabytes a reply used until the daemon exits).
 * platform_memory_trim(), after a (re)load: what loading the
 * configurations used and freed goes back to the system.  Nothing to do
 * where the allocator does this itself (FreeBSD's jemalloc).
 */
void	 platform_memory_init(void);
void	 platform_memory_trim(void);

#endif
