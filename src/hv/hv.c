/*
 * hv.c: what the back ends share.
 */
#include <stdlib.h>

#include "config.h"
#include "hv.h"

const struct hv_ops *
hv_ops_for(int kind)
{
	return kind == HV_QEMU ? &hv_qemu_ops : &hv_bhyve_ops;
}

void
hv_argv_free(char **argv)
{
	size_t	 i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

const char *
hv_exit_name(enum hv_exit e)
{
	switch (e) {
	case HV_EXIT_REBOOT:
		return "guest-reboot";
	case HV_EXIT_POWEROFF:
		return "guest-poweroff";
	case HV_EXIT_HALT:
		return "guest-halt";
	case HV_EXIT_CRASH:
		break;
	}
	return "crash";
}
