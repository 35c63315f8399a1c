/*
 * config.c: find and load the configuration: vmstated.conf and one
 * directory per VM.
 *
 * A VM starts as a copy of the defaults (built in, then defaults{} of
 * vmstated.conf), and its own file's keys are laid over them by
 * config_keys.c.  Every error is collected, not just the first, so that
 * `vmstated -n` shows all of them at once; a VM with any error is not
 * loaded but listed in cfg_set.invalid with all its errors.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "config_keys.h"
#include "trust.h"
#include "ucl.h"

#define VM_NAME_MAX		CFG_MAX_NAME
#define BHYVE_NAME_MAX		31	/* VM_MAX_NAMELEN 32 on FreeBSD 13/14 */
#define NAME_RULE	"a name has 1 to 64 letters, digits, '.', '_' or '-' " \
			"and starts with a letter or a digit"

/* One VM directory being loaded. */

const char *
cfg_hv_name(enum hv_kind kind)
{
	return kind == HV_QEMU ? "qemu" : "bhyve";
}

const char *
cfg_disk_format_name(enum cfg_disk_format format)
{
	return format == CFG_DISK_QCOW2 ? "qcow2" : "raw";
}

char *
cfg_absolute_dir(const char *dir)
{
	char		 cwd[4096];
	struct buf	 b;
	const char	*p, *end;
	size_t		 len;

	buf_init(&b);
	if (dir[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			strcpy(cwd, ".");
		buf_puts(&b, cwd);
	}
	for (p = dir; *p != '\0'; p = end) {
		while (*p == '/')
			p++;
		for (end = p; *end != '\0' && *end != '/'; end++)
			;
		len = (size_t)(end - p);
		if (len == 0 || (len == 1 && p[0] == '.'))
			continue;
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			/* Lexically, as cd(1) does by default. */
			while (b.len > 0 && b.data[b.len - 1] != '/')
				b.len--;
			if (b.len > 1)
				b.len--;
			if (b.data != NULL)
				b.data[b.len] = '\0';
			continue;
		}
		if (b.len == 0 || b.data[b.len - 1] != '/')
			buf_putc(&b, '/');
		buf_append(&b, p, len);
	}
	if (b.len == 0)
		buf_putc(&b, '/');
	return buf_steal(&b);
}

bool
cfg_name_ok(const char *s)
{
	size_t	 i;

	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') ||
	    (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (i = 1; s[i] != '\0'; i++) {
		if (i >= VM_NAME_MAX)
			return false;
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return false;
	}
	return true;
}

/* Free what a loose vm_config points to (config_pack.c: not a packed one). */
void
cfg_vm_clear(struct vm_config *vm)
{
	struct cfg_qemu	*q;
	struct cfg_extra *x;
	size_t		 i;

	free(vm->name);
	free(vm->dir);
	free(vm->dirname);
	free(vm->configfile_stored);
	free(vm->scriptpath);
	free(vm->owner);
	free(vm->group);
	if ((x = vm->extra) != NULL) {
		free(x->os);
		free(x->osversion);
		free(x->description);
		free(x->bootrom);
		free(x->hostbridge);
		free(x);
	}
	if (cfg_consoles_given(vm)) {
		for (i = 0; i < CFG_MAX_CONSOLES; i++)
			free(vm->consoles[i].backend);
		free(vm->consoles);
	}
	if ((q = vm->qemu) != NULL) {
		free(q->kernel);
		free(q->initrd);
		free(q->append);
		for (i = 0; i < q->ndisks; i++)
			free(q->disks[i]);
		free(q->disks);
		free(q->disk_formats);
		for (i = 0; i < q->nqemu_args; i++)
			free(q->qemu_args[i]);
		free(q->qemu_args);
		free(q->qemu_binary);
		free(q);
	}
	for (i = 0; i < vm->ndepends; i++)
		free(vm->depends[i]);
	free(vm->depends);
	memset(vm, 0, sizeof(*vm));
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static char **
dup_list(char *const *list, size_t n)
{
	char	**copy;
	size_t	  i;

	if (n == 0)
		return NULL;
	copy = xcalloc(n, sizeof(*copy));
	for (i = 0; i < n; i++)
		copy[i] = xstrdup(list[i]);
	return copy;
}

static struct cfg_qemu *
qemu_dup(const struct cfg_qemu *src)
{
	struct cfg_qemu	*dst;

	dst = xcalloc(1, sizeof(*dst));
	*dst = *src;
	dst->kernel = dup_or_null(src->kernel);
	dst->initrd = dup_or_null(src->initrd);
	dst->append = dup_or_null(src->append);
	dst->disks = dup_list(src->disks, src->ndisks);
	dst->disk_formats = NULL;
	if (src->ndisks > 0) {
		dst->disk_formats = xcalloc(src->ndisks,
		    sizeof(*dst->disk_formats));
		memcpy(dst->disk_formats, src->disk_formats, src->ndisks *
		    sizeof(*dst->disk_formats));
	}
	dst->qemu_args = dup_list(src->qemu_args, src->nqemu_args);
	dst->qemu_binary = dup_or_null(src->qemu_binary);
	return dst;
}

/* A deep copy of *src into *dst. */
static void
vm_copy(struct vm_config *dst, const struct vm_config *src)
{
	char	 path[PATH_MAX];
	size_t	 i;

	*dst = *src;
	dst->name = dup_or_null(src->name);
	dst->dir = dup_or_null(src->dir);
	dst->dirname = dup_or_null(src->dirname);
	dst->configfile_stored = dup_or_null(cfg_configfile(src, path,
	    sizeof(path)));
	dst->configfile_in_dir = false;
	dst->scriptpath = dup_or_null(src->scriptpath);
	dst->owner = dup_or_null(src->owner);
	dst->group = dup_or_null(src->group);
	dst->extra = NULL;
	if (src->extra != NULL) {
		dst->extra = xcalloc(1, sizeof(*dst->extra));
		dst->extra->os = dup_or_null(src->extra->os);
		dst->extra->osversion = dup_or_null(src->extra->osversion);
		dst->extra->description =
		    dup_or_null(src->extra->description);
		dst->extra->bootrom = dup_or_null(src->extra->bootrom);
		dst->extra->hostbridge = dup_or_null(src->extra->hostbridge);
	}
	dst->consoles = NULL;
	if (cfg_consoles_given(src)) {
		dst->consoles = xcalloc(CFG_MAX_CONSOLES,
		    sizeof(*dst->consoles));
		for (i = 0; i < CFG_MAX_CONSOLES; i++) {
			dst->consoles[i] = src->consoles[i];
			dst->consoles[i].backend =
			    dup_or_null(src->consoles[i].backend);
		}
	}
	dst->qemu = NULL;
	if (src->qemu != NULL)
		dst->qemu = qemu_dup(src->qemu);
	dst->depends = dup_list(src->depends, src->ndepends);
	dst->packed = false;
}

struct vm_config *
cfg_vm_dup(const struct vm_config *src)
{
	struct vm_config	*vm;

	vm = xcalloc(1, sizeof(*vm));
	vm_copy(vm, src);
	return vm;
}

void
cfg_vm_free(struct vm_config *vm)
{
	if (vm == NULL)
		return;
	if (!vm->packed)
		cfg_vm_clear(vm);
	free(vm);
}

static bool
str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool
list_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
	size_t	 i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

/* Field by field: a part left out (none given) equals an empty one. */
static bool
qemu_equal(const struct cfg_qemu *a, const struct cfg_qemu *b)
{
	return str_equal(a->kernel, b->kernel) &&
	    str_equal(a->initrd, b->initrd) &&
	    str_equal(a->append, b->append) &&
	    list_equal(a->disks, a->ndisks, b->disks, b->ndisks) &&
	    (a->ndisks == 0 || memcmp(a->disk_formats, b->disk_formats,
	    a->ndisks * sizeof(*a->disk_formats)) == 0) &&
	    list_equal(a->qemu_args, a->nqemu_args, b->qemu_args,
	    b->nqemu_args) &&
	    str_equal(a->qemu_binary, b->qemu_binary) &&
	    a->watchdog == b->watchdog;
}

/*
 * Every field counts, the descriptive ones too: a reload that changes a
 * description should show it, and comparing less buys nothing.
 */
bool
cfg_vm_equal(const struct vm_config *a, const struct vm_config *b)
{
	const struct cfg_console	*ca, *cb;
	const struct cfg_extra		*xa = cfg_extra(a), *xb = cfg_extra(b);
	char				 fa[PATH_MAX], fb[PATH_MAX];
	int				 i;

	for (i = 0; i < CFG_MAX_CONSOLES; i++) {
		ca = cfg_console(a, i);
		cb = cfg_console(b, i);
		if (ca->present != cb->present || ca->enabled != cb->enabled ||
		    !str_equal(ca->backend, cb->backend))
			return false;
	}
	return str_equal(a->name, b->name) && str_equal(a->dir, b->dir) &&
	    str_equal(a->dirname, b->dirname) &&
	    str_equal(cfg_configfile(a, fa, sizeof(fa)),
	    cfg_configfile(b, fb, sizeof(fb))) &&
	    str_equal(a->scriptpath, b->scriptpath) &&
	    str_equal(xa->os, xb->os) &&
	    str_equal(xa->osversion, xb->osversion) &&
	    str_equal(a->owner, b->owner) &&
	    (a->owner == NULL || a->owner_uid == b->owner_uid) &&
	    str_equal(a->group, b->group) &&
	    (a->group == NULL || a->group_gid == b->group_gid) &&
	    str_equal(xa->description, xb->description) &&
	    a->maxrestart == b->maxrestart &&
	    a->maxrestarttime == b->maxrestarttime &&
	    str_equal(xa->bootrom, xb->bootrom) &&
	    a->generate_acpi_tables == b->generate_acpi_tables &&
	    a->vmexit_on_halt == b->vmexit_on_halt &&
	    a->memory_mb == b->memory_mb && a->cpus == b->cpus &&
	    a->sockets == b->sockets && a->cores == b->cores &&
	    a->threads == b->threads &&
	    a->hypervisor == b->hypervisor && a->autostart == b->autostart &&
	    a->stoptimeout == b->stoptimeout &&
	    a->hooktimeout == b->hooktimeout &&
	    str_equal(xa->hostbridge, xb->hostbridge) &&
	    a->wire_memory == b->wire_memory &&
	    qemu_equal(cfg_qemu(a), cfg_qemu(b)) &&
	    list_equal(a->depends, a->ndepends, b->depends, b->ndepends) &&
	    a->autostart_delay == b->autostart_delay &&
	    a->probe_interval == b->probe_interval &&
	    a->probe_timeout == b->probe_timeout &&
	    a->probe_failures == b->probe_failures;
}

/* A syntax error from the parser: file:line:column: message. */
static void
syntax_error(struct cfg_errors *errs, const char *path,
    const struct ucl_error *uerr)
{
	const char	*file = uerr->file[0] != '\0' ? uerr->file : path;
	char		 where[1200];

	if (uerr->line > 0 && uerr->column > 0)
		snprintf(where, sizeof(where), "%s:%d:%d", file, uerr->line,
		    uerr->column);
	else if (uerr->line > 0)
		snprintf(where, sizeof(where), "%s:%d", file, uerr->line);
	else
		snprintf(where, sizeof(where), "%s", file);
	cfg_error(errs, where, 0, NULL, "%s", uerr->message);
}

/*
 * A file read with .include counts as the config itself: every one that
 * gave a member must be trusted too.  files holds the names checked so
 * far (the tree shares one string per file).  0, or -1 after an error.
 */
static int
trust_includes(const struct ucl_node *n, const char ***files, size_t *nfiles,
    struct cfg_errors *errs)
{
	const struct ucl_node	*c;
	char			 why[TRUST_ERR_MAX];
	size_t			 i;

	if (n->file != NULL) {
		for (i = 0; i < *nfiles; i++)
			if (strcmp((*files)[i], n->file) == 0)
				break;
		if (i == *nfiles) {
			*files = xrealloc(*files, (*nfiles + 1) *
			    sizeof(**files));
			(*files)[(*nfiles)++] = n->file;
			if (trust_path(n->file, why, sizeof(why)) == -1) {
				cfg_error(errs, n->file, 0, NULL, "is not "
				    "trusted: %s", why);
				return -1;
			}
		}
	}
	for (c = n->children; c != NULL; c = c->next)
		if (trust_includes(c, files, nfiles, errs) == -1)
			return -1;
	return 0;
}

int
cfg_parse_file(const char *path, struct ucl_node **root, bool *missing,
    struct cfg_errors *errs)
{
	struct ucl_error	 uerr;
	struct stat		 st;
	const char		**files;
	size_t			  nfiles = 1;
	char			  why[TRUST_ERR_MAX];
	int			  rc;

	*root = NULL;
	*missing = false;
	if (stat(path, &st) == -1) {
		*missing = errno == ENOENT;
		if (!*missing)
			cfg_error(errs, path, 0, NULL, "cannot read: %s",
			    strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		cfg_error(errs, path, 0, NULL, "is a directory; it must be a "
		    "file");
		return -1;
	}
	/* Root acts on what the file says: nobody else may write it. */
	if (trust_path(path, why, sizeof(why)) == -1) {
		cfg_error(errs, path, 0, NULL, "is not trusted: %s", why);
		return -1;
	}
	memset(&uerr, 0, sizeof(uerr));
	if ((*root = ucl_parse_config(path, &uerr)) == NULL) {
		syntax_error(errs, path, &uerr);
		return -1;
	}
	files = xcalloc(1, sizeof(*files));
	files[0] = path;	/* checked above */
	rc = trust_includes(*root, &files, &nfiles, errs);
	free(files);
	if (rc == -1) {
		ucl_free(*root);
		*root = NULL;
		return -1;
	}
	if ((*root)->type != UCL_OBJECT) {
		cfg_error(errs, path, (*root)->line, NULL, "expected keys or a "
		    "section such as vmname { ... }, got %s",
		    ucl_type_name((*root)->type));
		ucl_free(*root);
		*root = NULL;
		return -1;
	}
	return 0;
}

/* A member that wraps a VM: a section whose key is not a VM key. */
static bool
is_vm_section(const struct ucl_node *m)
{
	return m->type == UCL_OBJECT && m->key != NULL &&
	    !cfg_is_vm_key(m->key);
}

/*
 * The VM's keys: the one section of the wrapped form (bsdvm { ... }), or
 * the top level itself.  NULL after an error when the file wraps several.
 */
static const struct ucl_node *
vm_body(const struct ucl_node *root, const char *path,
    struct cfg_errors *errs)
{
	const struct ucl_node	*m;
	struct buf		 list;
	char			 shown[64];
	size_t			 sections = 0;

	for (m = root->children; m != NULL; m = m->next)
		if (is_vm_section(m))
			sections++;
	if (root->count == 1 && sections == 1)
		return root->children;
	if (sections < 2 || sections != root->count)
		return root;
	buf_init(&list);
	for (m = root->children; m != NULL; m = m->next)
		buf_printf(&list, "%s\"%s\" on line %d", list.len ? ", " : "",
		    cfg_shorten(m->key, shown, sizeof(shown)), m->line);
	cfg_error(errs, path, root->children->line, NULL, "holds %zu VM "
	    "sections (%s); a config file describes one VM: give each one "
	    "a directory of its own", sections, list.data);
	buf_free(&list);
	return NULL;
}

/* The VM's name: name = ..., else the section's key, else the dirname. */
static void
settle_name(struct vm_load *l, const struct ucl_node *root,
    const struct ucl_node *body, const struct cfg_seen *seen)
{
	struct vm_config	*vm = l->vm;
	const char		*from;
	char			 shown[64];

	if (seen->node[K_NAME] != NULL && vm->name != NULL) {
		from = "name";
		l->name_line = seen->node[K_NAME]->line;
	} else if (body != root) {
		free(vm->name);
		vm->name = xstrdup(body->key);
		from = "the section";
		l->name_line = body->line;
	} else {
		free(vm->name);
		vm->name = xstrdup(l->dirname);
		from = "the directory";
		l->name_line = 0;
	}
	if (seen->bad[K_NAME])
		return;
	if (!cfg_name_ok(vm->name)) {
		cfg_error(&l->errs, l->config_path, l->name_line, "name",
		    "\"%s\" (from %s) is not a valid VM name: %s; %s",
		    cfg_shorten(vm->name, shown, sizeof(shown)), from, NAME_RULE, body == root &&
		    seen->node[K_NAME] == NULL ? "rename the directory or add "
		    "name = \"...\";" : "choose another");
		return;
	}
	if (vm->hypervisor == HV_BHYVE && strlen(vm->name) > BHYVE_NAME_MAX)
		cfg_error(&l->errs, l->config_path, l->name_line, "name",
		    "\"%s\" is %zu characters long; bhyve accepts at most %d",
		    vm->name, strlen(vm->name), BHYVE_NAME_MAX);
	free(l->name);
	l->name = xstrdup(vm->name);
}

static void	 borrow(struct vm_load *);

/* Load dir into *l: l->vm when valid, else l->errs tells why. */
static void
load_vm(const char *dir, const struct daemon_config *dc, struct vm_load *l)
{
	struct ucl_node		*root;
	const struct ucl_node	*body;
	struct cfg_seen		 seen;
	struct vm_config	*vm;
	const char		*slash;
	bool			 missing;

	memset(l, 0, sizeof(*l));
	cfg_errors_init(&l->errs);
	l->dir = cfg_absolute_dir(dir);
	slash = strrchr(l->dir, '/');
	l->dirname = xstrdup(slash != NULL && slash[1] != '\0' ? slash + 1 :
	    l->dir);
	l->name = xstrdup(l->dirname);
	xasprintf(&l->config_path, "%s/config", l->dir);
	if (cfg_parse_file(l->config_path, &root, &missing, &l->errs) == -1) {
		if (missing)
			cfg_error(&l->errs, l->config_path, 0, NULL,
			    "no config file; create %s or remove the "
			    "directory (keep shared files in a directory "
			    "whose name starts with a dot)", l->config_path);
		return;
	}
	if ((body = vm_body(root, l->config_path, &l->errs)) == NULL) {
		ucl_free(root);
		return;
	}

	vm = l->vm = xcalloc(1, sizeof(*vm));
	if (dc != NULL)
		vm_copy(vm, &dc->defaults);
	else
		cfg_vm_set_builtin_defaults(vm);
	vm->dir = xstrdup(l->dir);
	vm->dirname = xstrdup(l->dirname);

	memset(&seen, 0, sizeof(seen));
	cfg_apply_keys(vm, body, l->dir, CFG_SCOPE_VM, "", &seen, &l->errs);
	settle_name(l, root, body, &seen);
	cfg_check_keys(vm, CFG_SCOPE_VM, "", &seen, l->config_path,
	    body != root ? body->line : 1, &l->errs);
	if (vm->scriptpath == NULL)
		vm->scriptpath = xstrdup(l->dir);
	ucl_free(root);
	if (l->errs.count > 0) {
		cfg_vm_free(l->vm);
		l->vm = NULL;
		return;
	}
	/* Kept for as long as the VM is: in one allocation. */
	l->vm = cfg_vm_pack(vm);
	cfg_vm_free(vm);
	borrow(l);
}

/*
 * A valid VM's strings are the same as the load's: the load borrows
 * them and frees its own now.  Kept until every VM is loaded (the
 * checks across VMs need them), its copies left a hole of some 150
 * bytes per VM between the configurations that stay, which the
 * allocator could never give back: 1.5 MB with 10,000 VMs.
 */
static void
borrow(struct vm_load *l)
{
	free(l->name);
	free(l->dir);
	free(l->dirname);
	free(l->config_path);
	l->name = l->vm->name;
	l->dir = l->vm->dir;
	l->dirname = l->vm->dirname;
	l->config_path = NULL;		/* cfg_load_path() */
	l->borrowed = true;
}

void
cfg_load_unborrow(struct vm_load *l)
{
	if (!l->borrowed)
		return;
	l->name = xstrdup(l->name);
	l->dir = xstrdup(l->dir);
	l->dirname = xstrdup(l->dirname);
	l->borrowed = false;
}

/*
 * Where l's configuration came from, for an error found after its load
 * (the checks across VMs): a borrowing load made it again only then.
 */
const char *
cfg_load_path(struct vm_load *l)
{
	if (l->config_path == NULL)
		xasprintf(&l->config_path, "%s/config", l->dir);
	return l->config_path;
}

const char *
cfg_configfile(const struct vm_config *vm, char *buf, size_t len)
{
	if (!vm->configfile_in_dir)
		return vm->configfile_stored;
	(void)snprintf(buf, len, "%s/%s", vm->dir,
	    vm->dir + strlen(vm->dir) + 1);
	return buf;
}

const char *
cfg_config_path(const struct vm_config *vm, char *buf, size_t len)
{
	if (vm->dir == NULL)
		return "its config";
	(void)snprintf(buf, len, "%s/config", vm->dir);
	return buf;
}

static void
load_free(struct vm_load *l)
{
	cfg_vm_free(l->vm);
	if (!l->borrowed) {
		free(l->name);
		free(l->dir);
		free(l->dirname);
	}
	free(l->config_path);
	cfg_errors_free(&l->errs);
}

struct vm_config *
cfg_load_vm(const char *dir, const struct daemon_config *dc, char **error)
{
	struct vm_load		 l;
	struct vm_config	*vm;

	load_vm(dir, dc, &l);
	vm = l.vm;
	l.vm = NULL;
	*error = vm == NULL ? cfg_errors_take(&l.errs) : NULL;
	load_free(&l);
	return vm;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The VM directories of configdir, sorted: every directory (or symbolic
 * link to one) except dot-directories.  NULL when configdir cannot be read.
 */
static char **
list_vm_dirs(const char *configdir, size_t *n)
{
	DIR		 *d;
	struct dirent	 *de;
	struct stat	  st;
	char		**names = NULL, *path;
	size_t		  cap = 0;

	*n = 0;
	if ((d = opendir(configdir)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    strcmp(de->d_name, "vmstated.conf") == 0)
			continue;
		xasprintf(&path, "%s/%s", configdir, de->d_name);
		if (stat(path, &st) == -1 || !S_ISDIR(st.st_mode)) {
			free(path);
			continue;
		}
		free(path);
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (names == NULL)
		names = xcalloc(1, sizeof(*names));
	qsort(names, *n, sizeof(*names), compare_names);
	return names;
}

/* Two directories giving one name: both refused, each naming the other. */
struct cfg_set *
cfg_load_all(const char *configdir, const struct daemon_config *dc)
{
	struct cfg_set		*set;
	struct vm_load		*loads;
	struct cfg_invalid	*inv;
	char			**names, *path;
	size_t			  n, i;

	if ((names = list_vm_dirs(configdir, &n)) == NULL)
		return NULL;
	loads = xcalloc(n ? n : 1, sizeof(*loads));
	trust_cache_begin();
	for (i = 0; i < n; i++) {
		xasprintf(&path, "%s/%s", configdir, names[i]);
		load_vm(path, dc, &loads[i]);
		free(path);
		free(names[i]);
	}
	trust_cache_end();
	free(names);
	cfg_refuse_duplicates(loads, n);
	cfg_check_depends(loads, n);

	set = xcalloc(1, sizeof(*set));
	set->vms = xcalloc(n ? n : 1, sizeof(*set->vms));
	set->invalid = xcalloc(n ? n : 1, sizeof(*set->invalid));
	for (i = 0; i < n; i++) {
		if (loads[i].vm != NULL) {
			set->vms[set->nvms++] = loads[i].vm;
			loads[i].vm = NULL;
		} else {
			inv = &set->invalid[set->ninvalid++];
			inv->name = xstrdup(loads[i].name);
			inv->dir = xstrdup(loads[i].dir);
			inv->error = cfg_errors_take(&loads[i].errs);
		}
		load_free(&loads[i]);
	}
	free(loads);
	return set;
}

void
cfg_set_free(struct cfg_set *set)
{
	size_t	 i;

	if (set == NULL)
		return;
	for (i = 0; i < set->nvms; i++)
		cfg_vm_free(set->vms[i]);
	free(set->vms);
	for (i = 0; i < set->ninvalid; i++) {
		free(set->invalid[i].name);
		free(set->invalid[i].dir);
		free(set->invalid[i].error);
	}
	free(set->invalid);
	free(set);
}

/*
 * Warn about two VMs whose configurations name the same disk (one of them
 * writing it): vmstated never runs both at once (vmstated.conf(5),
 * DISKS).  Only a warning: a disk may be meant to pass from one VM to
 * another.
 */
static void
cfg_check_disks(const struct cfg_set *set, FILE *err)
{
	struct cfg_disks	*disks;
	const struct cfg_disk	*shared;
	size_t			 i, j;

	disks = xcalloc(set->nvms ? set->nvms : 1, sizeof(*disks));
	for (i = 0; i < set->nvms; i++)
		(void)cfg_vm_disks(set->vms[i], NULL, &disks[i]);
	for (i = 0; i < set->nvms; i++)
		for (j = i + 1; j < set->nvms; j++)
			if ((shared = cfg_disks_clash(&disks[i],
			    &disks[j])) != NULL)
				fprintf(err, "warning: %s (%s) and %s (%s) "
				    "both use the disk %s: vmstated starts "
				    "neither while the other runs\n",
				    set->vms[i]->name, set->vms[i]->dir,
				    set->vms[j]->name, set->vms[j]->dir,
				    shared->path);
	for (i = 0; i < set->nvms; i++)
		cfg_disks_free(&disks[i]);
	free(disks);
}

int
cfg_check(const char *configdir, FILE *out, FILE *err)
{
	struct daemon_config	 dc;
	struct cfg_set		*set;
	char			*error;
	size_t			 i;
	int			 status = 0;

	if (cfg_load_daemon(configdir, &dc, &error) == -1) {
		fprintf(err, "%s\n", error);
		free(error);
		status = 1;
	}
	if ((set = cfg_load_all(configdir, &dc)) == NULL) {
		fprintf(err, "%s: cannot read the configuration directory: "
		    "%s\n", configdir, strerror(errno));
		cfg_daemon_free(&dc);
		return 1;
	}
	for (i = 0; i < set->nvms; i++)
		fprintf(out, "%s\t%s\t%s\n", set->vms[i]->name,
		    set->vms[i]->dir, cfg_hv_name(set->vms[i]->hypervisor));
	for (i = 0; i < set->ninvalid; i++)
		fprintf(err, "%s\n", set->invalid[i].error);
	cfg_check_disks(set, err);
	if (set->ninvalid > 0)
		status = 1;
	fflush(out);
	fflush(err);
	cfg_set_free(set);
	cfg_daemon_free(&dc);
	return status;
}
