/*
 * config_check.c: the checks that look at several keys at once, or at the
 * file system, once every key of a VM (or of defaults{}) is in.
 *
 * A check only looks at keys written in the file being checked: values
 * inherited from defaults{} were checked when vmstated.conf was read, and
 * a key that already had an error is not reported a second time.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "config_keys.h"
#include "trust.h"
#include "ucl.h"

struct check_ctx {
	struct vm_config	*vm;
	enum cfg_scope		 scope;
	const char		*prefix;
	const struct cfg_seen	*seen;
	const char		*file;	/* where a missing key belongs */
	int			 line;
	struct cfg_errors	*errs;
};

/* True when the key was written here and its value was good. */
static bool
given(const struct check_ctx *c, enum cfg_key_id id)
{
	return c->seen->node[id] != NULL && !c->seen->bad[id];
}

/* An error at the key's line if it was written, else at c->file:line. */
static void __attribute__((format(printf, 3, 4)))
check_error(const struct check_ctx *c, enum cfg_key_id id,
    const char *fmt, ...)
{
	const struct ucl_node	*n = c->seen->node[id];
	struct buf		 msg;
	char			 name[160];
	va_list			 ap;

	buf_init(&msg);
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	snprintf(name, sizeof(name), "%s%s", c->prefix, cfg_key_name(id));
	if (n != NULL)
		cfg_error(c->errs, n->file, n->line, name, "%s", msg.data);
	else
		cfg_error(c->errs, c->file, c->line, name, "%s", msg.data);
	buf_free(&msg);
}

/*
 * bhyve's rule (bhyverun.c, calc_topology): sockets x cores x threads must
 * equal cpus when cpus is given, and cpus defaults to that product.  A
 * missing sockets is bhyve's cpus, which would not match as soon as cores
 * is above 1, so it is worked out here (cpus / cores) and the generated
 * configuration always carries all three once either of sockets and cores
 * is given.  threads is 1.
 */
static void
check_topology(const struct check_ctx *c)
{
	struct vm_config	*vm = c->vm;
	enum cfg_key_id		 cpu_key;
	int64_t			 sockets, cores, product;

	if (given(c, K_CPUS) && given(c, K_NUMCPUS)) {
		check_error(c, K_NUMCPUS, "is the old name of cpus, which is "
		    "also given (line %d); keep one",
		    c->seen->node[K_CPUS]->line);
		return;
	}
	cpu_key = c->seen->node[K_NUMCPUS] != NULL ? K_NUMCPUS : K_CPUS;
	if (c->seen->node[K_CPUS] == NULL && c->seen->node[K_NUMCPUS] ==
	    NULL && c->seen->node[K_SOCKETS] == NULL &&
	    c->seen->node[K_CORES] == NULL)
		return;		/* inherited: checked in vmstated.conf */
	if (c->seen->bad[K_CPUS] || c->seen->bad[K_NUMCPUS] ||
	    c->seen->bad[K_SOCKETS] || c->seen->bad[K_CORES])
		return;
	/* Written here: the topology of defaults{} does not mix in. */
	if (!given(c, K_CPUS) && !given(c, K_NUMCPUS))
		vm->cpus = 0;
	if (!given(c, K_SOCKETS))
		vm->sockets = 0;
	if (!given(c, K_CORES))
		vm->cores = 0;
	if (vm->sockets == 0 && vm->cores == 0)
		return;
	cores = vm->cores != 0 ? vm->cores : 1;
	if (vm->sockets != 0)
		sockets = vm->sockets;
	else if (vm->cpus == 0)
		sockets = 1;
	else if (vm->cpus % cores != 0) {
		check_error(c, cpu_key, "%" PRId64 " virtual CPUs cannot be "
		    "split into sockets of %" PRId64 " cores; make it a "
		    "multiple of cores, or give sockets", vm->cpus, cores);
		return;
	} else
		sockets = vm->cpus / cores;
	product = sockets * cores;
	if (product > CFG_MAX_CPUS) {
		check_error(c, given(c, K_SOCKETS) ? K_SOCKETS : K_CORES,
		    "sockets (%" PRId64 ") x cores (%" PRId64 ") makes %"
		    PRId64 " virtual CPUs; at most %d are supported", sockets,
		    cores, product, CFG_MAX_CPUS);
		return;
	}
	if (vm->cpus != 0 && vm->cpus != product) {
		check_error(c, cpu_key, "%" PRId64 " does not match sockets (%"
		    PRId64 ") x cores (%" PRId64 ") = %" PRId64 "; bhyve "
		    "refuses such a topology: correct one of them, or leave "
		    "%s out", vm->cpus, sockets, cores, product,
		    cfg_key_name(cpu_key));
		return;
	}
	vm->cpus = product;
	vm->sockets = sockets;
	vm->cores = cores;
}

/* A key of the other hypervisor would be silently ignored: refuse it. */
static void
check_hypervisor_keys(const struct check_ctx *c)
{
	const char	*hv = cfg_hv_name(c->vm->hypervisor);
	int		 id, only;

	for (id = 0; id < K__COUNT; id++) {
		only = cfg_key_only_for((enum cfg_key_id)id);
		if (c->seen->node[id] == NULL || only < 0 ||
		    only == (int)c->vm->hypervisor)
			continue;
		check_error(c, (enum cfg_key_id)id, "is a %s setting, and this "
		    "VM's hypervisor is %s; remove it, or set hypervisor = %s",
		    cfg_hv_name((enum hv_kind)only), hv,
		    cfg_hv_name((enum hv_kind)only));
	}
}

static void
check_required(const struct check_ctx *c)
{
	const struct vm_config	*vm = c->vm;

	if (vm->hypervisor == HV_BHYVE && vm->configfile == NULL &&
	    !c->seen->bad[K_CONFIGFILE])
		check_error(c, K_CONFIGFILE, "missing: a bhyve VM needs the "
		    "bhyve configuration file it starts from; add configfile "
		    "= \"/path/to/bhyve_config\";");
	if (vm->hypervisor != HV_QEMU || vm->kernel != NULL)
		return;
	if (given(c, K_INITRD))
		check_error(c, K_INITRD, "needs kernel: qemu loads an initrd "
		    "only with a kernel; add kernel = \"/path/to/vmlinuz\";");
	if (given(c, K_APPEND))
		check_error(c, K_APPEND, "needs kernel: qemu passes a command "
		    "line only to a kernel; add kernel = "
		    "\"/path/to/vmlinuz\";");
}

/*
 * 0 when path can be opened for reading and is not a directory; else -1
 * with a sentence in msg.
 */
static int
check_readable(const char *path, bool want_dir, char *msg, size_t size)
{
	struct stat	 st;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		snprintf(msg, size, "cannot read %s: %s; correct the path or "
		    "create it", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(msg, size, "cannot read %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (want_dir && !S_ISDIR(st.st_mode)) {
		snprintf(msg, size, "%s is not a directory", path);
		return -1;
	}
	if (!want_dir && S_ISDIR(st.st_mode)) {
		snprintf(msg, size, "%s is a directory, not a file", path);
		return -1;
	}
	return 0;
}

/*
 * A file the key names must be readable and, unless it is a disk (the
 * guest's data, never run or parsed by the host), trusted: root runs
 * hooks from scriptpath and hands the others to the hypervisor.
 */
static void
check_file(const struct check_ctx *c, enum cfg_key_id id, const char *path,
    bool want_dir)
{
	char	 msg[PATH_MAX + 256], why[TRUST_ERR_MAX];

	if (!given(c, id) || path == NULL)
		return;
	if (check_readable(path, want_dir, msg, sizeof(msg)) == -1)
		check_error(c, id, "%s", msg);
	else if (id != K_DISK && trust_path(path, why, sizeof(why)) == -1)
		check_error(c, id, "%s is not trusted: %s", path, why);
}

static void
check_files(const struct check_ctx *c)
{
	const struct vm_config	*vm = c->vm;
	size_t			 i;

	check_file(c, K_SCRIPTPATH, vm->scriptpath, true);
	check_file(c, K_BOOTROM, vm->bootrom, false);
	/* Keys of the other hypervisor were refused already. */
	if (vm->hypervisor == HV_BHYVE && c->scope == CFG_SCOPE_VM) {
		check_file(c, K_CONFIGFILE, vm->configfile, false);
		return;
	}
	check_file(c, K_KERNEL, vm->kernel, false);
	check_file(c, K_INITRD, vm->initrd, false);
	for (i = 0; i < vm->ndisks; i++)
		check_file(c, K_DISK, vm->disks[i], false);
}

void
cfg_check_keys(struct vm_config *vm, enum cfg_scope scope,
    const char *prefix, const struct cfg_seen *seen, const char *file,
    int line, struct cfg_errors *errs)
{
	struct check_ctx	 c;

	c.vm = vm;
	c.scope = scope;
	c.prefix = prefix;
	c.seen = seen;
	c.file = file;
	c.line = line;
	c.errs = errs;
	check_topology(&c);
	if (scope == CFG_SCOPE_VM) {
		check_hypervisor_keys(&c);
		check_required(&c);
	}
	check_files(&c);
}
