/*
 * trust.h: may vmstated, running as root, use a file that someone gave it?
 *
 * The rule of sshd's StrictModes and of cron: a file is trusted when it
 * and every directory above it, up to /, are owned by root (or by the
 * daemon's own user) and writable by neither group nor others.  Whoever
 * else could change any of them could make root run or read a file of
 * their choosing.
 */
#ifndef VMSTATED_TRUST_H
#define VMSTATED_TRUST_H

#include <stddef.h>

/*
 * Check path as described above.  Exceptions and details:
 *  - a sticky directory (mode 1777, like /tmp) above the file is accepted
 *    although others may write to it: the entries below it are owned by
 *    root or the daemon's user, so nobody else can remove or replace
 *    them.  The file itself, or a directory being checked (logdir,
 *    rundir), is never accepted writable by others, sticky or not;
 *  - symbolic links are followed one component at a time, each link must
 *    be owned by root or the daemon's user, and everything its target
 *    passes through is checked the same way; more than 32 links is a
 *    loop;
 *  - a relative path is taken from the current directory.
 * Returns 0 when trusted, or -1 with a sentence in err that names the
 * offending file or directory, its owner and mode, and the chown or chmod
 * that fixes it (written to follow "<path> is not trusted: ").
 */
int	 trust_path(const char *path, char *err, size_t errlen);

/*
 * The same for the directory of a socket, which may itself be sticky
 * (a socket in /tmp): the socket root puts there cannot be removed or
 * replaced by others.
 */
int	 trust_socket_dir(const char *dir, char *err, size_t errlen);

/*
 * Between these, the directories above the last file found trusted are
 * not looked at again (trust.c): for a load of many files in the same
 * directories, during which only root could change them.
 */
void	 trust_cache_begin(void);
void	 trust_cache_end(void);

/* A size for err that holds the longest sentence with long paths. */
#define TRUST_ERR_MAX	4096

#endif
