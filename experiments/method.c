/* SPDX-License-Identifier: MIT
 *
 * method.c: the small shared pieces of a learning method's sweep point
 * (method.h): result buffers, the programming cost of a point's layers,
 * its drift compensation (calibration/drift.h) and per-column calibration
 * (calibration/column_cal.h) and what they cost,
 * cache paths and training keys.
 */
#include "experiments/method.h"

#include "calibration/column_cal.h"
#include "calibration/drift.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void mx_method_point_init(mx_method_point *out)
{
    mx_point_result *pr = &out->pr;
    pr->layer_rel_rms_error = out->rel_rms;
    pr->layer_mean_error = out->mean_err;
    pr->layer_clip_rate = out->clip;
    pr->layer_adc_range_a = out->range_a;
    pr->layer_spike_rate = out->activity;
    pr->layer_energy_parts_j = out->e_parts;
    pr->layer_energy_j = out->e_layer;
    pr->layer_latency_s = out->latency;
    pr->layer_area_mm2 = out->area;
}

void mx_method_point_free(mx_method_point *out)
{
    if (!out)
        return;
    mx_free(out->accuracy_vs_step);
    out->accuracy_vs_step = NULL;
    out->pr.accuracy_vs_step = NULL;
}

mx_status mx_method_price_layer(mx_method_point *out, size_t l, const mx_matmul *mm,
                                const mx_experiment_config *pc, int lif,
                                const mx_energy_counts *counts, size_t n)
{
    mx_energy_layer hw;
    mx_status st = mx_energy_layer_describe(mm, &pc->hardware.energy, &pc->hardware.device, 0,
                                            lif, &hw);
    if (st)
        return st;
    mx_energy_breakdown b;
    mx_energy_cost(&pc->hardware.energy, &hw, counts, (double)n, &b);
    memcpy(out->e_parts + l * MX_ENERGY_N_COMPONENTS, b.energy_j, sizeof b.energy_j);
    out->e_layer[l] = b.total_j;
    out->latency[l] = b.latency_s;
    out->area[l] = 1e-6 * mx_energy_area_um2(&pc->hardware.energy, &hw, NULL, NULL);
    return MX_OK;
}

/* The schedule columns of a point (results.h): counts from the first
 * layer's schedule (every layer shares the config and t), reprogramming
 * priced from one programming's cost `s` of every layer. */
static void schedule_cost(mx_point_result *pr, mx_matmul *const *mm, size_t n_layers,
                          const mx_programming_stats *s)
{
    const double off = (double)NAN;
    pr->schedule_recalibrations = pr->schedule_reprogrammings = off;
    pr->schedule_reprogram_energy_j = pr->schedule_reprogram_time_s = off;
    const mx_matmul *first = NULL;
    for (size_t l = 0; l < n_layers && !first; l++)
        first = mm[l];
    if (!first)
        return;
    const mx_crossbar_config *xb = mx_matmul_config(first);
    const int compensates = xb->drift.mode != MX_DRIFT_NONE;
    if (!(xb->reprogram_every_s > 0.0) && !(compensates && xb->drift.recalibrate_every_s > 0.0))
        return;
    mx_time_schedule ts;
    mx_matmul_time_schedule(first, &ts);
    const double n_p = (double)ts.reprogrammings;
    pr->schedule_recalibrations = (double)ts.recalibrations;
    pr->schedule_reprogrammings = n_p;
    if (n_p == 0.0) {
        pr->schedule_reprogram_energy_j = pr->schedule_reprogram_time_s = 0.0;
    } else if (s->verified > 0) {
        pr->schedule_reprogram_energy_j = n_p * s->energy_j;
        pr->schedule_reprogram_time_s = n_p * s->time_serial_s;
    } else if (s->write_priced > 0) {
        pr->schedule_reprogram_energy_j = n_p * s->write_energy_j;
        pr->schedule_reprogram_time_s = n_p * s->write_time_s;
    }
}

void mx_method_programming_cost(mx_point_result *pr, mx_matmul *const *mm, size_t n_layers)
{
    mx_programming_stats s = {0};
    mx_fault_map_stats fm = {0};
    int fault_mapped = 0;
    for (size_t l = 0; l < n_layers; l++) {
        if (!mm[l])
            continue;
        mx_programming_stats x;
        mx_matmul_programming_stats(mm[l], &x);
        mx_programming_stats_add(&s, &x);
        mx_fault_map_stats f;
        mx_matmul_fault_map_stats(mm[l], &f);
        mx_fault_map_stats_add(&fm, &f);
        fault_mapped |= mx_matmul_config(mm[l])->fault_map.mode != MX_FAULT_MAP_NONE;
    }
    const double not_priced = (double)NAN;
    schedule_cost(pr, mm, n_layers, &s);
    if (fault_mapped && fm.weights > 0) {
        pr->fault_stuck_cells = (double)(fm.stuck_low + fm.stuck_high);
        pr->fault_test_reads = (double)fm.test_reads;
        pr->fault_spare_cells = (double)fm.spare_cells;
        pr->fault_moved = (double)fm.moved;
        pr->fault_time_s = fm.time_serial_s;
        pr->fault_energy_j = fm.energy_j;
        pr->fault_weight_rms_before = sqrt(fm.sq_error_before / (double)fm.weights);
        pr->fault_weight_rms_after = sqrt(fm.sq_error_after / (double)fm.weights);
    } else {
        pr->fault_stuck_cells = pr->fault_test_reads = pr->fault_spare_cells = not_priced;
        pr->fault_moved = pr->fault_time_s = pr->fault_energy_j = not_priced;
        pr->fault_weight_rms_before = pr->fault_weight_rms_after = not_priced;
    }
    pr->program_rms_error = s.cells ? mx_programming_rms_error(&s) : not_priced;
    pr->program_cells_verified = (size_t)s.verified;
    if (s.verified == 0) {
        pr->program_converged_fraction = pr->program_pulses = not_priced;
        pr->program_verify_reads = pr->program_time_s = pr->program_energy_j = not_priced;
        return;
    }
    pr->program_converged_fraction = (double)s.converged / (double)s.verified;
    pr->program_pulses = (double)s.pulses;
    pr->program_verify_reads = (double)s.verify_reads;
    pr->program_time_s = s.time_serial_s;
    pr->program_energy_j = s.energy_j;
}

/* The energy of a calibration's reads on layer mm (activity `stats`, once
 * per chip), priced by energy/ like inference. OUT: *joules. */
static mx_status price_reads(const mx_experiment_config *pc, const mx_matmul *mm,
                             const mx_matmul_stats *stats, double *joules)
{
    mx_energy_layer hw;
    mx_status st =
        mx_energy_layer_describe(mm, &pc->hardware.energy, &pc->hardware.device, 0, 0, &hw);
    if (st)
        return st;
    const mx_energy_counts counts = {.mm = *stats};
    mx_energy_breakdown b;
    mx_energy_cost(&pc->hardware.energy, &hw, &counts, 1.0, &b);
    *joules = b.total_j;
    return MX_OK;
}

/* The compensation's reads over a chip's schedule up to t on layer mm: a t0
 * reference per programming (1 + reprogrammings) and every recalibration,
 * each priced as the one made now (r->stats_t), or as the reference when
 * none is made now (the same vectors through the same tiles).
 * OUT: *reads, *joules. */
static mx_status schedule_reads(const mx_experiment_config *pc, const mx_matmul *mm,
                                const mx_drift_result *r, double *reads, double *joules)
{
    mx_time_schedule ts;
    mx_matmul_time_schedule(mm, &ts);
    mx_drift_reference ref;
    mx_matmul_drift_reference(mm, &ref);
    const int measured_now = !isnan(r->measured_age_s);
    const mx_matmul_stats *meas = measured_now ? &r->stats_t : &ref.stats;
    double e_ref, e_meas;
    mx_status st = price_reads(pc, mm, &ref.stats, &e_ref);
    if (!st)
        st = price_reads(pc, mm, meas, &e_meas);
    if (st)
        return st;
    const double refs = 1.0 + (double)ts.reprogrammings, recals = (double)ts.recalibrations;
    *reads = refs * (double)ref.stats.reads + recals * (double)meas->reads;
    *joules = refs * e_ref + recals * e_meas;
    return MX_OK;
}

mx_status mx_method_drift_compensation(mx_point_result *pr, const mx_experiment_config *pc,
                                       mx_matmul *const *mm, size_t n_layers, uint64_t seed)
{
    const double not_measured = (double)NAN;
    pr->drift_alpha = pr->drift_reads = pr->drift_energy_j = not_measured;
    if (pc->hardware.crossbar.drift.mode == MX_DRIFT_NONE)
        return MX_OK;
    const int scheduled = pc->hardware.crossbar.reprogram_every_s > 0.0 ||
                          pc->hardware.crossbar.drift.recalibrate_every_s > 0.0;
    double alpha_sum = 0.0, reads = 0.0, energy = 0.0;
    size_t n = 0;
    for (size_t l = 0; l < n_layers; l++) {
        if (!mm[l])
            continue;
        mx_drift_result r;
        mx_status st = mx_drift_compensate(mm[l], seed, (uint64_t)l << 32, &r);
        if (st)
            return mx_fail_context(st, "drift compensation of layer %zu", l);
        double joules, layer_reads = (double)r.stats.reads;
        if ((st = price_reads(pc, mm[l], &r.stats, &joules)))
            return st;
        if (scheduled && (st = schedule_reads(pc, mm[l], &r, &layer_reads, &joules)))
            return st;
        alpha_sum += r.alpha;
        reads += layer_reads;
        energy += joules;
        n++;
    }
    pr->drift_alpha = n ? alpha_sum / (double)n : not_measured;
    pr->drift_reads = reads;
    pr->drift_energy_j = energy;
    return MX_OK;
}

mx_status mx_method_column_calibration(mx_point_result *pr, const mx_experiment_config *pc,
                                       mx_matmul *const *mm, size_t n_layers, uint64_t seed)
{
    const double not_measured = (double)NAN;
    pr->colcal_gain_rms_dev = pr->colcal_reads = pr->colcal_energy_j = not_measured;
    if (pc->hardware.crossbar.column_cal.mode == MX_COLUMN_CAL_NONE)
        return MX_OK;
    const int after_drift = pc->hardware.crossbar.drift.mode != MX_DRIFT_NONE;
    double dev_sq = 0.0, reads = 0.0, energy = 0.0;
    size_t fitted = 0;
    for (size_t l = 0; l < n_layers; l++) {
        if (!mm[l])
            continue;
        mx_status st = after_drift ? MX_OK : mx_matmul_set_output_correction(mm[l], NULL, NULL);
        mx_column_cal_result r;
        if (!st)
            st = mx_column_calibrate(mm[l], seed, ((uint64_t)l << 32) | (UINT64_C(1) << 31), &r);
        if (st)
            return mx_fail_context(st, "column calibration of layer %zu", l);
        double joules;
        if ((st = price_reads(pc, mm[l], &r.stats, &joules)))
            return st;
        dev_sq += r.gain_rms_dev * r.gain_rms_dev * (double)r.columns_fitted;
        fitted += r.columns_fitted;
        reads += (double)r.stats.reads;
        energy += joules;
    }
    pr->colcal_gain_rms_dev = fitted ? sqrt(dev_sq / (double)fitted) : not_measured;
    pr->colcal_reads = reads;
    pr->colcal_energy_j = energy;
    return MX_OK;
}

size_t mx_method_drift_rounds(const mx_experiment_config *pc, size_t n_layers)
{
    const int none = pc->hardware.crossbar.drift.mode == MX_DRIFT_NONE &&
                     pc->hardware.crossbar.column_cal.mode == MX_COLUMN_CAL_NONE;
    return none || n_layers == 0 ? 1 : n_layers;
}

uint64_t mx_method_key_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

mx_status mx_method_cache_path(const mx_method_ctx *ctx, const char *prefix, const char *key,
                               char *path, size_t path_size)
{
    if (mkdir(ctx->cache_dir, 0777) != 0 && errno != EEXIST)
        return mx_fail(MX_EIO, "%s: cannot create folder: %s", ctx->cache_dir, strerror(errno));
    int n = snprintf(path, path_size, "%s/%s-%016llx.h5", ctx->cache_dir, prefix, (unsigned long long)mx_method_key_hash(key));
    if (n < 0 || (size_t)n >= path_size)
        return mx_fail(MX_EINVAL, "%s: cache path too long", ctx->cache_dir);
    return MX_OK;
}

mx_status mx_method_key_append(const mx_experiment_config *cfg, const char *const *paths,
                               char *key, size_t key_size)
{
    for (size_t i = 0; paths[i]; i++) {
        char value[256];
        mx_status st = mx_config_get(cfg, paths[i], value, sizeof value);
        if (st)
            return st;
        size_t used = strlen(key);
        int n = snprintf(key + used, key_size - used, "%s=%s;", paths[i], value);
        if (n < 0 || (size_t)n >= key_size - used)
            return mx_fail(MX_EINVAL, "training key: more than %zu bytes", key_size);
    }
    return MX_OK;
}
