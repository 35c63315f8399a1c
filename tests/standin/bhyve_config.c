/*
 * bhyve_config.c: the bhyve stand-in's configuration, kept as bhyve keeps
 * it (usr.sbin/bhyve/config.c): dotted keys in a tree, here flattened in
 * nvlist order, and the checks bhyve makes of it before the guest runs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <sys/types.h>

#include "buf.h"
#include "bhyve_standin.h"

static ssize_t
cfg_find(const char *key, size_t len)
{
	size_t	 i;

	for (i = 0; i < nsettings; i++)
		if (strlen(settings[i].key) == len &&
		    strncmp(settings[i].key, key, len) == 0)
			return (ssize_t)i;
	return -1;
}

const char *
cfg_get(const char *key)
{
	ssize_t	 i;

	i = cfg_find(key, strlen(key));
	return i == -1 ? NULL : settings[i].value;
}

/*
 * Set key to value as bhyve's set_config_value() does: every dotted prefix
 * is a node that must not be a value, the key must not be a node, and a
 * replaced value moves to the end (nvlist order, seen in config.dump).
 * Conflicts exit 4.
 */
void
cfg_set(const char *key, const char *value)
{
	const char	*p, *last;
	size_t		 i, len;
	ssize_t		 at;

	last = strrchr(key, '.');
	for (p = strchr(key, '.'); p != NULL; p = strchr(p + 1, '.')) {
		if (p == key || p[-1] == '.') {
			fprintf(stderr, "%s: Invalid configuration node: %.*s\n",
			    progname, (int)(last - key), key);
			fail(4, "%s: Failed to create configuration node %.*s",
			    progname, (int)(last - key), key);
		}
		if ((at = cfg_find(key, (size_t)(p - key))) != -1) {
			fprintf(stderr, "%s: Configuration node %.*s is a child "
			    "of existing variable %s\n", progname,
			    (int)(last - key), key, settings[at].key);
			fail(4, "%s: Failed to create configuration node %.*s",
			    progname, (int)(last - key), key);
		}
	}
	len = strlen(key);
	for (i = 0; i < nsettings; i++)
		if (strncmp(settings[i].key, key, len) == 0 &&
		    settings[i].key[len] == '.')
			fail(4, "%s: Attempting to add value %s to existing "
			    "node %s", progname, value, key);
	if ((at = cfg_find(key, len)) != -1) {
		free(settings[at].key);
		free(settings[at].value);
		memmove(&settings[at], &settings[at + 1],
		    (nsettings - (size_t)at - 1) * sizeof(*settings));
		nsettings--;
	}
	settings = xrealloc(settings, (nsettings + 1) * sizeof(*settings));
	settings[nsettings].key = xstrdup(key);
	settings[nsettings].value = xstrdup(value);
	nsettings++;
}

/* "key=value" with a non-empty value; false when malformed. */
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

void
cfg_parse_file(const char *path)
{
	FILE		*fp;
	char		*line, *nl;
	size_t		 cap;
	unsigned int	 lineno;

	if ((fp = fopen(path, "r")) == NULL)
		fail(4, "%s: Failed to open configuration file %s: %s",
		    progname, path, strerror(errno));
	line = NULL;
	cap = 0;
	for (lineno = 1; getline(&line, &cap, fp) > 0; lineno++) {
		if (*line == '#' || *line == '\n')
			continue;
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		if (!cfg_parse_option(line))
			fail(4, "%s: %s line %u: invalid config option '%s'",
			    progname, path, lineno, line);
	}
	free(line);
	fclose(fp);
}

/* Print the subtree under prefix, nodes where their first key is. */
void
cfg_dump(const char *prefix)
{
	size_t		 i, j, plen, clen;
	const char	*rest, *dot;
	char		*sub;
	bool		 seen;

	plen = strlen(prefix);
	for (i = 0; i < nsettings; i++) {
		if (strncmp(settings[i].key, prefix, plen) != 0)
			continue;
		rest = settings[i].key + plen;
		if ((dot = strchr(rest, '.')) == NULL) {
			printf("%s=%s\n", settings[i].key, settings[i].value);
			continue;
		}
		clen = (size_t)(dot - settings[i].key) + 1;
		seen = false;
		for (j = 0; j < i && !seen; j++)
			seen = strncmp(settings[j].key, settings[i].key,
			    clen) == 0;
		if (seen)
			continue;
		sub = xstrndup(settings[i].key, clen);
		cfg_dump(sub);
		free(sub);
	}
}

bool
cfg_bool(const char *key, bool def)
{
	const char	*v;

	if ((v = cfg_get(key)) == NULL)
		return def;
	if (strcasecmp(v, "true") == 0 || strcasecmp(v, "on") == 0 ||
	    strcasecmp(v, "yes") == 0 || strcmp(v, "1") == 0)
		return true;
	if (strcasecmp(v, "false") == 0 || strcasecmp(v, "off") == 0 ||
	    strcasecmp(v, "no") == 0 || strcmp(v, "0") == 0)
		return false;
	fail(4, "%s: Invalid value %s for boolean variable %s", progname, v,
	    key);
}

/* ---- what bhyve checks before the guest runs --------------------------- */

static int
topology_value(const char *key, int def)
{
	const char	*v;
	char		*end;
	long		 n;

	if ((v = cfg_get(key)) == NULL)
		return def;
	errno = 0;
	n = strtol(v, &end, 0);
	if (errno != 0 || *end != '\0' || end == v || n < 1 || n > UINT16_MAX)
		fail(4, "%s: Invalid value for %s: '%s'", progname, key, v);
	return (int)n;
}

/* calc_topology(): cpus must equal sockets * cores * threads. */
void
check_topology(void)
{
	uint64_t	 ncpus;
	int		 cpus, sockets, cores, threads;

	cpus = topology_value("cpus", 1);
	cores = topology_value("cores", 1);
	threads = topology_value("threads", 1);
	sockets = topology_value("sockets", cpus);
	ncpus = (uint64_t)sockets * (uint64_t)cores * (uint64_t)threads;
	if (ncpus > UINT16_MAX)
		fail(4, "%s: Computed number of vCPUs too high: %ju", progname,
		    (uintmax_t)ncpus);
	if (cfg_get("cpus") != NULL && (uint64_t)cpus != ncpus)
		fail(4, "%s: Topology (%d sockets, %d cores, %d threads) does "
		    "not match %d vCPUs", progname, sockets, cores, threads,
		    cpus);
}

/* vm_parse_memsize(): a plain number under 1M means megabytes, otherwise
 * expand_number(3): digits, then one of k m g t p e, then an optional b. */
void
check_memsize(void)
{
	const char	*v, *p;
	char		*end;

	v = cfg_get("memory.size");
	errno = 0;
	(void)strtoull(v, &end, 0);
	if (*v != '\0' && *end == '\0' && errno == 0)
		return;
	errno = 0;
	(void)strtoull(v, &end, 10);
	p = end;
	if (end != v && errno == 0 && *p != '\0' &&
	    strchr("kKmMgGtTpPeE", *p) != NULL)
		p++;
	if (end != v && errno == 0 && (*p == 'b' || *p == 'B'))
		p++;
	if (end == v || errno != 0 || *p != '\0')
		fail(EX_USAGE, "%s: invalid memsize '%s'", progname, v);
}

void
check_booleans(void)
{
	static const char *const keys[] = { "acpi_tables",
	    "acpi_tables_in_memory", "destroy_on_poweroff", "memory.wired",
	    "memory.guest_in_core", "virtio_msix", "rtc.use_localtime",
	    "x86.vmexit_on_hlt", "x86.vmexit_on_pause", "x86.strictio",
	    "x86.strictmsr", "x86.x2apic", "x86.mptable" };
	size_t	 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		(void)cfg_bool(keys[i], false);
}
