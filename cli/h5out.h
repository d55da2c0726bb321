/* SPDX-License-Identifier: MIT
 *
 * h5out.h: what the commands that write one HDF5 file and draw it share
 * (`memxbar device curve`, `memxbar adc curve`): datasets with their units,
 * scalar attributes, the file written as PATH.partial and renamed when
 * complete, and the PNG drawn by a script under scripts/.
 */
#ifndef MX_CLI_H5OUT_H
#define MX_CLI_H5OUT_H

#include <stdint.h>

#include <hdf5.h>

/* Write a dataset of `rank` dims from `data` (mem_type), with a "units" and
 * a "description" attribute. Returns < 0 on failure. */
int mx_cli_h5_write(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                    const hsize_t *dims, const void *data, const char *units, const char *doc);
int mx_cli_h5_attr_u64(hid_t loc, const char *name, uint64_t v);
int mx_cli_h5_attr_f64(hid_t loc, const char *name, double v);

/* An HDF5 file written as PATH.partial and renamed when complete. */
typedef struct mx_cli_out {
    const char *cmd; /* "memxbar device", for messages */
    const char *path;
    char partial[1024];
    hid_t file;
} mx_cli_out;

/* Create PATH.partial (and PATH's folder). 0 on success; 1 with a message. */
int mx_cli_out_open(mx_cli_out *o, const char *cmd, const char *path);
/* Close; rename into place when ok, else remove the partial file. 0 when
 * the file is in place; 1 with a message. */
int mx_cli_out_close(mx_cli_out *o, int ok);

/* Draw PATH (.h5 → .png) with scripts/<script>, run by /usr/bin/python3
 * (Debian's python3-h5py and python3-matplotlib live there) or
 * $MEMXBAR_PYTHON; prints "plot: FILE". Never fails the command: the HDF5
 * file is the result, the picture a convenience (a note says why not). */
void mx_cli_plot(const char *cmd, const char *script, const char *h5_path);

#endif /* MX_CLI_H5OUT_H */
