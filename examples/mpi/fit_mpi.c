/* A distributed fit in C: each rank holds a block of rows of a ratings
 * matrix (CSR, global column indices) and they fit it together.
 *
 *   mpicc -std=c99 -Iinclude examples/mpi/fit_mpi.c -Ltarget/release -lwlra -o fit_mpi
 *   mpirun -np 4 ./fit_mpi
 *
 * (libwlra built with `cargo build --release --features mpi`.) */
#include "wlra_mpi.h"
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

enum { USERS = 1000, ITEMS = 300, RANK = 8 };

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int me, ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);

    /* This rank's users: rows [first, first + count). */
    size_t first = (size_t)me * USERS / ranks;
    size_t count = (size_t)(me + 1) * USERS / ranks - first;

    /* Each user rated every 7th item, starting at a user-dependent one. */
    int64_t *row_ptr = malloc(sizeof(int64_t) * (count + 1));
    int64_t *col_idx = malloc(sizeof(int64_t) * count * ITEMS);
    double *ratings = malloc(sizeof(double) * count * ITEMS);
    int64_t nnz = 0;
    row_ptr[0] = 0;
    for (size_t r = 0; r < count; r++) {
        size_t user = first + r;
        for (size_t item = user % 7; item < ITEMS; item += 7) {
            col_idx[nnz] = (int64_t)item;
            ratings[nnz] = 1.0 + (double)((user * 31 + item * 17) % 5);
            nnz++;
        }
        row_ptr[r + 1] = nnz;
    }

    wlra_model *model = NULL;
    wlra_create(RANK, &model);
    /* What the distributed fit supports (docs/mpi.md). */
    wlra_set_option(model, WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING);
    wlra_set_option(model, WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT);
    wlra_set_option(model, WLRA_OPTION_INIT, WLRA_INIT_RANDOM);
    wlra_set_option(model, WLRA_OPTION_RIDGE, 0.1);

    /* Matrix completion: weight 1 on the ratings, 0 elsewhere. */
    wlra_status status = wlra_fit_csr_mpi(model, (int)MPI_Comm_c2f(MPI_COMM_WORLD), USERS, ITEMS,
                                          first, count, row_ptr, col_idx, ratings, NULL, 0.0, 0.0);
    if (status != WLRA_OK) {
        /* Every rank gets the same status; the message says what was wrong here. */
        fprintf(stderr, "rank %d: %s\n", me, wlra_last_error(model));
    } else {
        /* This rank's user factors, and every item factor. */
        double *u = malloc(sizeof(double) * count * RANK);
        double *v = malloc(sizeof(double) * ITEMS * RANK);
        wlra_get_factors(model, u, RANK, v, RANK, WLRA_ROW_MAJOR);
        double objective, iterations;
        wlra_get_info(model, WLRA_INFO_OBJECTIVE, &objective);
        wlra_get_info(model, WLRA_INFO_ITERATIONS, &iterations);
        if (me == 0)
            printf("%d ranks: %.0f iterations, objective %.6g; user 0's first factor %.6f\n",
                   ranks, iterations, objective, u[0]);
        free(u);
        free(v);
    }
    wlra_destroy(model);
    free(row_ptr);
    free(col_idx);
    free(ratings);
    MPI_Finalize();
    return status == WLRA_OK ? 0 : 1;
}
