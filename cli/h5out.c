/* SPDX-License-Identifier: MIT
 *
 * h5out.c: HDF5 output and plotting shared by the commands (see h5out.h).
 */
#include "cli/h5out.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/fsutil.h"
#include "experiments/h5io.h"
#include "mx_build_config.h"

int mx_cli_h5_write(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                    const hsize_t *dims, const void *data, const char *units, const char *doc)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t set = H5I_INVALID_HID;
    int rc = -1;
    if (space >= 0)
        set = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (set >= 0 && H5Dwrite(set, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0 &&
        mx_h5_attr_string(set, "units", units) >= 0 &&
        mx_h5_attr_string(set, "description", doc) >= 0)
        rc = 0;
    mx_h5_close(&set);
    mx_h5_close(&space);
    return rc;
}

int mx_cli_h5_attr_u64(hid_t loc, const char *name, uint64_t v)
{
    return mx_h5_attr_write(loc, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &v) < 0 ? -1 : 0;
}

int mx_cli_h5_attr_f64(hid_t loc, const char *name, double v)
{
    return mx_h5_attr_write(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &v) < 0 ? -1 : 0;
}

int mx_cli_out_open(mx_cli_out *o, const char *cmd, const char *path)
{
    o->cmd = cmd;
    o->path = path;
    o->file = H5I_INVALID_HID;
    if ((size_t)snprintf(o->partial, sizeof o->partial, "%s.partial", path) >= sizeof o->partial) {
        fprintf(stderr, "%s: %s: path too long\n", cmd, path);
        return 1;
    }
    if (mx_cli_make_parent_dir(path) != 0) {
        fprintf(stderr, "%s: %s: cannot create its folder: %s\n", cmd, path, strerror(errno));
        return 1;
    }
    errno = 0;
    o->file = H5Fcreate(o->partial, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (o->file < 0) {
        fprintf(stderr, "%s: %s: cannot create HDF5 file (%s)\n", cmd, o->partial,
                mx_h5_errno_text(errno, "HDF5 error"));
        return 1;
    }
    return 0;
}

int mx_cli_out_close(mx_cli_out *o, int ok)
{
    if (o->file >= 0 && H5Fclose(o->file) < 0)
        ok = 0;
    o->file = H5I_INVALID_HID;
    if (ok && rename(o->partial, o->path) != 0) {
        fprintf(stderr, "%s: %s: cannot rename to %s: %s\n", o->cmd, o->partial, o->path,
                strerror(errno));
        ok = 0;
    }
    if (!ok) {
        remove(o->partial);
        fprintf(stderr, "%s: %s: writing failed\n", o->cmd, o->path);
        return 1;
    }
    return 0;
}

void mx_cli_plot(const char *cmd, const char *script_name, const char *h5_path)
{
    const char *python = getenv("MEMXBAR_PYTHON");
    if (!python || !*python)
        python = "/usr/bin/python3";
    char script[1024], png[1024];
    snprintf(script, sizeof script, "%s/scripts/%s", MX_SOURCE_ROOT, script_name);
    size_t len = strlen(h5_path);
    if (len > 3 && !strcmp(h5_path + len - 3, ".h5"))
        snprintf(png, sizeof png, "%.*s.png", (int)(len - 3), h5_path);
    else
        snprintf(png, sizeof png, "%s.png", h5_path);
    if (access(python, X_OK) != 0) {
        fprintf(stderr, "%s: note: %s not found, so no plot; the data is in %s\n", cmd, python,
                h5_path);
        return;
    }
    if (access(script, R_OK) != 0) {
        fprintf(stderr, "%s: note: %s not found, so no plot; the data is in %s\n", cmd, script,
                h5_path);
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: note: cannot start %s (%s), so no plot\n", cmd, python,
                strerror(errno));
        return;
    }
    if (pid == 0) {
        execl(python, python, script, h5_path, png, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        printf("plot: %s\n", png);
    else /* the script said why (e.g. h5py or matplotlib missing) */
        fprintf(stderr, "%s: note: no plot (%s exited with %d); the data is in %s\n", cmd, script,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1, h5_path);
}
