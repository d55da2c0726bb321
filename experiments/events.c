/* SPDX-License-Identifier: MIT
 *
 * events.c: the AEDAT 2.0 reader and the event binning (events.h). It sits
 * at the very start of the event-data flow: bytes (a buffer, a file, or a
 * .tar.gz member streamed by libarchive) -> mx_events (t_us relative to the
 * first event, x, y, p) -> count frames, which dataset.c stacks into the
 * rows of the poker-dvs dataset.
 *
 * Format (jAER AEDAT 2.0, as found in POKER-DVS, Serrano-Gotarredona &
 * Linares-Barranco 2015): header lines "#...\r\n", the first exactly
 * "#!AER-DAT2.0"; the header ends at the first byte that is not '#' (a
 * valid event address starts with a 0x00 byte, so it can never be taken
 * for a header line); then big-endian (uint32 address, uint32 timestamp µs)
 * pairs. Strictness is deliberate: the 131 real recordings pass every check
 * (no timestamp ever decreases, every address fits p/x/y), so anything else
 * is damage worth reporting, with the byte offset where it starts.
 */
#include "experiments/events.h"

#include <archive.h>
#include <archive_entry.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AEDAT_MAGIC "#!AER-DAT2.0"
#define AEDAT_EVENT_BYTES 8u
/* Address layout: bit 0 polarity, bits 1..7 x, bits 8..14 y. */
#define AEDAT_ADDR_USED_MASK 0x7FFFu
#define AEDAT_X_SHIFT 1u
#define AEDAT_Y_SHIFT 8u
#define AEDAT_FIELD_MASK 0x7Fu
/* libarchive block size for reading the archive file. */
#define ARCHIVE_BLOCK_BYTES 65536u
/* First allocation when the member size is not known up front. */
#define READ_FIRST_CAP 65536u

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void mx_events_free(mx_events *e)
{
    if (!e)
        return;
    mx_free(e->ev);
    memset(e, 0, sizeof *e);
}

void mx_event_set_free(mx_event_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        mx_events_free(&s->rec[i]);
    mx_free(s->rec);
    memset(s, 0, sizeof *s);
}

/* ----------------------------------------------------------------- parse */

mx_status mx_events_parse_aedat(const uint8_t *buf, size_t len, const char *where,
                                mx_events *out)
{
    assert(out && (buf || len == 0));
    memset(out, 0, sizeof *out);
    if (!where)
        where = "AEDAT buffer";
    const size_t magic_len = sizeof AEDAT_MAGIC - 1;

    /* Header: the first line must be exactly the magic. */
    if (len < magic_len || memcmp(buf, AEDAT_MAGIC, magic_len) != 0) {
        size_t show = 0;
        while (show < len && show < magic_len + 2 && buf[show] >= 0x20 && buf[show] < 0x7F)
            show++;
        return mx_fail(MX_EFORMAT,
                       "%s: byte 0: expected the AEDAT 2.0 header line \"" AEDAT_MAGIC
                       "\\r\\n\", got \"%.*s\"%s",
                       where, (int)show, show ? (const char *)buf : "",
                       len < magic_len ? " (file too short)" : "");
    }
    if (len < magic_len + 2 || buf[magic_len] != '\r' || buf[magic_len + 1] != '\n') {
        char got[48];
        if (len == magic_len)
            snprintf(got, sizeof got, "the end of the file");
        else if (len == magic_len + 1)
            snprintf(got, sizeof got, "0x%02X, then the end of the file", buf[magic_len]);
        else
            snprintf(got, sizeof got, "0x%02X 0x%02X", buf[magic_len], buf[magic_len + 1]);
        return mx_fail(MX_EFORMAT,
                       "%s: byte %zu: expected CRLF (0x0D 0x0A) ending the \"" AEDAT_MAGIC
                       "\" line, got %s",
                       where, magic_len, got);
    }
    size_t pos = 0;
    while (pos < len && buf[pos] == '#') {
        const uint8_t *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl)
            return mx_fail(MX_EFORMAT,
                           "%s: byte %zu: expected a header line ending in CRLF, got %zu bytes "
                           "without a line end",
                           where, pos, len - pos);
        size_t end = (size_t)(nl - buf);
        if (end == pos || buf[end - 1] != '\r')
            return mx_fail(MX_EFORMAT,
                           "%s: byte %zu: expected a header line ending in CRLF, got a bare LF",
                           where, end);
        pos = end + 1;
    }
    const size_t body = len - pos;
    if (body == 0)
        return mx_fail(MX_EFORMAT, "%s: byte %zu: expected at least one event after the header, "
                                   "got none (empty recording)",
                       where, pos);
    if (body % AEDAT_EVENT_BYTES != 0)
        return mx_fail(MX_EFORMAT,
                       "%s: byte %zu: truncated event: expected %u-byte events after the "
                       "%zu-byte header, got %zu bytes (%zu left over)",
                       where, pos + body / AEDAT_EVENT_BYTES * AEDAT_EVENT_BYTES,
                       AEDAT_EVENT_BYTES, pos, body, body % AEDAT_EVENT_BYTES);

    const size_t n = body / AEDAT_EVENT_BYTES;
    mx_event *ev = mx_alloc(mx_size_mul(n, sizeof *ev));
    if (!ev)
        return mx_fail(MX_ENOMEM, "%s: out of memory for %zu events", where, n);
    const uint8_t *p = buf + pos;
    const uint32_t t0 = be32(p + 4);
    uint32_t prev = t0;
    for (size_t i = 0; i < n; i++, p += AEDAT_EVENT_BYTES) {
        const size_t off = pos + i * AEDAT_EVENT_BYTES;
        const uint32_t addr = be32(p), t = be32(p + 4);
        if (addr & ~(uint32_t)AEDAT_ADDR_USED_MASK) {
            mx_free(ev);
            return mx_fail(MX_EFORMAT,
                           "%s: byte %zu: event %zu: expected an address with only bits 0..14 "
                           "set (p, x, y), got 0x%08X",
                           where, off, i, (unsigned)addr);
        }
        const unsigned x = (addr >> AEDAT_X_SHIFT) & AEDAT_FIELD_MASK;
        const unsigned y = (addr >> AEDAT_Y_SHIFT) & AEDAT_FIELD_MASK;
        if (x >= MX_EVENTS_SIDE || y >= MX_EVENTS_SIDE) {
            mx_free(ev);
            return mx_fail(MX_EFORMAT,
                           "%s: byte %zu: event %zu: expected x and y in 0..%u, got x = %u, "
                           "y = %u (address 0x%08X)",
                           where, off, i, MX_EVENTS_SIDE - 1, x, y, (unsigned)addr);
        }
        if (t < prev && prev - t > MX_EVENTS_BACKWARD_TOLERANCE_US) {
            mx_free(ev);
            return mx_fail(MX_EFORMAT,
                           "%s: byte %zu: event %zu: expected a timestamp >= %u us (the previous "
                           "one), got %u us",
                           where, off + 4, i, (unsigned)prev, (unsigned)t);
        }
        if (t < t0) {
            /* Within the tolerance but before the first event: relative
             * times are unsigned, so this would wrap. Only reachable with a
             * non-zero tolerance. */
            mx_free(ev);
            return mx_fail(MX_EFORMAT,
                           "%s: byte %zu: event %zu: expected a timestamp >= %u us (the first "
                           "event's), got %u us",
                           where, off + 4, i, (unsigned)t0, (unsigned)t);
        }
        if (t > prev)
            prev = t;
        ev[i].t_us = t - t0;
        ev[i].x = (uint8_t)x;
        ev[i].y = (uint8_t)y;
        ev[i].p = (uint8_t)(addr & 1u);
    }
    out->n = n;
    out->ev = ev;
    out->t0_us = t0;
    out->span_us = prev - t0;
    return MX_OK;
}

/* ------------------------------------------------------------------ file */

static void set_name(mx_events *e, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(e->name, sizeof e->name, "%s", base);
}

mx_status mx_events_read_aedat_file(const char *path, mx_events *out)
{
    assert(path && out);
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return mx_fail(MX_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = READ_FIRST_CAP, len = 0;
    uint8_t *buf = mx_alloc(cap);
    if (!buf) {
        fclose(f);
        return mx_fail(MX_ENOMEM, "%s: out of memory reading the file", path);
    }
    for (;;) {
        if (len == cap) {
            if (cap >= MX_EVENTS_MAX_FILE_BYTES) {
                mx_free(buf);
                fclose(f);
                return mx_fail(MX_EFORMAT, "%s: expected an AEDAT file of at most %u bytes, got "
                                           "more",
                               path, MX_EVENTS_MAX_FILE_BYTES);
            }
            uint8_t *grown = mx_alloc(cap * 2);
            if (!grown) {
                mx_free(buf);
                fclose(f);
                return mx_fail(MX_ENOMEM, "%s: out of memory reading the file", path);
            }
            memcpy(grown, buf, len);
            mx_free(buf);
            buf = grown;
            cap *= 2;
        }
        size_t want = cap - len;
        size_t got = fread(buf + len, 1, want, f);
        len += got;
        if (got < want) {
            if (ferror(f)) {
                mx_free(buf);
                fclose(f);
                return mx_fail(MX_EIO, "%s: read error after %zu bytes", path, len);
            }
            break; /* end of file */
        }
    }
    fclose(f);
    mx_status st = mx_events_parse_aedat(buf, len, path, out);
    mx_free(buf);
    if (st == MX_OK)
        set_name(out, path);
    return st;
}

/* --------------------------------------------------------------- archive */

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_events_name(const void *a, const void *b)
{
    return strcmp(((const mx_events *)a)->name, ((const mx_events *)b)->name);
}

/* Read the current member's data into a buffer grown as bytes arrive (the
 * size in the tar header is not trusted for the allocation). *buf and *cap are
 * reused between members. */
static mx_status read_member(struct archive *a, const char *path, const char *member,
                             uint8_t **buf, size_t *cap, size_t *len)
{
    *len = 0;
    for (;;) {
        if (*len == *cap) {
            if (*cap >= MX_EVENTS_MAX_FILE_BYTES)
                return mx_fail(MX_EFORMAT, "%s: %s: expected a member of at most %u bytes, got "
                                           "more",
                               path, member, MX_EVENTS_MAX_FILE_BYTES);
            size_t new_cap = *cap ? *cap * 2 : READ_FIRST_CAP;
            uint8_t *grown = mx_alloc(new_cap);
            if (!grown)
                return mx_fail(MX_ENOMEM, "%s: %s: out of memory reading the member", path,
                               member);
            if (*len)
                memcpy(grown, *buf, *len);
            mx_free(*buf);
            *buf = grown;
            *cap = new_cap;
        }
        la_ssize_t got = archive_read_data(a, *buf + *len, *cap - *len);
        if (got < 0)
            return mx_fail(MX_EFORMAT, "%s: %s: cannot read the member after %zu bytes: %s",
                           path, member, *len, archive_error_string(a));
        if (got == 0)
            return MX_OK;
        *len += (size_t)got;
    }
}

mx_status mx_events_read_archive(const char *path, mx_event_set *out)
{
    assert(path && out);
    memset(out, 0, sizeof *out);
    mx_event_set set = {0};
    size_t set_cap = 0;
    uint8_t *buf = NULL;
    size_t buf_cap = 0, len = 0, total = 0;
    mx_status st = MX_OK;
    char where[MX_EVENTS_NAME_BYTES + 4096];

    FILE *probe = fopen(path, "rb"); /* a clear MX_EIO for a missing file */
    if (!probe)
        return mx_fail(MX_EIO, "%s: cannot open: %s", path, strerror(errno));
    fclose(probe);

    struct archive *a = archive_read_new();
    if (!a)
        return mx_fail(MX_ENOMEM, "%s: out of memory in libarchive", path);
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, path, ARCHIVE_BLOCK_BYTES) != ARCHIVE_OK) {
        st = mx_fail(MX_EFORMAT, "%s: expected a tar archive (optionally compressed): %s", path,
                     archive_error_string(a));
        goto done;
    }
    for (;;) {
        struct archive_entry *entry = NULL;
        int r = archive_read_next_header(a, &entry);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            st = mx_fail(MX_EFORMAT, "%s: damaged archive after %zu recordings: %s", path, set.n,
                         archive_error_string(a));
            goto done;
        }
        const char *member = archive_entry_pathname(entry);
        if (!member)
            member = "(unnamed member)";
        mode_t type = archive_entry_filetype(entry);
        if (type == AE_IFDIR)
            continue;
        if (type != AE_IFREG || !ends_with(member, ".aedat")) {
            st = mx_fail(MX_EFORMAT, "%s: %s: expected only .aedat files in the archive, got %s",
                         path, member, type == AE_IFREG ? "another file" : "a special member");
            goto done;
        }
        const char *base = strrchr(member, '/');
        base = base ? base + 1 : member;
        if (strlen(base) >= MX_EVENTS_NAME_BYTES) {
            st = mx_fail(MX_EFORMAT, "%s: %s: expected a member name under %d bytes", path,
                         member, MX_EVENTS_NAME_BYTES);
            goto done;
        }
        snprintf(where, sizeof where, "%s: %s", path, member);
        if ((st = read_member(a, path, member, &buf, &buf_cap, &len)))
            goto done;
        total += len;
        if (total > MX_EVENTS_MAX_ARCHIVE_BYTES) {
            st = mx_fail(MX_EFORMAT, "%s: %s: expected at most %u bytes of recordings in all, got "
                                     "more",
                         path, member, MX_EVENTS_MAX_ARCHIVE_BYTES);
            goto done;
        }
        if (set.n == set_cap) {
            size_t new_cap = set_cap ? set_cap * 2 : 256;
            mx_events *grown = mx_calloc(new_cap, sizeof *grown);
            if (!grown) {
                st = mx_fail(MX_ENOMEM, "%s: out of memory for %zu recordings", path, new_cap);
                goto done;
            }
            if (set.n)
                memcpy(grown, set.rec, set.n * sizeof *grown);
            mx_free(set.rec);
            set.rec = grown;
            set_cap = new_cap;
        }
        if ((st = mx_events_parse_aedat(buf, len, where, &set.rec[set.n])))
            goto done;
        snprintf(set.rec[set.n].name, sizeof set.rec[set.n].name, "%s", base);
        set.n++;
    }
    if (set.n == 0) {
        st = mx_fail(MX_EFORMAT, "%s: expected .aedat recordings in the archive, got none", path);
        goto done;
    }
    qsort(set.rec, set.n, sizeof *set.rec, cmp_events_name);
    for (size_t i = 1; i < set.n; i++) {
        if (strcmp(set.rec[i - 1].name, set.rec[i].name) == 0) {
            st = mx_fail(MX_EFORMAT, "%s: recording %s appears twice", path, set.rec[i].name);
            goto done;
        }
    }

done:
    mx_free(buf);
    archive_read_free(a);
    if (st) {
        mx_event_set_free(&set);
        return st;
    }
    *out = set;
    return MX_OK;
}

/* ------------------------------------------------------------------- bin */

mx_status mx_events_bin(const mx_events *e, size_t steps, float *frames)
{
    assert(e && frames);
    if (steps == 0 || steps > UINT32_MAX)
        return mx_fail(MX_EINVAL, "event binning: expected 1..%u time steps, got %zu",
                       (unsigned)UINT32_MAX, steps);
    memset(frames, 0, mx_size_mul(steps, MX_EVENTS_FRAME_SIZE * sizeof *frames));
    /* Integer bin arithmetic: (span + 1) · steps fits in 64 bits for any
     * 32-bit span and any steps up to 2^32. */
    const uint64_t width = (uint64_t)e->span_us + 1u;
    for (size_t i = 0; i < e->n; i++) {
        const mx_event *v = &e->ev[i];
        if (v->x >= MX_EVENTS_SIDE || v->y >= MX_EVENTS_SIDE || v->p > 1 ||
            v->t_us > e->span_us)
            return mx_fail(MX_EINVAL,
                           "event binning: %s: event %zu (t = %u us, x = %u, y = %u, p = %u) is "
                           "outside the %ux%u patch or after the span of %u us",
                           e->name[0] ? e->name : "recording", i, (unsigned)v->t_us,
                           (unsigned)v->x, (unsigned)v->y, (unsigned)v->p, MX_EVENTS_SIDE,
                           MX_EVENTS_SIDE, (unsigned)e->span_us);
        const size_t s = (size_t)((uint64_t)v->t_us * (uint64_t)steps / width);
        assert(s < steps);
        frames[s * MX_EVENTS_FRAME_SIZE + ((size_t)v->p * MX_EVENTS_SIDE + v->y) * MX_EVENTS_SIDE +
               v->x] += 1.0f;
    }
    return MX_OK;
}
