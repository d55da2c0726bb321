/* SPDX-License-Identifier: MIT
 *
 * events.h: event-camera (DVS) recordings read natively. The reader takes
 * jAER AEDAT 2.0 files: ASCII header lines that start with '#' and end with
 * CRLF, the first one exactly "#!AER-DAT2.0", then 8-byte events, each a
 * big-endian uint32 address and a big-endian uint32 timestamp in
 * microseconds. Addresses are decoded the way the POKER-DVS recordings
 * (Serrano-Gotarredona & Linares-Barranco, Front. Neurosci. 9:481, 2015)
 * use them: p = addr & 1, x = (addr >> 1) & 0x7F, y = (addr >> 8) & 0x7F,
 * every higher bit 0, x and y inside the 35x35 patch. Recordings come from
 * a memory buffer, a file, or every .aedat member of a .tar(.gz) read
 * through libarchive without extracting anything to disk.
 *
 * Input is untrusted: every error names the file (and archive member), the
 * byte offset and what was expected. Memory grows only with the bytes
 * actually read, never with a size a file claims. Binning turns a
 * recording into `steps` frames of event counts (dataset.h builds the
 * poker-dvs dataset from them).
 */
#ifndef MX_EVENTS_H
#define MX_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* The 35x35 patch of POKER-DVS (Tonic: sensor size (35, 35, 2)). */
#define MX_EVENTS_SIDE 35u
#define MX_EVENTS_POLARITIES 2u
/* Values per frame: polarity, then y, then x. */
#define MX_EVENTS_FRAME_SIZE (MX_EVENTS_POLARITIES * MX_EVENTS_SIDE * MX_EVENTS_SIDE)
/* Largest timestamp decrease accepted between consecutive events, µs. The
 * 332,710 POKER-DVS events never go backwards, so any decrease means a
 * damaged file (or a 32-bit timestamp wrap, which these short recordings
 * never reach): none is accepted. */
#define MX_EVENTS_BACKWARD_TOLERANCE_US 0u
/* Largest recording read from a file or archive member (the POKER-DVS
 * files are at most 43 KB); bounds the memory a damaged archive can cost. */
#define MX_EVENTS_MAX_FILE_BYTES (64u << 20)
/* Largest sum of member sizes read from one archive (POKER-DVS: 2.7 MB); a
 * gzip stream inflates up to ~1000x, so without it a small damaged or
 * hostile archive could claim gigabytes through many members. */
#define MX_EVENTS_MAX_ARCHIVE_BYTES (256u << 20)
/* Longest member name kept (POKER-DVS names are at most 17 bytes). */
#define MX_EVENTS_NAME_BYTES 128

typedef struct mx_event {
    uint32_t t_us; /* timestamp relative to the recording's first event, µs */
    uint8_t x;     /* column, 0..34 */
    uint8_t y;     /* row, 0..34 */
    uint8_t p;     /* polarity bit (addr & 1; jAER DVS128: 1 = ON) */
} mx_event;

typedef struct mx_events {
    char name[MX_EVENTS_NAME_BYTES]; /* archive member or file base name */
    size_t n;                        /* events, > 0 */
    mx_event *ev;                    /* (n) in file order, t_us non-decreasing */
    uint32_t t0_us;                  /* absolute timestamp of the first event, µs */
    uint32_t span_us;                /* last minus first timestamp, µs */
} mx_events;

/* A set of recordings, sorted by name (strcmp). */
typedef struct mx_event_set {
    size_t n;        /* recordings */
    mx_events *rec;  /* (n) */
} mx_event_set;

/* Parse one AEDAT 2.0 recording held in buf[0, len). `where` names it in
 * error messages (e.g. "poker_dvs.tar.gz: xclub01.aedat"; may be NULL) and
 * out->name is left empty. MX_EFORMAT (message: where, byte offset, what
 * was expected) for: a missing or wrong "#!AER-DAT2.0" first line, a header
 * line without CRLF, no events, a body whose length is not a multiple of 8,
 * address bits outside p/x/y, x or y outside 0..34, a timestamp going
 * backwards. MX_ENOMEM. On failure *out is zeroed with nothing allocated. */
mx_status mx_events_parse_aedat(const uint8_t *buf, size_t len, const char *where,
                                mx_events *out);

/* Read one .aedat file (at most MX_EVENTS_MAX_FILE_BYTES). MX_EIO when it
 * cannot be read, otherwise as mx_events_parse_aedat; out->name is the
 * file's base name. */
mx_status mx_events_read_aedat_file(const char *path, mx_events *out);

/* Read every regular member of a .tar, .tar.gz (any format libarchive
 * reads) whose name ends in ".aedat"; directories are skipped, any other
 * member is an error (MX_EFORMAT), as are duplicate names and an archive
 * without recordings. Members are read in memory, at most
 * MX_EVENTS_MAX_FILE_BYTES each and MX_EVENTS_MAX_ARCHIVE_BYTES in all. OUT: set, sorted by name; each name is
 * the member's base name. MX_EIO, MX_EFORMAT, MX_ENOMEM; on failure *out
 * is zeroed. */
mx_status mx_events_read_archive(const char *path, mx_event_set *out);

/* Count events into `steps` frames (steps >= 1): the recording's span is
 * split into `steps` equal bins, event i going to bin
 * floor(t_us · steps / (span_us + 1)), so every recording fills all bins
 * whatever its length. OUT: frames (steps · MX_EVENTS_FRAME_SIZE), zeroed
 * first, frame s at frames + s · MX_EVENTS_FRAME_SIZE with index
 * (p · 35 + y) · 35 + x holding that pixel's event count in the bin.
 * The frames sum to e->n. MX_EINVAL for steps == 0 or an event outside the
 * patch or after span_us (a hand-built recording). */
mx_status mx_events_bin(const mx_events *e, size_t steps, float *frames);

void mx_events_free(mx_events *e);
void mx_event_set_free(mx_event_set *s);

#endif /* MX_EVENTS_H */
