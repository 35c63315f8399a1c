/*
 * vmm.c: the stand-ins' kernel VM instances (see vmm.h).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "vmm.h"

static const char *const vcpus_names[] = { "none", "active", "suspended" };

bool
vmm_enabled(void)
{
	const char	*dir;

	dir = getenv(STANDIN_VMM_ENV);
	return dir != NULL && *dir != '\0';
}

static char *
vmm_path(const char *name)
{
	char	*path;

	xasprintf(&path, "%s/%s", getenv(STANDIN_VMM_ENV), name);
	return path;
}

/* A name the kernel takes: /dev/vmm/NAME is one devfs node. */
static bool
vmm_valid_name(const char *name)
{
	return *name != '\0' && strchr(name, '/') == NULL &&
	    strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

int
vmm_create(const char *name)
{
	char	*path;
	int	 fd;

	if (!vmm_valid_name(name)) {
		errno = EINVAL;
		return -1;
	}
	path = vmm_path(name);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	free(path);
	if (fd == -1)
		return -1;
	close(fd);
	return 0;
}

static void
vmm_read(struct vmm *vm)
{
	char		 text[256], *line, *next, *eq;
	ssize_t		 n;
	size_t		 i;

	vm->pid = 0;
	vm->memory = 0;
	vm->wired = 0;
	vm->vcpus = VMM_VCPUS_NONE;
	n = pread(vm->fd, text, sizeof(text) - 1, 0);
	if (n <= 0)
		return;
	text[n] = '\0';
	for (line = text; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq++ = '\0';
		if (strcmp(line, "pid") == 0)
			vm->pid = strtol(eq, NULL, 10);
		else if (strcmp(line, "memory") == 0)
			vm->memory = strtoull(eq, NULL, 10);
		else if (strcmp(line, "wired") == 0)
			vm->wired = atoi(eq);
		else if (strcmp(line, "vcpus") == 0)
			for (i = 0; i < 3; i++)
				if (strcmp(eq, vcpus_names[i]) == 0)
					vm->vcpus = (enum vmm_vcpus)i;
	}
}

static void
vmm_write(struct vmm *vm)
{
	char	 text[256];
	int	 n;

	n = snprintf(text, sizeof(text), "pid=%ld\nmemory=%llu\nwired=%d\n"
	    "vcpus=%s\n", vm->pid, vm->memory, vm->wired,
	    vcpus_names[vm->vcpus]);
	if (ftruncate(vm->fd, 0) == 0)
		(void)pwrite(vm->fd, text, (size_t)n, 0);
}

int
vmm_open(const char *name, struct vmm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->fd = -1;
	if (!vmm_valid_name(name)) {
		errno = ENOENT;
		return -1;
	}
	vm->path = vmm_path(name);
	if ((vm->fd = open(vm->path, O_RDWR | O_CLOEXEC)) == -1) {
		free(vm->path);
		vm->path = NULL;
		return -1;
	}
	vmm_read(vm);
	return 0;
}

void
vmm_close(struct vmm *vm)
{
	if (vm->fd != -1)
		close(vm->fd);
	free(vm->path);
	vm->fd = -1;
	vm->path = NULL;
}

bool
vmm_running(struct vmm *vm)
{
	int	 fd;
	bool	 running;

	/* A second description: our own lock would not conflict. */
	if ((fd = open(vm->path, O_RDONLY | O_CLOEXEC)) == -1)
		return false;
	running = flock(fd, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK;
	close(fd);
	return running;
}

bool
vmm_destroyed(struct vmm *vm)
{
	struct stat	 sb;

	return fstat(vm->fd, &sb) == 0 && sb.st_nlink == 0;
}

/* vmm.c vm_reinit(): "A virtual machine can be reset only if all vcpus
 * are suspended"; system memory stays (vm_cleanup() with destroy false). */
int
vmm_reinit(struct vmm *vm)
{
	vmm_read(vm);
	if (vm->vcpus == VMM_VCPUS_ACTIVE) {
		errno = EBUSY;
		return -1;
	}
	vm->pid = 0;
	vm->vcpus = VMM_VCPUS_NONE;
	vmm_write(vm);
	return 0;
}

/* libvmmapi vm_alloc_memseg() and vm_mmap_memseg(): an existing segment
 * must have the same length, an existing mapping the same flags. */
int
vmm_setup_memory(struct vmm *vm, unsigned long long objsize, bool wired)
{
	vmm_read(vm);
	if (vm->memory == 0) {
		vm->memory = objsize;
		vm->wired = wired;
		vmm_write(vm);
		return 0;
	}
	if (vm->memory != objsize) {
		errno = EINVAL;
		return -1;
	}
	if (vm->wired != (int)wired) {
		errno = EEXIST;
		return -1;
	}
	return 0;
}

int
vmm_activate(struct vmm *vm)
{
	if (vmm_destroyed(vm)) {
		errno = ENXIO;
		return -1;
	}
	vmm_read(vm);
	if (vm->vcpus == VMM_VCPUS_ACTIVE ||
	    flock(vm->fd, LOCK_EX | LOCK_NB) == -1) {
		errno = EBUSY;
		return -1;
	}
	vm->pid = (long)getpid();
	vm->vcpus = VMM_VCPUS_ACTIVE;
	vmm_write(vm);
	return 0;
}

void
vmm_suspended(struct vmm *vm)
{
	if (vm->fd == -1)
		return;
	vmm_read(vm);
	vm->vcpus = VMM_VCPUS_SUSPENDED;
	vmm_write(vm);
}

int
vmm_destroy(const char *name)
{
	char	*path;
	int	 rc;

	if (!vmm_valid_name(name)) {
		errno = ENOENT;
		return -1;
	}
	path = vmm_path(name);
	rc = unlink(path);
	free(path);
	return rc;
}
