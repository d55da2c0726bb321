/* SPDX-License-Identifier: MIT
 *
 * fuzz_aedat.c: the AEDAT 2.0 event reader and the event binning
 * (experiments/events.h, POKER-DVS). The first input byte chooses the mode
 * and the number of time bins: bit 7 clear parses the rest as one AEDAT
 * buffer (mx_events_parse_aedat) and bins it into 1 + (byte & 31) frames;
 * bit 7 set writes the rest to a file and reads it as a tar(.gz) archive of
 * recordings (mx_events_read_archive, our member handling around
 * libarchive), binning every recording. A successful parse must give events
 * inside the 35x35 patch with non-decreasing times inside the span, and the
 * frames must sum to the event count: any violation aborts, so libFuzzer
 * reports it like a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "experiments/events.h"
#include "fuzz_common.h"

static void check_and_bin(const mx_events *e, size_t steps)
{
    if (e->n == 0)
        abort();
    for (size_t i = 0; i < e->n; i++) {
        const mx_event *v = &e->ev[i];
        if (v->x >= MX_EVENTS_SIDE || v->y >= MX_EVENTS_SIDE || v->p > 1 || v->t_us > e->span_us ||
            (i > 0 && v->t_us < e->ev[i - 1].t_us))
            abort();
    }
    float *frames = malloc(steps * MX_EVENTS_FRAME_SIZE * sizeof *frames);
    if (!frames)
        return;
    if (mx_events_bin(e, steps, frames) != MX_OK)
        abort();
    double sum = 0; /* exact: counts far below 2^53 */
    for (size_t k = 0; k < steps * MX_EVENTS_FRAME_SIZE; k++)
        sum += (double)frames[k];
    if (sum != (double)e->n)
        abort();
    free(frames);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const size_t steps = 1 + (data[0] & 31u);
    if (data[0] & 0x80u) {
        char path[256];
        if (mx_fuzz_write_file("aedat", ".tar", data + 1, size - 1, path, sizeof path) != 0)
            return 0;
        mx_event_set set;
        if (mx_events_read_archive(path, &set) == MX_OK) {
            if (set.n == 0)
                abort();
            for (size_t i = 0; i < set.n; i++)
                check_and_bin(&set.rec[i], steps);
            mx_event_set_free(&set);
        }
        remove(path);
        return 0;
    }
    mx_events e;
    if (mx_events_parse_aedat(data + 1, size - 1, "fuzz", &e) == MX_OK) {
        check_and_bin(&e, steps);
        mx_events_free(&e);
    }
    return 0;
}
