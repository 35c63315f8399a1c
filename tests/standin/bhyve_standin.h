/*
 * bhyve_standin.h: the parts of the bhyve stand-in: bhyve.c (the program:
 * its steps, messages, records and the running guest), bhyve_config.c (the
 * configuration tree, as usr.sbin/bhyve/config.c keeps it) and
 * bhyve_devices.c (the PCI devices that open files, as pci_emul.c,
 * block_if.c and the device emulations do).  See tests/standin/README.md.
 */
#ifndef VMSTATED_BHYVE_STANDIN_H
#define VMSTATED_BHYVE_STANDIN_H

#include <stdbool.h>
#include <stddef.h>

/* getprogname() of a real bhyve, whatever the stand-in's file is called. */
#define BHYVE_PROGNAME	"bhyve"

/* ---- bhyve.c ---------------------------------------------------------- */

/* Record the exit (standin.record), then exit with status; reason NULL
 * means the last message printed. */
void		 finish(int status, const char *reason)
		    __attribute__((noreturn));
/* err(3)/errx(3)/warn(3)/warnx(3) as FreeBSD's: "bhyve: msg[: error]". */
void		 b_err(int status, const char *, ...)
		    __attribute__((format(printf, 2, 3), noreturn));
void		 b_errx(int status, const char *, ...)
		    __attribute__((format(printf, 2, 3), noreturn));
void		 b_warn(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 b_warnx(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
/* perror(3): "s: error". */
void		 b_perror(const char *s);
/* EPRINTLN() of usr.sbin/bhyve/debug.h: the message, then "\r\n" once a
 * UART has put stdio in raw mode, "\n" before. */
void		 b_eprintln(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
/* Plain fprintf(stderr, ...) that is remembered as the exit reason. */
void		 b_eprintf(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
/* Set by the UART backends (uart_emul.c ttyopen()). */
extern int	 raw_stdio;
/* One "open" record line per file a device opened. */
void		 record_open(const char *what, const char *slot, int port,
		    const char *path, int fd, bool readonly);

/* ---- bhyve_config.c --------------------------------------------------- */

struct cfgnode;

/* init_config() and bhyve_init_config(): the defaults. */
void		 cfg_init(void);
/* set_config_value(): conflicts between values and nodes exit 4. */
void		 cfg_set(const char *path, const char *value);
/* get_config_value(): the value with %(var) expanded, or NULL. */
const char	*cfg_get(const char *path);
/* The value as set, not expanded (the stand-in's own keys). */
const char	*cfg_get_raw(const char *path);
/* find_config_node(), create_config_node() and the relative versions. */
struct cfgnode	*cfg_find_node(const char *path);
struct cfgnode	*cfg_create_node(const char *path);
struct cfgnode	*cfg_find_relative(struct cfgnode *, const char *path);
struct cfgnode	*cfg_create_relative(struct cfgnode *, const char *path);
/* set_config_value_node(), get_config_value_node(). */
void		 cfg_set_node(struct cfgnode *, const char *name,
		    const char *value);
const char	*cfg_get_node(struct cfgnode *, const char *name);
/* get_config_bool() and friends: a value that is no boolean exits 4. */
bool		 cfg_bool(const char *path);
bool		 cfg_bool_default(const char *path, bool def);
bool		 cfg_bool_node_default(struct cfgnode *, const char *name,
		    bool def);
/* "key=value" (-o, -k lines); false when malformed. */
bool		 cfg_parse_option(const char *);
/* -k: a file that cannot be read or a bad line exits 4. */
void		 cfg_parse_file(const char *path);
/* config.dump: dump_config(). */
void		 cfg_dump(void);
/* Every value, depth first in nvlist order, with its full dotted name. */
void		 cfg_walk(void (*)(const char *key, const char *value, void *),
		    void *);
/* calc_topology(): the number of vCPUs, or exit 4. */
int		 cfg_topology(void);
/* build_vcpumaps()/parse_cpuset(): exit 4 on a bad vcpu.N.cpuset. */
void		 cfg_check_cpusets(int ncpus);
/* vm_parse_memsize(): memory.size in bytes, or exit 64 (EX_USAGE). */
unsigned long long cfg_memsize(void);
/* topology_parse() (-c) and pincpu_parse() (-p); false when malformed. */
bool		 cfg_parse_topology(const char *);
bool		 cfg_parse_pincpu(const char *);
/* The node's name, and its children (a child's siblings follow it). */
const char	*cfg_node_name(const struct cfgnode *);
struct cfgnode	*cfg_node_first(struct cfgnode *);
struct cfgnode	*cfg_node_next(struct cfgnode *);
bool		 cfg_node_is_value(const struct cfgnode *);
/* nvlist_exists(): a value or a node of that name. */
bool		 cfg_exists_node(struct cfgnode *, const char *name);

/* ---- bhyve_devices.c -------------------------------------------------- */

/* -s help */
void		 pci_print_supported_devices(void);
/* -s: pci_parse_slot(); -1 after a message (bhyve then exits 4). */
int		 pci_parse_slot(const char *opt);
/* -l: lpc_device_parse(); -1 when malformed. */
int		 lpc_device_parse(const char *opt);
/* init_pci(): every pci.B.S.F device in bus, slot, function order; not 0
 * when one fails (errno as the failure left it). */
int		 init_pci(void);
/* Whether "lpc.bootrom" is set (lpc_bootrom() in pci_lpc.c). */
bool		 lpc_bootrom(void);
/* com1's backend once the LPC bridge set it up (a terminal device, or
 * stdin/stdout for "stdio"), else -1: where the guest's console goes. */
extern int	 com1_in, com1_out;

#endif
