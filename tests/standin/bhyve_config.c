/*
 * bhyve_config.c: the bhyve stand-in's configuration, kept as bhyve keeps
 * it (usr.sbin/bhyve/config.c): a tree of nvlists whose leaves are string
 * values, in insertion order; a value that is set again is removed and
 * appended to its node (nvlist_free_string() then nvlist_add_string()),
 * so it moves to the end of that node, not of the whole configuration.
 * Also the checks bhyverun.c makes of it before the VM is created
 * (calc_topology(), build_vcpumaps(), vm_parse_memsize()).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "buf.h"
#include "bhyve_standin.h"

struct cfgnode {
	char		*name;
	char		*value;		/* NULL: a node */
	struct cfgnode	*first, *last;	/* children, in nvlist order */
	struct cfgnode	*next;
};

static struct cfgnode	 root;

/* Expanded values live as long as the program (like config.c's static
 * buffer, but callers may keep them). */
static char		**expanded;
static size_t		 nexpanded;

/* ---- the tree ---------------------------------------------------------- */

static struct cfgnode *
child(struct cfgnode *parent, const char *name)
{
	struct cfgnode	*c;

	for (c = parent->first; c != NULL; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static struct cfgnode *
add_child(struct cfgnode *parent, const char *name, const char *value)
{
	struct cfgnode	*c;

	c = xcalloc(1, sizeof(*c));
	c->name = xstrdup(name);
	c->value = value != NULL ? xstrdup(value) : NULL;
	if (parent->last != NULL)
		parent->last->next = c;
	else
		parent->first = c;
	parent->last = c;
	return c;
}

static void
remove_child(struct cfgnode *parent, struct cfgnode *c)
{
	struct cfgnode	**pp, *prev;

	prev = NULL;
	for (pp = &parent->first; *pp != c; pp = &(*pp)->next)
		prev = *pp;
	*pp = c->next;
	if (parent->last == c)
		parent->last = prev;
	free(c->name);
	free(c->value);
	free(c);
}

/*
 * _lookup_config_node(): walk (and with create, make) the nodes of a
 * dotted path.  An empty component or a component that is a value is an
 * error, reported with warnx() as config.c does.
 */
static struct cfgnode *
lookup(struct cfgnode *parent, const char *path, bool create)
{
	struct cfgnode	*nvl, *c;
	const char	*name, *dot;
	size_t		 len;
	char		*comp;

	nvl = parent;
	for (name = path; nvl != NULL; name = dot + 1) {
		dot = strchr(name, '.');
		len = dot != NULL ? (size_t)(dot - name) : strlen(name);
		if (len == 0) {
			b_warnx("Invalid configuration node: %s", path);
			return NULL;
		}
		comp = xstrndup(name, len);
		c = child(nvl, comp);
		if (c != NULL && c->value == NULL)
			nvl = c;
		else if (c != NULL) {
			b_warnx("Configuration node %s is a child of existing "
			    "variable %.*s", path, (int)(name - path + len),
			    path);
			nvl = NULL;
		} else if (create)
			nvl = add_child(nvl, comp, NULL);
		else
			nvl = NULL;
		free(comp);
		if (dot == NULL)
			break;
	}
	return nvl;
}

struct cfgnode *
cfg_find_node(const char *path)
{
	return lookup(&root, path, false);
}

struct cfgnode *
cfg_create_node(const char *path)
{
	return lookup(&root, path, true);
}

struct cfgnode *
cfg_find_relative(struct cfgnode *parent, const char *path)
{
	return parent == NULL ? NULL : lookup(parent, path, false);
}

struct cfgnode *
cfg_create_relative(struct cfgnode *parent, const char *path)
{
	return lookup(parent, path, true);
}

const char *
cfg_node_name(const struct cfgnode *n)
{
	return n->name;
}

struct cfgnode *
cfg_node_first(struct cfgnode *n)
{
	return n == NULL ? root.first : n->first;
}

struct cfgnode *
cfg_node_next(struct cfgnode *n)
{
	return n->next;
}

bool
cfg_exists_node(struct cfgnode *parent, const char *name)
{
	return child(parent == NULL ? &root : parent, name) != NULL;
}

bool
cfg_node_is_value(const struct cfgnode *n)
{
	return n->value != NULL;
}

/* set_config_value_node() */
void
cfg_set_node(struct cfgnode *parent, const char *name, const char *value)
{
	struct cfgnode	*c;

	if (strchr(name, '.') != NULL)
		b_errx(4, "Invalid config node name %s", name);
	if (parent == NULL)
		parent = &root;
	if ((c = child(parent, name)) != NULL && c->value != NULL)
		remove_child(parent, c);
	else if (c != NULL)
		/* config.c prints the nvlist's address; any will do. */
		b_errx(4, "Attemping to add value %s to existing node %s of "
		    "list %p", value, name, (void *)parent);
	add_child(parent, name, value);
}

/* set_config_value() */
void
cfg_set(const char *path, const char *value)
{
	struct cfgnode	*nvl, *c;
	const char	*name;
	char		*node_name;

	if ((name = strrchr(path, '.')) == NULL) {
		nvl = &root;
		name = path;
	} else {
		node_name = xstrndup(path, (size_t)(name - path));
		if ((nvl = cfg_create_node(node_name)) == NULL)
			b_errx(4, "Failed to create configuration node %s",
			    node_name);
		free(node_name);
		name++;
	}
	if ((c = child(nvl, name)) != NULL && c->value == NULL)
		b_errx(4, "Attempting to add value %s to existing node %s",
		    value, path);
	cfg_set_node(nvl, name, value);
}

/* get_raw_config_value() */
const char *
cfg_get_raw(const char *path)
{
	struct cfgnode	*nvl, *c;
	const char	*name;
	char		*node_name;

	if ((name = strrchr(path, '.')) == NULL) {
		nvl = &root;
		name = path;
	} else {
		node_name = xstrndup(path, (size_t)(name - path));
		nvl = cfg_find_node(node_name);
		free(node_name);
		if (nvl == NULL)
			return NULL;
		name++;
	}
	if ((c = child(nvl, name)) == NULL)
		return NULL;
	if (c->value == NULL) {
		b_warnx("Attempting to fetch value of node %s", path);
		return NULL;
	}
	return c->value;
}

/* _expand_config_value(): %(path) is replaced by that value, \c by c. */
static void
expand(struct buf *out, const char *value, int depth)
{
	const char	*vp, *cp, *ref;
	char		*path;

	for (vp = value; *vp != '\0';) {
		switch (*vp) {
		case '%':
			if (depth > 15) {
				b_warnx("Too many recursive references in "
				    "configuration value");
				buf_putc(out, '%');
				vp++;
				break;
			}
			if (vp[1] != '(' || vp[2] == '\0')
				cp = NULL;
			else
				cp = strchr(vp + 2, ')');
			if (cp == NULL) {
				b_warnx("Invalid reference in configuration "
				    "value \"%s\"", value);
				buf_putc(out, '%');
				vp++;
				break;
			}
			vp += 2;
			if (cp == vp) {
				b_warnx("Empty reference in configuration "
				    "value \"%s\"", value);
				vp++;
				break;
			}
			path = xstrndup(vp, (size_t)(cp - vp));
			vp = cp + 1;
			if ((ref = cfg_get_raw(path)) == NULL)
				b_warnx("Failed to fetch referenced "
				    "configuration variable %s", path);
			else
				expand(out, ref, depth + 1);
			free(path);
			break;
		case '\\':
			vp++;
			if (*vp == '\0') {
				b_warnx("Trailing \\ in configuration value "
				    "\"%s\"", value);
				break;
			}
			/* FALLTHROUGH */
		default:
			buf_putc(out, *vp);
			vp++;
			break;
		}
	}
}

static const char *
expand_value(const char *value)
{
	struct buf	 b;

	if (value == NULL || strchr(value, '%') == NULL)
		return value;
	buf_init(&b);
	buf_puts(&b, "");
	expand(&b, value, 0);
	expanded = xrealloc(expanded, (nexpanded + 1) * sizeof(*expanded));
	expanded[nexpanded] = buf_steal(&b);
	return expanded[nexpanded++];
}

const char *
cfg_get(const char *path)
{
	return expand_value(cfg_get_raw(path));
}

/* get_config_value_node() */
const char *
cfg_get_node(struct cfgnode *parent, const char *name)
{
	struct cfgnode	*c;

	if (strchr(name, '.') != NULL)
		b_errx(4, "Invalid config node name %s", name);
	if (parent == NULL)
		parent = &root;
	if ((c = child(parent, name)) == NULL)
		return NULL;
	if (c->value == NULL) {
		b_warnx("Attempt to fetch value of node %s of list %p", name,
		    (void *)parent);
		return NULL;
	}
	return expand_value(c->value);
}

/* _bool_value(): note err(), not errx(): whatever errno holds follows. */
static bool
bool_value(const char *name, const char *value)
{
	if (strcasecmp(value, "true") == 0 || strcasecmp(value, "on") == 0 ||
	    strcasecmp(value, "yes") == 0 || strcmp(value, "1") == 0)
		return true;
	if (strcasecmp(value, "false") == 0 || strcasecmp(value, "off") == 0 ||
	    strcasecmp(value, "no") == 0 || strcmp(value, "0") == 0)
		return false;
	b_err(4, "Invalid value %s for boolean variable %s", value, name);
}

bool
cfg_bool(const char *path)
{
	const char	*v;

	if ((v = cfg_get(path)) == NULL)
		b_err(4, "Failed to fetch boolean variable %s", path);
	return bool_value(path, v);
}

bool
cfg_bool_default(const char *path, bool def)
{
	const char	*v;

	if ((v = cfg_get(path)) == NULL)
		return def;
	return bool_value(path, v);
}

bool
cfg_bool_node_default(struct cfgnode *parent, const char *name, bool def)
{
	const char	*v;

	if ((v = cfg_get_node(parent, name)) == NULL)
		return def;
	return bool_value(name, v);
}

/*
 * bhyve_init_config() (amd64/bhyverun_machdep.c): the defaults, set
 * before the options are read.
 */
void
cfg_init(void)
{
	cfg_set("acpi_tables", "true");
	cfg_set("acpi_tables_in_memory", "true");
	cfg_set("memory.size", "256M");
	cfg_set("x86.strictmsr", "true");
	cfg_set("lpc.fwcfg", "bhyve");
}

/* ---- -o, -k, config.dump ----------------------------------------------- */

/* parse_config_option(): "key=value" with a non-empty value. */
bool
cfg_parse_option(const char *option)
{
	const char	*eq;
	char		*key;

	eq = strchr(option, '=');
	if (eq == NULL || eq[1] == '\0')
		return false;
	key = xstrndup(option, (size_t)(eq - option));
	cfg_set(key, eq + 1);
	free(key);
	return true;
}

/*
 * parse_simple_config_file(): fopen(3) the path as given, so a relative
 * one is relative to bhyve's working directory.
 */
void
cfg_parse_file(const char *path)
{
	FILE		*fp;
	char		*line, *nl;
	size_t		 cap;
	unsigned int	 lineno;

	if ((fp = fopen(path, "r")) == NULL)
		b_err(4, "Failed to open configuration file %s", path);
	line = NULL;
	cap = 0;
	for (lineno = 1; getline(&line, &cap, fp) > 0; lineno++) {
		if (*line == '#' || *line == '\n')
			continue;
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		if (!cfg_parse_option(line)) {
			fclose(fp);
			b_errx(4, "%s line %u: invalid config option '%s'",
			    path, lineno, line);
		}
	}
	free(line);
	fclose(fp);
}

static void
dump_tree(struct cfgnode *nvl, const char *prefix,
    void (*fn)(const char *, const char *, void *), void *arg)
{
	struct cfgnode	*c;
	char		*key;

	for (c = nvl->first; c != NULL; c = c->next) {
		xasprintf(&key, "%s%s", prefix, c->name);
		if (c->value != NULL)
			fn(key, c->value, arg);
		else {
			free(key);
			xasprintf(&key, "%s%s.", prefix, c->name);
			dump_tree(c, key, fn, arg);
		}
		free(key);
	}
}

void
cfg_walk(void (*fn)(const char *, const char *, void *), void *arg)
{
	dump_tree(&root, "", fn, arg);
}

static void
print_setting(const char *key, const char *value, void *arg)
{
	(void)arg;
	printf("%s=%s\n", key, value);
}

void
cfg_dump(void)
{
	cfg_walk(print_setting, NULL);
}

/* ---- what bhyverun.c checks before creating the VM -------------------- */

/* topology_parse() (-c) */
bool
cfg_parse_topology(const char *opt)
{
	static const char *const keys[] = { "cpus", "sockets", "cores",
	    "threads" };
	char		*copy, *str, *cp;
	size_t		 i, n;
	bool		 ok;

	if (*opt == '\0') {
		cfg_set("sockets", "1");
		cfg_set("cores", "1");
		cfg_set("threads", "1");
		cfg_set("cpus", "1");
		return true;
	}
	ok = true;
	copy = str = xstrdup(opt);
	while (ok && (cp = strsep(&str, ",")) != NULL) {
		for (i = 0; i < 4; i++) {
			n = strlen(keys[i]);
			if (strncmp(cp, keys[i], n) == 0 && cp[n] == '=') {
				cfg_set(keys[i], cp + n + 1);
				break;
			}
		}
		if (i < 4)
			continue;
		if (strchr(cp, '=') != NULL)
			ok = false;
		else
			cfg_set("cpus", cp);
	}
	free(copy);
	return ok;
}

/* CPU_SETSIZE of FreeBSD 14/amd64 (sys/sys/_cpuset.h, MAXCPU 1024). */
#define FREEBSD_CPU_SETSIZE	1024

/* pincpu_parse() (-p): appends the host CPU to vcpu.N.cpuset. */
bool
cfg_parse_pincpu(const char *opt)
{
	const char	*old;
	char		 key[32], *val;
	int		 vcpu, pcpu;

	if (sscanf(opt, "%d:%d", &vcpu, &pcpu) != 2) {
		b_eprintf("invalid format: %s\n", opt);
		return false;
	}
	if (vcpu < 0) {
		b_eprintf("invalid vcpu '%d'\n", vcpu);
		return false;
	}
	if (pcpu < 0 || pcpu >= FREEBSD_CPU_SETSIZE) {
		b_eprintf("hostcpu '%d' outside valid range from 0 to %d\n",
		    pcpu, FREEBSD_CPU_SETSIZE - 1);
		return false;
	}
	snprintf(key, sizeof(key), "vcpu.%d.cpuset", vcpu);
	old = cfg_get(key);
	xasprintf(&val, "%s%s%d", old != NULL ? old : "",
	    old != NULL ? "," : "", pcpu);
	cfg_set(key, val);
	free(val);
	return true;
}

/* parse_int_value() */
static int
int_value(const char *key, const char *value, int minval, int maxval)
{
	char	*cp;
	long	 lval;

	errno = 0;
	lval = strtol(value, &cp, 0);
	if (errno != 0 || *cp != '\0' || cp == value || lval < minval ||
	    lval > maxval)
		b_errx(4, "Invalid value for %s: '%s'", key, value);
	return (int)lval;
}

/* calc_topology(): sockets defaults to cpus (not to 1). */
int
cfg_topology(void)
{
	const char	*v;
	uint64_t	 ncpus;
	int		 cpus, sockets, cores, threads;
	bool		 explicit_cpus;

	if ((v = cfg_get("cpus")) != NULL) {
		cpus = int_value("cpus", v, 1, UINT16_MAX);
		explicit_cpus = true;
	} else {
		cpus = 1;
		explicit_cpus = false;
	}
	v = cfg_get("cores");
	cores = v != NULL ? int_value("cores", v, 1, UINT16_MAX) : 1;
	v = cfg_get("threads");
	threads = v != NULL ? int_value("threads", v, 1, UINT16_MAX) : 1;
	v = cfg_get("sockets");
	sockets = v != NULL ? int_value("sockets", v, 1, UINT16_MAX) : cpus;
	ncpus = (uint64_t)sockets * (uint64_t)cores * (uint64_t)threads;
	if (ncpus > UINT16_MAX)
		b_errx(4, "Computed number of vCPUs too high: %ju",
		    (uintmax_t)ncpus);
	if (explicit_cpus && (uint64_t)cpus != ncpus)
		b_errx(4, "Topology (%d sockets, %d cores, %d threads) does "
		    "not match %d vCPUs", sockets, cores, threads, cpus);
	return (int)ncpus;
}

/* parse_cpuset() */
static void
check_cpuset(int vcpu, const char *list)
{
	const char	*token;
	char		*cp;
	int		 pcpu, start;

	start = -1;
	token = list;
	for (;;) {
		pcpu = (int)strtoul(token, &cp, 0);
		if (cp == token)
			b_errx(4, "invalid cpuset for vcpu %d: '%s'", vcpu,
			    list);
		if (pcpu < 0 || pcpu >= FREEBSD_CPU_SETSIZE)
			b_errx(4, "hostcpu '%d' outside valid range from 0 to "
			    "%d", pcpu, FREEBSD_CPU_SETSIZE - 1);
		switch (*cp) {
		case ',':
		case '\0':
			if (start >= 0 && start > pcpu)
				b_errx(4, "Invalid hostcpu range %d-%d", start,
				    pcpu);
			start = -1;
			break;
		case '-':
			if (start >= 0)
				b_errx(4, "invalid cpuset for vcpu %d: '%s'",
				    vcpu, list);
			start = pcpu;
			break;
		default:
			b_errx(4, "invalid cpuset for vcpu %d: '%s'", vcpu,
			    list);
		}
		if (*cp == '\0')
			break;
		token = cp + 1;
	}
}

/* build_vcpumaps(): only the vCPUs the guest has are looked at. */
void
cfg_check_cpusets(int ncpus)
{
	const char	*v;
	char		 key[32];
	int		 vcpu;

	for (vcpu = 0; vcpu < ncpus; vcpu++) {
		snprintf(key, sizeof(key), "vcpu.%d.cpuset", vcpu);
		if ((v = cfg_get(key)) != NULL)
			check_cpuset(vcpu, v);
	}
}

/*
 * expand_number(3) of FreeBSD 13/14 (lib/libutil/expand_number.c): a
 * number (strtoumax base 0), then one optional unit letter, case
 * insensitive; what follows the unit is not looked at.
 */
static int
expand_number(const char *buf, unsigned long long *num)
{
	char		*end;
	uintmax_t	 n;
	unsigned	 shift;

	errno = 0;
	n = strtoumax(buf, &end, 0);
	if (errno != 0)
		return -1;
	switch (*end) {
	case 'e': case 'E': shift = 60; break;
	case 'p': case 'P': shift = 50; break;
	case 't': case 'T': shift = 40; break;
	case 'g': case 'G': shift = 30; break;
	case 'm': case 'M': shift = 20; break;
	case 'k': case 'K': shift = 10; break;
	case 'b': case 'B': case '\0':
		*num = n;
		return 0;
	default:
		errno = EINVAL;
		return -1;
	}
	if (((n << shift) >> shift) != n) {
		errno = ERANGE;
		return -1;
	}
	*num = n << shift;
	return 0;
}

/* vm_parse_memsize() (lib/libvmmapi/vmmapi.c): a plain number under 1M
 * is megabytes. */
unsigned long long
cfg_memsize(void)
{
	const char		*v;
	char			*end;
	unsigned long long	 n;

	v = cfg_get("memory.size");
	n = strtoull(v, &end, 0);
	if (*v != '\0' && *end == '\0')
		return n < 1024 * 1024 ? n * 1024 * 1024 : n;
	if (expand_number(v, &n) != 0)
		b_errx(EX_USAGE, "invalid memsize '%s'", v);
	return n;
}
