/* SPDX-License-Identifier: MIT
 *
 * mpi.h: MPI start and end for the CLI (cli/mpi.c); without MPI in the
 * build these do nothing and the rank is 0.
 */
#ifndef MX_CLI_MPI_H
#define MX_CLI_MPI_H

/* Initialise MPI if mpirun launched this process. 0, or -1 (printed). */
int cli_mpi_start(int *argc, char ***argv);
/* This process's rank (0 without MPI). */
int cli_mpi_rank(void);
/* Finalise MPI if cli_mpi_start initialised it. */
void cli_mpi_end(void);

#endif
