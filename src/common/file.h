/*
 * file.h: opening and reading the files the daemon is given, safely.
 *
 * Every file named in a configuration (a VM's config, vmstated.conf, what
 * they include, a bhyve configfile, a kernel, a disk...) may turn out to
 * be a FIFO, a device or a link to one, and may change between the check
 * at load and the start.  Read naively, a FIFO blocks the daemon's one
 * loop in open() and /dev/zero fills its memory.  So a file is opened
 * without blocking, its type is checked on the descriptor, and it is read
 * with a size limit.  The functions put the reason in msg, without the
 * path ("it is a FIFO (named pipe), not a regular file"), for the caller
 * to write after the path and the key it came from.
 */
#ifndef VMSTATED_FILE_H
#define VMSTATED_FILE_H

#include <sys/types.h>
#include <sys/stat.h>

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* What the file may be (at least one of the first two). */
#define FILE_REGULAR	0x1	/* a regular file */
#define FILE_DEVICE	0x2	/* a block or character device: a disk */
#define FILE_NOFOLLOW	0x4	/* refuse a symbolic link as last component */

/*
 * Open path for reading: O_NONBLOCK (a FIFO cannot hold the loop in
 * open()), O_CLOEXEC, O_NOCTTY, and O_NOFOLLOW with FILE_NOFOLLOW; then
 * require a type that `allow` permits, on the descriptor itself.  Returns
 * the descriptor, or -1 with the reason in msg.  *st (may be NULL)
 * receives what fstat() says.
 */
int	 file_open(const char *path, int allow, struct stat *st, char *msg,
	    size_t msgsize);

/*
 * Check, without opening anything that is not of an allowed type, that
 * path exists, is of a type `allow` permits, and (regular files) can be
 * opened for reading.  0; -1 when it cannot be read (no such file...);
 * -2 when it is of another type; the reason in msg.  For checks at load
 * and before a start, where another program (qemu, bhyve) opens the file
 * itself.
 */
int	 file_check(const char *path, int allow, char *msg, size_t msgsize);

/*
 * Append the whole of the regular file path to b, refusing one larger
 * than max bytes (checked before and while reading, since a file can
 * grow).  *mode (may be NULL) receives its permission bits.  0, or -1 with
 * the reason in msg (errno EFBIG when the file is too large); b then
 * holds what it held before.
 */
int	 file_read(const char *path, int flags, size_t max, struct buf *b,
	    mode_t *mode, char *msg, size_t msgsize);

/* True for an errno that says "not now" rather than "never": the system
 * ran out of descriptors, processes or memory (open, socket, fork...). */
bool	 file_transient(int error);

/* "a FIFO (named pipe)", "a directory", ... for a st_mode. */
const char *file_type_name(mode_t);

#endif
