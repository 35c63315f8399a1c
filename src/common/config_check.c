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
#include <stdbool.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "config_keys.h"
#include "file.h"
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
 * bhyve's rule (bhyverun.c, calc_topology): cpus, cores and threads
 * default to 1 and sockets to cpus; sockets x cores x threads must equal
 * cpus when cpus is given, and is cpus otherwise.  bhyve's default for
 * sockets would not match as soon as cores or threads is above 1, so once
 * any of sockets, cores and threads is given here, a missing sockets is
 * worked out (cpus / (cores x threads)), and the generated configuration
 * carries all four.  cpus alone is checked against the bhyve
 * configuration file by check_file_topology().
 */
static void
check_topology(const struct check_ctx *c)
{
	struct vm_config	*vm = c->vm;
	enum cfg_key_id		 cpu_key, big;
	int64_t			 sockets, cores, threads, product;

	if (given(c, K_CPUS) && given(c, K_NUMCPUS)) {
		check_error(c, K_NUMCPUS, "is the old name of cpus, which is "
		    "also given (line %d); keep one",
		    c->seen->node[K_CPUS]->line);
		return;
	}
	cpu_key = c->seen->node[K_NUMCPUS] != NULL ? K_NUMCPUS : K_CPUS;
	if (c->seen->node[K_CPUS] == NULL && c->seen->node[K_NUMCPUS] ==
	    NULL && c->seen->node[K_SOCKETS] == NULL &&
	    c->seen->node[K_CORES] == NULL && c->seen->node[K_THREADS] == NULL)
		return;		/* inherited: checked in vmstated.conf */
	if (c->seen->bad[K_CPUS] || c->seen->bad[K_NUMCPUS] ||
	    c->seen->bad[K_SOCKETS] || c->seen->bad[K_CORES] ||
	    c->seen->bad[K_THREADS])
		return;
	/* Written here: the topology of defaults{} does not mix in. */
	if (!given(c, K_CPUS) && !given(c, K_NUMCPUS))
		vm->cpus = 0;
	if (!given(c, K_SOCKETS))
		vm->sockets = 0;
	if (!given(c, K_CORES))
		vm->cores = 0;
	if (!given(c, K_THREADS))
		vm->threads = 0;
	if (vm->sockets == 0 && vm->cores == 0 && vm->threads == 0)
		return;
	cores = vm->cores != 0 ? vm->cores : 1;
	threads = vm->threads != 0 ? vm->threads : 1;
	if (vm->sockets != 0)
		sockets = vm->sockets;
	else if (vm->cpus == 0)
		sockets = 1;
	else if (vm->cpus % (cores * threads) != 0) {
		check_error(c, cpu_key, "%" PRId64 " virtual CPUs cannot be "
		    "split into sockets of %" PRId64 " cores x %" PRId64
		    " threads; make it a multiple of %" PRId64 ", or give "
		    "sockets", (int64_t)vm->cpus, cores, threads,
		    cores * threads);
		return;
	} else
		sockets = vm->cpus / (cores * threads);
	product = sockets * cores * threads;
	if (product > CFG_MAX_CPUS) {
		big = given(c, K_SOCKETS) ? K_SOCKETS : given(c, K_CORES) ?
		    K_CORES : K_THREADS;
		check_error(c, big, "sockets (%" PRId64 ") x cores (%" PRId64
		    ") x threads (%" PRId64 ") makes %" PRId64 " virtual "
		    "CPUs; at most %d are supported", sockets, cores, threads,
		    product, CFG_MAX_CPUS);
		return;
	}
	if (vm->cpus != 0 && vm->cpus != product) {
		check_error(c, cpu_key, "%" PRId64 " does not match sockets (%"
		    PRId64 ") x cores (%" PRId64 ") x threads (%" PRId64
		    ") = %" PRId64 "; bhyve refuses such a topology: correct "
		    "one of them, or leave %s out", (int64_t)vm->cpus, sockets,
		    cores,
		    threads, product, cfg_key_name(cpu_key));
		return;
	}
	/* Each at most CFG_MAX_CPUS: the product is. */
	vm->cpus = (int16_t)product;
	vm->sockets = (int16_t)sockets;
	vm->cores = (int16_t)cores;
	vm->threads = (int16_t)threads;
}

/* The topology keys of a bhyve configuration file; 0: not in it. */
struct file_topology {
	int64_t		 value[4];	/* cpus, sockets, cores, threads */
	int		 line[4];
};

static const char *const topology_keys[4] = {
	"cpus", "sockets", "cores", "threads"
};

/*
 * Read the topology keys of the bhyve configuration file the way bhyve -k
 * does (bhyverun.c, parse_simple_config_file): a line is key=value, '#'
 * starts a comment line, the last value of a key wins, an integer is
 * anything strtol(3) takes.  -1 when the file cannot be read, or holds a
 * value we cannot judge (a %(var) reference, no integer): bhyve then has
 * the last word.
 */
static int
read_file_topology(const char *path, struct file_topology *t)
{
	struct buf	 text;
	char		 msg[256], line[256], *end, *eq;
	const char	*p, *nl, *stop;
	long long	 v;
	size_t		 len;
	int		 lineno = 0, i, rc = 0;

	memset(t, 0, sizeof(*t));
	buf_init(&text);
	if (file_read(path, FILE_REGULAR, 1024 * 1024, &text, NULL, msg,
	    sizeof(msg)) == -1) {
		buf_free(&text);
		return -1;
	}
	stop = text.data + text.len;
	for (p = text.data; rc == 0 && p != NULL && p < stop; p = nl) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(stop - p))) == NULL)
			break;	/* no newline: as fgets, never taken whole */
		len = (size_t)(nl++ - p);
		/* A long line is skipped whole: no topology key is long. */
		if (len + 1 >= sizeof(line) || *p == '#' ||
		    memchr(p, '\0', len) != NULL)
			continue;
		memcpy(line, p, len);
		line[len] = '\0';
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		for (i = 0; i < 4; i++) {
			if (strcmp(line, topology_keys[i]) != 0)
				continue;
			errno = 0;
			v = strtoll(eq + 1, &end, 0);
			if (end == eq + 1 || *end != '\0' || errno != 0 ||
			    v < 1 || v > UINT16_MAX)
				rc = -1;
			t->value[i] = v;
			t->line[i] = lineno;
		}
	}
	buf_free(&text);
	return rc;
}

/* "2, line 3" for a value from the file, "1" for bhyve's default. */
static void
describe(char *buf, size_t size, int64_t value, int line)
{
	if (line != 0)
		snprintf(buf, size, "%" PRId64 ", line %d", value, line);
	else
		snprintf(buf, size, "%" PRId64 ", bhyve's default", value);
}

/*
 * When the VM's config gives no sockets, cores or threads, bhyve takes
 * them from the configuration file, with its own defaults (sockets: cpus),
 * and checks them against the VM's cpus: refuse here what bhyve would.
 */
static void
check_file_topology(const struct check_ctx *c)
{
	const struct vm_config	*vm = c->vm;
	struct file_topology	 t;
	int64_t			 cpus, v[4];
	const char		*file;
	char			 d[4][48], path[PATH_MAX];
	int			 i;

	file = cfg_configfile(vm, path, sizeof(path));
	if (vm->sockets != 0 || file == NULL ||
	    read_file_topology(file, &t) == -1)
		return;
	cpus = vm->cpus != 0 ? vm->cpus : t.value[0];
	if (cpus == 0)
		return;		/* bhyve makes cpus the product */
	v[1] = t.value[1] != 0 ? t.value[1] : cpus;
	v[2] = t.value[2] != 0 ? t.value[2] : 1;
	v[3] = t.value[3] != 0 ? t.value[3] : 1;
	if (v[1] * v[2] * v[3] == cpus)
		return;
	for (i = 1; i < 4; i++)
		describe(d[i], sizeof(d[i]), v[i], t.line[i]);
	if (vm->cpus == 0)
		check_error(c, K_CONFIGFILE, "%s line %d: cpus=%" PRId64 " does "
		    "not match sockets (%s) x cores (%s) x threads (%s) = %"
		    PRId64 "; bhyve refuses such a topology: correct that "
		    "file", file, t.line[0], cpus, d[1], d[2], d[3],
		    v[1] * v[2] * v[3]);
	else
		check_error(c, c->seen->node[K_NUMCPUS] != NULL ? K_NUMCPUS :
		    K_CPUS, "%" PRId64 " does not match the topology of %s: "
		    "sockets (%s) x cores (%s) x threads (%s) = %" PRId64 "; "
		    "bhyve refuses such a topology: give sockets, cores and "
		    "threads here as well, or correct that file", cpus,
		    file, d[1], d[2], d[3], v[1] * v[2] * v[3]);
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

	if (vm->hypervisor == HV_BHYVE && vm->configfile_stored == NULL &&
	    !vm->configfile_in_dir &&
	    !c->seen->bad[K_CONFIGFILE])
		check_error(c, K_CONFIGFILE, "missing: a bhyve VM needs the "
		    "bhyve configuration file it starts from; add configfile "
		    "= \"/path/to/bhyve_config\";");
	if (vm->hypervisor != HV_QEMU || cfg_qemu(vm)->kernel != NULL)
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
 * 0 when path is a directory that can be opened; else -1 with a sentence
 * in msg.
 */
static int
check_directory(const char *path, char *msg, size_t size)
{
	struct stat	 st;

	if (stat(path, &st) == -1) {
		snprintf(msg, size, "cannot read %s: %s; correct the path or "
		    "create it", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(msg, size, "%s is not a directory", path);
		return -1;
	}
	return 0;
}

/*
 * A file the VM's key names must exist and be of a kind that cannot hold
 * the daemon or the hypervisor (a regular file; a device for a disk): a
 * FIFO would block whoever opens it, /dev/zero never ends.  The check is
 * made again before each start, since files change.  Unless it is a disk
 * (the guest's data, never run or parsed by the host), it must also be
 * trusted: root runs hooks from scriptpath and hands the others to the
 * hypervisor.
 */
static void
check_file(const struct check_ctx *c, enum cfg_key_id id, const char *path,
    int allow)
{
	char	 msg[PATH_MAX + 256], why[TRUST_ERR_MAX];
	int	 r;

	if (!given(c, id) || path == NULL)
		return;
	if ((r = file_check(path, allow, msg, sizeof(msg))) == -1)
		check_error(c, id, "cannot read %s: %s; correct the path or "
		    "create it", path, msg);
	else if (r == -2)
		check_error(c, id, "cannot use %s: %s", path, msg);
	else if (id != K_DISK && trust_path(path, why, sizeof(why)) == -1)
		check_error(c, id, "%s is not trusted: %s", path, why);
}

static void
check_dir(const struct check_ctx *c, enum cfg_key_id id, const char *path)
{
	char	 msg[PATH_MAX + 256], why[TRUST_ERR_MAX];

	if (!given(c, id) || path == NULL)
		return;
	if (check_directory(path, msg, sizeof(msg)) == -1)
		check_error(c, id, "%s", msg);
	else if (trust_path(path, why, sizeof(why)) == -1)
		check_error(c, id, "%s is not trusted: %s", path, why);
}

static void
check_files(const struct check_ctx *c)
{
	const struct vm_config	*vm = c->vm;
	const struct cfg_qemu	*q = cfg_qemu(vm);
	char			 path[PATH_MAX];
	size_t			 i;

	check_dir(c, K_SCRIPTPATH, vm->scriptpath);
	check_file(c, K_BOOTROM, cfg_extra(vm)->bootrom, FILE_REGULAR);
	/* Keys of the other hypervisor were refused already. */
	if (vm->hypervisor == HV_BHYVE && c->scope == CFG_SCOPE_VM) {
		check_file(c, K_CONFIGFILE, cfg_configfile(vm, path,
		    sizeof(path)), FILE_REGULAR);
		return;
	}
	check_file(c, K_KERNEL, q->kernel, FILE_REGULAR);
	check_file(c, K_INITRD, q->initrd, FILE_REGULAR);
	for (i = 0; i < q->ndisks; i++)
		check_file(c, K_DISK, q->disks[i], FILE_REGULAR |
		    FILE_DEVICE);
}

void
cfg_check_keys(struct vm_config *vm, enum cfg_scope scope,
    const char *prefix, const struct cfg_seen *seen, const char *file,
    int line, struct cfg_errors *errs)
{
	struct check_ctx	 c;
	size_t			 before;

	c.vm = vm;
	c.scope = scope;
	c.prefix = prefix;
	c.seen = seen;
	c.file = file;
	c.line = line;
	c.errs = errs;
	before = errs->count;
	check_topology(&c);
	if (scope == CFG_SCOPE_VM && vm->hypervisor == HV_BHYVE &&
	    errs->count == before && !seen->bad[K_CONFIGFILE])
		check_file_topology(&c);
	if (scope == CFG_SCOPE_VM) {
		check_hypervisor_keys(&c);
		check_required(&c);
	}
	check_files(&c);
}
