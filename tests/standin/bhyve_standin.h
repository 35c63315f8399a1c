/*
 * bhyve_standin.h: the parts of the bhyve stand-in (bhyve.c, the program;
 * bhyve_config.c, its configuration).  See bhyve.c for what it does.
 */
#ifndef VMSTATED_BHYVE_STANDIN_H
#define VMSTATED_BHYVE_STANDIN_H

#include <stdbool.h>
#include <stddef.h>

struct setting {
	char	*key;
	char	*value;
};

/* bhyve.c */
extern struct setting	*settings;	/* in nvlist order */
extern size_t		 nsettings;
extern const char	*progname;
/* Record the exit (standin.record), then exit with status. */
void		 finish(int status, const char *reason)
		    __attribute__((noreturn));
/* Print the message on stderr as it is, then finish(status). */
void		 fail(int status, const char *, ...)
		    __attribute__((format(printf, 2, 3), noreturn));

/* bhyve_config.c */
const char	*cfg_get(const char *key);
/* set_config_value(): conflicts between values and nodes exit 4. */
void		 cfg_set(const char *key, const char *value);
/* "key=value" (-o, -k lines); false when malformed. */
bool		 cfg_parse_option(const char *);
/* -k: a file that cannot be read or a bad line exits 4. */
void		 cfg_parse_file(const char *path);
/* config.dump: print the subtree under prefix ("" for all). */
void		 cfg_dump(const char *prefix);
/* get_config_bool_default(): a value that is no boolean exits 4. */
bool		 cfg_bool(const char *key, bool def);
void		 check_booleans(void);
void		 check_topology(void);
void		 check_memsize(void);

#endif
