/*
 * bhyve_config.h: the configuration file bhyve is started with (bhyve -k).
 *
 * <configfile>.generated holds the bytes of the VM's configfile, then one
 * key=value line per setting of the VM's config (bhyve_config(5) names),
 * so that the VM's config overrides the file: bhyve keeps the last value
 * of a key.
 */
#ifndef VMSTATED_BHYVE_CONFIG_H
#define VMSTATED_BHYVE_CONFIG_H

#include <sys/types.h>

#include <stddef.h>

#include "buf.h"
#include "config.h"

/* The largest configfile read; bhyve's own files are a few KiB. */
#define BHYVE_CONFIG_MAX	(1024 * 1024)

/*
 * Append to out: the bytes of the VM's configfile (orig, len), then a
 * newline if orig did not end with one, then one line per setting the
 * VM's config gives: name=, memory.size= (e.g. "2048M"), cpus=, sockets=,
 * cores=, threads=, lpc.bootrom=, acpi_tables=, x86.vmexit_on_hlt=, and the
 * compatibility settings (memory.wired=, pci.0.0.0.device=...,
 * lpc.comN.path=).
 */
void	 bhyve_config_render(const struct vm_config *, const char *orig,
	    size_t len, struct buf *out);
/* The same, then lpc.com1.path=console when console is not NULL: the
 * daemon's end of the VM's serial console (vmstated(8), CONSOLE). */
void	 bhyve_config_render_console(const struct vm_config *,
	    const char *orig, size_t len, const char *console,
	    struct buf *out);
/*
 * Where the VM's configuration puts com1 (consoles { com1 } of its
 * config, or an lpc.com1.path line of its configfile, orig), or NULL when
 * it does not.
 */
const char *bhyve_config_console_owner(const struct vm_config *,
	    const char *orig, size_t len);
/* The value of the last "key=value" line of text, malloc'd, or NULL. */
char	*bhyve_config_last_value(const char *text, size_t len,
	    const char *key);
/* Read a whole configuration file of at most BHYVE_CONFIG_MAX bytes
 * (a regular file); its permission bits into *mode.  0, or -1 with a
 * sentence in err. */
int	 bhyve_config_read(const char *path, struct buf *content,
	    mode_t *mode, struct buf *err);
/* The VM's configfile, as above; -2 when it failed for lack of resources. */
int	 bhyve_config_read_orig(const struct vm_config *, struct buf *orig,
	    mode_t *mode, struct buf *err);
/* Render orig (with console, may be NULL) and replace the generated file
 * atomically with mode.  0, or -1 with a sentence in err (-2: for lack
 * of resources, worth trying again). */
int	 bhyve_config_write_from(const struct vm_config *, const char *orig,
	    size_t len, mode_t mode, const char *console, struct buf *err);
/* Does the VM boot from a bootrom (its config's bootrom, or lpc.bootrom
 * in its configfile, orig)? */
bool	 bhyve_config_has_bootrom(const struct vm_config *, const char *orig,
	    size_t len);
/* configfile + ".generated", malloc'd. */
char	*bhyve_config_generated_path(const struct vm_config *);
/*
 * Read configfile (a regular file of at most BHYVE_CONFIG_MAX bytes),
 * render, write <configfile>.generated atomically
 * (temporary file in the same directory + rename; no half file ever).
 * 0, or -1 with a sentence naming the file in err; -2 when it failed for
 * lack of resources (descriptors, memory), worth trying again.
 */
int	 bhyve_config_write(const struct vm_config *, struct buf *err);

#endif
