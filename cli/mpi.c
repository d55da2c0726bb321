/* SPDX-License-Identifier: MIT
 *
 * mpi.c: MPI for `memxbar sweep` when mpirun started it. MPI is initialised
 * only when the launcher's environment says so (Open MPI's
 * OMPI_COMM_WORLD_SIZE, or PMIx/PMI's rank variables), so a plain
 * `memxbar sweep` never starts the MPI runtime. Only the main thread calls
 * MPI (MPI_THREAD_FUNNELED): the sweep's writer on rank 0 runs a worker on a
 * second thread that makes no MPI calls (experiments/distribute.c).
 */
#include "cli/mpi.h"

#include <stdio.h>
#include <stdlib.h>

#include "mx_build_config.h"

#if MX_HAVE_MPI
#include <mpi.h>

static int started;

static int launched_by_mpirun(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

int cli_mpi_start(int *argc, char ***argv)
{
    if (!launched_by_mpirun())
        return 0;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "memxbar: MPI_Init_thread failed\n");
        return -1;
    }
    started = 1;
    if (provided < MPI_THREAD_FUNNELED) {
        fprintf(stderr, "memxbar: this MPI gives no MPI_THREAD_FUNNELED support (level %d)\n",
                provided);
        MPI_Finalize();
        started = 0;
        return -1;
    }
    return 0;
}

int cli_mpi_rank(void)
{
    int rank = 0;
    if (started)
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
}

void cli_mpi_end(void)
{
    if (started)
        MPI_Finalize();
    started = 0;
}

#else

int cli_mpi_start(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int cli_mpi_rank(void) { return 0; }

void cli_mpi_end(void) {}

#endif
