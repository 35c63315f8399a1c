/*
 * persist.c: each VM's state file, <rundir>/<name>.state, so that a daemon
 * started again finds its VMs where they were (vmrecord.c says what is in
 * it).
 *
 * The file is written at every move of the machine, and before a hook or a
 * hypervisor may exec.  It must be writable exactly when it matters most --
 * on a full disk, while VMs run -- so it is never replaced: it is created
 * once, before the VM's first start, at a fixed size with room for the
 * whole restart history, and then overwritten in place with one pwrite(2)
 * of a record, its newline and the spaces that blank out the previous
 * one.  Overwriting blocks a file already has
 * needs no new space on UFS, ext4, XFS or tmpfs; a copy-on-write file
 * system (ZFS, btrfs) may still refuse on a full pool (vmstated(8)).  A
 * VM whose file cannot be created is not started.  A single write(2) of a
 * regular file is never seen half done by a reader, so a daemon killed at
 * any instant leaves the previous record or the new one.
 *
 * The last PERSIST_TAIL bytes belong to the hook that runs: its runner
 * (proc.c) writes there how the hook ended, so that a daemon started
 * after a hook ended unseen knows it ran to its end (a stop hook is then
 * not run twice).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "platform.h"
#include "vmstated.h"

#define PERSIST_BLOCK		4096
#define PERSIST_MAX		(1024 * 1024)	/* a record is never larger */
#define PERSIST_TAIL		64		/* the running hook's end */

static char *
persist_path(const struct vm *vm)
{
	char	*path;

	xasprintf(&path, "%s/%s.state", vmstated_config()->rundir, vm->name);
	return path;
}

/* The size a VM's file needs: the record with a full restart history. */
static size_t
persist_size_for(const struct vm *vm, size_t record_len)
{
	size_t	 need;

	need = record_len + 256 + PERSIST_TAIL +
	    24 * (size_t)(vm->cfg->maxrestart + 1);
	need = (need + PERSIST_BLOCK - 1) / PERSIST_BLOCK * PERSIST_BLOCK;
	return need > PERSIST_MAX ? PERSIST_MAX : need;
}

static void
persist_encode(const struct vm *vm, struct buf *b)
{
	vmrecord_encode(vm, vm_clock_mono(), vm_clock_wall(), b);
}

/*
 * Open a state file: never through a link, and only a regular file of
 * root's (or the daemon's) with one name, whose status goes to *sb.  -1
 * with errno; a file that fails the check is reported (vmstated(8),
 * SECURITY).
 */
static int
persist_open(const char *path, bool create, struct stat *sb)
{
	char	 err[1024];
	int	 fd;

	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
	    (create ? O_CREAT : 0), 0600);
	if (fd == -1)
		return -1;
	if (daemon_vet_file(fd, path, "state file", err, sizeof(err),
	    sb) == -1) {
		log_warnx("%s", err);
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/*
 * Grow fd to size with real bytes (not a hole): overwriting them later
 * needs no new space.  0, or -1 with errno.
 */
static int
persist_fill(int fd, size_t from, size_t size)
{
	char	 pad[PERSIST_BLOCK];
	size_t	 n;
	ssize_t	 w;

	memset(pad, ' ', sizeof(pad));
	while (from < size) {
		n = size - from < sizeof(pad) ? size - from : sizeof(pad);
		w = pwrite(fd, pad, n, (off_t)from);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			return -1;
		}
		from += (size_t)w;
	}
	return 0;
}

/*
 * Before a start: make sure the VM's state can be recorded -- the file
 * exists at its full size.  0, or -1 with a sentence in why.
 */
int
persist_prepare(struct vm *vm, struct buf *why)
{
	struct stat	 sb;
	struct buf	 rec;
	char		*path = persist_path(vm);
	size_t		 need;
	int		 fd, saved;

	buf_init(&rec);
	persist_encode(vm, &rec);
	need = persist_size_for(vm, rec.len);
	buf_free(&rec);
	if ((fd = persist_open(path, true, &sb)) == -1)
		goto failed;
	if (sb.st_size > PERSIST_MAX) {
		errno = EINVAL;
		goto failed;
	}
	if ((size_t)sb.st_size < need &&
	    persist_fill(fd, (size_t)sb.st_size, need) == -1)
		goto failed;
	/* What the next save must blank out (persist_pad()): nothing in a
	 * new file; in a grown one, also its old tail. */
	if (sb.st_size == 0) {
		vm->state_used = 0;
		vm->state_used_known = true;
	} else if ((size_t)sb.st_size != vm->state_size)
		vm->state_used_known = false;
	else if ((size_t)sb.st_size < need)
		vm->state_used = (uint32_t)sb.st_size;
	vm->state_size = (uint32_t)((size_t)sb.st_size < need ? need :
	    (size_t)sb.st_size);
	close(fd);
	free(path);
	return 0;
failed:
	saved = errno;
	buf_printf(why, "cannot record its state in %s: %s; %s", path,
	    strerror(saved), saved == EMFILE || saved == ENFILE ?
	    "the daemon is out of file descriptors, try again later" :
	    saved == ENOSPC || saved == EDQUOT || saved == EIO ?
	    "free space in the run directory" :
	    "remove what is at that path");
	if (fd != -1)
		close(fd);
	free(path);
	errno = saved;
	return -1;
}

static void
persist_report(struct vm *vm, const char *path, const char *what)
{
	if (!vm->state_error_reported)
		log_warnx("%s: cannot write its state file %s: %s (reported "
		    "once until it works again)", vm->name, path, what);
	vm->state_error_reported = true;
}

/*
 * End the record with its newline, then spaces over what the previous
 * record covered: the reader stops at the first newline, and the rest
 * of the file is padding already.  Rewriting only that keeps each save a
 * page or so, even where a large maxrestart made the file a megabyte.
 * Not knowing what the file holds (a file this daemon has not read or
 * written yet), the whole record area is overwritten, once.
 */
static void
persist_pad(const struct vm *vm, struct buf *b)
{
	size_t	 end = vm->state_size - PERSIST_TAIL;

	buf_putc(b, '\n');
	if (vm->state_used_known && vm->state_used < end)
		end = vm->state_used;
	if (end > b->len)
		buf_fill(b, ' ', end - b->len);
}

/* Record the VM's state.  0, or -1 (reported once until it works). */
int
persist_save(struct vm *vm)
{
	struct stat	 sb;
	struct buf	 b;
	char		*path = persist_path(vm);
	size_t		 record_len;
	ssize_t		 n;
	int		 fd, r = -1;

	buf_init(&b);
	persist_encode(vm, &b);
	if ((fd = persist_open(path, false, &sb)) == -1) {
		if (errno == ENOENT && vm_at_rest(vm) &&
		    vm->state == VM_STOPPED && vm->nrestarts == 0) {
			/* Never started: stopped is what no file says. */
			r = 0;
			goto done;
		}
		if (errno != ENOENT ||
		    (fd = persist_open(path, true, &sb)) == -1) {
			persist_report(vm, path, strerror(errno));
			goto done;
		}
	}
	/* Never written by a daemon (persist_read refuses it too), and
	 * larger than struct vm counts. */
	if (sb.st_size > PERSIST_MAX) {
		persist_report(vm, path, "larger than any state file");
		goto done;
	}
	if ((size_t)sb.st_size != vm->state_size)
		vm->state_used_known = false;	/* not the file we wrote */
	vm->state_size = (uint32_t)sb.st_size;
	if (b.len + 1 + PERSIST_TAIL > vm->state_size) {
		/* A longer record (a reload raised maxrestart): grow. */
		size_t need = persist_size_for(vm, b.len);
		if (persist_fill(fd, vm->state_size, need) == -1) {
			persist_report(vm, path, strerror(errno));
			goto done;
		}
		/* The old tail (a hook's end) is in the record area now. */
		vm->state_used = vm->state_size;
		vm->state_size = (uint32_t)need;	/* <= PERSIST_MAX */
	}
	record_len = b.len + 1;
	persist_pad(vm, &b);
	do
		n = pwrite(fd, b.data, b.len, 0);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)b.len) {
		persist_report(vm, path, n == -1 ? strerror(errno) :
		    "short write");
		goto done;
	}
	vm->state_used = (uint32_t)record_len;
	vm->state_used_known = true;
	if (vm->state_error_reported) {
		log_info("%s: writing its state file works again", vm->name);
		vm->state_error_reported = false;
	}
	r = 0;
done:
	if (fd != -1)
		close(fd);
	free(path);
	buf_free(&b);
	return r;
}

/*
 * Where a hook's runner records its end: the state file and the offset of
 * its tail.  NULL when the file is not of that layout (yet).
 */
char *
persist_task_status_path(const struct vm *vm, off_t *offset)
{
	if (vm->state_size < PERSIST_BLOCK)
		return NULL;
	*offset = (off_t)(vm->state_size - PERSIST_TAIL);
	return persist_path(vm);
}

/*
 * Did the hook whose runner was pid run to its end?  Its runner wrote
 * "task PID STATUS" in the tail.  1 yes (status set), 0 no.
 */
int
persist_task_done(const struct vm *vm, pid_t pid, int *status)
{
	char	*path = persist_path(vm), tail[PERSIST_TAIL + 1];
	long	 p;
	int	 fd, st;
	ssize_t	 n = -1;

	if (vm->state_size >= PERSIST_BLOCK &&
	    (fd = persist_open(path, false, NULL)) != -1) {
		n = pread(fd, tail, PERSIST_TAIL, (off_t)(vm->state_size -
		    PERSIST_TAIL));
		close(fd);
	}
	free(path);
	if (n != PERSIST_TAIL)
		return 0;
	tail[PERSIST_TAIL] = '\0';
	if (sscanf(tail, "task %ld %d", &p, &st) != 2 || p != (long)pid)
		return 0;
	*status = st;
	return 1;
}

void
persist_remove(struct vm *vm)
{
	char	*path = persist_path(vm);

	unlink(path);
	free(path);
}

void
persist_close(struct vm *vm)
{
	(void)vm;
}

/*
 * Read a state file.  0 with *rec filled (free it with vmrecord_free());
 * -1 when there is none (errno ENOENT) or it cannot be read (logged).
 */
int
persist_read(const char *path, struct vm_record *rec, size_t *size,
    size_t *used)
{
	struct stat	 sb;
	char		 err[256], *text, *nl;
	ssize_t		 n;
	int		 fd;

	if ((fd = persist_open(path, false, NULL)) == -1) {
		if (errno != ENOENT)
			log_warn("cannot open state file %s", path);
		return -1;
	}
	if (fstat(fd, &sb) == -1 || sb.st_size > PERSIST_MAX) {
		log_warnx("ignoring state file %s: larger than %d bytes", path,
		    PERSIST_MAX);
		close(fd);
		return -1;
	}
	text = xmalloc((size_t)sb.st_size + 1);
	n = pread(fd, text, (size_t)sb.st_size, 0);
	close(fd);
	*size = (size_t)sb.st_size;
	if (n > 0 && (nl = memchr(text, '\n', (size_t)n)) != NULL)
		*used = (size_t)(nl - text) + 1;
	else
		*used = *size;
	if (n < 0 || vmrecord_decode(text, (size_t)n, rec, vm_clock_mono(),
	    vm_clock_wall(), err, sizeof(err)) == -1) {
		log_warnx("ignoring unreadable state file %s: %s", path,
		    n < 0 ? strerror(errno) : err);
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

/*
 * Read the state a previous daemon left and take the VM back: its
 * hypervisor if it still runs (by pid and start time), its old hook ended
 * first if that still runs, the teardown of what had begun otherwise
 * (vm_restore() decides).
 */
void
persist_restore(struct vm *vm)
{
	struct vm_record	 rec;
	char			*path = persist_path(vm);
	size_t			 size, used;
	pid_t			 pid;
	int			 status;

	if (persist_read(path, &rec, &size, &used) == -1) {
		free(path);
		return;
	}
	vm->state_size = (uint32_t)size;	/* <= PERSIST_MAX */
	vm->state_used = (uint32_t)used;
	vm->state_used_known = true;
	free(path);
	if (rec.task_pid != -1 &&
	    task_reclaim(vm, rec.task_pid, rec.task_start) == 0)
		rec.task_done = persist_task_done(vm, rec.task_pid, &status);
	vm->state = rec.state;
	if (rec.pos != P_STOPPED && rec.pos != P_FAILED &&
	    (pid = vmproc_find(vm, rec.pid, rec.pid_start,
	    rec.legacy ? rec.cmdline : NULL)) > 0)
		(void)vmproc_adopt(vm, pid);
	vm_restore(vm, &rec);
	vmrecord_free(&rec);
}
