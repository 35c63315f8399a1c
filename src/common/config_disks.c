/*
 * config_disks.c: the disks a VM's hypervisor opens, so that two VMs
 * never run on the same one (vmstated.conf(5), DISKS).
 *
 * A qemu VM names its disks with the disk key.  A bhyve VM names them in
 * its bhyve configuration file, in the keys bhyve's block devices read
 * (usr.sbin/bhyve: blockif_open() reads "path" for virtio-blk and nvme,
 * pci_ahci.c each port's; an nvme with "ram" has no file), and bhyve
 * opens its UEFI variables file (lpc.bootvars) for writing too.  bhyve
 * reads the file as key=value lines, the last value of a key wins, %(key)
 * is replaced by that key's value and \c by c (config.c); relative paths
 * are relative to its working directory, the VM's directory.
 *
 * A disk is known by its device and inode when it exists -- two paths,
 * a link, a renamed directory name the same file; a disk device by the
 * device it is -- else by its absolute path.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config.h"
#include "file.h"

#define DISKS_CONFIG_MAX	(1024 * 1024)	/* as bhyve_config.c reads */
#define DISKS_EXPAND_DEPTH	16		/* bhyve's config.c */

/* The key=value lines of a bhyve configuration file, in order. */
struct kv {
	char	**key;
	char	**value;
	size_t	  n;
};

static void
kv_add(struct kv *kv, const char *key, size_t keylen, const char *value,
    size_t valuelen)
{
	kv->key = xrealloc(kv->key, (kv->n + 1) * sizeof(*kv->key));
	kv->value = xrealloc(kv->value, (kv->n + 1) * sizeof(*kv->value));
	kv->key[kv->n] = xstrndup(key, keylen);
	kv->value[kv->n] = xstrndup(value, valuelen);
	kv->n++;
}

static void
kv_free(struct kv *kv)
{
	size_t	 i;

	for (i = 0; i < kv->n; i++) {
		free(kv->key[i]);
		free(kv->value[i]);
	}
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

/* The value of key as bhyve sees it (the last one), or NULL. */
static const char *
kv_get(const struct kv *kv, const char *key)
{
	size_t	 i;

	for (i = kv->n; i > 0; i--)
		if (strcmp(kv->key[i - 1], key) == 0)
			return kv->value[i - 1];
	return NULL;
}

/* Parse a bhyve configuration file: lines "key=value", '#' comments,
 * nothing trimmed.  0, or -1 when it cannot be read. */
static int
kv_read(const char *path, struct kv *kv)
{
	struct buf	 b;
	const char	*line, *end, *eq, *stop;
	char		 msg[256];

	buf_init(&b);
	if (file_read(path, FILE_REGULAR, DISKS_CONFIG_MAX, &b, NULL, msg,
	    sizeof(msg)) == -1) {
		buf_free(&b);
		return -1;
	}
	for (line = b.data, stop = b.data + b.len; line != NULL &&
	    line < stop; line = end != NULL ? end + 1 : NULL) {
		end = memchr(line, '\n', (size_t)(stop - line));
		if (line[0] == '#' || line == (end != NULL ? end : stop))
			continue;
		eq = memchr(line, '=', (size_t)((end != NULL ? end : stop) -
		    line));
		if (eq == NULL || eq == line)
			continue;
		kv_add(kv, line, (size_t)(eq - line), eq + 1,
		    (size_t)((end != NULL ? end : stop) - eq - 1));
	}
	buf_free(&b);
	return 0;
}

/* A value with %(key) replaced and \c turned into c, as bhyve does. */
static void
kv_expand(const struct kv *kv, const char *value, int depth, struct buf *out)
{
	const char	*p, *close, *ref;
	char		*name;

	for (p = value; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0') {
			buf_putc(out, *++p);
			continue;
		}
		if (*p == '%' && p[1] == '(' &&
		    (close = strchr(p + 2, ')')) != NULL &&
		    depth < DISKS_EXPAND_DEPTH) {
			name = xstrndup(p + 2, (size_t)(close - p - 2));
			if ((ref = kv_get(kv, name)) != NULL)
				kv_expand(kv, ref, depth + 1, out);
			free(name);
			p = close;
			continue;
		}
		buf_putc(out, *p);
	}
}

/* A bhyve boolean (config.c _bool_value): true/on/yes/1. */
static bool
kv_true(const struct kv *kv, const char *key)
{
	const char	*v = kv_get(kv, key);

	return v != NULL && (strcasecmp(v, "true") == 0 ||
	    strcasecmp(v, "on") == 0 || strcasecmp(v, "yes") == 0 ||
	    strcmp(v, "1") == 0);
}

void
cfg_disks_add(struct cfg_disks *d, const char *dir, const char *path,
    bool readonly)
{
	struct cfg_disk	*disk;
	struct stat	 st;
	size_t		 i;

	d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	disk = &d->v[d->n];
	memset(disk, 0, sizeof(*disk));
	if (path[0] == '/' || dir == NULL)
		disk->path = xstrdup(path);
	else
		xasprintf(&disk->path, "%s%s%s", dir, dir[0] != '\0' &&
		    dir[strlen(dir) - 1] == '/' ? "" : "/", path);
	if (stat(disk->path, &st) == 0) {
		disk->exists = true;
		/* A disk device is the same through any of its nodes. */
		disk->device = S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode);
		disk->dev = disk->device ? st.st_rdev : st.st_dev;
		disk->ino = disk->device ? 0 : st.st_ino;
	}
	disk->readonly = readonly;
	/* Named twice (two ports): once, writable if either is. */
	for (i = 0; i < d->n; i++)
		if (cfg_disk_same(&d->v[i], disk)) {
			d->v[i].readonly = d->v[i].readonly && readonly;
			free(disk->path);
			return;
		}
	d->n++;
}

/* One block device of a bhyve configuration: node is "pci.B.S.F" or
 * "pci.B.S.F.port.N", its path key node + ".path". */
static void
bhyve_disk(const struct kv *kv, const char *dir, const char *node,
    bool readonly, struct cfg_disks *d)
{
	struct buf	 path;
	char		*key;
	const char	*v;

	xasprintf(&key, "%s.path", node);
	if ((v = kv_get(kv, key)) != NULL) {
		buf_init(&path);
		buf_puts(&path, "");
		kv_expand(kv, v, 0, &path);
		free(key);
		xasprintf(&key, "%s.ro", node);
		if (path.len > 0)
			cfg_disks_add(d, dir, path.data, readonly ||
			    kv_true(kv, key));
		buf_free(&path);
	}
	free(key);
}

/* Is s "pci.B.S.F" followed by suffix, B, S and F numbers? */
static bool
pci_node(const char *s, const char *suffix, size_t *nodelen)
{
	const char	*p = s;
	int		 i;

	if (strncmp(p, "pci.", 4) != 0)
		return false;
	p += 4;
	for (i = 0; i < 3; i++) {
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
		if (i < 2 && *p++ != '.')
			return false;
	}
	if (strcmp(p, suffix) != 0)
		return false;
	*nodelen = (size_t)(p - s);
	return true;
}

/* Every ahci port of the device at node (pci.B.S.F) that has a type. */
static void
bhyve_ahci_disks(const struct kv *kv, const char *dir, const char *node,
    struct cfg_disks *d)
{
	char		*key, *port;
	const char	*type;
	int		 p;

	for (p = 0; p < 32; p++) {		/* pci_ahci.c MAX_PORTS */
		xasprintf(&port, "%s.port.%d", node, p);
		xasprintf(&key, "%s.type", port);
		if ((type = kv_get(kv, key)) != NULL)
			bhyve_disk(kv, dir, port, strcmp(type, "cd") == 0, d);
		free(key);
		free(port);
	}
}

static void
bhyve_disks(const struct kv *kv, const char *dir, struct cfg_disks *d)
{
	const char	*dev, *vars;
	char		*node, *key;
	size_t		 i, j, len;
	struct buf	 path;

	for (i = 0; i < kv->n; i++) {
		if (!pci_node(kv->key[i], ".device", &len))
			continue;
		/* The last device of a slot counts, once. */
		for (j = i + 1; j < kv->n; j++)
			if (strcmp(kv->key[j], kv->key[i]) == 0)
				break;
		if (j < kv->n)
			continue;
		dev = kv->value[i];
		node = xstrndup(kv->key[i], len);
		if (strcmp(dev, "ahci") == 0)
			bhyve_ahci_disks(kv, dir, node, d);
		else if (strcmp(dev, "virtio-blk") == 0)
			bhyve_disk(kv, dir, node, false, d);
		else if (strcmp(dev, "nvme") == 0) {
			xasprintf(&key, "%s.ram", node);
			if (kv_get(kv, key) == NULL)
				bhyve_disk(kv, dir, node, false, d);
			free(key);
		}
		free(node);
	}
	if ((vars = kv_get(kv, "lpc.bootvars")) != NULL) {
		buf_init(&path);
		buf_puts(&path, "");
		kv_expand(kv, vars, 0, &path);
		if (path.len > 0)
			cfg_disks_add(d, dir, path.data, false);
		buf_free(&path);
	}
}

int
cfg_vm_disks(const struct vm_config *vm, const char *configfile,
    struct cfg_disks *d)
{
	const struct cfg_qemu	*q = cfg_qemu(vm);
	struct kv		 kv;
	char			 path[PATH_MAX];
	size_t			 i;

	if (vm->hypervisor == HV_QEMU) {
		for (i = 0; i < q->ndisks; i++)
			cfg_disks_add(d, vm->dir, q->disks[i], false);
		return 0;
	}
	if (configfile == NULL &&
	    (configfile = cfg_configfile(vm, path, sizeof(path))) == NULL)
		return 0;
	memset(&kv, 0, sizeof(kv));
	if (kv_read(configfile, &kv) == -1)
		return -1;
	/* vmstated appends the VM's name (bhyve_config.c): %(name). */
	kv_add(&kv, "name", 4, vm->name, strlen(vm->name));
	bhyve_disks(&kv, vm->dir, d);
	kv_free(&kv);
	return 0;
}

bool
cfg_disk_same(const struct cfg_disk *a, const struct cfg_disk *b)
{
	if (a->exists && b->exists)
		return a->device == b->device && a->dev == b->dev &&
		    a->ino == b->ino;
	return strcmp(a->path, b->path) == 0;
}

const struct cfg_disk *
cfg_disks_clash(const struct cfg_disks *a, const struct cfg_disks *b)
{
	size_t	 i, j;

	for (i = 0; i < a->n; i++)
		for (j = 0; j < b->n; j++)
			if ((!a->v[i].readonly || !b->v[j].readonly) &&
			    cfg_disk_same(&a->v[i], &b->v[j]))
				return &a->v[i];
	return NULL;
}

void
cfg_disks_free(struct cfg_disks *d)
{
	size_t	 i;

	for (i = 0; i < d->n; i++)
		free(d->v[i].path);
	free(d->v);
	d->v = NULL;
	d->n = 0;
}
