/*
 * config_pack.c: a configuration in one allocation.
 *
 * The daemon keeps every VM's configuration for as long as it runs:
 * with 10,000 VMs, the structure and its half-dozen strings, each in an
 * allocation of its own with malloc's header and rounding, were 700
 * bytes a VM.  Packed, the structure is followed by its consoles, its
 * qemu keys and its rarer strings' pointers (each only when one is
 * given), its lists and its strings, in one allocation; a
 * string that ends another (dirname, and usually the name, end dir;
 * scriptpath is dir unless given) shares its bytes.  The parser builds
 * the loose form (config.c, config_keys.c), which it can change key by
 * key, and packs it once it is valid.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "config_keys.h"

/* The ports of every VM that gives none; never written. */
static const struct cfg_console no_consoles[CFG_MAX_CONSOLES];

const struct cfg_console *
cfg_console(const struct vm_config *vm, int i)
{
	return vm->consoles != NULL ? &vm->consoles[i] : &no_consoles[i];
}

bool
cfg_consoles_given(const struct vm_config *vm)
{
	return vm->consoles != NULL && vm->consoles != no_consoles;
}

/* The qemu keys of every VM that gives none; never written. */
static const struct cfg_qemu no_qemu;

const struct cfg_qemu *
cfg_qemu(const struct vm_config *vm)
{
	return vm->qemu != NULL ? vm->qemu : &no_qemu;
}

struct cfg_qemu *
cfg_qemu_w(struct vm_config *vm)
{
	if (vm->qemu == NULL)
		vm->qemu = xcalloc(1, sizeof(*vm->qemu));
	return vm->qemu;
}

/* The rarer strings of every VM that gives none; never written. */
static const struct cfg_extra no_extra;

const struct cfg_extra *
cfg_extra(const struct vm_config *vm)
{
	return vm->extra != NULL ? vm->extra : &no_extra;
}

struct cfg_extra *
cfg_extra_w(struct vm_config *vm)
{
	if (vm->extra == NULL)
		vm->extra = xcalloc(1, sizeof(*vm->extra));
	return vm->extra;
}

static bool
extra_given(const struct cfg_extra *x)
{
	return x->os != NULL || x->osversion != NULL ||
	    x->description != NULL || x->bootrom != NULL ||
	    x->hostbridge != NULL;
}

/* Anything in q?  A bhyve VM's part (or one whose keys said "no", as
 * watchdog = false does) is left out of the packed copy. */
static bool
qemu_given(const struct cfg_qemu *q)
{
	return q->kernel != NULL || q->initrd != NULL || q->append != NULL ||
	    q->ndisks > 0 || q->nqemu_args > 0 || q->qemu_binary != NULL ||
	    q->watchdog;
}

/*
 * Where the next bytes go: at + size, or nowhere while measuring (at is
 * NULL).  The same code measures and copies, so that the two agree.
 */
struct packer {
	char	*at;
	size_t	 size;
};

static void *
pack_bytes(struct packer *p, const void *src, size_t len)
{
	char	*dst = NULL;

	if (p->at != NULL) {
		dst = p->at + p->size;
		memcpy(dst, src, len);
	}
	p->size += len;
	return dst;
}

static char *
pack_str(struct packer *p, const char *s)
{
	return s != NULL ? pack_bytes(p, s, strlen(s) + 1) : NULL;
}

/*
 * s, or the tail of the packed copy of within (src: its loose original)
 * when s is the end of within.
 */
static char *
pack_tail(struct packer *p, const char *s, const char *src,
    char *within)
{
	size_t	 len, srclen;

	if (s == NULL || src == NULL)
		return pack_str(p, s);
	len = strlen(s);
	srclen = strlen(src);
	if (len > srclen || strcmp(src + srclen - len, s) != 0)
		return pack_str(p, s);
	return within != NULL ? within + srclen - len : NULL;
}

/* The strings of a list of n into dst (NULL while measuring). */
static void
pack_strs(struct packer *p, char **dst, char *const *src, size_t n)
{
	char	*s;
	size_t	 i;

	for (i = 0; i < n; i++) {
		s = pack_str(p, src[i]);
		if (dst != NULL)
			dst[i] = s;
	}
}

/* The name of src's configfile in its directory, or NULL when it is
 * elsewhere (or none is given). */
static const char *
configfile_tail(const struct vm_config *src)
{
	const char	*file;
	size_t		 len;

	if (src->configfile_in_dir)		/* packed already */
		return src->dir + strlen(src->dir) + 1;
	if (src->dir == NULL || (file = src->configfile_stored) == NULL)
		return NULL;
	len = strlen(src->dir);
	if (strncmp(file, src->dir, len) != 0 || file[len] != '/' ||
	    file[len + 1] == '\0' || strchr(file + len + 1, '/') != NULL)
		return NULL;
	return file + len + 1;
}

static bool
consoles_present(const struct vm_config *vm)
{
	int	 i;

	for (i = 0; i < CFG_MAX_CONSOLES; i++)
		if (cfg_console(vm, i)->present)
			return true;
	return false;
}

/*
 * Lay src out after *dst (p->at; NULL: only measure).  What needs
 * alignment comes first: the consoles, the qemu and extra parts and
 * the lists' pointers (8 bytes), the disks' formats (an enum); the
 * strings, bytes, last.  While measuring, or when a part is left out,
 * what would go into it goes into a scratch copy.
 */
static void
pack(struct packer *p, struct vm_config *dst, const struct vm_config *src)
{
	const struct cfg_qemu	*sq = cfg_qemu(src);
	const struct cfg_extra	*sx = cfg_extra(src);
	struct cfg_qemu		 qscratch, *q = &qscratch;
	struct cfg_extra	 xscratch, *x = &xscratch;
	struct cfg_console	*con = NULL;
	const char		*tail;
	int			 i;
	bool			 consoles = consoles_present(src);

	*dst = *src;
	dst->packed = true;
	dst->consoles = (struct cfg_console *)no_consoles;
	if (consoles)
		dst->consoles = con = pack_bytes(p, src->consoles,
		    CFG_MAX_CONSOLES * sizeof(*src->consoles));
	dst->qemu = NULL;
	if (qemu_given(sq) &&
	    (dst->qemu = pack_bytes(p, sq, sizeof(*sq))) != NULL)
		q = dst->qemu;
	*q = *sq;
	dst->extra = NULL;
	if (extra_given(sx) &&
	    (dst->extra = pack_bytes(p, sx, sizeof(*sx))) != NULL)
		x = dst->extra;
	q->disks = sq->ndisks == 0 ? NULL : pack_bytes(p, sq->disks,
	    sq->ndisks * sizeof(*sq->disks));
	q->qemu_args = sq->nqemu_args == 0 ? NULL : pack_bytes(p,
	    sq->qemu_args, sq->nqemu_args * sizeof(*sq->qemu_args));
	dst->depends = src->ndepends == 0 ? NULL : pack_bytes(p,
	    src->depends, src->ndepends * sizeof(*src->depends));
	q->disk_formats = sq->ndisks == 0 ? NULL : pack_bytes(p,
	    sq->disk_formats, sq->ndisks * sizeof(*sq->disk_formats));

	for (i = 0; consoles && i < CFG_MAX_CONSOLES; i++) {
		if (con != NULL)
			con[i].backend = pack_str(p, src->consoles[i].backend);
		else
			(void)pack_str(p, src->consoles[i].backend);
	}
	pack_strs(p, q->disks, sq->disks, sq->ndisks);
	pack_strs(p, q->qemu_args, sq->qemu_args, sq->nqemu_args);
	pack_strs(p, dst->depends, src->depends, src->ndepends);
	dst->dir = pack_str(p, src->dir);
	if ((tail = configfile_tail(src)) != NULL) {
		/* Most VMs keep their bhyve configuration in their
		 * directory: its name alone follows dir's bytes. */
		(void)pack_str(p, tail);
		dst->configfile_in_dir = true;
		dst->configfile_stored = NULL;
	} else {
		dst->configfile_in_dir = false;
		dst->configfile_stored = pack_str(p, src->configfile_stored);
	}
	dst->dirname = pack_tail(p, src->dirname, src->dir, dst->dir);
	dst->name = pack_tail(p, src->name, src->dir, dst->dir);
	dst->scriptpath = pack_tail(p, src->scriptpath, src->dir, dst->dir);
	dst->owner = pack_str(p, src->owner);
	dst->group = pack_str(p, src->group);
	x->os = pack_str(p, sx->os);
	x->osversion = pack_str(p, sx->osversion);
	x->description = pack_str(p, sx->description);
	x->bootrom = pack_str(p, sx->bootrom);
	x->hostbridge = pack_str(p, sx->hostbridge);
	q->kernel = pack_str(p, sq->kernel);
	q->initrd = pack_str(p, sq->initrd);
	q->append = pack_str(p, sq->append);
	q->qemu_binary = pack_str(p, sq->qemu_binary);
}

struct vm_config *
cfg_vm_pack(const struct vm_config *src)
{
	struct vm_config	 scratch, *vm;
	struct packer		 p;

	p.at = NULL;
	p.size = sizeof(*vm);
	pack(&p, &scratch, src);
	vm = xmalloc(p.size);
	p.at = (char *)vm;
	p.size = sizeof(*vm);
	pack(&p, vm, src);
	return vm;
}
