/*
 * disks.c: one disk, one running VM.  A VM does not start while another
 * VM that uses one of its disks is not at rest (stopped or failed), since
 * two hypervisors writing one disk destroy it.  The other VM may be on its
 * way down -- its directory renamed and reloaded as a new VM, or removed
 * -- and its files gone: so the disks of each VM are noted when its start
 * is allowed, by device and inode, and those are what later starts are
 * compared with (config_disks.c reads them).
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "bhyve_config.h"
#include "log.h"
#include "vmstated.h"

/* The disks of each VM as noted at its last start, by name. */
struct disk_note {
	char			*name;
	struct cfg_disks	 disks;
};

static struct disk_note	*notes;
static size_t		 nnotes;

static struct disk_note *
disks_note_of(const char *name)
{
	size_t	 i;

	for (i = 0; i < nnotes; i++)
		if (strcmp(notes[i].name, name) == 0)
			return &notes[i];
	return NULL;
}

/* Keep d (taken) as the disks of the VM name. */
static struct disk_note *
disks_note(const char *name, struct cfg_disks *d)
{
	struct disk_note	*n;

	if ((n = disks_note_of(name)) == NULL) {
		notes = xrealloc(notes, (nnotes + 1) * sizeof(*notes));
		n = &notes[nnotes++];
		n->name = xstrdup(name);
	} else
		cfg_disks_free(&n->disks);
	n->disks = *d;
	memset(d, 0, sizeof(*d));
	return n;
}

/*
 * The disks of a VM that is not at rest: as noted at its start; for one
 * taken back from a previous daemon, from its configuration and the
 * file bhyve was started with.
 */
static const struct cfg_disks *
disks_of_active(const struct vm *vm)
{
	struct disk_note	*n;
	struct cfg_disks	 d;
	char			*generated;

	if ((n = disks_note_of(vm->name)) != NULL)
		return &n->disks;
	memset(&d, 0, sizeof(d));
	(void)cfg_vm_disks(vm->cfg, NULL, &d);
	if (vm->cfg->hypervisor == HV_BHYVE &&
	    (generated = bhyve_config_generated_path(vm->cfg)) != NULL) {
		(void)cfg_vm_disks(vm->cfg, generated, &d);
		free(generated);
	}
	return &disks_note(vm->name, &d)->disks;
}

int
disks_start_check(struct vm *vm, struct buf *why)
{
	const struct cfg_disk	*shared;
	struct cfg_disks	 mine;
	struct vm		*other;
	size_t			 i;

	memset(&mine, 0, sizeof(mine));
	/* A configuration file that cannot be read fails the start later,
	 * with its own message. */
	(void)cfg_vm_disks(vm->cfg, NULL, &mine);
	for (i = 0; i < sv_count(); i++) {
		other = sv_vm(i);
		if (other == vm || vm_at_rest(other))
			continue;
		if ((shared = cfg_disks_clash(&mine,
		    disks_of_active(other))) == NULL)
			continue;
		buf_printf(why, "the disk %s of %s is in use by %s (state "
		    "%s); stop %s first", shared->path, vm->name, other->name,
		    vm_state_name(other->state), other->name);
		cfg_disks_free(&mine);
		return -1;
	}
	disks_note(vm->name, &mine);
	return 0;
}

void
disks_free(void)
{
	size_t	 i;

	for (i = 0; i < nnotes; i++) {
		free(notes[i].name);
		cfg_disks_free(&notes[i].disks);
	}
	free(notes);
	notes = NULL;
	nnotes = 0;
}
