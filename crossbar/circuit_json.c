/* SPDX-License-Identifier: MIT
 *
 * circuit_json.c: reads one crossbar circuit case in the JSON format of
 * ../shared/reference/irdrop (the ngspice reference solutions; its README
 * lists the fields) into an mx_circuit_case: the circuit parameters, the
 * conductances, the row voltages and, when present, the expected column
 * currents. It is the input of `memxbar crossbar solve` and of the reference
 * tests, at the edge of crossbar/ where outside files come in.
 *
 * Parsing uses json-c's incremental tokener on the whole file so that a
 * syntax error can be reported as file:line:column; every semantic error
 * names the file and the field (and the index inside an array). Numbers may
 * be written as integers or decimals; unknown fields are ignored (the
 * reference files carry provenance fields such as ngspice_wall_s).
 *
 * Beyond the reference format, optional per-line terminals (absent = every
 * row driven, every column sensed at 0 V): row_floating and col_floating,
 * lists of 0/1 (1 = the line floats: no driver / no sense node), and
 * v_col_v, the voltage of each column's sense node — enough to write a
 * passive-array read with its sneak paths as a case.
 */
#include "crossbar/circuit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

/* Largest case file read (the 64×64 reference is ~200 kB; 1 GiB is a
 * 10⁷-cell array, far beyond what a case file is for). */
#define CASE_MAX_BYTES ((long)1 << 30)

void mx_circuit_case_free(mx_circuit_case *cs)
{
    if (!cs)
        return;
    mx_free(cs->row_floating);
    mx_free(cs->col_floating);
    mx_free(cs->v_col);
    mx_free(cs->g);
    mx_free(cs->v_row);
    mx_free(cs->i_col);
    mx_free(cs->i_col_ideal);
    memset(cs, 0, sizeof *cs);
}

static mx_status read_text(const char *path, char **out, size_t *len)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return mx_fail(errno == ENOENT ? MX_ENOTFOUND : MX_EIO, "%s: cannot open: %s", path,
                       strerror(errno));
    mx_status st = MX_OK;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0)
        st = mx_fail(MX_EIO, "%s: cannot read (not a regular file?)", path);
    else if (size > CASE_MAX_BYTES)
        st = mx_fail(MX_EFORMAT, "%s: %ld bytes is larger than a case file may be (%ld)", path,
                     size, CASE_MAX_BYTES);
    char *text = NULL;
    if (!st && !(text = mx_alloc((size_t)size + 1)))
        st = mx_fail(MX_ENOMEM, "%s: out of memory (%ld bytes)", path, size);
    if (!st && fread(text, 1, (size_t)size, f) != (size_t)size)
        st = mx_fail(MX_EIO, "%s: read error", path);
    fclose(f);
    if (st) {
        mx_free(text);
        return st;
    }
    text[size] = '\0';
    *out = text;
    *len = (size_t)size;
    return MX_OK;
}

/* Line and column (1-based) of byte `offset` in text. */
static void line_col(const char *text, size_t offset, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t k = 0; k < offset && text[k]; k++) {
        if (text[k] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static mx_status parse(const char *path, const char *text, size_t len, json_object **out)
{
    *out = NULL;
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return mx_fail(MX_ENOMEM, "%s: out of memory (JSON tokener)", path);
    json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    size_t line, col;
    if (jerr == json_tokener_continue) {
        json_object_put(root);
        line_col(text, len, &line, &col);
        return mx_fail(MX_EFORMAT, "%s:%zu:%zu: JSON ends too early (an object or array is not "
                       "closed)", path, line, col);
    }
    if (jerr != json_tokener_success || !root) {
        json_object_put(root);
        line_col(text, end, &line, &col);
        return mx_fail(MX_EFORMAT, "%s:%zu:%zu: JSON syntax error: %s", path, line, col,
                       json_tokener_error_desc(jerr));
    }
    for (size_t k = end; k < len; k++)
        if (!strchr(" \t\r\n", text[k])) {
            json_object_put(root);
            line_col(text, k, &line, &col);
            return mx_fail(MX_EFORMAT, "%s:%zu:%zu: unexpected text after the JSON object", path,
                           line, col);
        }
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return mx_fail(MX_EINVAL, "%s: expected a JSON object at the top, got %s", path,
                       json_type_to_name(json_object_get_type(root)));
    }
    *out = root;
    return MX_OK;
}

static int is_number(const json_object *o)
{
    return json_object_is_type(o, json_type_double) || json_object_is_type(o, json_type_int);
}

static const char *type_name(const json_object *o)
{
    return o ? json_type_to_name(json_object_get_type(o)) : "null";
}

static mx_status get_field(const char *path, json_object *root, const char *key,
                           json_object **out)
{
    if (!json_object_object_get_ex(root, key, out))
        return mx_fail(MX_EINVAL, "%s: field %s: missing", path, key);
    return MX_OK;
}

static mx_status get_number(const char *path, json_object *root, const char *key, double *out)
{
    json_object *o;
    mx_status st = get_field(path, root, key, &o);
    if (st)
        return st;
    if (!is_number(o))
        return mx_fail(MX_EINVAL, "%s: field %s: expected a number, got %s", path, key,
                       type_name(o));
    *out = json_object_get_double(o);
    return MX_OK;
}

static mx_status get_size(const char *path, json_object *root, const char *key, size_t *out)
{
    json_object *o;
    mx_status st = get_field(path, root, key, &o);
    if (st)
        return st;
    if (!json_object_is_type(o, json_type_int))
        return mx_fail(MX_EINVAL, "%s: field %s: expected an integer, got %s", path, key,
                       type_name(o));
    int64_t v = json_object_get_int64(o);
    if (v < 1 || v > ((int64_t)1 << 20))
        return mx_fail(MX_EINVAL, "%s: field %s: expected 1..1048576, got %lld", path, key,
                       (long long)v);
    *out = (size_t)v;
    return MX_OK;
}

/* A list of n numbers at `o` (named `what` in messages) into dst. */
static mx_status get_list(const char *path, json_object *o, const char *what, size_t n,
                          double *dst)
{
    if (!json_object_is_type(o, json_type_array))
        return mx_fail(MX_EINVAL, "%s: field %s: expected a list of %zu numbers, got %s", path,
                       what, n, type_name(o));
    size_t len = json_object_array_length(o);
    if (len != n)
        return mx_fail(MX_EINVAL, "%s: field %s: expected a list of %zu numbers, got %zu", path,
                       what, n, len);
    for (size_t k = 0; k < n; k++) {
        json_object *e = json_object_array_get_idx(o, k);
        if (!is_number(e))
            return mx_fail(MX_EINVAL, "%s: field %s[%zu]: expected a number, got %s", path, what,
                           k, type_name(e));
        dst[k] = json_object_get_double(e);
    }
    return MX_OK;
}

/* Optional list `key` of n numbers: *dst stays NULL when absent. */
static mx_status get_optional_list(const char *path, json_object *root, const char *key,
                                   size_t n, double **dst)
{
    json_object *o;
    if (!json_object_object_get_ex(root, key, &o))
        return MX_OK;
    if (!(*dst = mx_alloc(n * sizeof **dst)))
        return mx_fail(MX_ENOMEM, "%s: out of memory", path);
    return get_list(path, o, key, n, *dst);
}

/* Optional list `key` of n flags (0 or 1, integers): *dst stays NULL when
 * absent. */
static mx_status get_optional_flags(const char *path, json_object *root, const char *key,
                                    size_t n, unsigned char **dst)
{
    json_object *o;
    if (!json_object_object_get_ex(root, key, &o))
        return MX_OK;
    if (!json_object_is_type(o, json_type_array) || json_object_array_length(o) != n)
        return mx_fail(MX_EINVAL, "%s: field %s: expected a list of %zu flags (0 or 1), got %s",
                       path, key, n,
                       json_object_is_type(o, json_type_array) ? "a list of another length"
                                                               : type_name(o));
    if (!(*dst = mx_alloc(n)))
        return mx_fail(MX_ENOMEM, "%s: out of memory", path);
    for (size_t k = 0; k < n; k++) {
        json_object *e = json_object_array_get_idx(o, k);
        int64_t v = json_object_is_type(e, json_type_int) ? json_object_get_int64(e) : -1;
        if (v != 0 && v != 1)
            return mx_fail(MX_EINVAL, "%s: field %s[%zu]: expected 0 or 1, got %s", path, key,
                           k, e ? json_object_to_json_string(e) : "null");
        (*dst)[k] = (unsigned char)v;
    }
    return MX_OK;
}

static mx_status read_case(const char *path, json_object *root, mx_circuit_case *cs)
{
    mx_circuit_params *p = &cs->params;
    mx_circuit_params_default(p);
    json_object *o;
    mx_status st;
    if (json_object_object_get_ex(root, "name", &o)) {
        if (!json_object_is_type(o, json_type_string))
            return mx_fail(MX_EINVAL, "%s: field name: expected a string, got %s", path,
                           type_name(o));
        snprintf(cs->name, sizeof cs->name, "%s", json_object_get_string(o));
    }
    if ((st = get_size(path, root, "rows", &p->rows)) ||
        (st = get_size(path, root, "cols", &p->cols)) ||
        (st = get_number(path, root, "r_row_ohm", &p->r_row_ohm)) ||
        (st = get_number(path, root, "r_col_ohm", &p->r_col_ohm)) ||
        (st = get_number(path, root, "r_src_ohm", &p->r_src_ohm)) ||
        (st = get_number(path, root, "r_sense_ohm", &p->r_sense_ohm)) ||
        (st = get_number(path, root, "r_access_ohm", &p->r_access_ohm)))
        return st;
    if ((st = get_field(path, root, "cell_model", &o)))
        return st;
    const char *model = json_object_is_type(o, json_type_string) ? json_object_get_string(o)
                                                                 : NULL;
    if (model && !strcmp(model, "linear"))
        p->cell = MX_CELL_LINEAR;
    else if (model && !strcmp(model, "sinh"))
        p->cell = MX_CELL_SINH;
    else
        return mx_fail(MX_EINVAL, "%s: field cell_model: expected \"linear\" or \"sinh\", got %s",
                       path, model ? model : type_name(o));
    if (p->cell == MX_CELL_SINH || json_object_object_get_ex(root, "k_per_v", &o))
        if ((st = get_number(path, root, "k_per_v", &p->k_per_v)))
            return st;
    if (p->cell == MX_CELL_LINEAR && !(p->k_per_v > 0.0))
        p->k_per_v = 3.0; /* unused by linear cells; keeps the params valid */
    if ((st = mx_circuit_params_validate(p)))
        return mx_fail_context(st, "%s", path);
    const size_t R = p->rows, C = p->cols;
    cs->g = mx_alloc(R * C * sizeof *cs->g);
    cs->v_row = mx_alloc(R * sizeof *cs->v_row);
    if (!cs->g || !cs->v_row)
        return mx_fail(MX_ENOMEM, "%s: out of memory (%zu x %zu)", path, R, C);
    if ((st = get_field(path, root, "g_s", &o)))
        return st;
    if (!json_object_is_type(o, json_type_array) || json_object_array_length(o) != R)
        return mx_fail(MX_EINVAL, "%s: field g_s: expected %zu rows (a list of lists), got %s",
                       path, R,
                       json_object_is_type(o, json_type_array) ? "a list of another length"
                                                               : type_name(o));
    for (size_t i = 0; i < R; i++) {
        char what[48];
        snprintf(what, sizeof what, "g_s[%zu]", i);
        if ((st = get_list(path, json_object_array_get_idx(o, i), what, C, cs->g + i * C)))
            return st;
    }
    if ((st = mx_circuit_check_conductances(p, cs->g)))
        return mx_fail_context(st, "%s", path);
    if ((st = get_field(path, root, "v_row_v", &o)) ||
        (st = get_list(path, o, "v_row_v", R, cs->v_row)))
        return st;
    for (size_t i = 0; i < R; i++)
        if (!isfinite(cs->v_row[i]))
            return mx_fail(MX_EINVAL, "%s: field v_row_v[%zu]: expected a finite voltage, got %g",
                           path, i, cs->v_row[i]);
    if ((st = get_optional_list(path, root, "i_col_a", C, &cs->i_col)) ||
        (st = get_optional_list(path, root, "i_col_ideal_a", C, &cs->i_col_ideal)))
        return st;
    if ((st = get_optional_flags(path, root, "row_floating", R, &cs->row_floating)) ||
        (st = get_optional_flags(path, root, "col_floating", C, &cs->col_floating)) ||
        (st = get_optional_list(path, root, "v_col_v", C, &cs->v_col)))
        return st;
    for (size_t j = 0; cs->v_col && j < C; j++)
        if (!isfinite(cs->v_col[j]))
            return mx_fail(MX_EINVAL, "%s: field v_col_v[%zu]: expected a finite voltage, got %g",
                           path, j, cs->v_col[j]);
    p->row_floating = cs->row_floating;
    p->col_floating = cs->col_floating;
    p->v_col_v = cs->v_col;
    return MX_OK;
}

mx_status mx_circuit_case_read(const char *path, mx_circuit_case *out)
{
    memset(out, 0, sizeof *out);
    char *text;
    size_t len = 0;
    mx_status st = read_text(path, &text, &len);
    if (st)
        return st;
    json_object *root;
    st = parse(path, text, len, &root);
    mx_free(text);
    if (st)
        return st;
    st = read_case(path, root, out);
    json_object_put(root);
    if (st)
        mx_circuit_case_free(out);
    return st;
}
