/*
 * vmm.h: the stand-ins' kernel VM instances.  FreeBSD keeps a VM created
 * by bhyve (vm_create(), sysctl hw.vmm.create) as /dev/vmm/NAME until it
 * is destroyed (bhyvectl --destroy, or bhyve -D on power-off), across
 * bhyve runs; what it keeps decides what the next bhyve on that name can
 * do (usr.sbin/bhyve/bhyverun.c do_open(), sys/amd64/vmm/vmm.c).  Here a
 * directory named by $VMSTATED_STANDIN_VMM plays /dev/vmm: one file per
 * instance, holding
 *
 *	pid=N		the bhyve that activated its vCPUs
 *	memory=BYTES	the system memory segment (kept across vm_reinit(),
 *			freed only with the VM)
 *	wired=0|1	whether that memory is wired (memory.wired)
 *	vcpus=none|active|suspended
 *			active: a bhyve runs them, or died without the guest
 *			suspending them (killed, crashed, runtime error):
 *			vm_reinit() and vm_activate_cpu() then fail EBUSY
 *
 * A bhyve holds an exclusive flock(2) on the file while its vCPUs run, so
 * bhyvectl can tell a live VM from a stale one.  Without the variable no
 * instance is kept.
 */
#ifndef VMSTATED_STANDIN_VMM_H
#define VMSTATED_STANDIN_VMM_H

#include <stdbool.h>

#define STANDIN_VMM_ENV		"VMSTATED_STANDIN_VMM"

enum vmm_vcpus { VMM_VCPUS_NONE, VMM_VCPUS_ACTIVE, VMM_VCPUS_SUSPENDED };

struct vmm {
	char			*path;
	int			 fd;
	long			 pid;
	unsigned long long	 memory;
	int			 wired;
	enum vmm_vcpus		 vcpus;
};

/* Whether instances are kept ($VMSTATED_STANDIN_VMM set). */
bool	 vmm_enabled(void);
/* vm_create(): 0, or -1 with errno (EEXIST, EINVAL for a bad name...). */
int	 vmm_create(const char *name);
/* vm_open(): 0, or -1 with errno (ENOENT: no such VM). */
int	 vmm_open(const char *name, struct vmm *);
void	 vmm_close(struct vmm *);
/* Whether a live bhyve runs the instance. */
bool	 vmm_running(struct vmm *);
/* vm_reinit(): EBUSY unless every active vCPU was suspended. */
int	 vmm_reinit(struct vmm *);
/* vm_setup_memory(): the segment is made, or must match (EINVAL for
 * another size, EEXIST for another wiring). */
int	 vmm_setup_memory(struct vmm *, unsigned long long objsize,
	    bool wired);
/* vm_activate_cpu() of every vCPU: EBUSY when they are active already,
 * ENXIO once the VM was destroyed.  Takes the running lock. */
int	 vmm_activate(struct vmm *);
/* The guest suspended every vCPU (reset, power-off, halt, triple fault). */
void	 vmm_suspended(struct vmm *);
/* vm_destroy() by name; -1 with errno ENOENT when there is none. */
int	 vmm_destroy(const char *name);
/* Destroyed since it was opened. */
bool	 vmm_destroyed(struct vmm *);

#endif
