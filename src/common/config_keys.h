/*
 * config_keys.h: shared by config.c and config_keys.c only.
 *
 * config.c finds the files and the VM directories; config_keys.c knows
 * every key: its type, its range, its error messages, and the checks that
 * involve several keys.  Nothing outside these two files includes this.
 */
#ifndef VMSTATED_CONFIG_KEYS_H
#define VMSTATED_CONFIG_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "ucl.h"

#define CFG_MAX_CPUS	256	/* cpus, sockets x cores x threads */

/*
 * Fails to compile unless field f of struct vm_config (CFG_FITS_IN: of
 * type t), a signed or unsigned integer, holds max: the parser's bound
 * for f is what lets the field be narrow.
 */
#define CFG_FITS_IN(t, f, max)						\
	_Static_assert((uint64_t)(max) <= (UINT64_C(1) << (8 *		\
	    sizeof(((t *)NULL)->f) - 1)) - 1,				\
	    #f " is too narrow for " #max)
#define CFG_FITS(f, max)	CFG_FITS_IN(struct vm_config, f, max)

/* Every per-VM key; the table in config_keys.c is indexed by these. */
enum cfg_key_id {
	K_NAME,
	K_CONFIGFILE,
	K_SCRIPTPATH,
	K_OS,
	K_OSVERSION,
	K_OWNER,
	K_GROUP,
	K_DESCRIPTION,
	K_MAXRESTART,
	K_MAXRESTARTTIME,
	K_BOOTROM,
	K_GENERATE_ACPI_TABLES,
	K_VMEXIT_ON_HALT,
	K_MEMORY,
	K_CPUS,
	K_NUMCPUS,
	K_SOCKETS,
	K_CORES,
	K_THREADS,
	K_HYPERVISOR,
	K_AUTOSTART,
	K_STOPTIMEOUT,
	K_HOOKTIMEOUT,
	K_HOSTBRIDGE,
	K_WIRE_MEMORY,
	K_CONSOLES,
	K_KERNEL,
	K_INITRD,
	K_APPEND,
	K_DISK,
	K_QEMU_ARGS,
	K_QEMU_BINARY,
	K_WATCHDOG,
	K_DEPENDS,
	K_AUTOSTART_DELAY,
	K_PROBE_INTERVAL,
	K_PROBE_TIMEOUT,
	K_PROBE_FAILURES,
	K__COUNT
};

enum cfg_scope {
	CFG_SCOPE_VM,		/* <dir>/config */
	CFG_SCOPE_DEFAULTS,	/* defaults { } of vmstated.conf */
};

/* Errors collected while loading one file: one line each. */
struct cfg_error_line {
	int		 line;
	char		*text;
};
struct cfg_errors {
	struct cfg_error_line	*lines;		/* the first CFG_MAX_ERRORS */
	size_t			 count;		/* all of them */
};

/* What a key's function needs to parse one member. */
struct key_ctx {
	struct vm_config	*vm;
	const struct ucl_node	*node;
	const char		*basedir;	/* for relative paths */
	enum cfg_scope		 scope;
	char			 name[160];	/* prefix + key, for errors */
	struct cfg_errors	*errs;
	char			 tmp[64];	/* for cfg_scalar_text() */
};

/* Where one VM's (or defaults{}') keys were written. */
struct cfg_seen {
	const struct ucl_node	*node[K__COUNT];	/* first occurrence */
	bool			 bad[K__COUNT];		/* had an error */
};

/* config_values.c */
void	 cfg_errors_init(struct cfg_errors *);
void	 cfg_errors_free(struct cfg_errors *);
/* The errors in line order, one per line; malloc'd; errs is emptied. */
char	*cfg_errors_take(struct cfg_errors *);
/* Append "file:line: key: message"; line <= 0 leaves the line out. */
void	 cfg_error(struct cfg_errors *, const char *file, int line,
	    const char *key, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

/* config.c */
/*
 * dir as an absolute path without "." or ".." components, repeated or
 * trailing slashes.  ".." is taken lexically and symbolic links are
 * kept: they are the administrator's names.
 */
char	*cfg_absolute_dir(const char *dir);
/*
 * Parse path into *root (an object).  A missing or unreadable file and a
 * syntax error are errors; *missing tells that the file does not exist
 * (no error is recorded then).  0 or -1.
 */
int	 cfg_parse_file(const char *path, struct ucl_node **root,
	    bool *missing, struct cfg_errors *);
/* Free what a loose vm_config points to, not the structure itself. */
void	 cfg_vm_clear(struct vm_config *);

/* config_pack.c: true when vm->consoles are its own (given, not shared). */
bool	 cfg_consoles_given(const struct vm_config *);
/* config_pack.c: the qemu keys of a loose vm, to change: allocated
 * (empty) the first time. */
struct cfg_qemu *cfg_qemu_w(struct vm_config *);
/* The same for os, description, bootrom... */
struct cfg_extra *cfg_extra_w(struct vm_config *);

/* One VM directory being loaded (config.c, config_deps.c). */
struct vm_load {
	struct vm_config	*vm;		/* NULL when invalid */
	char			*name;		/* best known name */
	char			*dir;
	char			*dirname;
	char			*config_path;
	int			 name_line;	/* where the name comes from */
	struct cfg_errors	 errs;
	bool			 borrowed;	/* name, dir and dirname
						   are vm's; config_path
						   freed: cfg_load_path() */
};
/* Before vm is freed: l's own copies of the strings it borrowed. */
void		 cfg_load_unborrow(struct vm_load *);
const char	*cfg_load_path(struct vm_load *);

/* config_deps.c: checks across the VMs of a configuration. */
void	 cfg_refuse_duplicates(struct vm_load *, size_t);
void	 cfg_check_depends(struct vm_load *, size_t);

/* config_daemon.c: the keys of vmstated.conf, NULL-terminated. */
extern const char *const cfg_daemon_keys[];

/* config_keys.c */
/* Built-in defaults (maxrestart 3, ...) into a zeroed vm_config. */
void	 cfg_vm_set_builtin_defaults(struct vm_config *);
/* True when key names a per-VM key (case-insensitive). */
bool	 cfg_is_vm_key(const char *key);
const char *cfg_key_name(enum cfg_key_id);
/* The hypervisor a key means something to, or -1 when it is for both. */
int	 cfg_key_only_for(enum cfg_key_id);
/*
 * Apply the members of obj to vm.  Relative paths are made absolute
 * against basedir.  Keys are named with prefix ("" or "defaults.") in
 * errors.  Records where each key was given in *seen.
 */
void	 cfg_apply_keys(struct vm_config *, const struct ucl_node *obj,
	    const char *basedir, enum cfg_scope, const char *prefix,
	    struct cfg_seen *, struct cfg_errors *);
/*
 * config_check.c: the checks that involve several keys or the file
 * system: required keys, CPU topology, keys of the other hypervisor, files
 * that cannot be read.  file/line name the place for "missing" errors.
 */
void	 cfg_check_keys(struct vm_config *, enum cfg_scope, const char *prefix,
	    const struct cfg_seen *, const char *file, int line,
	    struct cfg_errors *);
/*
 * The message for an unknown key: "unknown key" plus the nearest of known
 * (NULL-terminated) when it looks like a typo, else hint.
 */
void	 cfg_unknown_key(struct cfg_errors *, const struct ucl_node *,
	    const char *prefix, const char *const *known, const char *hint);
/* "\"text\"", a number as written, "an object", ... */
void	 cfg_describe(struct buf *, const struct ucl_node *);
/* dir + "/" + path unless path is absolute; malloc'd. */
char	*cfg_path_join(const char *dir, const char *path);
/* Read one value of the member k->node; 0 or -1 after an error. */
void	 cfg_key_error(struct key_ctx *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* "expected WHAT, got VALUE" about k->node. */
void	 cfg_type_error(struct key_ctx *, const char *expected);
/*
 * Text of a scalar, of at most max bytes, in UTF-8, without NULs or
 * control characters; NULL on error.
 */
const char *cfg_get_text(struct key_ctx *, const struct ucl_node *,
	    const char *expected, size_t max);
/* s cut to about 48 bytes ("..." added) for a message; in out. */
const char *cfg_shorten(const char *s, char *out, size_t size);
/* A non-empty path made absolute against k->basedir; NULL on error. */
char	*cfg_get_path(struct key_ctx *, const struct ucl_node *);
int	 cfg_get_bool(struct key_ctx *, bool *);
struct group;
/* A group name or numeric gid that exists on this host; NULL on error,
 * else the group (getgrnam's static storage). */
const struct group *cfg_get_group(struct key_ctx *);
/* A whole number in [min, max]; what names it ("a number of CPUs"). */
int	 cfg_get_int(struct key_ctx *, const char *what, int64_t min,
	    int64_t max, int64_t *);
/* Whole seconds in [min, max]: 30, 30s, 2min, "30". */
int	 cfg_get_seconds(struct key_ctx *, int64_t min, int64_t max,
	    int64_t *);
/* Megabytes: 2048, 4G, "512M" (binary units, as bhyve -m). */
int	 cfg_get_memory(struct key_ctx *, int64_t *mb);
/* Bytes: 65536, 10M, "512K" (binary units). */
int	 cfg_get_size(struct key_ctx *, int64_t min, int64_t max, int64_t *);
/* Decimal digits only; false on anything else or on overflow. */
bool	 cfg_parse_digits(const char *, int64_t *);

/* Case-insensitive compare of a node's key with a C string. */
bool	 cfg_key_is(const struct ucl_node *, const char *);
/*
 * A scalar as a string: a quoted string, or the token as written (tmp
 * holds a number printed when the token was not kept).  NULL for
 * objects and arrays.
 */
const char *cfg_scalar_text(const struct ucl_node *, char *tmp, size_t size);

#endif
