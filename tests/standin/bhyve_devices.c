/*
 * bhyve_devices.c: the PCI devices of the bhyve stand-in that open files,
 * initialised as FreeBSD 14's bhyve does (usr.sbin/bhyve/pci_emul.c
 * init_pci(), block_if.c blockif_open(), pci_ahci.c, pci_virtio_block.c,
 * pci_nvme.c, pci_lpc.c, bootrom.c bootrom_loadrom(), uart_emul.c), and
 * the -s and -l options that configure them (pci_parse_slot(),
 * lpc_device_parse()).
 *
 * Every path is given to open(2) as configured, so a relative path is
 * relative to bhyve's working directory.  The descriptors stay open, as
 * bhyve keeps them for the life of the VM.  Other devices are accepted
 * and do nothing.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "buf.h"
#include "bhyve_standin.h"

#define MAXBUSES	256		/* pci_emul.c */
#define MAXSLOTS	32
#define MAXFUNCS	8
#define AHCI_MAX_PORTS	32		/* pci_ahci.c MAX_PORTS */
#define BOOTROM_SIZE	(16 * 1024 * 1024)	/* bootrom.c */
#define PAGE_SIZE	4096

/*
 * The emulations FreeBSD 14/amd64 registers with PCI_EMUL_SET (one per
 * pci_*.c file); an alias is a legacy name that -s accepts and stores as
 * its target.
 */
static const struct pci_devemu {
	const char	*emu;
	const char	*alias;
	int		(*legacy)(struct cfgnode *, const char *);
	int		(*init)(struct cfgnode *, int, int, int);
} *pci_emul_finddev(const char *);

static int	 pci_parse_legacy_config(struct cfgnode *, const char *);
static int	 blockif_legacy_config(struct cfgnode *, const char *);
static int	 ahci_legacy_config(struct cfgnode *, const char *);
static int	 ahci_hd_legacy_config(struct cfgnode *, const char *);
static int	 ahci_cd_legacy_config(struct cfgnode *, const char *);
static int	 nvme_legacy_config(struct cfgnode *, const char *);
static int	 netbe_legacy_config(struct cfgnode *, const char *);
static int	 xhci_legacy_config(struct cfgnode *, const char *);
static int	 ahci_init(struct cfgnode *, int, int, int);
static int	 vtblk_init(struct cfgnode *, int, int, int);
static int	 virtio_init(struct cfgnode *, int, int, int);
static int	 nvme_init(struct cfgnode *, int, int, int);
static int	 lpc_init(struct cfgnode *, int, int, int);

static const struct pci_devemu pci_devemus[] = {
	{ "ahci", NULL, ahci_legacy_config, ahci_init },
	{ "ahci-cd", "ahci", ahci_cd_legacy_config, NULL },
	{ "ahci-hd", "ahci", ahci_hd_legacy_config, NULL },
	{ "amd_hostbridge", NULL, NULL, NULL },
	{ "e1000", NULL, netbe_legacy_config, NULL },
	{ "fbuf", NULL, NULL, NULL },
	{ "hda", NULL, NULL, NULL },
	{ "hostbridge", NULL, NULL, NULL },
	{ "lpc", NULL, NULL, lpc_init },
	{ "nvme", NULL, nvme_legacy_config, nvme_init },
	{ "passthru", NULL, NULL, NULL },
	{ "uart", NULL, NULL, NULL },
	{ "virtio-9p", NULL, NULL, virtio_init },
	{ "virtio-blk", NULL, blockif_legacy_config, vtblk_init },
	{ "virtio-console", NULL, NULL, virtio_init },
	{ "virtio-input", NULL, NULL, virtio_init },
	{ "virtio-net", NULL, netbe_legacy_config, virtio_init },
	{ "virtio-rnd", NULL, NULL, virtio_init },
	{ "virtio-scsi", NULL, NULL, virtio_init },
	{ "xhci", NULL, xhci_legacy_config, NULL },
};

static const struct pci_devemu *
pci_emul_finddev(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(pci_devemus) / sizeof(pci_devemus[0]); i++)
		if (strcmp(pci_devemus[i].emu, name) == 0)
			return &pci_devemus[i];
	return NULL;
}

/* ---- -s ---------------------------------------------------------------- */

/* pci_print_supported_devices() (-s help); the linker set's order is not
 * known, the list's is used. */
void
pci_print_supported_devices(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(pci_devemus) / sizeof(pci_devemus[0]); i++)
		printf("%s\n", pci_devemus[i].emu);
}

/* pci_parse_legacy_config(): "name=value" or "name" (true), by commas. */
static int
pci_parse_legacy_config(struct cfgnode *nvl, const char *opt)
{
	char	*config, *tofree, *name, *value;

	if (opt == NULL)
		return 0;
	config = tofree = xstrdup(opt);
	while ((name = strsep(&config, ",")) != NULL) {
		if ((value = strchr(name, '=')) != NULL) {
			*value++ = '\0';
			cfg_set_node(nvl, name, value);
		} else
			cfg_set_node(nvl, name, "true");
	}
	free(tofree);
	return 0;
}

/* block_if.c blockif_legacy_config(): the path, then options. */
static int
blockif_legacy_config(struct cfgnode *nvl, const char *opts)
{
	const char	*cp;
	char		*path;

	if (opts == NULL)
		return 0;
	if ((cp = strchr(opts, ',')) == NULL) {
		cfg_set_node(nvl, "path", opts);
		return 0;
	}
	path = xstrndup(opts, (size_t)(cp - opts));
	cfg_set_node(nvl, "path", path);
	free(path);
	return pci_parse_legacy_config(nvl, cp + 1);
}

/* net_backends.c netbe_legacy_config(): the backend, then options. */
static int
netbe_legacy_config(struct cfgnode *nvl, const char *opts)
{
	const char	*cp;
	char		*backend;

	if (opts == NULL)
		return 0;
	if ((cp = strchr(opts, ',')) == NULL) {
		cfg_set_node(nvl, "backend", opts);
		return 0;
	}
	backend = xstrndup(opts, (size_t)(cp - opts));
	cfg_set_node(nvl, "backend", backend);
	free(backend);
	return pci_parse_legacy_config(nvl, cp + 1);
}

/* pci_xhci.c pci_xhci_legacy_config(): slot.1.device, slot.2.device... */
static int
xhci_legacy_config(struct cfgnode *nvl, const char *opts)
{
	struct cfgnode	*slots, *slot_nvl;
	char		*str, *tofree, *opt, *cp, name[16];
	int		 slot;

	if (opts == NULL)
		return 0;
	slots = cfg_create_relative(nvl, "slot");
	slot = 1;
	tofree = str = xstrdup(opts);
	while ((opt = strsep(&str, ",")) != NULL) {
		if ((cp = strchr(opt, '=')) != NULL)
			*cp++ = '\0';
		snprintf(name, sizeof(name), "%d", slot++);
		slot_nvl = cfg_create_relative(slots, name);
		cfg_set_node(slot_nvl, "device", opt);
		if (cp != NULL && *cp != '\0')
			pci_parse_legacy_config(slot_nvl, cp);
	}
	free(tofree);
	return 0;
}

/* pci_ahci_legacy_config_port() */
static int
ahci_legacy_config_port(struct cfgnode *ports, int port, const char *type,
    const char *opts)
{
	struct cfgnode	*port_nvl;
	char		 name[16];

	snprintf(name, sizeof(name), "%d", port);
	port_nvl = cfg_create_relative(ports, name);
	cfg_set_node(port_nvl, "type", type);
	return blockif_legacy_config(port_nvl, opts);
}

/* pci_ahci_legacy_config(): "hd:path,...,cd:path,...". */
static int
ahci_legacy_config(struct cfgnode *nvl, const char *opts)
{
	struct cfgnode	*ports;
	const char	*type;
	char		*str, *tofree, *next, *next2;
	int		 p, ret;

	if (opts == NULL)
		return 0;
	ports = cfg_create_relative(nvl, "port");
	ret = 1;
	tofree = str = xstrdup(opts);
	for (p = 0; p < AHCI_MAX_PORTS && str != NULL; p++, str = next) {
		if (strncmp(str, "hd:", 3) == 0) {
			type = "hd";
			str += 3;
		} else if (strncmp(str, "cd:", 3) == 0) {
			type = "cd";
			str += 3;
		} else
			type = NULL;
		next = strstr(str, ",hd:");
		next2 = strstr(str, ",cd:");
		if (next == NULL || (next2 != NULL && next2 < next))
			next = next2;
		if (next != NULL)
			*next++ = '\0';
		if (str[0] == '\0')
			continue;
		if (type == NULL) {
			b_eprintln("Missing or invalid type for port %d: "
			    "\"%s\"", p, str);
			goto out;
		}
		if (ahci_legacy_config_port(ports, p, type, str) != 0)
			goto out;
	}
	ret = 0;
out:
	free(tofree);
	return ret;
}

static int
ahci_hd_legacy_config(struct cfgnode *nvl, const char *opts)
{
	return ahci_legacy_config_port(cfg_create_relative(nvl, "port"), 0,
	    "hd", opts);
}

static int
ahci_cd_legacy_config(struct cfgnode *nvl, const char *opts)
{
	return ahci_legacy_config_port(cfg_create_relative(nvl, "port"), 0,
	    "cd", opts);
}

/* pci_nvme_legacy_config(): "ram=MB[,...]" or a blockif path. */
static int
nvme_legacy_config(struct cfgnode *nvl, const char *opts)
{
	const char	*cp;
	char		*ram;

	if (opts == NULL)
		return 0;
	if (strncmp(opts, "ram=", 4) != 0)
		return blockif_legacy_config(nvl, opts);
	if ((cp = strchr(opts, ',')) == NULL) {
		cfg_set_node(nvl, "ram", opts + 4);
		return 0;
	}
	ram = xstrndup(opts + 4, (size_t)(cp - opts - 4));
	cfg_set_node(nvl, "ram", ram);
	free(ram);
	return pci_parse_legacy_config(nvl, cp + 1);
}

/* pci_emul.c pci_parse_slot(): [bus:]slot[:func],emul[,config]. */
int
pci_parse_slot(const char *opt)
{
	const struct pci_devemu	*pde;
	struct cfgnode		*nvl;
	char			*str, *emul, *config, *cp, name[64];
	int			 bnum, snum, fnum, error;

	error = -1;
	str = xstrdup(opt);
	emul = config = NULL;
	if ((cp = strchr(str, ',')) == NULL) {
		b_eprintln("Invalid PCI slot info field \"%s\"", opt);
		goto done;
	}
	*cp = '\0';
	emul = cp + 1;
	if ((cp = strchr(emul, ',')) != NULL) {
		*cp = '\0';
		config = cp + 1;
	}
	if (sscanf(str, "%d:%d:%d", &bnum, &snum, &fnum) != 3) {
		bnum = 0;
		if (sscanf(str, "%d:%d", &snum, &fnum) != 2) {
			fnum = 0;
			if (sscanf(str, "%d", &snum) != 1)
				snum = -1;
		}
	}
	if (bnum < 0 || bnum >= MAXBUSES || snum < 0 || snum >= MAXSLOTS ||
	    fnum < 0 || fnum >= MAXFUNCS) {
		b_eprintln("Invalid PCI slot info field \"%s\"", opt);
		goto done;
	}
	if ((pde = pci_emul_finddev(emul)) == NULL) {
		b_eprintln("pci slot %d:%d:%d: unknown device \"%s\"", bnum,
		    snum, fnum, emul);
		goto done;
	}
	snprintf(name, sizeof(name), "pci.%d.%d.%d", bnum, snum, fnum);
	if (cfg_find_node(name) != NULL) {
		b_eprintln("pci slot %d:%d:%d already occupied!", bnum, snum,
		    fnum);
		goto done;
	}
	nvl = cfg_create_node(name);
	cfg_set_node(nvl, "device", pde->alias != NULL ? pde->alias :
	    pde->emu);
	error = pde->legacy != NULL ? pde->legacy(nvl, config) :
	    pci_parse_legacy_config(nvl, config);
done:
	free(str);
	return error;
}

/* ---- -l ---------------------------------------------------------------- */

/* pci_lpc.c lpc_device_parse(): bootrom,ROM[,VARS], comN,PATH, and
 * pc-testdev, names case-insensitive. */
int
lpc_device_parse(const char *opts)
{
	char	*str, *cpy, *lpcdev, *rom, *vars, key[32];
	int	 unit, error;

	error = -1;
	str = cpy = xstrdup(opts);
	if ((lpcdev = strsep(&str, ",")) == NULL)
		goto done;
	if (strcasecmp(lpcdev, "bootrom") == 0) {
		if ((rom = strsep(&str, ",")) == NULL) {
			free(cpy);
			b_errx(4, "invalid bootrom option \"%s\"", opts);
		}
		cfg_set("lpc.bootrom", rom);
		if ((vars = strsep(&str, ",")) != NULL)
			cfg_set("lpc.bootvars", vars);
		error = 0;
	} else if (strncasecmp(lpcdev, "com", 3) == 0 && lpcdev[3] >= '1' &&
	    lpcdev[3] <= '4' && lpcdev[4] == '\0') {
		unit = lpcdev[3] - '0';
		snprintf(key, sizeof(key), "lpc.com%d.path", unit);
		/* bhyve stores whatever follows, even nothing; a missing
		 * value is refused here, not modelled further. */
		if (str != NULL) {
			cfg_set(key, str);
			error = 0;
		}
	} else if (strcasecmp(lpcdev, "pc-testdev") == 0) {
		cfg_set("lpc.pc-testdev", "true");
		error = 0;
	}
done:
	free(cpy);
	return error;
}

bool
lpc_bootrom(void)
{
	return cfg_get("lpc.bootrom") != NULL;
}

/* ---- block devices ----------------------------------------------------- */

/*
 * blockif_open(): the options, then open(2) the path read-write (read-only
 * with "ro"), falling back to read-only when that fails.  FreeBSD takes
 * O_DIRECT ("nocache") as a hint, Linux refuses it on some file systems:
 * it is left out.  A character device (a disk, on FreeBSD) is asked its
 * size with DIOCGMEDIASIZE, which nothing on Linux answers.  Returns the
 * descriptor, or -1 after bhyve's message with errno as it was.
 */
static int
blockif_open(struct cfgnode *nvl, const char *what, const char *slot,
    int port)
{
	struct stat	 sb;
	const char	*path, *ssval, *pssval;
	char		*cp;
	long		 ssopt, pssopt;
	int		 fd, ro, extra, saved;

	extra = 0;
	ssopt = pssopt = 0;
	(void)cfg_bool_node_default(nvl, "nocache", false);
	(void)cfg_bool_node_default(nvl, "nodelete", false);
	if (cfg_bool_node_default(nvl, "sync", false) ||
	    cfg_bool_node_default(nvl, "direct", false))
		extra |= O_SYNC;
	ro = cfg_bool_node_default(nvl, "ro", false);
	if ((ssval = cfg_get_node(nvl, "sectorsize")) != NULL) {
		ssopt = strtol(ssval, &cp, 10);
		if (cp == ssval) {
			b_eprintln("Invalid sector size \"%s\"", ssval);
			return -1;
		}
		if (*cp == '\0')
			pssopt = ssopt;
		else if (*cp == '/') {
			pssval = cp + 1;
			pssopt = strtol(pssval, &cp, 10);
			if (cp == pssval || *cp != '\0') {
				b_eprintln("Invalid sector size \"%s\"",
				    ssval);
				return -1;
			}
		} else {
			b_eprintln("Invalid sector size \"%s\"", ssval);
			return -1;
		}
	}
	if ((path = cfg_get_node(nvl, "path")) == NULL) {
		b_eprintln("Missing \"path\" for block device.");
		return -1;
	}
	fd = open(path, (ro ? O_RDONLY : O_RDWR) | extra);
	if (fd < 0 && !ro) {
		fd = open(path, O_RDONLY | extra);
		ro = 1;
	}
	if (fd < 0) {
		b_warn("Could not open backing file: %s", path);
		return -1;
	}
	if (fstat(fd, &sb) < 0) {
		b_warn("Could not stat backing file %s", path);
		goto err;
	}
	if (S_ISCHR(sb.st_mode)) {
		errno = ENOTTY;
		b_perror("Could not fetch dev blk/sector size");
		goto err;
	}
	if (ssopt != 0 && ((ssopt & (ssopt - 1)) != 0 ||
	    (pssopt & (pssopt - 1)) != 0 || ssopt < 512 || ssopt > pssopt)) {
		b_eprintln("Invalid sector size %ld/%ld", ssopt, pssopt);
		goto err;
	}
	record_open(what, slot, port, path, fd, ro);
	return fd;
err:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* pci_ahci_init(): every port.N (N = 0..31) that has a "type". */
static int
ahci_init(struct cfgnode *nvl, int bus, int slot, int func)
{
	struct cfgnode	*ports, *port_nvl;
	char		 name[16], ident[64];
	int		 p;

	ports = cfg_find_relative(nvl, "port");
	for (p = 0; p < AHCI_MAX_PORTS; p++) {
		snprintf(name, sizeof(name), "%d", p);
		if ((port_nvl = cfg_find_relative(ports, name)) == NULL)
			continue;
		if (cfg_get_node(port_nvl, "type") == NULL)
			continue;
		snprintf(ident, sizeof(ident), "%d:%d:%d", bus, slot, func);
		if (blockif_open(port_nvl, "ahci", ident, p) < 0)
			return 1;
	}
	return 0;
}

/* fbsdrun_virtio_msix(), read when a virtio device sets up its
 * interrupts (vi_intr_init()). */
static int
virtio_init(struct cfgnode *nvl, int bus, int slot, int func)
{
	(void)nvl;
	(void)bus;
	(void)slot;
	(void)func;
	(void)cfg_bool_default("virtio_msix", true);
	return 0;
}

/* pci_vtblk_init() */
static int
vtblk_init(struct cfgnode *nvl, int bus, int slot, int func)
{
	char	 ident[64];

	snprintf(ident, sizeof(ident), "%d:%d:%d", bus, slot, func);
	if (blockif_open(nvl, "virtio-blk", ident, -1) < 0) {
		b_perror("Could not open backing file");
		return 1;
	}
	return virtio_init(nvl, bus, slot, func);
}

/* pci_nvme_parse_config(): "ram" (MB in memory, no file) or a blockif. */
static int
nvme_init(struct cfgnode *nvl, int bus, int slot, int func)
{
	const char	*v;
	char		 ident[64];
	int		 n;

	if ((v = cfg_get_node(nvl, "qsz")) != NULL && (n = atoi(v)) <= 0) {
		b_eprintln("nvme: Invalid qsz option %d", n);
		return -1;
	}
	if ((v = cfg_get_node(nvl, "ioslots")) != NULL && (n = atoi(v)) <= 0) {
		b_eprintln("Invalid ioslots option %d", n);
		return -1;
	}
	if (cfg_get_node(nvl, "ram") != NULL)
		return 0;
	snprintf(ident, sizeof(ident), "%d:%d:%d", bus, slot, func);
	if (blockif_open(nvl, "nvme", ident, -1) < 0) {
		b_eprintln("nvme: Could not open backing file: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the LPC bridge: bootrom, variables, COM ports --------------------- */

/* bootrom.c bootrom_loadrom() and bootrom_alloc(): sizes are checked,
 * the ROM is read into the guest, the variables file stays mapped. */
static int
bootrom_loadrom(struct cfgnode *nvl)
{
	struct stat	 sb;
	const char	*rom, *vars;
	long long	 rom_size, var_size;
	int		 fd, varfd, rv;

	rv = -1;
	varfd = -1;
	if ((rom = cfg_get_node(nvl, "bootrom")) == NULL)
		return -1;
	if ((fd = open(rom, O_RDONLY)) < 0) {
		b_eprintln("Error opening bootrom \"%s\": %s", rom,
		    strerror(errno));
		goto done;
	}
	if (fstat(fd, &sb) < 0) {
		b_eprintln("Could not fstat bootrom file \"%s\": %s", rom,
		    strerror(errno));
		goto done;
	}
	rom_size = sb.st_size;
	record_open("bootrom", NULL, -1, rom, fd, true);
	var_size = 0;
	if ((vars = cfg_get_node(nvl, "bootvars")) != NULL) {
		if ((varfd = open(vars, O_RDWR)) < 0) {
			b_eprintf("Error opening bootrom variable file "
			    "\"%s\": %s\n", vars, strerror(errno));
			goto done;
		}
		if (fstat(varfd, &sb) < 0) {
			b_eprintf("Could not fstat bootrom variable file "
			    "\"%s\": %s\n", vars, strerror(errno));
			goto done;
		}
		var_size = sb.st_size;
		record_open("bootvars", NULL, -1, vars, varfd, false);
	}
	if (var_size > BOOTROM_SIZE || (var_size != 0 && var_size < PAGE_SIZE)) {
		b_eprintf("Invalid bootrom variable size %lld\n", var_size);
		goto done;
	}
	if (rom_size + var_size > BOOTROM_SIZE) {
		b_eprintf("Invalid bootrom and variable aggregate size %lld\n",
		    rom_size + var_size);
		goto done;
	}
	if (rom_size == 0 || rom_size > BOOTROM_SIZE) {
		b_warnx("ROM size %lld is invalid", rom_size);
		goto done;
	}
	if (rom_size % PAGE_SIZE != 0) {
		b_warnx("ROM size %lld is not a multiple of the page size",
		    rom_size);
		goto done;
	}
	rv = 0;
done:
	/* The ROM is copied and the variables mapped: bhyve closes both. */
	if (varfd >= 0)
		close(varfd);
	if (fd >= 0)
		close(fd);
	return rv;
}

static bool		 uart_stdio;
static struct termios	 tio_stdio_orig;
/* com1's backend, for the stand-in's guest (run_guest()): -1 when the
 * VM has none. */
int			 com1_in = -1, com1_out = -1;

static void
ttyclose(void)
{
	tcsetattr(STDIN_FILENO, TCSANOW, &tio_stdio_orig);
}

/* uart_emul.c ttyopen(): raw mode (which fails quietly on what is no
 * terminal) and, from now on, "\r\n" at the end of bhyve's messages. */
static void
ttyopen(int rfd)
{
	struct termios	 orig, raw;

	memset(&orig, 0, sizeof(orig));
	tcgetattr(rfd, &orig);
	raw = orig;
	cfmakeraw(&raw);
	raw.c_cflag |= CLOCAL;
	tcsetattr(rfd, TCSANOW, &raw);
	if (uart_stdio) {
		tio_stdio_orig = orig;
		atexit(ttyclose);
	}
	raw_stdio = 1;
}

/*
 * uart_tty_open(): "stdio" (once only: F_SETFL O_NONBLOCK on descriptors
 * 0 and 1, which replaces their status flags), "tcp=..." (not modelled:
 * accepted), or a terminal device opened O_RDWR | O_NONBLOCK.
 */
static int
uart_set_backend(const char *name, const char *path)
{
	int	 fd;

	if (path == NULL)
		return 0;
	if (strcmp(path, "stdio") == 0) {
		if (uart_stdio)
			return -1;
		if (fcntl(STDIN_FILENO, F_SETFL, O_NONBLOCK) != 0 ||
		    fcntl(STDOUT_FILENO, F_SETFL, O_NONBLOCK) != 0)
			return -1;
		uart_stdio = true;
		ttyopen(STDIN_FILENO);
		if (strcmp(name, "com1") == 0) {
			com1_in = STDIN_FILENO;
			com1_out = STDOUT_FILENO;
		}
		return 0;
	}
	if (strncmp(path, "tcp", 3) == 0)
		return 0;
	if ((fd = open(path, O_RDWR | O_NONBLOCK)) < 0)
		return -1;
	if (!isatty(fd)) {
		close(fd);
		return -1;
	}
	record_open(name, NULL, -1, path, fd, false);
	ttyopen(fd);
	if (strcmp(name, "com1") == 0)
		com1_in = com1_out = fd;
	return 0;
}

/* pci_lpc_init() and lpc_init() */
static int
lpc_init(struct cfgnode *nvl, int bus, int slot, int func)
{
	static bool	 lpc_bridge;
	struct cfgnode	*lpc;
	const char	*backend;
	char		 key[32];
	int		 unit;

	(void)nvl;
	(void)slot;
	(void)func;
	if (lpc_bridge) {
		b_eprintln("Only one LPC bridge is allowed.");
		return -1;
	}
	if (bus != 0) {
		b_eprintln("LPC bridge can be present only on bus 0.");
		return -1;
	}
	lpc = cfg_find_node("lpc");
	if (lpc != NULL && cfg_exists_node(lpc, "bootrom") &&
	    bootrom_loadrom(lpc) != 0)
		return -1;
	for (unit = 1; unit <= 4; unit++) {
		snprintf(key, sizeof(key), "lpc.com%d.path", unit);
		backend = cfg_get(key);
		snprintf(key, sizeof(key), "com%d", unit);
		if (uart_set_backend(key, backend) != 0) {
			b_eprintln("Unable to initialize backend '%s' for LPC "
			    "device %s", backend, key);
			return -1;
		}
	}
	(void)cfg_bool_default("lpc.pc-testdev", false);
	lpc_bridge = true;
	return 0;
}

/* ---- init_pci ---------------------------------------------------------- */

int
init_pci(void)
{
	const struct pci_devemu	*pde;
	struct cfgnode		*nvl;
	const char		*emul;
	char			 name[64];
	int			 bus, slot, func, error;

	for (bus = 0; bus < MAXBUSES; bus++) {
		snprintf(name, sizeof(name), "pci.%d", bus);
		if (cfg_find_node(name) == NULL)
			continue;
		for (slot = 0; slot < MAXSLOTS; slot++)
			for (func = 0; func < MAXFUNCS; func++) {
				snprintf(name, sizeof(name), "pci.%d.%d.%d",
				    bus, slot, func);
				if ((nvl = cfg_find_node(name)) == NULL)
					continue;
				if ((emul = cfg_get_node(nvl, "device")) ==
				    NULL) {
					b_eprintln("pci slot %d:%d:%d: missing "
					    "\"device\" value", bus, slot,
					    func);
					return EINVAL;
				}
				if ((pde = pci_emul_finddev(emul)) == NULL) {
					b_eprintln("pci slot %d:%d:%d: unknown "
					    "device \"%s\"", bus, slot, func,
					    emul);
					return EINVAL;
				}
				if (pde->alias != NULL) {
					b_eprintln("pci slot %d:%d:%d: legacy "
					    "device \"%s\", use \"%s\" instead",
					    bus, slot, func, emul, pde->alias);
					return EINVAL;
				}
				if (pde->init != NULL &&
				    (error = pde->init(nvl, bus, slot, func))
				    != 0)
					return error;
			}
	}
	return 0;
}
