/* wlra_mpi.h: distributed fits (wlra built with the cargo feature `mpi`).
 * Written by hand; the functions live in src/ffi/mpi.rs and the table in
 * src/distributed/comm.rs. Reference and the supported options: docs/mpi.md.
 *
 * Every function below but wlra_distributed_traffic is a collective: every
 * rank of the communicator calls it, with the same global sizes, options and
 * seed, and its own block of rows. Bad input on any rank gives every rank the
 * same status (the local checks are agreed on before any other exchange).
 * After a fit, wlra_get_factors gives this rank's rows of U
 * (n_local_rows x rank) and the whole V (n_cols x rank); wlra_predict takes
 * this rank's local row indices, wlra_transform works as after wlra_fit, a
 * WLRA_INIT_WARM fit continues the distributed fit, and wlra_get_canonical
 * (which needs every row of U) is WLRA_ERROR_INVALID_ARGUMENT on more than
 * one rank (docs/mpi.md, "After the fit"). */
#ifndef WLRA_MPI_H
#define WLRA_MPI_H

#include "wlra.h"

#ifdef __cplusplus
extern "C" {
#endif

/* allreduce_f64's op */
#define WLRA_COMM_SUM 0
#define WLRA_COMM_MAX 1

/* The collectives a distributed fit needs, so any engine can drive it
 * (the MPI entry points build one over MPI). Every function returns 0 on
 * success; any other value fails the fit with WLRA_ERROR_INTERNAL. */
typedef struct wlra_comm {
    void *user_data;   /* passed back to every function untouched */
    size_t size;       /* number of ranks */
    size_t rank;       /* this rank, in [0, size) */
    /* values[0..count) := the sum (op WLRA_COMM_SUM) or the largest
     * (WLRA_COMM_MAX) of every rank's values, elementwise, on every rank */
    int32_t (*allreduce_f64)(void *user_data, double *values, size_t count, int32_t op);
    /* rank r's send_count doubles land at recv + displs[r] on every rank;
     * recv_counts[r] is rank r's send_count */
    int32_t (*allgatherv_f64)(void *user_data, const double *send, size_t send_count,
                              double *recv, const size_t *recv_counts, const size_t *displs);
    /* send_counts[q] doubles at send + send_displs[q] go to rank q, where they
     * land at recv + recv_displs[this rank] (recv_counts[r]: from rank r) */
    int32_t (*alltoallv_f64)(void *user_data, const double *send, const size_t *send_counts,
                             const size_t *send_displs, double *recv,
                             const size_t *recv_counts, const size_t *recv_displs);
} wlra_comm;

/* Bytes this rank sent to other ranks in the last distributed fit called on
 * this thread: the logical payload (an allgatherv sends its block to each of
 * the size - 1 others, an allreduce its values to each of them, an alltoallv
 * what it addresses to the others). docs/mpi.md gives the model's count. */
typedef struct wlra_traffic {
    double setup_bytes;          /* the status agreement, the layouts      */
    double redistribution_bytes; /* M, W or the pattern to column blocks   */
    double u_half_step_bytes;    /* summed over the U half-steps           */
    double v_half_step_bytes;    /* summed over the V half-steps           */
    double objective_bytes;      /* summed over the objective evaluations  */
    double half_steps;           /* U half-steps run (= V half-steps run)  */
    double objectives;           /* objective evaluations (start included) */
    double communication_seconds; /* inside the table's calls, waits included */
} wlra_traffic;

/* Dense rows row_offset .. row_offset + n_local_rows of the
 * n_rows x n_cols problem, m and w (NULL: all 1) laid out as in wlra_fit. */
wlra_status wlra_fit_distributed(wlra_model *model, const wlra_comm *comm,
                                 size_t n_rows, size_t n_cols,
                                 size_t row_offset, size_t n_local_rows,
                                 const double *m, size_t ld_m,
                                 const double *w, size_t ld_w, int32_t layout);

/* Sparse rows as in wlra_fit_csr: a local CSR block (row_ptr has
 * n_local_rows + 1 entries from 0; col_idx holds global columns). */
wlra_status wlra_fit_csr_distributed(wlra_model *model, const wlra_comm *comm,
                                     size_t n_rows, size_t n_cols,
                                     size_t row_offset, size_t n_local_rows,
                                     const int64_t *row_ptr, const int64_t *col_idx,
                                     const double *m_values, const double *w_values,
                                     double m_default, double w_default);

/* The same over MPI. comm_f is the communicator's Fortran handle (MPI_Fint,
 * an int in Open MPI and MPICH): MPI_Comm_c2f(comm) in C, comm.py2f() in
 * mpi4py. MPI must be initialized. A handle that is not a live
 * intracommunicator (MPI_COMM_NULL's, a freed or never issued one, an
 * intercommunicator's) is WLRA_ERROR_INVALID_ARGUMENT, the model unchanged. */
wlra_status wlra_fit_mpi(wlra_model *model, int comm_f,
                         size_t n_rows, size_t n_cols,
                         size_t row_offset, size_t n_local_rows,
                         const double *m, size_t ld_m,
                         const double *w, size_t ld_w, int32_t layout);

wlra_status wlra_fit_csr_mpi(wlra_model *model, int comm_f,
                             size_t n_rows, size_t n_cols,
                             size_t row_offset, size_t n_local_rows,
                             const int64_t *row_ptr, const int64_t *col_idx,
                             const double *m_values, const double *w_values,
                             double m_default, double w_default);

/* The canonical form of a distributed fit's U V^T (wlra_get_canonical's,
 * which refuses a model holding only its rank's rows of U), a collective:
 * every rank of the fit calls it with its model. The ranks' rows of U are
 * gathered whole for the call (n_rows x rank doubles on every rank); u
 * receives this rank's rows of U_c (n_local_rows x rank), s (rank doubles)
 * and v (n_cols x rank) the whole s and V_c, the bits wlra_get_canonical
 * gives on the single-process fit. Any of u, s, v may be NULL. Every rank
 * returns the same status; nothing is written on a refusal. */
wlra_status wlra_get_canonical_distributed(const wlra_model *model, const wlra_comm *comm,
                                           double *u, size_t ld_u, double *s,
                                           double *v, size_t ld_v, int32_t layout);

wlra_status wlra_get_canonical_mpi(const wlra_model *model, int comm_f,
                                   double *u, size_t ld_u, double *s,
                                   double *v, size_t ld_v, int32_t layout);

wlra_status wlra_distributed_traffic(wlra_traffic *out);

/* How the last distributed fit on the calling thread gave each rank its
 * columns' data for the V half-steps (docs/mpi.md, "Tall dense input"),
 * chosen from the shapes and options, the same on every rank. */
#define WLRA_EXCHANGE_NONE 0           /* one rank: its rows are all the data */
#define WLRA_EXCHANGE_COLUMN_BLOCKS 1  /* M and W redistributed once per fit  */
#define WLRA_EXCHANGE_NORMAL_EQUATIONS 2 /* each V half-step sums the ranks'
                                          * normal equations at the owners */
wlra_status wlra_distributed_exchange(int32_t *out);

#ifdef __cplusplus
}
#endif

#endif /* WLRA_MPI_H */
