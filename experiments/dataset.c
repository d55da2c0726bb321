/* SPDX-License-Identifier: MIT
 *
 * dataset.c: the front door for real data. It finds the data folder, reads
 * MNIST / Fashion-MNIST IDX files and the UCI optdigits CSV through zlib, and
 * hands the experiments a plain mx_dataset: pixels as floats in [0, 1]
 * (byte / 255, or value / 16 for optdigits) and labels as bytes.
 *
 * Everything read from disk is treated as untrusted: magic numbers, shapes,
 * counts, label ranges and lengths are checked, and every error names the
 * file and what was wrong. Files may be gzip or plain (zlib reads both).
 * Bytes after the data an IDX header announces are ignored, as is anything
 * after the end of a gzip stream (zlib's own rule). On failure the output
 * struct is left zeroed with nothing allocated.
 *
 * POKER-DVS (events.h reads the recordings) has no official split; ours is
 * per suit, in name order, every 4th recording to test (30 test, 101
 * train), and each recording becomes `steps` count frames over its own
 * span (recordings last 4.7..31.7 ms, so a fixed bin width would leave
 * most of a short recording's frames empty or cut a long one).
 */
#include "experiments/dataset.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "experiments/events.h"
#include "mx_build_config.h"

#define MX_DATASET_CLASSES 10
#define MX_PATH_BYTES 4096
/* gzread is called on chunks of this size: large enough that zlib inflates
 * straight into our buffer, small enough to stay in L2 while converting. */
#define MX_IDX_CHUNK_BYTES (1u << 20)
/* zlib's input buffer (default 8 KiB); bigger means fewer read() calls. */
#define MX_GZ_BUFFER_BYTES (256u * 1024u)
/* The IDX magic is 0x00 0x00 <type> <ndims>; type 0x08 = unsigned byte. */
#define MX_IDX_MAGIC_IMAGES 0x00000803u
#define MX_IDX_MAGIC_LABELS 0x00000801u
#define MX_IDX_IMAGES_HEADER_BYTES 16
#define MX_IDX_LABELS_HEADER_BYTES 8
/* Largest image side accepted (MNIST: 28; a crossbar input of 1024² pixels
 * is already far beyond any array memxbar models). */
#define MX_IDX_MAX_SIDE 1024u
/* UCI optdigits: 8x8 grid of counts 0..16, then the class. */
#define MX_OPTDIGITS_SIDE 8
#define MX_OPTDIGITS_FEATURES (MX_OPTDIGITS_SIDE * MX_OPTDIGITS_SIDE)
#define MX_OPTDIGITS_FIELDS (MX_OPTDIGITS_FEATURES + 1)
#define MX_OPTDIGITS_MAX_VALUE 16
/* Our fixed split of the single optdigits file (optdigits.tes, 1797 rows):
 * rows [0, 1000) are "train", the rest "test". */
#define MX_DIGITS_TRAIN_ROWS 1000

/* ---------------------------------------------------------------- helpers */

static void dataset_zero(mx_dataset *d) { memset(d, 0, sizeof *d); }

void mx_dataset_free(mx_dataset *d)
{
    if (!d)
        return;
    mx_free(d->x);
    mx_free(d->y);
    dataset_zero(d);
}

/* ------------------------------------------------------------ data folder */

typedef enum dir_state { DIR_OK, DIR_UNSET, DIR_MISSING, DIR_NOT_DIR, DIR_EMPTY, DIR_ERROR } dir_state;

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static dir_state probe_dir(const char *path, int *err)
{
    struct stat st;
    *err = 0;
    if (!path || !path[0])
        return DIR_UNSET;
    if (stat(path, &st) != 0) {
        *err = errno;
        return errno == ENOENT ? DIR_MISSING : DIR_ERROR;
    }
    if (!S_ISDIR(st.st_mode))
        return DIR_NOT_DIR;
    char sub[MX_PATH_BYTES];
    static const char *const markers[] = {"mnist", "uci-optdigits", "poker-dvs"};
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++) {
        int len = snprintf(sub, sizeof sub, "%s/%s", path, markers[i]);
        if (len > 0 && (size_t)len < sizeof sub && is_dir(sub))
            return DIR_OK;
    }
    return DIR_EMPTY;
}

static void describe_state(char *buf, size_t size, dir_state s, int err)
{
    switch (s) {
    case DIR_OK: snprintf(buf, size, "usable"); break;
    case DIR_UNSET: snprintf(buf, size, "unset"); break;
    case DIR_MISSING: snprintf(buf, size, "missing"); break;
    case DIR_NOT_DIR: snprintf(buf, size, "not a directory"); break;
    case DIR_EMPTY: snprintf(buf, size, "no mnist/, uci-optdigits/ or poker-dvs/ inside"); break;
    case DIR_ERROR: snprintf(buf, size, "%s", strerror(err)); break;
    }
}

/* Search order: explicit dir, $MEMXBAR_DATA, ./data, ../shared/data, the
 * source tree's ../shared/data. A folder the user named (explicit or the
 * environment) that is unusable is an error even if a later default would
 * work: silently reading other data than asked for is worse than stopping.
 * The message still lists every candidate and its state. */
mx_status mx_data_dir_find(const char *explicit_dir, char *dir, size_t dir_size)
{
    assert(dir && dir_size > 0);
    dir[0] = '\0';
    const char *env = getenv("MEMXBAR_DATA");
    struct {
        const char *label; /* how the message names the candidate */
        const char *path;
        int user_named;
    } cand[] = {
        {"--data", explicit_dir, 1},
        {"$MEMXBAR_DATA", env, 1},
        {NULL, "./data", 0},
        {NULL, "../shared/data", 0},
        {NULL, MX_SOURCE_ROOT "/../shared/data", 0},
    };
    enum { N_CAND = sizeof cand / sizeof cand[0] };
    dir_state state[N_CAND];
    int err[N_CAND];
    int chosen = -1;  /* first usable candidate */
    int blocked = -1; /* first user-named candidate that is set but unusable */
    for (int i = 0; i < N_CAND; i++) {
        state[i] = probe_dir(cand[i].path, &err[i]);
        if (cand[i].user_named && state[i] != DIR_OK && state[i] != DIR_UNSET && blocked < 0 &&
            chosen < 0)
            blocked = i;
        if (state[i] == DIR_OK && chosen < 0 && blocked < 0)
            chosen = i;
    }
    if (chosen >= 0) {
        size_t len = strlen(cand[chosen].path);
        if (len >= dir_size)
            return mx_fail(MX_EINVAL, "data folder path '%s' is longer than the %zu-byte buffer",
                           cand[chosen].path, dir_size);
        memcpy(dir, cand[chosen].path, len + 1);
        return MX_OK;
    }

    char list[1536];
    size_t used = 0;
    list[0] = '\0';
    for (int i = 0; i < N_CAND; i++) {
        if (i == 0 && state[i] == DIR_UNSET)
            continue; /* no --data given: nothing to report */
        char what[128];
        describe_state(what, sizeof what, state[i], err[i]);
        if (state[i] == DIR_OK && blocked >= 0)
            snprintf(what, sizeof what, "usable, not used because %s is set",
                     cand[blocked].label);
        int n;
        if (cand[i].label && state[i] == DIR_UNSET)
            n = snprintf(list + used, sizeof list - used, "%s%s (unset)", used ? ", " : "",
                         cand[i].label);
        else if (cand[i].label)
            n = snprintf(list + used, sizeof list - used, "%s%s %s (%s)", used ? ", " : "",
                         cand[i].label, cand[i].path, what);
        else
            n = snprintf(list + used, sizeof list - used, "%s%s (%s)", used ? ", " : "",
                         cand[i].path, what);
        if (n < 0 || (size_t)n >= sizeof list - used) {
            used = sizeof list - 1;
            break;
        }
        used += (size_t)n;
    }
    if (blocked >= 0)
        return mx_fail(MX_ENOTFOUND,
                       "data folder from %s is not usable: %s; a data folder holds mnist/, "
                       "uci-optdigits/ or poker-dvs/; looked in: %s",
                       cand[blocked].label, cand[blocked].path, list);
    return mx_fail(MX_ENOTFOUND,
                   "no data folder found; looked in: %s; put the datasets in one of these or "
                   "pass --data DIR",
                   list);
}

/* ------------------------------------------------------------- gzip input */

static mx_status gz_open(const char *path, gzFile *out)
{
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        if (errno)
            return mx_fail(MX_EIO, "%s: cannot open: %s", path, strerror(errno));
        return mx_fail(MX_ENOMEM, "%s: cannot open: out of memory in zlib", path);
    }
    gzbuffer(f, MX_GZ_BUFFER_BYTES);
    *out = f;
    return MX_OK;
}

/* Read up to `want` bytes; *got says how many arrived. A short count with
 * MX_OK means a clean end of file (callers report truncation themselves);
 * stream damage and I/O errors fail here with the file named. */
static mx_status gz_read_full(gzFile f, const char *path, void *buf, size_t want, size_t *got)
{
    unsigned char *p = buf;
    size_t have = 0;
    while (have < want) {
        size_t left = want - have;
        unsigned ask = left > (size_t)INT_MAX ? (unsigned)INT_MAX : (unsigned)left;
        int n = gzread(f, p + have, ask);
        if (n < 0) {
            int zerr = Z_OK;
            const char *msg = gzerror(f, &zerr);
            if (zerr == Z_ERRNO)
                return mx_fail(MX_EIO, "%s: read error: %s", path, strerror(errno));
            if (zerr == Z_MEM_ERROR)
                return mx_fail(MX_ENOMEM, "%s: out of memory in zlib", path);
            return mx_fail(MX_EFORMAT, "%s: corrupt gzip stream: %s", path, msg);
        }
        if (n == 0)
            break;
        have += (size_t)n;
    }
    *got = have;
    if (have < want) {
        int zerr = Z_OK;
        const char *msg = gzerror(f, &zerr);
        if (zerr == Z_BUF_ERROR) /* gzip stream cut short */
            return mx_fail(MX_EFORMAT, "%s: truncated gzip stream after %zu bytes: %s", path,
                           have, msg);
        if (zerr != Z_OK)
            return mx_fail(MX_EFORMAT, "%s: corrupt gzip stream: %s", path, msg);
    }
    return MX_OK;
}

/* -------------------------------------------------------------------- IDX */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static mx_status idx_header(gzFile f, const char *path, int images, uint32_t dims_out[3])
{
    unsigned char h[MX_IDX_IMAGES_HEADER_BYTES];
    size_t want = images ? MX_IDX_IMAGES_HEADER_BYTES : MX_IDX_LABELS_HEADER_BYTES;
    size_t got = 0;
    mx_status st = gz_read_full(f, path, h, want, &got);
    if (st)
        return st;
    if (got < 4)
        return mx_fail(MX_EFORMAT, "%s: truncated: expected a %zu-byte IDX header, got %zu bytes",
                       path, want, got);
    uint32_t magic = be32(h);
    uint32_t expect = images ? MX_IDX_MAGIC_IMAGES : MX_IDX_MAGIC_LABELS;
    if (magic != expect)
        return mx_fail(MX_EFORMAT, "%s: not an IDX %s file (magic 0x%08X, expected 0x%08X)", path,
                       images ? "image" : "label", (unsigned)magic, (unsigned)expect);
    if (got < want)
        return mx_fail(MX_EFORMAT, "%s: truncated: expected a %zu-byte IDX header, got %zu bytes",
                       path, want, got);
    size_t ndims = images ? 3 : 1;
    for (size_t i = 0; i < ndims; i++)
        dims_out[i] = be32(h + 4 + 4 * i);
    return MX_OK;
}

/* Pixel byte -> float in [0, 1]; one table so every pixel converts the same. */
static void pixel_table(float table[256])
{
    for (int b = 0; b < 256; b++)
        table[b] = (float)b / 255.0f;
}

mx_status mx_dataset_load_idx(const char *images_path, const char *labels_path, size_t limit,
                              mx_dataset *out)
{
    assert(images_path && labels_path && out);
    dataset_zero(out);
    mx_dataset d = {0};
    gzFile fi = NULL, fl = NULL;
    unsigned char *chunk = NULL;
    uint32_t idims[3] = {0}, ldims[3] = {0};
    mx_status st;

    if ((st = gz_open(images_path, &fi)) || (st = idx_header(fi, images_path, 1, idims)))
        goto fail;
    if ((st = gz_open(labels_path, &fl)) || (st = idx_header(fl, labels_path, 0, ldims)))
        goto fail;
    if (idims[0] == 0 || idims[1] == 0 || idims[2] == 0) {
        st = mx_fail(MX_EFORMAT, "%s: empty IDX image file (%u images of %ux%u)", images_path,
                     (unsigned)idims[0], (unsigned)idims[1], (unsigned)idims[2]);
        goto fail;
    }
    /* The header alone sizes the image buffer (a gzip stream does not tell
     * its length up front), so a corrupt side would ask for terabytes
     * (found by tests/fuzz/fuzz_idx): bound each side. */
    if (idims[1] > MX_IDX_MAX_SIDE || idims[2] > MX_IDX_MAX_SIDE) {
        st = mx_fail(MX_EFORMAT, "%s: expected images of at most %ux%u pixels, got %ux%u",
                     images_path, MX_IDX_MAX_SIDE, MX_IDX_MAX_SIDE, (unsigned)idims[1],
                     (unsigned)idims[2]);
        goto fail;
    }
    if (idims[0] != ldims[0]) {
        st = mx_fail(MX_EFORMAT, "%s holds %u images but %s holds %u labels", images_path,
                     (unsigned)idims[0], labels_path, (unsigned)ldims[0]);
        goto fail;
    }

    d.n = idims[0];
    if (limit > 0 && limit < d.n)
        d.n = limit;
    d.rows = idims[1];
    d.cols = idims[2];
    d.n_classes = MX_DATASET_CLASSES;
    d.dim = mx_size_mul(d.rows, d.cols);
    size_t n_pixels = mx_size_mul(d.n, d.dim);
    size_t x_bytes = mx_size_mul(n_pixels, sizeof(float));
    if (d.dim == 0 || n_pixels == 0 || x_bytes == 0) {
        st = mx_fail(MX_EFORMAT, "%s: image size %zux%zu times %zu images overflows", images_path,
                     d.rows, d.cols, d.n);
        goto fail;
    }

    /* Labels first: small, and a bad label file fails before the big read. */
    d.y = mx_alloc(d.n);
    d.x = mx_alloc(x_bytes);
    chunk = mx_alloc(MX_IDX_CHUNK_BYTES);
    if (!d.y || !d.x || !chunk) {
        st = mx_fail(MX_ENOMEM, "%s: out of memory for %zu images of %zux%zu", images_path, d.n,
                     d.rows, d.cols);
        goto fail;
    }
    size_t got = 0;
    if ((st = gz_read_full(fl, labels_path, d.y, d.n, &got)))
        goto fail;
    if (got < d.n) {
        st = mx_fail(MX_EFORMAT, "%s: truncated: expected %zu bytes of labels, got %zu",
                     labels_path, d.n, got);
        goto fail;
    }
    for (size_t i = 0; i < d.n; i++) {
        if (d.y[i] >= MX_DATASET_CLASSES) {
            st = mx_fail(MX_EFORMAT, "%s: label %u of example %zu is outside 0..%d", labels_path,
                         (unsigned)d.y[i], i, MX_DATASET_CLASSES - 1);
            goto fail;
        }
    }

    float table[256];
    pixel_table(table);
    size_t done = 0;
    while (done < n_pixels) {
        size_t want = n_pixels - done;
        if (want > MX_IDX_CHUNK_BYTES)
            want = MX_IDX_CHUNK_BYTES;
        if ((st = gz_read_full(fi, images_path, chunk, want, &got)))
            goto fail;
        float *dst = d.x + done;
        for (size_t i = 0; i < got; i++)
            dst[i] = table[chunk[i]];
        done += got;
        if (got < want) {
            st = mx_fail(MX_EFORMAT, "%s: truncated: expected %zu bytes of pixels, got %zu",
                         images_path, n_pixels, done);
            goto fail;
        }
    }

    mx_free(chunk);
    gzclose(fi);
    gzclose(fl);
    *out = d;
    return MX_OK;

fail:
    mx_free(chunk);
    if (fi)
        gzclose(fi);
    if (fl)
        gzclose(fl);
    mx_dataset_free(&d);
    return st;
}

/* -------------------------------------------------------------- optdigits */

/* Whole decompressed file into one buffer (optdigits is 265 KB). */
static mx_status gz_slurp(const char *path, char **buf_out, size_t *len_out)
{
    gzFile f = NULL;
    mx_status st = gz_open(path, &f);
    if (st)
        return st;
    size_t cap = 1u << 18, len = 0;
    char *buf = mx_alloc(cap);
    if (!buf) {
        gzclose(f);
        return mx_fail(MX_ENOMEM, "%s: out of memory reading the file", path);
    }
    for (;;) {
        if (len == cap) {
            size_t new_cap = cap * 2;
            char *grown = new_cap > cap ? mx_alloc(new_cap) : NULL;
            if (!grown) {
                mx_free(buf);
                gzclose(f);
                return mx_fail(MX_ENOMEM, "%s: out of memory reading the file", path);
            }
            memcpy(grown, buf, len);
            mx_free(buf);
            buf = grown;
            cap = new_cap;
        }
        size_t got = 0;
        if ((st = gz_read_full(f, path, buf + len, cap - len, &got))) {
            mx_free(buf);
            gzclose(f);
            return st;
        }
        len += got;
        if (len < cap)
            break; /* clean end of file */
    }
    gzclose(f);
    *buf_out = buf;
    *len_out = len;
    return MX_OK;
}

/* One CSV line [s, e) (no newline) -> 64 features scaled to [0, 1] and the
 * class. Strict: exactly 65 fields of plain decimal digits. */
static mx_status optdigits_line(const char *path, size_t line_no, const char *s, const char *e,
                                float *x, uint8_t *y)
{
    size_t fields = 1;
    for (const char *p = s; p < e; p++)
        fields += (*p == ',');
    if (fields != MX_OPTDIGITS_FIELDS)
        return mx_fail(MX_EFORMAT, "%s:%zu: expected %d comma-separated integers, got %zu", path,
                       line_no, MX_OPTDIGITS_FIELDS, s == e ? (size_t)0 : fields);
    const char *p = s;
    for (int k = 0; k < MX_OPTDIGITS_FIELDS; k++) {
        const char *q = p;
        unsigned value = 0;
        while (q < e && *q != ',') {
            if (*q < '0' || *q > '9' || q - p >= 3) {
                const char *end = q;
                while (end < e && *end != ',')
                    end++;
                return mx_fail(MX_EFORMAT, "%s:%zu: field %d: '%.*s' is not an integer in 0..%d",
                               path, line_no, k + 1, (int)(end - p), p,
                               k < MX_OPTDIGITS_FEATURES ? MX_OPTDIGITS_MAX_VALUE
                                                         : MX_DATASET_CLASSES - 1);
            }
            value = value * 10 + (unsigned)(*q - '0');
            q++;
        }
        if (q == p)
            return mx_fail(MX_EFORMAT, "%s:%zu: field %d is empty", path, line_no, k + 1);
        if (k < MX_OPTDIGITS_FEATURES) {
            if (value > MX_OPTDIGITS_MAX_VALUE)
                return mx_fail(MX_EFORMAT, "%s:%zu: field %d: value %u is outside 0..%d", path,
                               line_no, k + 1, value, MX_OPTDIGITS_MAX_VALUE);
            if (x)
                x[k] = (float)value / (float)MX_OPTDIGITS_MAX_VALUE;
        } else {
            if (value >= MX_DATASET_CLASSES)
                return mx_fail(MX_EFORMAT, "%s:%zu: class %u is outside 0..%d", path, line_no,
                               value, MX_DATASET_CLASSES - 1);
            if (y)
                *y = (uint8_t)value;
        }
        p = q + 1; /* past the comma (or the end on the last field) */
    }
    return MX_OK;
}

/* Rows [first, first + count) (count 0 = to the end), at most `limit` of
 * them kept (0 = no cap). Every line is validated, kept or not. */
static mx_status optdigits_load(const char *path, size_t first, size_t count, size_t limit,
                                mx_dataset *out)
{
    assert(path && out);
    dataset_zero(out);
    char *buf = NULL;
    size_t len = 0;
    mx_status st = gz_slurp(path, &buf, &len);
    if (st)
        return st;

    /* Count lines: LF ends a line; a last line without LF still counts; an
     * optional CR before the LF is dropped. */
    size_t total = 0;
    for (size_t i = 0; i < len; i++)
        total += (buf[i] == '\n');
    if (len > 0 && buf[len - 1] != '\n')
        total++;

    size_t last = count ? first + count : total;
    if (count && (last < first || last > total)) {
        st = mx_fail(MX_EFORMAT, "%s: has %zu rows; rows %zu..%zu were asked for", path, total,
                     first, first + count - 1);
        mx_free(buf);
        return st;
    }
    if (first >= last) {
        st = mx_fail(MX_EFORMAT, "%s: has %zu rows; none left from row %zu", path, total, first);
        mx_free(buf);
        return st;
    }
    size_t keep = last - first;
    if (limit > 0 && limit < keep)
        keep = limit;

    mx_dataset d = {0};
    d.n = keep;
    d.rows = d.cols = MX_OPTDIGITS_SIDE;
    d.dim = MX_OPTDIGITS_FEATURES;
    d.n_classes = MX_DATASET_CLASSES;
    d.x = mx_alloc(mx_size_mul(keep, d.dim * sizeof(float)));
    d.y = mx_alloc(keep);
    if (!d.x || !d.y) {
        mx_free(buf);
        mx_dataset_free(&d);
        return mx_fail(MX_ENOMEM, "%s: out of memory for %zu rows", path, keep);
    }

    const char *s = buf, *end = buf + len;
    for (size_t row = 0; row < total; row++) {
        const char *e = memchr(s, '\n', (size_t)(end - s));
        if (!e)
            e = end;
        const char *stop = (e > s && e[-1] == '\r') ? e - 1 : e;
        int kept = row >= first && row - first < keep;
        size_t k = row - first;
        st = optdigits_line(path, row + 1, s, stop, kept ? d.x + k * d.dim : NULL,
                            kept ? d.y + k : NULL);
        if (st) {
            mx_free(buf);
            mx_dataset_free(&d);
            return st;
        }
        s = e + 1;
    }
    mx_free(buf);
    *out = d;
    return MX_OK;
}

mx_status mx_dataset_load_optdigits(const char *path, size_t first, size_t count,
                                    mx_dataset *out)
{
    return optdigits_load(path, first, count, 0, out);
}

/* -------------------------------------------------------------- poker-dvs */

static const char *const poker_suits[MX_POKER_DVS_CLASSES] = {"club", "diamond", "heart",
                                                               "spade"};
static const size_t poker_suit_counts[MX_POKER_DVS_CLASSES] = {30, 43, 23, 35};

int mx_poker_dvs_label(const char *name)
{
    if (!name || name[0] != 'x')
        return -1;
    for (int c = 0; c < (int)MX_POKER_DVS_CLASSES; c++) {
        size_t len = strlen(poker_suits[c]);
        if (strncmp(name + 1, poker_suits[c], len) != 0)
            continue;
        const char *p = name + 1 + len;
        const char *digits = p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == digits)
            return -1;
        if (*p == 'i')
            p++;
        return strcmp(p, ".aedat") == 0 ? c : -1;
    }
    return -1;
}

mx_status mx_poker_dvs_split(const char *const *names, size_t n_names, mx_split split,
                             size_t *idx, size_t *n)
{
    assert((names || n_names == 0) && idx && n);
    *n = 0;
    for (size_t i = 0; i < n_names; i++)
        if (mx_poker_dvs_label(names[i]) < 0)
            return mx_fail(MX_EFORMAT,
                           "poker-dvs: recording %zu: expected a name x<club|diamond|heart|spade>"
                           "<NN>[i].aedat, got \"%s\"",
                           i, names[i]);
    /* Round-robin over the suits: pass r takes each suit's r-th recording
     * of this split (names are sorted, so each suit is in name order). */
    size_t seen_any = 1;
    for (size_t r = 0; seen_any; r++) {
        seen_any = 0;
        for (int c = 0; c < (int)MX_POKER_DVS_CLASSES; c++) {
            size_t k = 0, kept = 0; /* index within the suit, within the split */
            for (size_t i = 0; i < n_names; i++) {
                if (mx_poker_dvs_label(names[i]) != c)
                    continue;
                int is_test = k % MX_POKER_DVS_TEST_EVERY == MX_POKER_DVS_TEST_EVERY - 1;
                k++;
                if (is_test != (split == MX_SPLIT_TEST))
                    continue;
                if (kept++ == r) {
                    idx[(*n)++] = i;
                    seen_any = 1;
                    break;
                }
            }
        }
    }
    return MX_OK;
}

mx_status mx_dataset_load_poker_dvs(const char *archive_path, mx_split split, size_t limit,
                                    size_t steps, mx_dataset *out)
{
    assert(archive_path && out);
    dataset_zero(out);
    if (steps == 0 || steps > MX_DATASET_EVENT_STEPS_MAX)
        return mx_fail(MX_EINVAL, "dataset.event_steps: expected 1..%d time bins, got %zu",
                       MX_DATASET_EVENT_STEPS_MAX, steps);
    mx_event_set set = {0};
    mx_status st = mx_events_read_archive(archive_path, &set);
    if (st)
        return st;
    mx_dataset d = {0};
    const char **names = mx_calloc(set.n, sizeof *names);
    size_t *idx = mx_calloc(set.n, sizeof *idx);
    if (!names || !idx) {
        st = mx_fail(MX_ENOMEM, "%s: out of memory for %zu recordings", archive_path, set.n);
        goto done;
    }
    size_t per_suit[MX_POKER_DVS_CLASSES] = {0};
    for (size_t i = 0; i < set.n; i++) {
        names[i] = set.rec[i].name;
        int c = mx_poker_dvs_label(names[i]);
        if (c >= 0)
            per_suit[c]++;
    }
    if (set.n != MX_POKER_DVS_RECORDINGS ||
        memcmp(per_suit, poker_suit_counts, sizeof per_suit) != 0) {
        st = mx_fail(MX_EFORMAT,
                     "%s: expected the %d POKER-DVS recordings (club 30, diamond 43, heart 23, "
                     "spade 35), got %zu (club %zu, diamond %zu, heart %zu, spade %zu)",
                     archive_path, MX_POKER_DVS_RECORDINGS, set.n, per_suit[0], per_suit[1],
                     per_suit[2], per_suit[3]);
        goto done;
    }
    size_t n_split = 0;
    if ((st = mx_poker_dvs_split(names, set.n, split, idx, &n_split))) {
        char why[512];
        snprintf(why, sizeof why, "%s", mx_last_error());
        st = mx_fail(MX_EFORMAT, "%s: %s", archive_path, why);
        goto done;
    }
    d.n = n_split;
    if (limit > 0 && limit < d.n)
        d.n = limit;
    d.rows = d.cols = MX_EVENTS_SIDE;
    d.n_classes = MX_POKER_DVS_CLASSES;
    d.steps = steps;
    d.dim = steps * MX_EVENTS_FRAME_SIZE;
    d.x = mx_alloc(mx_size_mul(d.n, d.dim * sizeof *d.x));
    d.y = mx_alloc(d.n);
    if (!d.x || !d.y) {
        st = mx_fail(MX_ENOMEM, "%s: out of memory for %zu recordings of %zu time bins",
                     archive_path, d.n, steps);
        goto done;
    }
    for (size_t r = 0; r < d.n; r++) {
        const mx_events *e = &set.rec[idx[r]];
        d.y[r] = (uint8_t)mx_poker_dvs_label(e->name);
        if ((st = mx_events_bin(e, steps, d.x + r * d.dim)))
            goto done;
    }

done:
    mx_free(names);
    mx_free(idx);
    mx_event_set_free(&set);
    if (st) {
        mx_dataset_free(&d);
        return st;
    }
    *out = d;
    return MX_OK;
}

/* ------------------------------------------------------------- by name */

mx_status mx_dataset_load_with(const char *dir, const char *name, mx_split split, size_t limit,
                               const mx_dataset_options *opt, mx_dataset *out)
{
    assert(dir && name && out);
    dataset_zero(out);
    char images[MX_PATH_BYTES], labels[MX_PATH_BYTES];
    const char *prefix = split == MX_SPLIT_TRAIN ? "train" : "t10k";
    if (strcmp(name, "mnist") == 0 || strcmp(name, "fashion-mnist") == 0) {
        int a = snprintf(images, sizeof images, "%s/%s/%s-images-idx3-ubyte.gz", dir, name, prefix);
        int b = snprintf(labels, sizeof labels, "%s/%s/%s-labels-idx1-ubyte.gz", dir, name, prefix);
        if (a < 0 || b < 0 || (size_t)a >= sizeof images || (size_t)b >= sizeof labels)
            return mx_fail(MX_EINVAL, "data folder path '%s' is too long", dir);
        return mx_dataset_load_idx(images, labels, limit, out);
    }
    if (strcmp(name, "digits") == 0) {
        int a = snprintf(images, sizeof images, "%s/uci-optdigits/digits.csv.gz", dir);
        if (a < 0 || (size_t)a >= sizeof images)
            return mx_fail(MX_EINVAL, "data folder path '%s' is too long", dir);
        if (split == MX_SPLIT_TRAIN)
            return optdigits_load(images, 0, MX_DIGITS_TRAIN_ROWS, limit, out);
        return optdigits_load(images, MX_DIGITS_TRAIN_ROWS, 0, limit, out);
    }
    if (strcmp(name, "poker-dvs") == 0) {
        int a = snprintf(images, sizeof images, "%s/poker-dvs/poker_dvs.tar.gz", dir);
        if (a < 0 || (size_t)a >= sizeof images)
            return mx_fail(MX_EINVAL, "data folder path '%s' is too long", dir);
        size_t steps = opt && opt->event_steps ? opt->event_steps
                                               : (size_t)MX_DATASET_EVENT_STEPS_DEFAULT;
        return mx_dataset_load_poker_dvs(images, split, limit, steps, out);
    }
    return mx_fail(MX_ENOTFOUND,
                   "unknown dataset '%s'; known: mnist, fashion-mnist, digits, poker-dvs", name);
}

mx_status mx_dataset_load(const char *dir, const char *name, mx_split split, size_t limit,
                          mx_dataset *out)
{
    return mx_dataset_load_with(dir, name, split, limit, NULL, out);
}
