/* anderson: Anderson acceleration of a fixed-point iteration x = G(x)
 * (Walker and Ni 2011, "type II"; docs/model.md, "Solving: value
 * iteration with error bounds"). From the last m pairs (x_i, g_i = G(x_i))
 * with residuals f_i = g_i - x_i, the next iterate is
 *   x+ = g_k - sum_i gamma_i (g_{i+1} - g_i),
 *   gamma = argmin |f_k - sum_i gamma_i (f_{i+1} - f_i)|^2 + mu |gamma|^2,
 * a regularised least-squares problem of m unknowns. Every sum runs in a
 * fixed serial order, so the iterates are the same bits whatever the
 * caller's thread count. The caller evaluates G and decides (safeguard)
 * whether to keep the mixed iterate or to take the plain step g_k. */
#ifndef TM_ANDERSON_H
#define TM_ANDERSON_H

#include <stddef.h>

#define TM_ANDERSON_MAX_DEPTH 32

typedef struct {
    size_t n;                                                  /* length of an iterate */
    int depth;                                                 /* m: differences kept */
    int count;                                                 /* differences held now (<= depth) */
    int newest;                                                /* slot of the newest difference */
    int primed;                                                /* f_prev, g_prev hold the previous pair */
    double *df;                                                /* [depth * n]: f_{i+1} - f_i */
    double *dg;                                                /* [depth * n]: g_{i+1} - g_i */
    double *f_prev, *g_prev;                                   /* [n] */
    double gram[TM_ANDERSON_MAX_DEPTH][TM_ANDERSON_MAX_DEPTH]; /* df_i . df_j by slot */
} tm_anderson;

/* Work space for iterates of length n and depth m (1 <= m <=
 * TM_ANDERSON_MAX_DEPTH); 0, or -1 when out of memory. */
int tm_anderson_init(tm_anderson *a, size_t n, int depth);
void tm_anderson_free(tm_anderson *a);

/* Forget the history (after a rejected step). */
void tm_anderson_reset(tm_anderson *a);

/* Record the pair (x, g = G(x)) and write the next iterate to x_out (which
 * may be x but not g): the mixed one when there is a history, else g.
 * Returns the number of differences used (0: x_out is the plain step). */
int tm_anderson_step(tm_anderson *a, const double *x, const double *g, double *x_out);

#endif
