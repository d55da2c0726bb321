/* SPDX-License-Identifier: MIT
 *
 * mx_test.c: helpers shared by the test programs.
 */
#include "tests/support/mx_test.h"

#include "experiments/dataset.h"

static char data_dir[1024];

const char *mx_test_data_dir(void)
{
    if (data_dir[0])
        return data_dir;
    if (mx_data_dir_find(NULL, data_dir, sizeof data_dir) != 0) {
        data_dir[0] = '\0';
        return NULL;
    }
    return data_dir;
}
