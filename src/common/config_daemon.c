/*
 * config_daemon.c: vmstated.conf, the daemon's own settings and the
 * defaults{} every VM starts from.
 *
 * The file is optional; without it the built-in values hold.  A file with
 * an error is refused as a whole (cfg_load_daemon returns -1 and leaves
 * the built-in values), since half a configuration is worse than none.
 */
#include <sys/types.h>

#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config.h"
#include "config_keys.h"
#include "ucl.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/var/run"
#endif

/* Every key of vmstated.conf; config_keys.c names them in errors too. */
const char *const cfg_daemon_keys[] = {
	"socket_mode", "socket_group", "socket_timeout", "rundir",
	"bhyve_path", "bhyvectl_path", "qemu_path", "vmmdir",
	"autostart_parallel", "shutdown_timeout", "log_max_size", "log_keep",
	"defaults", NULL
};

/* Built-in daemon settings. */
static void
daemon_init(struct daemon_config *dc, const char *path)
{
	memset(dc, 0, sizeof(*dc));
	dc->path = xstrdup(path);
	dc->socket_mode = 0600;
	dc->socket_mode_set = false;
	dc->socket_timeout = 60;
	dc->rundir = xstrdup(RUNSTATEDIR "/vmstated");
	dc->bhyve_path = xstrdup("/usr/sbin/bhyve");
	dc->bhyvectl_path = xstrdup("/usr/sbin/bhyvectl");
	dc->qemu_path = xstrdup("qemu-system-x86_64");
	dc->vmmdir = xstrdup("/dev/vmm");
	dc->log_max_size = 0;
	dc->log_keep = 5;
	dc->autostart_parallel = 4;
	dc->shutdown_timeout = 80;
	cfg_vm_set_builtin_defaults(&dc->defaults);
}

void
cfg_daemon_free(struct daemon_config *dc)
{
	free(dc->path);
	free(dc->socket_group);
	free(dc->rundir);
	free(dc->bhyve_path);
	free(dc->bhyvectl_path);
	free(dc->qemu_path);
	free(dc->vmmdir);
	cfg_vm_clear(&dc->defaults);
	memset(dc, 0, sizeof(*dc));
}

/*
 * socket_mode = "0660": octal digits in a string.  UCL reads a bare 0660
 * as the decimal number 660, so a number is refused with that reason.
 */
static void
daemon_socket_mode(struct daemon_config *dc, struct key_ctx *k)
{
	const struct ucl_node	*n = k->node;
	const char		*s;
	long			 mode = 0;
	size_t			 i;

	if (n->type == UCL_INT) {
		cfg_key_error(k, "write the mode as octal digits in a string, "
		    "e.g. socket_mode = \"0660\"; UCL reads the bare number "
		    "%s as decimal %" PRId64, cfg_scalar_text(n, k->tmp,
		    sizeof(k->tmp)), n->v.integer);
		return;
	}
	if (n->type != UCL_STRING) {
		cfg_type_error(k, "octal digits in a string, e.g. \"0660\"");
		return;
	}
	s = n->v.string.ptr;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '7' || i >= 4)
			break;
		mode = mode * 8 + (s[i] - '0');
	}
	if (i == 0 || s[i] != '\0' || mode > 0777) {
		cfg_type_error(k, "a mode of octal digits from \"0000\" to "
		    "\"0777\", e.g. \"0660\"");
		return;
	}
	dc->socket_mode = (mode_t)mode;
	dc->socket_mode_set = true;
}

static void
daemon_socket_group(struct daemon_config *dc, struct key_ctx *k)
{
	const struct group	*gr;

	if ((gr = cfg_get_group(k)) == NULL)
		return;
	free(dc->socket_group);
	dc->socket_group = xstrdup(gr->gr_name);
	dc->socket_gid = gr->gr_gid;
}

/* A program: a path (made absolute) or a name looked up on PATH. */
static void
daemon_program(char **field, struct key_ctx *k, bool path_only)
{
	const char	*s;
	char		*p;

	if ((s = cfg_get_text(k, k->node, "a program path",
	    CFG_MAX_PATH)) == NULL)
		return;
	if (*s == '\0') {
		cfg_key_error(k, "expected a program path, got an empty "
		    "string");
		return;
	}
	if (!path_only && strchr(s, '/') == NULL)
		p = xstrdup(s);
	else if ((p = cfg_get_path(k, k->node)) == NULL)
		return;
	free(*field);
	*field = p;
}

static void
daemon_defaults(struct daemon_config *dc, struct key_ctx *k)
{
	struct cfg_seen	 seen;

	if (k->node->type != UCL_OBJECT) {
		cfg_type_error(k, "a section defaults { key = value; ... }");
		return;
	}
	memset(&seen, 0, sizeof(seen));
	cfg_apply_keys(&dc->defaults, k->node, k->basedir,
	    CFG_SCOPE_DEFAULTS, "defaults.", &seen, k->errs);
	cfg_check_keys(&dc->defaults, CFG_SCOPE_DEFAULTS, "defaults.", &seen,
	    k->node->file, k->node->line, k->errs);
}

/*
 * log_max_size: bytes, with a binary suffix (10M, "512K", 1G) as memory
 * takes them; 0 turns it off.  At least 4K: a log must hold a few lines.
 */
static void
daemon_log_max_size(struct daemon_config *dc, struct key_ctx *k)
{
	int64_t	 mb;

	if (k->node->type == UCL_INT && k->node->v.integer == 0) {
		dc->log_max_size = 0;
		return;
	}
	if (cfg_get_size(k, 4096, (int64_t)1 << 40, &mb) == 0)
		dc->log_max_size = mb;
}

static void
daemon_key(struct daemon_config *dc, struct key_ctx *k)
{
	const struct ucl_node	*m = k->node;
	char			*p;
	int64_t			 v;

	if (cfg_key_is(m, "socket_mode"))
		daemon_socket_mode(dc, k);
	else if (cfg_key_is(m, "socket_group"))
		daemon_socket_group(dc, k);
	else if (cfg_key_is(m, "socket_timeout")) {
		/* 0: never; at most a day, so that a slot comes back. */
		if (cfg_get_seconds(k, 0, 86400, &v) == 0)
			dc->socket_timeout = v;
	}
	else if (cfg_key_is(m, "rundir")) {
		if ((p = cfg_get_path(k, m)) != NULL) {
			free(dc->rundir);
			dc->rundir = p;
		}
	} else if (cfg_key_is(m, "vmmdir")) {
		if ((p = cfg_get_path(k, m)) != NULL) {
			free(dc->vmmdir);
			dc->vmmdir = p;
		}
	} else if (cfg_key_is(m, "autostart_parallel")) {
		if (cfg_get_int(k, "a number of VMs", 1, 10000, &v) == 0)
			dc->autostart_parallel = v;
	} else if (cfg_key_is(m, "shutdown_timeout")) {
		if (cfg_get_seconds(k, 10, 24 * 3600, &v) == 0)
			dc->shutdown_timeout = v;
	} else if (cfg_key_is(m, "bhyve_path"))
		daemon_program(&dc->bhyve_path, k, true);
	else if (cfg_key_is(m, "bhyvectl_path"))
		daemon_program(&dc->bhyvectl_path, k, true);
	else if (cfg_key_is(m, "qemu_path"))
		daemon_program(&dc->qemu_path, k, false);
	else if (cfg_key_is(m, "log_max_size"))
		daemon_log_max_size(dc, k);
	else if (cfg_key_is(m, "log_keep"))
		(void)cfg_get_int(k, "a number of old logs", 0, 1000,
		    &dc->log_keep);
	else if (cfg_key_is(m, "defaults"))
		daemon_defaults(dc, k);
}

static void
daemon_keys_apply(struct daemon_config *dc, const struct ucl_node *root,
    const char *configdir, struct cfg_errors *errs)
{
	const struct ucl_node	*m, *first[16];
	struct key_ctx		 k;
	size_t			 id;

	memset(first, 0, sizeof(first));
	for (m = root->children; m != NULL; m = m->next) {
		for (id = 0; cfg_daemon_keys[id] != NULL; id++)
			if (cfg_key_is(m, cfg_daemon_keys[id]))
				break;
		if (cfg_daemon_keys[id] == NULL) {
			if (cfg_is_vm_key(m->key))
				cfg_error(errs, m->file, m->line, m->key,
				    "is a VM setting: put it inside defaults "
				    "{ } to make it every VM's default");
			else
				cfg_unknown_key(errs, m, NULL, cfg_daemon_keys,
				    "see vmstated.conf(5)");
			continue;
		}
		memset(&k, 0, sizeof(k));
		k.node = m;
		k.basedir = configdir;
		k.errs = errs;
		snprintf(k.name, sizeof(k.name), "%s", cfg_daemon_keys[id]);
		if (first[id] != NULL) {
			cfg_key_error(&k, "given twice (first on line %d); "
			    "keep one", first[id]->line);
			continue;
		}
		first[id] = m;
		daemon_key(dc, &k);
	}
}

int
cfg_load_daemon(const char *configdir, struct daemon_config *dc,
    char **error)
{
	struct cfg_errors	 errs;
	struct ucl_node		*root;
	char			*dir, *path;
	bool			 missing;

	*error = NULL;
	dir = cfg_absolute_dir(configdir);
	xasprintf(&path, "%s/vmstated.conf", dir);
	daemon_init(dc, path);
	cfg_errors_init(&errs);
	if (cfg_parse_file(path, &root, &missing, &errs) == 0) {
		daemon_keys_apply(dc, root, dir, &errs);
		ucl_free(root);
	}
	free(dir);
	if (errs.count == 0) {
		cfg_errors_free(&errs);
		free(path);
		return 0;
	}
	/* Half a configuration is worse than none: back to built-ins. */
	cfg_daemon_free(dc);
	daemon_init(dc, path);
	free(path);
	*error = cfg_errors_take(&errs);
	return -1;
}
