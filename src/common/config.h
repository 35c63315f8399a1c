/*
 * config.h: the configuration model.
 *
 * A VM is described by <configdir>/<dir>/config; the daemon itself by the
 * optional <configdir>/vmstated.conf.  Values are typed here, once: the
 * parser's tree (ucl.h) is turned into these structures by config.c, which
 * also validates them and produces errors that name the file, the line, the
 * key and what was expected.
 */
#ifndef VMSTATED_CONFIG_H
#define VMSTATED_CONFIG_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum hv_kind {
	HV_BHYVE,
	HV_QEMU,
};

/* A tri-state for settings that are only passed on when given. */
enum cfg_flag {
	CFG_UNSET = -1,
	CFG_NO = 0,
	CFG_YES = 1,
};

#define CFG_MAX_CONSOLES	4	/* com1 .. com4 */

/*
 * Limits of what a configuration may hold (vmstated.conf(5), VALIDATION):
 * every string a VM has is copied into each status reply and into the
 * state of the daemon, so none may be larger than its use needs.  Lengths
 * are in bytes.
 */
#define CFG_MAX_NAME		64	/* a VM's name */
#define CFG_MAX_WORD		64	/* os, osversion */
#define CFG_MAX_USER		32	/* owner, group, socket_group */
#define CFG_MAX_DESCRIPTION	1024
#define CFG_MAX_PATH		1023	/* FreeBSD's PATH_MAX, less the NUL */
#define CFG_MAX_ARG		4096	/* append, each of qemu_args */
#define CFG_MAX_DISKS		64
#define CFG_MAX_QEMU_ARGS	256
#define CFG_MAX_ERRORS		20	/* errors reported for one file */
#define CFG_MAX_DEPENDS		64	/* VMs one VM may depend on */

/*
 * The image format of a qemu disk.  Never guessed from the disk's bytes:
 * the guest writes them, and a qcow2 header it wrote could name a host
 * file as its backing image.  raw unless the config says qcow2.
 */
enum cfg_disk_format {
	CFG_DISK_RAW,
	CFG_DISK_QCOW2,
};

struct cfg_console {
	bool	 present;
	bool	 enabled;
	char	*backend;		/* e.g. "/dev/nmdm0A", "stdio" */
};

/*
 * The keys only qemu uses (vmstated.conf(5), QEMU).  A bhyve VM, most of
 * the 10,000, gives none of them: they are apart, behind one pointer,
 * rather than seven pointers and three numbers in every configuration.
 */
struct cfg_qemu {
	char		*kernel;
	char		*initrd;
	char		*append;
	char		**disks;	/* ndisks paths */
	enum cfg_disk_format *disk_formats; /* ndisks formats */
	char		**qemu_args;	/* nqemu_args extra arguments */
	char		*qemu_binary;	/* NULL: daemon's qemu_path */
	uint16_t	 ndisks;
	uint16_t	 nqemu_args;
	bool		 watchdog;	/* an i6300esb the guest feeds */
};

/*
 * The strings a VM may give and the bench's do not: 40 bytes of
 * pointers, apart behind one (8) for the VMs that give none.
 */
struct cfg_extra {
	char		*os;
	char		*osversion;
	char		*description;
	char		*bootrom;
	char		*hostbridge;	/* NULL: not given */
};

/*
 * One VM's configuration.  The daemon keeps one or two per VM, 10,000 VMs
 * and more, so it is small: numbers as narrow as their bounds in
 * config_keys.c allow, the consoles, the qemu keys and the rarer strings
 * (each for few VMs) behind a pointer, and the fields ordered by size,
 * without holes.
 *
 * A configuration the parser returns is packed (cfg_vm_pack): its
 * consoles, its other parts, lists and strings follow the structure in
 * its one allocation, dirname, scriptpath (when it is dir) and a name
 * that ends dir share dir's bytes, and none of them may be changed or
 * freed alone.  One being built (the parser's, defaults{}, cfg_vm_dup's
 * copy) is loose: each part, string and list is allocated on its own.
 * cfg_vm_free frees either.
 */
struct vm_config {
	/* Where it came from. */
	char		*name;
	char		*dir;		/* absolute path of the VM's directory */
	char		*dirname;	/* its last component, for ordering */

	/* The man page's keys. */
	/* The bhyve configuration file, absolute; NULL in a packed
	 * configuration that keeps it as a name in dir.  Read it with
	 * cfg_configfile(). */
	char		*configfile_stored;
	char		*scriptpath;	/* absolute; default: dir */
	char		*owner;
	char		*group;
	struct cfg_extra *extra;	/* NULL: none given; cfg_extra() */

	/* Compatibility keys of the original implementation. */
	struct cfg_console *consoles;	/* NULL (none) or CFG_MAX_CONSOLES */

	/* The qemu back end's keys: read them with cfg_qemu(). */
	struct cfg_qemu	*qemu;		/* NULL: none given */

	/* Start order (vmstated.conf(5), issue 13). */
	char		**depends;	/* names of the VMs it needs */

	/* Numbers, each within the bounds config_keys.c enforces. */
	uid_t		 owner_uid;	/* valid when owner != NULL */
	gid_t		 group_gid;	/* valid when group != NULL */
	int32_t		 maxrestart;	/* default 3 */
	int32_t		 maxrestarttime; /* seconds, default 30 */
	int32_t		 memory_mb;	/* 0: not given */
	int32_t		 stoptimeout;	/* seconds, default 30 */
	int32_t		 hooktimeout;	/* seconds, default 60; 0: no limit */
	int32_t		 autostart_delay; /* seconds; 0: none */
	int32_t		 probe_interval; /* seconds between two probes */
	int32_t		 probe_timeout;	/* seconds a probe may take */
	int		 depends_line;	/* where depends was given */
	int16_t		 cpus;		/* 0: not given */
	int16_t		 sockets;	/* 0: not given */
	int16_t		 cores;		/* 0: not given */
	int16_t		 threads;	/* 0: not given */
	int16_t		 probe_failures; /* in a row, then a crash */
	uint16_t	 ndepends;

	int8_t		 generate_acpi_tables;	/* enum cfg_flag */
	int8_t		 vmexit_on_halt;	/* enum cfg_flag */
	int8_t		 wire_memory;		/* enum cfg_flag */
	uint8_t		 hypervisor;	/* enum hv_kind; default bhyve */
	bool		 autostart;	/* default no */
	bool		 packed;	/* one allocation (cfg_vm_pack) */
	bool		 configfile_in_dir; /* packed: its name follows
					   dir's bytes */
};

/* A VM directory that could not be loaded. */
struct cfg_invalid {
	char	*name;		/* the VM name if it could be read, else dirname */
	char	*dir;
	char	*error;		/* one or more lines, each naming file:line */
};

struct daemon_config {
	char		*path;		/* configdir/vmstated.conf (may not exist) */
	mode_t		 socket_mode;	/* when socket_mode_set; else the
					   daemon uses 0666 when any VM
					   names an owner or group (the
					   daemon checks every request),
					   0660 otherwise */
	bool		 socket_mode_set;
	char		*socket_group;	/* NULL: not set */
	gid_t		 socket_gid;
	int64_t		 socket_timeout; /* seconds a connection may be
					   idle without following events;
					   0: no limit (default 60) */
	char		*rundir;	/* default RUNSTATEDIR "/vmstated" */
	char		*bhyve_path;	/* default /usr/sbin/bhyve */
	char		*bhyvectl_path;	/* default /usr/sbin/bhyvectl */
	char		*qemu_path;	/* default qemu-system-x86_64 (PATH) */
	char		*vmmdir;	/* where the kernel shows bhyve's VM
					   instances; default /dev/vmm */
	int64_t		 log_max_size;	/* bytes; 0: the daemon never moves
					   a log itself (newsyslog does) */
	int64_t		 log_keep;	/* moved logs kept, default 5 */
	int64_t		 autostart_parallel; /* VMs starting at once */
	int64_t		 shutdown_timeout; /* seconds for the whole
					      shutdown; default 80 */
	struct vm_config defaults;	/* defaults { } applied to every VM */
};

struct cfg_set {
	struct vm_config	**vms;		/* sorted by dirname */
	size_t			  nvms;
	struct cfg_invalid	 *invalid;	/* sorted by dir */
	size_t			  ninvalid;
};

/*
 * Load configdir/vmstated.conf into *dc (built-in defaults when the file is
 * absent).  Returns 0, or -1 with a message (file:line: ...) in *error that
 * the caller frees.
 */
int	 cfg_load_daemon(const char *configdir, struct daemon_config *dc,
	    char **error);
void	 cfg_daemon_free(struct daemon_config *);

/*
 * Load every VM directory of configdir.  A directory with an error lands
 * in set->invalid; two directories giving the same name both land there,
 * each error naming both directories.  NULL (errno set) only when
 * configdir itself cannot be read: the caller keeps what it has rather
 * than take that for "no VMs".
 */
struct cfg_set	*cfg_load_all(const char *configdir,
		    const struct daemon_config *dc);
void		 cfg_set_free(struct cfg_set *);

/* Load one VM directory (packed).  NULL with *error set on failure. */
struct vm_config *cfg_load_vm(const char *dir, const struct daemon_config *dc,
		    char **error);
/* A loose copy: the caller may change its fields and free them alone. */
struct vm_config *cfg_vm_dup(const struct vm_config *);
/* A packed copy (one allocation), to keep: nothing in it may change. */
struct vm_config *cfg_vm_pack(const struct vm_config *);
/* Port i (0: com1) of vm: an empty one when vm gives no consoles. */
const struct cfg_console *cfg_console(const struct vm_config *, int i);
/* The bhyve configuration file (absolute; written in buf when the
 * configuration keeps it relative to dir), or NULL when none is given. */
const char	*cfg_configfile(const struct vm_config *, char *buf,
		    size_t len);
/* The qemu keys of vm: an empty set when vm gives none. */
const struct cfg_qemu *cfg_qemu(const struct vm_config *);
/* os, description, bootrom...: all NULL when vm gives none. */
const struct cfg_extra *cfg_extra(const struct vm_config *);
/* dir + "/config", where its configuration was read (written in buf),
 * derived rather than kept: 50 bytes of each of 10,000 VMs. */
const char	*cfg_config_path(const struct vm_config *, char *buf,
		    size_t len);
void		 cfg_vm_free(struct vm_config *);
/* True when both would start the same VM the same way. */
bool		 cfg_vm_equal(const struct vm_config *, const struct vm_config *);
const char	*cfg_hv_name(enum hv_kind);
/* A valid VM name: 1 to 64 letters, digits, '.', '_' or '-', starting
 * with a letter or digit. */
bool		 cfg_name_ok(const char *);
const char	*cfg_disk_format_name(enum cfg_disk_format);

/* config_disks.c: the disks a VM's hypervisor opens. */
struct cfg_disk {
	char	*path;		/* absolute */
	bool	 exists;	/* dev and ino are known */
	bool	 device;	/* a disk device: dev is the device */
	dev_t	 dev;
	ino_t	 ino;
	bool	 readonly;	/* opened read-only (ro, an ahci cd) */
};
struct cfg_disks {
	struct cfg_disk	*v;
	size_t		 n;
};
/*
 * Append the disks of vm to d: a qemu VM's disk keys; the block devices
 * (and UEFI variables file) of a bhyve VM's configuration file, read
 * from configfile (NULL: cfg_configfile(vm)), relative paths taken from the
 * VM's directory.  0, or -1 when that file cannot be read.
 */
int		 cfg_vm_disks(const struct vm_config *vm, const char *configfile,
		    struct cfg_disks *d);
void		 cfg_disks_add(struct cfg_disks *, const char *dir,
		    const char *path, bool readonly);
/* The same file: by device and inode when both exist (a disk device:
 * the device), else by path. */
bool		 cfg_disk_same(const struct cfg_disk *, const struct cfg_disk *);
/* A disk of a that b uses too, one of them for writing; or NULL. */
const struct cfg_disk *cfg_disks_clash(const struct cfg_disks *a,
		    const struct cfg_disks *b);
void		 cfg_disks_free(struct cfg_disks *);

/*
 * vmstated -n: print one line per VM ("name<TAB>dir<TAB>hypervisor") on out
 * and every error on err; warn on err about two VMs that share a disk.
 * Returns 0 when everything is valid, 1 otherwise.
 */
int		 cfg_check(const char *configdir, FILE *out, FILE *err);

#endif
