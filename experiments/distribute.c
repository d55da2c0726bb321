/* SPDX-License-Identifier: MIT
 *
 * distribute.c: one sweep over the ranks of an MPI job
 * (`mpirun -np N memxbar sweep ...`).
 *
 * Rank 0 is the one writer. Every rank is a worker that asks rank 0 for one
 * (point, repeat) at a time, runs it with its OpenMP threads, and sends the
 * finished point back as bytes (mx_point_result_pack); rank 0 also runs a
 * worker of its own on a second thread, so N ranks are N workers. Handing
 * out runs one at a time, in sweep order, keeps every rank busy however
 * uneven the points are (a slow point does not hold back a static share).
 * The writer commits each point as it arrives and puts /summary in (point,
 * repeat) order when the sweep completes, so the file's datasets equal
 * those of a one-process run of the same config and seed, bit for bit: a
 * run's result depends on the config, the seed, the point and the repeat
 * only (every random stream is keyed by them, and reductions run in a fixed
 * order at any thread count).
 *
 * Training: the ranks share the trained-network cache folder, and the cache
 * lock (mx_cache_lock) makes the first rank that needs a network train it
 * while the others wait and load it.
 *
 * Only rank 0's main thread calls MPI outside the workers' own sends and
 * receives on ranks > 0 (MPI_THREAD_FUNNELED); rank 0's worker thread talks
 * to the writer through a mutex-guarded mailbox. The writer polls
 * (MPI_Iprobe, then the mailbox) and sleeps briefly when both are idle.
 *
 * Errors: a worker that fails sends its message; the writer stops handing
 * out work, lets the runs in progress finish and be written, closes the file
 * as a .partial (resumable) and returns the first failure, naming the rank.
 * A stop request (SIGINT on rank 0) does the same with MX_EINTERRUPT. Under
 * mpirun a Ctrl-C usually reaches mpirun itself, which kills the job: the
 * points written so far stay in the .partial file for --resume.
 */
#include "experiments/run_internal.h"

#include "mx_build_config.h"

#if MX_HAVE_MPI

#include <mpi.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "core/log.h"

enum {
    TAG_REQUEST = 1, /* worker → writer: give me a run (empty) */
    TAG_RESULT = 2,  /* worker → writer: a finished run (packed mx_point_result) */
    TAG_ERROR = 3,   /* worker → writer: int32 status, then the message */
    TAG_WORK = 4,    /* writer → worker: uint64 {point, repeat}, or STOP_RUN */
};
#define STOP_RUN UINT64_MAX
#define IDLE_SLEEP_NS 200000L /* the writer's poll interval when nothing arrives */
#define MAILBOX_SLOTS 4       /* a worker sends at most a result and a request unanswered */

int mx_experiment_ranks(void)
{
    int init = 0, fin = 0, n = 1;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin)
        MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

/* ---- rank 0's worker thread and the writer: a mailbox ------------------- */

typedef struct message {
    int tag;
    void *buf; /* mx_alloc'd; the receiver frees it */
    size_t len;
} message;

typedef struct mailbox {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    message up[MAILBOX_SLOTS]; /* worker → writer, first in first out */
    size_t n_up;
    int has_work;
    uint64_t work[2];          /* writer → worker */
} mailbox;

/* How a worker reaches the writer: the mailbox (rank 0) or MPI. */
typedef struct worker_link {
    mailbox *box; /* NULL: MPI to rank 0 */
} worker_link;

/* Send, handing buf (mx_alloc'd, or NULL) over: the receiver frees it. */
static void link_send(worker_link *l, int tag, void *buf, size_t len)
{
    if (!l->box) {
        MPI_Send(buf, (int)len, MPI_BYTE, 0, tag, MPI_COMM_WORLD);
        mx_free(buf);
        return;
    }
    pthread_mutex_lock(&l->box->lock);
    /* never full: the worker waits for an answer after each request */
    l->box->up[l->box->n_up++] = (message){tag, buf, len};
    pthread_mutex_unlock(&l->box->lock);
}

static void link_recv_work(worker_link *l, uint64_t work[2])
{
    if (!l->box) {
        MPI_Recv(work, 2, MPI_UINT64_T, 0, TAG_WORK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        return;
    }
    pthread_mutex_lock(&l->box->lock);
    while (!l->box->has_work)
        pthread_cond_wait(&l->box->cond, &l->box->lock);
    work[0] = l->box->work[0];
    work[1] = l->box->work[1];
    l->box->has_work = 0;
    pthread_mutex_unlock(&l->box->lock);
}

/* ---- a worker ---------------------------------------------------------------- */

typedef struct worker {
    const mx_experiment_config *cfg;
    const mx_run_options *opt;
    worker_link link;
    mx_run_report rep; /* training/evaluation times and network counts */
} worker;

static mx_status worker_emit(void *user, const mx_point_result *pr)
{
    worker *w = user;
    void *buf;
    size_t len;
    mx_status st = mx_point_result_pack(pr, &buf, &len);
    if (!st)
        link_send(&w->link, TAG_RESULT, buf, len);
    return st;
}

/* Tell the writer this worker failed (its status and message; without
 * memory for them, an empty error). */
static void send_error(worker *w, mx_status st)
{
    const char *msg = mx_last_error();
    size_t len = sizeof(int32_t) + strlen(msg) + 1;
    unsigned char *buf = mx_alloc(len);
    if (buf) {
        int32_t code = (int32_t)st;
        memcpy(buf, &code, sizeof code);
        memcpy(buf + sizeof code, msg, len - sizeof code);
    }
    link_send(&w->link, TAG_ERROR, buf, buf ? len : 0);
}

/* Ask for runs until told to stop. */
static void worker_loop(worker *w)
{
    mx_run_ctx *ctx = NULL;
    mx_status st = mx_run_ctx_open(w->cfg, w->opt, &w->rep, worker_emit, w, &ctx);
    uint64_t work[2];
    while (!st) {
        link_send(&w->link, TAG_REQUEST, NULL, 0);
        link_recv_work(&w->link, work);
        if (work[0] == STOP_RUN)
            break;
        st = mx_run_one(ctx, w->cfg, (size_t)work[0], (size_t)work[1], "");
    }
    if (st) {
        send_error(w, st);
        link_recv_work(&w->link, work); /* the writer's stop */
    }
    mx_run_ctx_close(ctx);
}

static void *local_worker_main(void *arg)
{
    worker *w = arg;
    mx_progress_mute_thread(1); /* the terminal's bar is the writer's */
    if (w->opt->threads > 0)   /* OpenMP's thread count is per thread */
        omp_set_num_threads(w->opt->threads);
    worker_loop(w);
    return NULL;
}

/* ---- the writer (rank 0's main thread) ------------------------------------- */

typedef struct writer {
    const mx_experiment_config *cfg;
    const mx_run_options *opt;
    mx_run_report *rep;
    mx_results *res;
    mailbox *box;
    uint64_t (*runs)[2]; /* the runs to do, in sweep order */
    size_t n_runs, next, written, skipped, active;
    size_t *by_rank;     /* runs handed to each rank */
    mx_status failed;    /* the first failure; the sweep winds down */
    char failure[1024];
} writer;

static void fail_once(writer *wr, mx_status st, int rank, const char *msg)
{
    if (wr->failed)
        return;
    wr->failed = st;
    snprintf(wr->failure, sizeof wr->failure, "rank %d: %s", rank, msg);
}

static void send_work(writer *wr, int rank)
{
    uint64_t work[2] = {STOP_RUN, 0};
    if (!wr->failed && !mx_experiment_stop_requested() && wr->next < wr->n_runs) {
        work[0] = wr->runs[wr->next][0];
        work[1] = wr->runs[wr->next][1];
        wr->next++;
        wr->by_rank[rank]++;
    } else {
        wr->active--;
    }
    if (rank != 0) {
        MPI_Send(work, 2, MPI_UINT64_T, rank, TAG_WORK, MPI_COMM_WORLD);
        return;
    }
    pthread_mutex_lock(&wr->box->lock);
    wr->box->work[0] = work[0];
    wr->box->work[1] = work[1];
    wr->box->has_work = 1;
    pthread_cond_signal(&wr->box->cond);
    pthread_mutex_unlock(&wr->box->lock);
}

static void handle(writer *wr, int rank, int tag, const void *buf, size_t len)
{
    if (tag == TAG_RESULT) {
        mx_point_result pr;
        void *storage = NULL;
        mx_status st = mx_point_result_unpack(buf, len, &pr, &storage);
        /* after a failure the runs still arriving are written too: they are
         * finished work */
        if (!st && wr->res)
            st = mx_run_record(wr->cfg, wr->opt, wr->res, wr->rep, &pr, &wr->written);
        mx_free(storage);
        if (st) {
            fail_once(wr, st, 0, mx_last_error());
            return;
        }
        mx_progress("sweep (all ranks)", wr->written, wr->n_runs);
    } else if (tag == TAG_ERROR) {
        int32_t code = MX_EINVAL;
        if (len > sizeof code)
            memcpy(&code, buf, sizeof code);
        fail_once(wr, code ? (mx_status)code : MX_EINVAL, rank,
                  len > sizeof code ? (const char *)buf + sizeof code : "failed (out of memory)");
        send_work(wr, rank); /* its stop */
    } else if (tag == TAG_REQUEST) {
        send_work(wr, rank);
    }
}

/* Serve the workers until every one has been told to stop. */
static void writer_loop(writer *wr)
{
    while (wr->active > 0) {
        int busy = 0, flag = 0;
        MPI_Status status;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &status);
        if (flag) {
            int count = 0;
            MPI_Get_count(&status, MPI_BYTE, &count);
            unsigned char *buf = mx_alloc((size_t)(count > 0 ? count : 0) + 1);
            if (!buf) {
                fprintf(stderr, "memxbar: out of memory for a message from rank %d\n",
                        status.MPI_SOURCE);
                MPI_Abort(MPI_COMM_WORLD, 1);
            }
            MPI_Recv(buf, count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            buf[count > 0 ? count : 0] = '\0'; /* an error message ends here at the latest */
            handle(wr, status.MPI_SOURCE, status.MPI_TAG, buf, (size_t)count);
            mx_free(buf);
            busy = 1;
        }
        message m = {0};
        int got = 0;
        if (wr->box) {
            pthread_mutex_lock(&wr->box->lock);
            if (wr->box->n_up) {
                m = wr->box->up[0];
                memmove(wr->box->up, wr->box->up + 1, --wr->box->n_up * sizeof m);
                got = 1;
            }
            pthread_mutex_unlock(&wr->box->lock);
        }
        if (got) {
            handle(wr, 0, m.tag, m.buf, m.len);
            mx_free(m.buf);
            busy = 1;
        }
        if (!busy) {
            const struct timespec nap = {0, IDLE_SLEEP_NS};
            nanosleep(&nap, NULL);
        }
    }
}

static int by_point(const void *a, const void *b)
{
    const mx_run_row *x = a, *y = b;
    if (x->point != y->point)
        return (x->point > y->point) - (x->point < y->point);
    return (x->repeat > y->repeat) - (x->repeat < y->repeat);
}

/* The workers' counters, summed over the ranks onto rank 0. */
static void reduce_counts(const mx_run_report *mine, mx_run_report *rep, int rank)
{
    double in[6] = {mine->seconds_training, mine->seconds_eval,
                    (double)mine->networks_trained, (double)mine->networks_cached,
                    mine->seconds_programming, mine->seconds_calibration};
    double out[6] = {0};
    MPI_Reduce(in, out, 6, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        rep->seconds_training = out[0];
        rep->seconds_eval = out[1];
        rep->networks_trained = (size_t)out[2];
        rep->networks_cached = (size_t)out[3];
        rep->seconds_programming = out[4];
        rep->seconds_calibration = out[5];
    }
}

static mx_status run_writer(const mx_experiment_config *cfg, const mx_run_options *opt,
                            mx_run_report *rep, int size)
{
    writer wr = {.cfg = cfg, .opt = opt, .rep = rep, .active = (size_t)size};
    mailbox box = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    worker local = {.cfg = cfg, .opt = opt, .link = {&box}};
    const size_t n_points = mx_config_n_points(cfg);
    wr.runs = mx_calloc(n_points * cfg->repeats, sizeof *wr.runs);
    wr.by_rank = mx_calloc((size_t)size, sizeof *wr.by_rank);
    mx_status st = wr.runs && wr.by_rank ? MX_OK : mx_fail(MX_ENOMEM, "sweep: out of memory");
    if (!st && !(st = mx_run_results_open(cfg, opt, &wr.res)))
        rep->results_open = 1;
    if (st) /* the workers are still told to stop, each when it asks */
        fail_once(&wr, st, 0, mx_last_error());
    if (wr.res) {
        wr.skipped = mx_run_count_done(cfg, wr.res);
        for (size_t k = 0; k < n_points; k++)
            for (size_t r = 0; r < cfg->repeats; r++)
                if (!mx_results_has_point(wr.res, k, r)) {
                    wr.runs[wr.n_runs][0] = k;
                    wr.runs[wr.n_runs][1] = r;
                    wr.n_runs++;
                }
    }
    mx_log(MX_LOG_INFO, "distributed sweep: %d ranks, %zu (point, repeat) runs to do; rank 0 "
                        "writes %s", size, wr.n_runs, opt->output_path);
    pthread_t thread;
    int have_thread = 0;
    if (!wr.failed) {
        wr.box = &box;
        have_thread = pthread_create(&thread, NULL, local_worker_main, &local) == 0;
        if (!have_thread) {
            wr.box = NULL;
            fail_once(&wr, MX_EINVAL, 0, "cannot start rank 0's worker thread");
        }
    }
    if (!have_thread)
        wr.active--; /* rank 0's worker never asks */
    writer_loop(&wr);
    if (have_thread)
        pthread_join(thread, NULL);
    reduce_counts(&local.rep, rep, 0);
    mx_log(MX_LOG_INFO, "distributed sweep: %zu runs written; runs per rank:", wr.written);
    for (int r = 0; r < size; r++)
        mx_log(MX_LOG_INFO, "  rank %d: %zu", r, wr.by_rank ? wr.by_rank[r] : 0);
    qsort(rep->rows, rep->n_rows, sizeof *rep->rows, by_point);
    st = wr.failed;
    if (st)
        mx_error_set(wr.failure);
    else if (wr.written < wr.n_runs) /* a stop request */
        st = mx_fail(MX_EINTERRUPT, "stopped after %zu of %zu (point, repeat) runs",
                     wr.skipped + wr.written, n_points * cfg->repeats);
    if (wr.res)
        st = mx_run_results_close(wr.res, st);
    mx_free(wr.runs);
    mx_free(wr.by_rank);
    pthread_mutex_destroy(&box.lock);
    pthread_cond_destroy(&box.cond);
    return st;
}

mx_status mx_run_distributed(const mx_experiment_config *cfg, const mx_run_options *opt,
                             mx_run_report *rep)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank == 0)
        return run_writer(cfg, opt, rep, size);
    worker w = {.cfg = cfg, .opt = opt, .link = {NULL}};
    worker_loop(&w);
    reduce_counts(&w.rep, rep, rank);
    return MX_OK; /* a failure was sent to rank 0, which reports it */
}

#else /* no MPI: one process */

int mx_experiment_ranks(void) { return 1; }

mx_status mx_run_distributed(const mx_experiment_config *cfg, const mx_run_options *opt,
                             mx_run_report *rep)
{
    (void)cfg;
    (void)opt;
    (void)rep;
    return mx_fail(MX_EINVAL, "this memxbar was built without MPI");
}

#endif
