/*
 * config_keys.c: every key of a VM's config file, once.
 *
 * One table names each key and the function that turns its UCL value into
 * a typed field of struct vm_config, through the value readers of
 * config_values.c.  The checks that need several keys (CPU topology,
 * required keys, files that must be readable) come after all keys are
 * in: config_check.c.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "config_keys.h"
#include "ucl.h"

#define MAX_RESTARTS		1000000
#define MAX_SECONDS		(365LL * 24 * 3600)
#define MAX_PROBE_FAILURES	1000

/*
 * struct vm_config keeps each number in as few bytes as its bound here
 * allows (10,000 VMs and more): a bound raised past its field's type
 * must widen the field.
 */
CFG_FITS(maxrestart, MAX_RESTARTS);
CFG_FITS(maxrestarttime, MAX_SECONDS);
CFG_FITS(stoptimeout, MAX_SECONDS);
CFG_FITS(hooktimeout, MAX_SECONDS);
CFG_FITS(autostart_delay, MAX_SECONDS);
CFG_FITS(probe_interval, MAX_SECONDS);
CFG_FITS(probe_timeout, MAX_SECONDS);
CFG_FITS(probe_failures, MAX_PROBE_FAILURES);
CFG_FITS(cpus, CFG_MAX_CPUS);
CFG_FITS(sockets, CFG_MAX_CPUS);
CFG_FITS(cores, CFG_MAX_CPUS);
CFG_FITS(threads, CFG_MAX_CPUS);
CFG_FITS_IN(struct cfg_qemu, ndisks, CFG_MAX_DISKS);
CFG_FITS_IN(struct cfg_qemu, nqemu_args, CFG_MAX_QEMU_ARGS);
CFG_FITS(ndepends, CFG_MAX_DEPENDS);

#define KEY_REPEATABLE		0x1	/* given several times: all count */
#define KEY_NOT_DEFAULT		0x2	/* no default in vmstated.conf */
#define KEY_BHYVE		0x4	/* means something to bhyve only */
#define KEY_QEMU		0x8	/* means something to qemu only */

typedef void	(*key_apply_fn)(struct key_ctx *);

struct vm_key {
	enum cfg_key_id	 id;
	const char	*name;
	key_apply_fn	 apply;
	int		 flags;
};

static void	apply_name(struct key_ctx *);
static void	apply_configfile(struct key_ctx *);
static void	apply_scriptpath(struct key_ctx *);
static void	apply_os(struct key_ctx *);
static void	apply_osversion(struct key_ctx *);
static void	apply_owner(struct key_ctx *);
static void	apply_group(struct key_ctx *);
static void	apply_description(struct key_ctx *);
static void	apply_maxrestart(struct key_ctx *);
static void	apply_maxrestarttime(struct key_ctx *);
static void	apply_bootrom(struct key_ctx *);
static void	apply_generate_acpi_tables(struct key_ctx *);
static void	apply_vmexit_on_halt(struct key_ctx *);
static void	apply_memory(struct key_ctx *);
static void	apply_cpus(struct key_ctx *);
static void	apply_sockets(struct key_ctx *);
static void	apply_cores(struct key_ctx *);
static void	apply_threads(struct key_ctx *);
static void	apply_hypervisor(struct key_ctx *);
static void	apply_autostart(struct key_ctx *);
static void	apply_stoptimeout(struct key_ctx *);
static void	apply_hooktimeout(struct key_ctx *);
static void	apply_hostbridge(struct key_ctx *);
static void	apply_wire_memory(struct key_ctx *);
static void	apply_consoles(struct key_ctx *);
static void	apply_kernel(struct key_ctx *);
static void	apply_initrd(struct key_ctx *);
static void	apply_append(struct key_ctx *);
static void	apply_disk(struct key_ctx *);
static void	apply_qemu_args(struct key_ctx *);
static void	apply_qemu_binary(struct key_ctx *);
static void	list_add(char ***, uint16_t *, char *);
static bool	list_room(struct key_ctx *, size_t, size_t, const char *);
static void	apply_watchdog(struct key_ctx *);
static void	apply_depends(struct key_ctx *);
static void	apply_autostart_delay(struct key_ctx *);
static void	apply_probe_interval(struct key_ctx *);
static void	apply_probe_timeout(struct key_ctx *);
static void	apply_probe_failures(struct key_ctx *);

/* Indexed by enum cfg_key_id. */
static const struct vm_key vm_keys[K__COUNT] = {
	{ K_NAME, "name", apply_name, KEY_NOT_DEFAULT },
	{ K_CONFIGFILE, "configfile", apply_configfile,
	    KEY_NOT_DEFAULT | KEY_BHYVE },
	{ K_SCRIPTPATH, "scriptpath", apply_scriptpath, 0 },
	{ K_OS, "os", apply_os, 0 },
	{ K_OSVERSION, "osversion", apply_osversion, 0 },
	{ K_OWNER, "owner", apply_owner, 0 },
	{ K_GROUP, "group", apply_group, 0 },
	{ K_DESCRIPTION, "description", apply_description, 0 },
	{ K_MAXRESTART, "maxrestart", apply_maxrestart, 0 },
	{ K_MAXRESTARTTIME, "maxrestarttime", apply_maxrestarttime, 0 },
	{ K_BOOTROM, "bootrom", apply_bootrom, 0 },
	{ K_GENERATE_ACPI_TABLES, "generate_acpi_tables",
	    apply_generate_acpi_tables, 0 },
	{ K_VMEXIT_ON_HALT, "vmexit_on_halt", apply_vmexit_on_halt,
	    KEY_BHYVE },
	{ K_MEMORY, "memory", apply_memory, 0 },
	{ K_CPUS, "cpus", apply_cpus, 0 },
	{ K_NUMCPUS, "numcpus", apply_cpus, 0 },
	{ K_SOCKETS, "sockets", apply_sockets, 0 },
	{ K_CORES, "cores", apply_cores, 0 },
	{ K_THREADS, "threads", apply_threads, 0 },
	{ K_HYPERVISOR, "hypervisor", apply_hypervisor, 0 },
	{ K_AUTOSTART, "autostart", apply_autostart, 0 },
	{ K_STOPTIMEOUT, "stoptimeout", apply_stoptimeout, 0 },
	{ K_HOOKTIMEOUT, "hooktimeout", apply_hooktimeout, 0 },
	{ K_HOSTBRIDGE, "hostbridge", apply_hostbridge, KEY_BHYVE },
	{ K_WIRE_MEMORY, "wire_memory", apply_wire_memory, 0 },
	{ K_CONSOLES, "consoles", apply_consoles, KEY_BHYVE },
	{ K_KERNEL, "kernel", apply_kernel, KEY_QEMU },
	{ K_INITRD, "initrd", apply_initrd, KEY_QEMU },
	{ K_APPEND, "append", apply_append, KEY_QEMU },
	{ K_DISK, "disk", apply_disk, KEY_QEMU | KEY_REPEATABLE },
	{ K_QEMU_ARGS, "qemu_args", apply_qemu_args,
	    KEY_QEMU | KEY_REPEATABLE },
	{ K_QEMU_BINARY, "qemu_binary", apply_qemu_binary, KEY_QEMU },
	{ K_WATCHDOG, "watchdog", apply_watchdog, KEY_QEMU },
	{ K_DEPENDS, "depends", apply_depends, KEY_NOT_DEFAULT },
	{ K_AUTOSTART_DELAY, "autostart_delay", apply_autostart_delay, 0 },
	{ K_PROBE_INTERVAL, "probe_interval", apply_probe_interval, 0 },
	{ K_PROBE_TIMEOUT, "probe_timeout", apply_probe_timeout, 0 },
	{ K_PROBE_FAILURES, "probe_failures", apply_probe_failures, 0 },
};


bool
cfg_is_vm_key(const char *key)
{
	size_t	 i;

	for (i = 0; i < K__COUNT; i++)
		if (strcasecmp(vm_keys[i].name, key) == 0)
			return true;
	return false;
}

const char *
cfg_key_name(enum cfg_key_id id)
{
	return vm_keys[id].name;
}

int
cfg_key_only_for(enum cfg_key_id id)
{
	if (vm_keys[id].flags & KEY_BHYVE)
		return HV_BHYVE;
	if (vm_keys[id].flags & KEY_QEMU)
		return HV_QEMU;
	return -1;
}

static void
set_string(char **field, const char *value)
{
	free(*field);
	*field = value != NULL ? xstrdup(value) : NULL;
}

/* Each key's function: parse, then store only when the value is good. */

static void
apply_name(struct key_ctx *k)
{
	const char	*s;

	if ((s = cfg_get_text(k, k->node, "a VM name", CFG_MAX_NAME)) != NULL)
		set_string(&k->vm->name, s);
}

static void
apply_path_key(struct key_ctx *k, char **field)
{
	char	*p;

	if ((p = cfg_get_path(k, k->node)) != NULL) {
		free(*field);
		*field = p;
	}
}

static void
apply_configfile(struct key_ctx *k)
{
	apply_path_key(k, &k->vm->configfile_stored);
}

static void
apply_scriptpath(struct key_ctx *k)
{
	apply_path_key(k, &k->vm->scriptpath);
}

static void
apply_bootrom(struct key_ctx *k)
{
	apply_path_key(k, &cfg_extra_w(k->vm)->bootrom);
}

static void
apply_kernel(struct key_ctx *k)
{
	apply_path_key(k, &cfg_qemu_w(k->vm)->kernel);
}

static void
apply_initrd(struct key_ctx *k)
{
	apply_path_key(k, &cfg_qemu_w(k->vm)->initrd);
}

static void
apply_string_key(struct key_ctx *k, char **field, size_t max)
{
	const char	*s;

	if ((s = cfg_get_text(k, k->node, "a string", max)) != NULL)
		set_string(field, s);
}

static void
apply_os(struct key_ctx *k)
{
	apply_string_key(k, &cfg_extra_w(k->vm)->os, CFG_MAX_WORD);
}

static void
apply_osversion(struct key_ctx *k)
{
	apply_string_key(k, &cfg_extra_w(k->vm)->osversion, CFG_MAX_WORD);
}

static void
apply_description(struct key_ctx *k)
{
	apply_string_key(k, &cfg_extra_w(k->vm)->description,
	    CFG_MAX_DESCRIPTION);
}

static void
apply_append(struct key_ctx *k)
{
	apply_string_key(k, &cfg_qemu_w(k->vm)->append, CFG_MAX_ARG);
}

/* A command name (found on PATH) or a path (made absolute). */
static void
apply_qemu_binary(struct key_ctx *k)
{
	struct cfg_qemu	*q;
	const char	*s;
	char		*p;

	if ((s = cfg_get_text(k, k->node, "a program name or path",
	    CFG_MAX_PATH)) == NULL)
		return;
	if (*s == '\0') {
		cfg_key_error(k, "expected a program name or path, got an "
		    "empty string");
		return;
	}
	if (strchr(s, '/') == NULL)
		p = xstrdup(s);
	else if ((p = cfg_get_path(k, k->node)) == NULL)
		return;
	q = cfg_qemu_w(k->vm);
	free(q->qemu_binary);
	q->qemu_binary = p;
}

/* A user name or a numeric uid that exists on this host. */
static void
apply_owner(struct key_ctx *k)
{
	const struct passwd	*pw;
	const char		*s;
	int64_t			 id;

	if ((s = cfg_get_text(k, k->node, "a user name", CFG_MAX_USER)) == NULL)
		return;
	if ((pw = getpwnam(s)) == NULL && cfg_parse_digits(s, &id) &&
	    id <= (int64_t)UINT32_MAX)
		pw = getpwuid((uid_t)id);
	if (pw == NULL) {
		cfg_key_error(k, "no such user \"%s\" on this host; create the "
		    "user or correct the name", s);
		return;
	}
	set_string(&k->vm->owner, pw->pw_name);
	k->vm->owner_uid = pw->pw_uid;
}

static void
apply_group(struct key_ctx *k)
{
	const struct group	*gr;

	if ((gr = cfg_get_group(k)) == NULL)
		return;
	set_string(&k->vm->group, gr->gr_name);
	k->vm->group_gid = gr->gr_gid;
}

static void
apply_maxrestart(struct key_ctx *k)
{
	int64_t	 v;

	if (cfg_get_int(k, "a number of restarts", 0, MAX_RESTARTS, &v) == 0)
		k->vm->maxrestart = (int32_t)v;
}

static void
apply_maxrestarttime(struct key_ctx *k)
{
	int64_t	 v;

	if (cfg_get_seconds(k, 1, MAX_SECONDS, &v) == 0)
		k->vm->maxrestarttime = (int32_t)v;
}

static void
apply_stoptimeout(struct key_ctx *k)
{
	int64_t	 v;

	if (cfg_get_seconds(k, 1, MAX_SECONDS, &v) == 0)
		k->vm->stoptimeout = (int32_t)v;
}

static void
apply_hooktimeout(struct key_ctx *k)
{
	int64_t	 v;

	if (cfg_get_seconds(k, 0, MAX_SECONDS, &v) == 0)
		k->vm->hooktimeout = (int32_t)v;
}

static void
apply_flag(struct key_ctx *k, int8_t *field)
{
	bool	 b;

	if (cfg_get_bool(k, &b) == 0)
		*field = b ? CFG_YES : CFG_NO;
}

static void
apply_generate_acpi_tables(struct key_ctx *k)
{
	apply_flag(k, &k->vm->generate_acpi_tables);
}

static void
apply_vmexit_on_halt(struct key_ctx *k)
{
	apply_flag(k, &k->vm->vmexit_on_halt);
}

static void
apply_wire_memory(struct key_ctx *k)
{
	apply_flag(k, &k->vm->wire_memory);
}

static void
apply_autostart(struct key_ctx *k)
{
	bool	 b;

	if (cfg_get_bool(k, &b) == 0)
		k->vm->autostart = b;
}

static void
apply_watchdog(struct key_ctx *k)
{
	bool	 b;

	if (cfg_get_bool(k, &b) == 0)
		cfg_qemu_w(k->vm)->watchdog = b;
}

static void
apply_autostart_delay(struct key_ctx *k)
{
	int64_t	 v;

	if (cfg_get_seconds(k, 0, MAX_SECONDS, &v) == 0)
		k->vm->autostart_delay = (int32_t)v;
}

static void
apply_probe_interval(struct key_ctx *k)
{
	int64_t	 v;

	if (cfg_get_seconds(k, 1, MAX_SECONDS, &v) == 0)
		k->vm->probe_interval = (int32_t)v;
}

static void
apply_probe_timeout(struct key_ctx *k)
{
	int64_t	 v;

	if (cfg_get_seconds(k, 1, MAX_SECONDS, &v) == 0)
		k->vm->probe_timeout = (int32_t)v;
}

static void
apply_probe_failures(struct key_ctx *k)
{
	int64_t	 v;

	if (cfg_get_int(k, "a number of failed probes in a row", 1,
	    MAX_PROBE_FAILURES, &v) == 0)
		k->vm->probe_failures = (int16_t)v;
}

/* depends: a VM name or a list of them (config_deps.c checks them
 * against the other VMs). */
static void
apply_depends(struct key_ctx *k)
{
	const struct ucl_node	*e, *first;
	const char		*s;

	k->vm->depends_line = k->node->line;
	first = k->node->type == UCL_ARRAY ? k->node->children : k->node;
	for (e = first; e != NULL; e = k->node->type == UCL_ARRAY ?
	    e->next : NULL) {
		if (!list_room(k, k->vm->ndepends, CFG_MAX_DEPENDS,
		    "dependencies"))
			return;
		if ((s = cfg_get_text(k, e, "a VM name or a list of them",
		    CFG_MAX_NAME)) == NULL)
			continue;
		if (!cfg_name_ok(s)) {
			cfg_key_error(k, "\"%s\" is not a valid VM name",
			    s);
			continue;
		}
		list_add(&k->vm->depends, &k->vm->ndepends, xstrdup(s));
	}
}

static void
apply_memory(struct key_ctx *k)
{
	int64_t	 mb;

	if (cfg_get_memory(k, &mb) == 0)
		k->vm->memory_mb = (int32_t)mb;	/* at most 16T: 2^24 */
}

/* cpus, and numcpus, its name in the original implementation. */
static void
apply_cpus(struct key_ctx *k)
{
	int64_t	 v;

	if (cfg_get_int(k, "a number of virtual CPUs", 1, CFG_MAX_CPUS,
	    &v) == 0)
		k->vm->cpus = (int16_t)v;
}

static void
apply_sockets(struct key_ctx *k)
{
	int64_t	 v;

	if (cfg_get_int(k, "a number of CPU sockets", 1, CFG_MAX_CPUS,
	    &v) == 0)
		k->vm->sockets = (int16_t)v;
}

static void
apply_cores(struct key_ctx *k)
{
	int64_t	 v;

	if (cfg_get_int(k, "a number of cores per socket", 1, CFG_MAX_CPUS,
	    &v) == 0)
		k->vm->cores = (int16_t)v;
}

static void
apply_threads(struct key_ctx *k)
{
	int64_t	 v;

	if (cfg_get_int(k, "a number of threads per core", 1, CFG_MAX_CPUS,
	    &v) == 0)
		k->vm->threads = (int16_t)v;
}

static void
apply_hypervisor(struct key_ctx *k)
{
	const struct ucl_node	*n = k->node;

	if (n->type == UCL_STRING && strcasecmp(n->v.string.ptr, "bhyve") == 0)
		k->vm->hypervisor = HV_BHYVE;
	else if (n->type == UCL_STRING &&
	    strcasecmp(n->v.string.ptr, "qemu") == 0)
		k->vm->hypervisor = HV_QEMU;
	else
		cfg_type_error(k, "bhyve or qemu");
}

/*
 * The original implementation's host bridge: "hostbridge" or
 * "amd_hostbridge" (also "amd"); yes means "hostbridge", no leaves the
 * bhyve configuration file's own setting alone.
 */
static void
apply_hostbridge(struct key_ctx *k)
{
	const struct ucl_node	*n = k->node;
	char			**hb = &cfg_extra_w(k->vm)->hostbridge;
	const char		*s;

	if (n->type == UCL_BOOLEAN) {
		set_string(hb, n->v.boolean ? "hostbridge" :
		    NULL);
		return;
	}
	if (n->type == UCL_STRING) {
		s = n->v.string.ptr;
		if (strcasecmp(s, "hostbridge") == 0 ||
		    strcasecmp(s, "yes") == 0) {
			set_string(hb, "hostbridge");
			return;
		}
		if (strcasecmp(s, "amd_hostbridge") == 0 ||
		    strcasecmp(s, "amd") == 0) {
			set_string(hb, "amd_hostbridge");
			return;
		}
		if (strcasecmp(s, "no") == 0) {
			set_string(hb, NULL);
			return;
		}
	}
	cfg_type_error(k, "hostbridge, amd_hostbridge, yes or no");
}

/* Append one string to a NULL-terminated-free array with a count. */
static void
list_add(char ***list, uint16_t *n, char *s)
{
	*list = xrealloc(*list, (*n + 1) * sizeof(**list));
	(*list)[(*n)++] = s;
}

static void
list_clear(char ***list, uint16_t *n)
{
	size_t	 i;

	for (i = 0; i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

/* Room for one more of a list of at most max?  An error if not, once. */
static bool
list_room(struct key_ctx *k, size_t n, size_t max, const char *what)
{
	if (n < max)
		return true;
	cfg_key_error(k, "more than %zu %s; at most %zu are allowed", max,
	    what, max);
	return false;
}

static void	sub_name(struct key_ctx *, const struct key_ctx *,
		    const char *);

static void
disk_add(struct vm_config *vm, char *path, enum cfg_disk_format format)
{
	struct cfg_qemu	*q = cfg_qemu_w(vm);

	q->disk_formats = xrealloc(q->disk_formats, (q->ndisks + 1) *
	    sizeof(*q->disk_formats));
	q->disk_formats[q->ndisks] = format;
	list_add(&q->disks, &q->ndisks, path);
}

static void
disk_clear(struct vm_config *vm)
{
	struct cfg_qemu	*q = vm->qemu;

	if (q == NULL)
		return;
	free(q->disk_formats);
	q->disk_formats = NULL;
	list_clear(&q->disks, &q->ndisks);
}

/* format = raw | qcow2 of a disk section; 0 or -1 after an error. */
static int
disk_format(struct key_ctx *k, enum cfg_disk_format *format)
{
	const char	*s;

	if ((s = cfg_get_text(k, k->node, "raw or qcow2", 8)) == NULL)
		return -1;
	if (strcasecmp(s, "raw") == 0)
		*format = CFG_DISK_RAW;
	else if (strcasecmp(s, "qcow2") == 0)
		*format = CFG_DISK_QCOW2;
	else {
		cfg_type_error(k, "raw or qcow2 (vmstated never guesses a "
		    "disk's format from its contents)");
		return -1;
	}
	return 0;
}

/* One disk: a path (raw), or { path = "..."; format = qcow2; }. */
static void
apply_one_disk(struct key_ctx *k, const struct ucl_node *n)
{
	static const char *const known[] = { "path", "format", NULL };
	const struct ucl_node	*m, *path_node = NULL, *format_node = NULL;
	enum cfg_disk_format	 format = CFG_DISK_RAW;
	struct key_ctx		 sub;
	char			*p;
	bool			 bad = false;

	if (n->type != UCL_OBJECT) {
		if ((p = cfg_get_path(k, n)) != NULL)
			disk_add(k->vm, p, CFG_DISK_RAW);
		return;
	}
	for (m = n->children; m != NULL; m = m->next) {
		sub = *k;
		sub.node = m;
		sub_name(&sub, k, m->key);
		if (!cfg_key_is(m, "path") && !cfg_key_is(m, "format")) {
			cfg_unknown_key(k->errs, m, k->name, known, "a disk "
			    "has a path and a format (raw or qcow2)");
			bad = true;
			continue;
		}
		if ((cfg_key_is(m, "path") ? path_node : format_node) !=
		    NULL) {
			cfg_key_error(&sub, "given twice; keep one");
			bad = true;
			continue;
		}
		if (cfg_key_is(m, "path"))
			path_node = m;
		else {
			format_node = m;
			if (disk_format(&sub, &format) == -1)
				bad = true;
		}
	}
	sub = *k;
	sub.node = n;
	if (path_node == NULL) {
		cfg_key_error(&sub, "a disk section needs its path: { path = "
		    "\"/path/to/disk.qcow2\"; format = qcow2; }");
		return;
	}
	sub.node = path_node;
	sub_name(&sub, k, "path");
	if ((p = cfg_get_path(&sub, path_node)) == NULL || bad) {
		free(p);
		return;
	}
	disk_add(k->vm, p, format);
}

/*
 * disk: a disk or a list of disks; repeated keys add more.  A disk is a
 * path (a raw image) or a section { path = ...; format = raw|qcow2; }.
 */
static void
apply_disk(struct key_ctx *k)
{
	const struct ucl_node	*e;

	if (k->node->type == UCL_ARRAY) {
		for (e = k->node->children; e != NULL; e = e->next) {
			if (!list_room(k, cfg_qemu(k->vm)->ndisks,
			    CFG_MAX_DISKS, "disks"))
				return;
			apply_one_disk(k, e);
		}
		return;
	}
	if (!list_room(k, cfg_qemu(k->vm)->ndisks, CFG_MAX_DISKS, "disks"))
		return;
	apply_one_disk(k, k->node);
}

/*
 * qemu_args: a list of arguments, each passed as it is; or a string, split
 * at white space.
 */
static void
apply_qemu_args(struct key_ctx *k)
{
	const struct ucl_node	*e;
	struct cfg_qemu		*q;
	const char		*s, *end;

	if (k->node->type == UCL_ARRAY) {
		for (e = k->node->children; e != NULL; e = e->next) {
			if (!list_room(k, cfg_qemu(k->vm)->nqemu_args,
			    CFG_MAX_QEMU_ARGS, "qemu_args"))
				return;
			s = cfg_get_text(k, e, "a list of strings", CFG_MAX_ARG);
			if (s != NULL) {
				q = cfg_qemu_w(k->vm);
				list_add(&q->qemu_args, &q->nqemu_args,
				    xstrdup(s));
			}
		}
		return;
	}
	if ((s = cfg_get_text(k, k->node, "a list of strings",
	    CFG_MAX_ARG)) == NULL)
		return;
	for (;;) {
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		if (!list_room(k, cfg_qemu(k->vm)->nqemu_args,
		    CFG_MAX_QEMU_ARGS, "qemu_args"))
			return;
		for (end = s; *end != '\0' && !isspace((unsigned char)*end);
		    end++)
			;
		q = cfg_qemu_w(k->vm);
		list_add(&q->qemu_args, &q->nqemu_args,
		    xstrndup(s, (size_t)(end - s)));
		s = end;
	}
}

/* sub's key name: the parent's, a dot, child ("consoles.com1"). */
static void
sub_name(struct key_ctx *sub, const struct key_ctx *parent,
    const char *child)
{
	int	 n;

	n = snprintf(sub->name, sizeof(sub->name), "%s.%s", parent->name,
	    child);
	if (n < 0 || (size_t)n >= sizeof(sub->name))
		sub->name[sizeof(sub->name) - 1] = '\0';
}

/* One com port: { backend = "/dev/nmdm0A"; enabled = yes; } or a string. */
static void
apply_console(struct key_ctx *k, struct cfg_console *con)
{
	static const char *const known[] = { "backend", "enabled", NULL };
	const struct ucl_node	*n = k->node, *m;
	const char		*s;
	bool			 seen_backend = false, seen_enabled = false;
	struct key_ctx		 sub;

	con->present = true;
	con->enabled = true;
	if (n->type != UCL_OBJECT) {
		if ((s = cfg_get_text(k, n, "a device such as \"/dev/nmdm0A\", "
		    "or a section { backend = ...; enabled = yes; }",
		    CFG_MAX_PATH)) != NULL)
			set_string(&con->backend, s);
		return;
	}
	for (m = n->children; m != NULL; m = m->next) {
		sub = *k;
		sub.node = m;
		sub_name(&sub, k, m->key);
		if (cfg_key_is(m, "backend") || cfg_key_is(m, "enabled")) {
			bool *seen = cfg_key_is(m, "backend") ?
			    &seen_backend : &seen_enabled;
			if (*seen) {
				cfg_key_error(&sub, "given twice; keep one");
				continue;
			}
			*seen = true;
		}
		if (cfg_key_is(m, "backend")) {
			if ((s = cfg_get_text(&sub, m, "a device such as "
			    "\"/dev/nmdm0A\" or \"stdio\"", CFG_MAX_PATH)) != NULL)
				set_string(&con->backend, s);
		} else if (cfg_key_is(m, "enabled"))
			(void)cfg_get_bool(&sub, &con->enabled);
		else
			cfg_unknown_key(k->errs, m, k->name, known, NULL);
	}
	if (con->enabled && (con->backend == NULL || *con->backend == '\0'))
		cfg_key_error(k, "no backend: give the device, e.g. backend = "
		    "\"/dev/nmdm0A\";");
}

/* consoles { com1 { ... } ... }: replaces any consoles of defaults{}. */
static void
apply_consoles(struct key_ctx *k)
{
	static const char *const known[] = { "com1", "com2", "com3", "com4",
	    NULL };
	const struct ucl_node	*m;
	struct key_ctx		 sub;
	int			 i, port;
	bool			 seen[CFG_MAX_CONSOLES] = { false };

	if (k->node->type != UCL_OBJECT) {
		cfg_type_error(k, "a section such as consoles { com1 { "
		    "backend = \"/dev/nmdm0A\"; enabled = yes; } }");
		return;
	}
	if (!cfg_consoles_given(k->vm))
		k->vm->consoles = xcalloc(CFG_MAX_CONSOLES,
		    sizeof(*k->vm->consoles));
	for (i = 0; i < CFG_MAX_CONSOLES; i++) {
		free(k->vm->consoles[i].backend);
		memset(&k->vm->consoles[i], 0, sizeof(k->vm->consoles[i]));
	}
	for (m = k->node->children; m != NULL; m = m->next) {
		port = -1;
		for (i = 0; i < CFG_MAX_CONSOLES; i++)
			if (cfg_key_is(m, known[i]))
				port = i;
		if (port < 0) {
			cfg_unknown_key(k->errs, m, k->name, known,
			    "bhyve has the ports com1 to com4");
			continue;
		}
		sub = *k;
		sub.node = m;
		sub_name(&sub, k, known[port]);
		if (seen[port]) {
			cfg_key_error(&sub, "given twice; keep one");
			continue;
		}
		seen[port] = true;
		apply_console(&sub, &k->vm->consoles[port]);
	}
}

/* An unknown key in a VM's config or in defaults{}: say what to do. */
static void
unknown_vm_key(struct cfg_errors *errs, const struct ucl_node *m,
    enum cfg_scope scope)
{
	const char	*names[K__COUNT + 1];
	size_t		 i;

	for (i = 0; cfg_daemon_keys[i] != NULL; i++) {
		if (scope == CFG_SCOPE_VM &&
		    cfg_key_is(m, cfg_daemon_keys[i])) {
			cfg_error(errs, m->file, m->line, m->key,
			    "is a daemon setting, not a VM's: move it to "
			    "vmstated.conf in the configuration directory");
			return;
		}
	}
	for (i = 0; i < K__COUNT; i++)
		names[i] = vm_keys[i].name;
	names[K__COUNT] = NULL;
	cfg_unknown_key(errs, m, scope == CFG_SCOPE_DEFAULTS ? "defaults" :
	    NULL, names, "see vmstated.conf(5) for the keys a VM may have");
}

void
cfg_apply_keys(struct vm_config *vm, const struct ucl_node *obj,
    const char *basedir, enum cfg_scope scope, const char *prefix,
    struct cfg_seen *seen, struct cfg_errors *errs)
{
	const struct ucl_node	*m, *first;
	const struct vm_key	*key;
	struct key_ctx		 k;
	size_t			 i, before;

	for (m = obj->children; m != NULL; m = m->next) {
		key = NULL;
		for (i = 0; i < K__COUNT; i++)
			if (m->key != NULL && cfg_key_is(m, vm_keys[i].name))
				key = &vm_keys[i];
		if (key == NULL) {
			unknown_vm_key(errs, m, scope);
			continue;
		}
		memset(&k, 0, sizeof(k));
		k.vm = vm;
		k.node = m;
		k.basedir = basedir;
		k.scope = scope;
		k.errs = errs;
		snprintf(k.name, sizeof(k.name), "%s%s", prefix, key->name);
		if (scope == CFG_SCOPE_DEFAULTS &&
		    (key->flags & KEY_NOT_DEFAULT)) {
			cfg_key_error(&k, "cannot have a default: each VM "
			    "gives its own; remove it from defaults { }");
			continue;
		}
		if ((first = seen->node[key->id]) != NULL &&
		    !(key->flags & KEY_REPEATABLE)) {
			if (strcmp(first->file, m->file) == 0)
				cfg_key_error(&k, "given twice (first on "
				    "line %d); keep one", first->line);
			else
				cfg_key_error(&k, "given twice (first in "
				    "%s:%d); keep one", first->file,
				    first->line);
			continue;
		}
		/* A VM's own list replaces the list of defaults{}. */
		if (first == NULL && key->id == K_DISK)
			disk_clear(vm);
		if (first == NULL && key->id == K_QEMU_ARGS &&
		    vm->qemu != NULL)
			list_clear(&vm->qemu->qemu_args,
			    &vm->qemu->nqemu_args);
		if (first == NULL)
			seen->node[key->id] = m;
		before = errs->count;
		key->apply(&k);
		if (errs->count > before)
			seen->bad[key->id] = true;
	}
}

void
cfg_vm_set_builtin_defaults(struct vm_config *vm)
{
	vm->maxrestart = 3;
	vm->maxrestarttime = 30;
	vm->generate_acpi_tables = CFG_UNSET;
	vm->vmexit_on_halt = CFG_UNSET;
	vm->hypervisor = HV_BHYVE;
	vm->autostart = false;
	vm->stoptimeout = 30;
	vm->hooktimeout = 60;
	vm->wire_memory = CFG_UNSET;
	vm->probe_interval = 10;
	vm->probe_timeout = 5;
	vm->probe_failures = 3;
}
