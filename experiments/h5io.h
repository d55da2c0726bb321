/* SPDX-License-Identifier: MIT
 *
 * h5io.h: the few HDF5 helpers every HDF5 file of memxbar needs (results,
 * weights): closing any handle, writing attributes, explaining why a file
 * would not open. Internal to experiments/.
 */
#ifndef MX_H5IO_H
#define MX_H5IO_H

#include <stddef.h>

#include <hdf5.h>

#include "core/core.h"

/* Close any kind of identifier and mark it closed; harmless on an invalid
 * one, so cleanup paths can call it unconditionally. */
void mx_h5_close(hid_t *id);

/* Write an attribute of `n` elements (scalar when n == 0) of type
 * `file_type` from `value` in `mem_type`, replacing one of the same name.
 * Returns < 0 on failure. */
herr_t mx_h5_attr_write(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, size_t n,
                        const void *value);

/* A variable-length UTF-8 string attribute: h5py reads it as str. */
herr_t mx_h5_attr_string(hid_t loc, const char *name, const char *value);

/* Whether `path` is an HDF5 file memxbar can open, with HDF5's own error
 * printing silenced: MX_EIO naming the file and errno's reason when it
 * cannot be opened, MX_EFORMAT when it is not HDF5. */
mx_status mx_h5_check_file(const char *path);

/* Open an existing HDF5 file read-only. MX_EIO if another process holds
 * HDF5's lock on it (a sweep still writing it), MX_EFORMAT if it is not a
 * readable HDF5 file; the message names the path. OUT: *file. */
mx_status mx_h5_open_read(const char *path, hid_t *file);

/* Why a file could not be opened: the system's reason when HDF5 left one in
 * errno (it opens files with open(2)), else `fallback`. */
const char *mx_h5_errno_text(int err, const char *fallback);

#endif /* MX_H5IO_H */
