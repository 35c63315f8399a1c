/*
 * bhyve_config.c: write the file bhyve is started with, <configfile>.generated.
 *
 * bhyve keeps the last value of a key it reads with -k, so the VM's
 * settings are appended after the administrator's file and win.  The file
 * is replaced atomically before each start, unless it holds what it
 * would be replaced with: a crash, a full disk or a second start never
 * leaves bhyve half a configuration to read.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bhyve_config.h"
#include "buf.h"
#include "config.h"
#include "file.h"

/*
 * key=value and a newline.  bhyve_config(5) expands %(var) in values, so
 * a '%' of ours is doubled to stay a '%'.
 */
static void
put_line(struct buf *out, const char *key, const char *value)
{
	const char	*p;

	buf_puts(out, key);
	buf_putc(out, '=');
	for (p = value; *p != '\0'; p++) {
		if (*p == '%')
			buf_putc(out, '%');
		buf_putc(out, *p);
	}
	buf_putc(out, '\n');
}

static void
put_int(struct buf *out, const char *key, int64_t value)
{
	char	 text[32];

	snprintf(text, sizeof(text), "%" PRId64, value);
	put_line(out, key, text);
}

static void
put_flag(struct buf *out, const char *key, enum cfg_flag flag)
{
	if (flag != CFG_UNSET)
		put_line(out, key, flag == CFG_YES ? "true" : "false");
}

/*
 * The original implementation's hostbridge key.  bhyve's amd_hostbridge
 * is the hostbridge device with AMD's PCI ids (usr.sbin/bhyve/
 * pci_hostbridge.c), and a configuration file names the device model, so
 * it is written that way, with the ids under the names bhyve_config(5)
 * documents, pcireg.vendor and pcireg.device, and again as the
 * hostbridge's own vendor and devid: FreeBSD 13's pci_hostbridge_init()
 * reads only these (and ignores pcireg.*), 14's reads them first and falls
 * back to pcireg.* (pci_config_read_reg).  The same ids either way.
 */
static void
put_hostbridge(struct buf *out, const char *hostbridge)
{
	if (hostbridge == NULL)
		return;
	put_line(out, "pci.0.0.0.device", "hostbridge");
	if (strcmp(hostbridge, "amd_hostbridge") == 0) {
		put_line(out, "pci.0.0.0.pcireg.vendor", "0x1022");
		put_line(out, "pci.0.0.0.pcireg.device", "0x7432");
		put_line(out, "pci.0.0.0.vendor", "0x1022");
		put_line(out, "pci.0.0.0.devid", "0x7432");
	}
}

void
bhyve_config_render(const struct vm_config *vm, const char *orig,
    size_t len, struct buf *out)
{
	bhyve_config_render_console(vm, orig, len, NULL, out);
}

void
bhyve_config_render_console(const struct vm_config *vm, const char *orig,
    size_t len, const char *console, struct buf *out)
{
	const struct cfg_console *con;
	char			 key[32], size[32];
	int			 i;

	if (len > 0)
		buf_append(out, orig, len);
	if (len > 0 && orig[len - 1] != '\n')
		buf_putc(out, '\n');
	put_line(out, "name", vm->name);
	if (vm->memory_mb > 0) {
		snprintf(size, sizeof(size), "%" PRId32 "M", vm->memory_mb);
		put_line(out, "memory.size", size);
	}
	if (vm->cpus > 0)
		put_int(out, "cpus", vm->cpus);
	if (vm->sockets > 0)
		put_int(out, "sockets", vm->sockets);
	if (vm->cores > 0)
		put_int(out, "cores", vm->cores);
	if (vm->threads > 0)
		put_int(out, "threads", vm->threads);
	if (cfg_extra(vm)->bootrom != NULL)
		put_line(out, "lpc.bootrom", cfg_extra(vm)->bootrom);
	put_flag(out, "acpi_tables", vm->generate_acpi_tables);
	put_flag(out, "x86.vmexit_on_hlt", vm->vmexit_on_halt);
	put_flag(out, "memory.wired", vm->wire_memory);
	put_hostbridge(out, cfg_extra(vm)->hostbridge);
	for (i = 0; i < CFG_MAX_CONSOLES; i++) {
		con = cfg_console(vm, i);
		/* A disabled port leaves the file's own setting alone. */
		if (!con->present || !con->enabled || con->backend == NULL)
			continue;
		snprintf(key, sizeof(key), "lpc.com%d.path", i + 1);
		put_line(out, key, con->backend);
	}
	/* The daemon's own console comes last: it wins. */
	if (console != NULL)
		put_line(out, "lpc.com1.path", console);
}

/*
 * Where the configuration puts com1, when it does: the consoles { com1 }
 * section of the VM's config, or an lpc.com1.path line of the configfile
 * (orig).  NULL when it does not: the daemon may give com1 its console.
 */
const char *
bhyve_config_console_owner(const struct vm_config *vm, const char *orig,
    size_t len)
{
	static const char	 key[] = "lpc.com1.path=";
	const struct cfg_console *con = cfg_console(vm, 0);
	const char		*p, *end;

	if (con->present && con->enabled && con->backend != NULL)
		return "consoles { com1 } of its config";
	if (orig == NULL)
		return NULL;
	end = orig + len;
	for (p = orig; p != NULL && p < end; ) {
		if ((size_t)(end - p) >= sizeof(key) - 1 &&
		    memcmp(p, key, sizeof(key) - 1) == 0)
			return "lpc.com1.path of its configfile";
		if ((p = memchr(p, '\n', (size_t)(end - p))) != NULL)
			p++;
	}
	return NULL;
}

bool
bhyve_config_has_bootrom(const struct vm_config *vm, const char *orig,
    size_t len)
{
	char	*rom;
	bool	 has;

	if (cfg_extra(vm)->bootrom != NULL)
		return true;
	if (orig == NULL)
		return false;
	rom = bhyve_config_last_value(orig, len, "lpc.bootrom");
	has = rom != NULL && *rom != '\0';
	free(rom);
	return has;
}

/*
 * The value of the last line "key=value" of text (a generated file), in
 * a malloc'd string, or NULL.
 */
char *
bhyve_config_last_value(const char *text, size_t len, const char *key)
{
	const char	*p = text, *end, *nl, *found = NULL;
	size_t		 klen = strlen(key), flen = 0;

	if (text == NULL)
		return NULL;
	end = text + len;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if ((size_t)(nl - p) > klen && memcmp(p, key, klen) == 0 &&
		    p[klen] == '=') {
			found = p + klen + 1;
			flen = (size_t)(nl - found);
		}
		p = nl + 1;
	}
	return found != NULL ? xstrndup(found, flen) : NULL;
}

char *
bhyve_config_generated_path(const struct vm_config *vm)
{
	const char	*file;
	char		*path, buf[PATH_MAX];

	if ((file = cfg_configfile(vm, buf, sizeof(buf))) == NULL)
		return NULL;
	xasprintf(&path, "%s.generated", file);
	return path;
}

/*
 * The whole file into *content; its permission bits into *mode.  Opened
 * without blocking and read with a limit, since the file may have become
 * a FIFO or a link to a device after the configuration was loaded.
 */
int
bhyve_config_read(const char *path, struct buf *content, mode_t *mode,
    struct buf *err)
{
	char	 msg[256];
	int	 saved;

	if (file_read(path, FILE_REGULAR, BHYVE_CONFIG_MAX, content, mode,
	    msg, sizeof(msg)) == -1) {
		saved = errno;
		buf_printf(err, "cannot read the bhyve configuration file %s: "
		    "%s", path, msg);
		errno = saved;
		return -1;
	}
	*mode &= 0666;
	return 0;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Write data to path through a temporary file beside it: the file is
 * either the old one or the new one, never half of either.  No fsync: the
 * file is written anew before every start, so it never has to outlive a
 * power cut, and the daemon's loop must not wait for the disk.
 */
static int
replace_file(const char *path, const char *data, size_t len, mode_t mode,
    struct buf *err)
{
	char	*tmp;
	int	 fd, saved;

	/* mkstemp creates the file with O_EXCL, mode 0600: a link or a file
	 * planted at that name makes it pick another, never follows it. */
	xasprintf(&tmp, "%s.XXXXXX", path);
	if ((fd = mkstemp(tmp)) == -1) {
		saved = errno;
		buf_printf(err, "cannot write %s: %s", path, strerror(saved));
		free(tmp);
		errno = saved;
		return -1;
	}
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (fchmod(fd, mode) == -1 || write_all(fd, data, len) == -1) {
		saved = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		saved = errno;
		goto fail;
	}
	free(tmp);
	return 0;

fail:
	(void)unlink(tmp);
	buf_printf(err, "cannot write %s: %s", path, strerror(saved));
	free(tmp);
	errno = saved;
	return -1;
}

/*
 * Read the configfile into orig (its mode into *mode); 0, or -1 with a
 * sentence in *err, -2 when that failed for lack of resources.
 */
int
bhyve_config_read_orig(const struct vm_config *vm, struct buf *orig,
    mode_t *mode, struct buf *err)
{
	const char	*file;
	char		 path[PATH_MAX], buf[PATH_MAX];

	if ((file = cfg_configfile(vm, buf, sizeof(buf))) == NULL) {
		buf_printf(err, "VM %s has no configfile: set configfile in "
		    "%s", vm->name, cfg_config_path(vm, path, sizeof(path)));
		return -1;
	}
	*mode = 0644;
	if (bhyve_config_read(file, orig, mode, err) == -1)
		return file_transient(errno) ? -2 : -1;
	return 0;
}

/*
 * Does path hold exactly data already, in a file of ours of this mode
 * with no other name?  Then it stays: a replacement costs a rename and,
 * on ext4, a write to the disk (a file renamed over another is flushed),
 * on the way from a crash to the restart.
 */
static bool
file_unchanged(const char *path, const char *data, size_t len, mode_t mode)
{
	struct stat	 sb;
	char		*cur;
	ssize_t		 n;
	bool		 same = false;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) == -1)
		return false;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    sb.st_uid == geteuid() && sb.st_nlink == 1 &&
	    (sb.st_mode & 07777) == mode && (size_t)sb.st_size == len) {
		cur = xmalloc(len + 1);
		do
			n = pread(fd, cur, len + 1, 0);
		while (n == -1 && errno == EINTR);
		same = n == (ssize_t)len && memcmp(cur, data, len) == 0;
		free(cur);
	}
	close(fd);
	return same;
}

int
bhyve_config_write_from(const struct vm_config *vm, const char *orig,
    size_t len, mode_t mode, const char *console, struct buf *err)
{
	struct buf	 out;
	char		*path;
	int		 rc;

	buf_init(&out);
	bhyve_config_render_console(vm, orig, len, console, &out);
	path = bhyve_config_generated_path(vm);
	rc = file_unchanged(path, out.data, out.len, mode) ? 0 :
	    replace_file(path, out.data, out.len, mode, err);
	if (rc == -1 && file_transient(errno))
		rc = -2;
	free(path);
	buf_free(&out);
	return rc;
}

int
bhyve_config_write(const struct vm_config *vm, struct buf *err)
{
	struct buf	 orig;
	mode_t		 mode;
	int		 rc;

	buf_init(&orig);
	if ((rc = bhyve_config_read_orig(vm, &orig, &mode, err)) < 0) {
		buf_free(&orig);
		return rc;
	}
	rc = bhyve_config_write_from(vm, orig.data, orig.len, mode, NULL,
	    err);
	buf_free(&orig);
	return rc;
}
