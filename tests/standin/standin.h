/*
 * standin.h: what the bhyve and bhyvectl stand-ins share: the clock,
 * signal names, FreeBSD's error texts, setproctitle(3), and the JSON
 * record lines they append for the tests.  The simulated kernel VM
 * instances (/dev/vmm/NAME) that tie the two together are in vmm.h.
 *
 * See tests/standin/README.md for what the stand-ins do and why.
 */
#ifndef VMSTATED_STANDIN_H
#define VMSTATED_STANDIN_H

#include <stdbool.h>

#include "buf.h"

/* bhyvectl's record file (one JSON line per run). */
#define STANDIN_CTL_LOG_ENV	"VMSTATED_STANDIN_LOG"

/*
 * Operations bhyvectl asks of a running bhyve stand-in, sent with
 * sigqueue(SIGUSR2) as the signal's value: they stand for what the kernel
 * does to a running VM.
 */
#define STANDIN_OP_DESTROYED	1	/* --destroy: vm_run fails, exit 1 */
#define STANDIN_OP_POWEROFF	2	/* --force-poweroff: exit 1 */
#define STANDIN_OP_RESET	3	/* --force-reset: exit 0 */

/* CLOCK_REALTIME as seconds, with nanoseconds. */
double		 standin_now(void);
/* Signal number for a name ("SEGV" or "SIGSEGV"), or -1. */
int		 standin_signum(const char *);
/* Name without "SIG" for a signal number, or NULL. */
const char	*standin_signame(int);
/* Append `"key": ` (with a leading comma unless first) to an object. */
void		 standin_json_key(struct buf *, const char *key, bool *first);
/* Append the line (a newline is added) to path with one write(2), so that
 * lines written by concurrent processes never interleave.  Returns 0 or -1. */
int		 standin_append_line(const char *path, struct buf *line);
/* Append the "fds", "stdio", "sigblocked", "sigignored" and "env" members:
 * what the process inherited from whoever started it. */
void		 standin_record_inherited(struct buf *, bool *first);
/* strerror(3) as FreeBSD's libc words it (the messages bhyve prints). */
const char	*fbsd_strerror(int);
/*
 * setproctitle(3) of FreeBSD (lib/libc/gen/setproctitle.c): the process's
 * arguments become the one string "progname: title" (at most 2047 bytes),
 * as kern.proc.args then reads it.  On Linux the argv area is rewritten so
 * that /proc/self/cmdline reads exactly that string and its NUL.  Call it
 * once argv is no longer needed: its strings are overwritten.
 */
void		 standin_setproctitle(int argc, char **argv,
		    const char *progname, const char *title);

#endif
