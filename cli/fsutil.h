/* SPDX-License-Identifier: MIT
 *
 * fsutil.h: file-system helpers the commands share.
 */
#ifndef MX_CLI_FSUTIL_H
#define MX_CLI_FSUTIL_H

/* Create every missing folder on the way to `path`'s parent (mkdir -p of
 * dirname(path)). 0 on success, -1 with errno set otherwise. */
int mx_cli_make_parent_dir(const char *path);

#endif /* MX_CLI_FSUTIL_H */
