/* SPDX-License-Identifier: MIT
 *
 * registry.c: the list of device types, looked up by the name a config gives.
 */
#include "devices/devices.h"

#include <string.h>

static const mx_device_type *const device_types[] = {
    &mx_device_reram,
    &mx_device_pcm,
    &mx_device_nonlinear,
    &mx_device_step,
    &mx_device_measured,
    &mx_device_binary,
    &mx_device_linear_ion_drift,
    &mx_device_vteam,
    &mx_device_pku,
    NULL,
};

const mx_device_type *const *mx_device_types(void) { return device_types; }

const mx_device_type *mx_device_lookup(const char *name)
{
    for (size_t i = 0; device_types[i]; i++)
        if (strcmp(device_types[i]->name, name) == 0)
            return device_types[i];
    return NULL;
}
