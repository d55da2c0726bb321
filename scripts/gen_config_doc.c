/* SPDX-License-Identifier: MIT
 *
 * gen_config_doc.c: prints the field reference of docs/config.md from the
 * config field table (mx_config_doc_markdown), so the documentation is
 * generated from the code, never retyped. Built as build/gen_config_doc;
 * scripts/update_config_doc.sh splices its output into docs/config.md.
 */
#include <stdio.h>
#include <stdlib.h>

#include "experiments/config.h"

int main(void)
{
    char *text = NULL;
    if (mx_config_doc_markdown(&text) != MX_OK) {
        fprintf(stderr, "gen_config_doc: %s\n", mx_last_error());
        return 1;
    }
    fputs(text, stdout);
    mx_free(text);
    return 0;
}
