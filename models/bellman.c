/* bellman: the dynamic programme shared by the forward-looking models
 * (models/dynamic.c, models/learning.c). Per sector and belief class,
 * value-function iteration over the productivity grid, the previous market
 * set and the joint regime of all destinations (docs/model.md section 6).
 * A solution belongs to an epoch of the regime process: it is solved at the
 * start of the run and again when the process in force differs from the one
 * firms expected; events marked `anticipated` are foreseen (backward
 * induction from the post-event solution). Each period a firm's values are
 * one Bellman step with that period's flow and the stored continuation. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "engine/demand_types.h"
#include "engine/economy.h"
#include "engine/grid.h"
#include "engine/mstate.h"
#include "engine/process.h"
#include "models/anderson.h"
#include "models/bellman.h"
#include "models/model.h"

/* The cap on solver cells (productivity x joint regime x market set), and
 * the size from which a sweep is shared among OpenMP threads. */
#define DP_MAX_CELLS ((size_t)1 << 26)
#define DP_PARALLEL_CELLS ((size_t)1 << 14)
/* A start-of-run sweep is shared with threads that have no item left from
 * this much work (cells x market sets): below it the team's start and
 * barrier cost more than they save. */
#define DP_SHARED_WORK ((size_t)1 << 14)
/* Differences of iterates kept by the Anderson acceleration. */
#define DP_ANDERSON_DEPTH 10

typedef tm_process dp_process;

/* The joint regime law of one period: sparse rows, j -> (j', prob). */
typedef struct {
    int *start; /* [n_joint + 1] */
    int *col;
    double *prob;
} dp_law;

/* The solution of one (sector, belief class). EV tables are E[V(z', m', r') | z, r], laid out
 * [(z * n_joint + j) * n_states + m'] over market states m' (src/engine/mstate.h). */
typedef struct {
    int solved;
    int t0;                   /* first period covered */
    int n_steps;              /* ev_step[k] serves period t0 + k for k < n_steps */
    double *ev_step;          /* [n_steps * cells] */
    double *ev_stat;          /* [cells]: periods t0 + n_steps and later */
    dp_process *proc;         /* [n_steps + 1]: process expected at t0 + k */
    const double *z_grid, *P; /* the sector's grid (owned by dp_state) */
    const double *pi;         /* [n_z]: the stationary law of P (owned by dp_state) */
    const double *bd;         /* [n_z]: beta (1 - delta(z)) (owned by dp_state) */
    int constant_bd;          /* delta does not depend on z */
    int type;                 /* demand type of this class (-1: classes are not types) */
    const int *band;          /* [2 * n_z]: columns [band[2z], band[2z+1]) of row z that matter */
    /* Summary of the first solve. */
    int summarised;
    double *entry_cut, *exit_cut; /* [n_joint * n_dest] */
    int iterations;
    double residual, seconds;
} dp_sector;

/* The threads of the start-of-run solve that have no item left, lent to
 * the sweeps of the items still running (tm_bellman_open). */
typedef struct {
    int idle;     /* threads of the team with no item left */
    int running;  /* items being solved */
    int team_max; /* the largest team a sweep ran on */
} dp_share;

/* Work space of one solve at a time. */
typedef struct {
    double *v, *v_next, *flow, *revenue, *scratch;
    double *cost; /* [n_joint * n_states * n_sets] */
    int scratch_threads;
    dp_share *share; /* start-of-run solve: its sweeps take idle threads */
} dp_work;

typedef struct {
    const tm_params *p;
    tm_demand_types types;
    double discount; /* beta (1 - delta) is per sector */
    double lambda, tolerance;
    int max_iterations;
    int n_z, n_dest, n_sets, n_states, n_joint;
    int n_regimes[TM_MAX_DEST], stride[TM_MAX_DEST];
    size_t cells; /* n_z * n_joint * n_states */
    tm_mstate ms;
    /* When next period's state and this period's flow depend on the choice
     * S alone (plain market sets, timing current), the continuation of S is
     * the same from every state m: bellman() computes it once per S. */
    int choice_law;
    int law_entry[TM_MAX_STATES]; /* S -> its law entry (point mass) */
    /* The destinations of this problem: dest_of[i] is the parameters'
     * index of local destination i (identity for the whole problem; one
     * destination for a part of a separable one). */
    int dest_of[TM_MAX_DEST];
    /* Markets are independent (no capacity constraint): the value is a sum
     * over destinations, each solved on its own (docs/model.md); per sector,
     * as each has its own capacity elasticity. */
    int separable; /* decision.solver auto and more than one destination */
    int n_classes, foresee;
    double (*class_trans)[TM_MAX_DEST][TM_MAX_REGIMES][TM_MAX_REGIMES]; /* [n_classes] or NULL */
    double *grid_z, *grid_P, *grid_pi; /* [n_sectors * n_z], [n_sectors * n_z * n_z], [n_sectors * n_z] */
    double *grid_bd;                   /* [n_sectors * n_z] */
    int *grid_band;                    /* [n_sectors * 2 * n_z] */
    dp_sector *sec;                    /* [n_sectors * n_classes] */
    /* Work spaces: work[0] serves solves during the run (its scratch has
     * room for every thread); the start-of-run solves use one each. */
    dp_work *work;
    int n_work;
    int solve_threads; /* threads the start-of-run solves ran on */
    int sweep_threads; /* the largest team one of their sweeps ran on */
} dp_state;

struct tm_bellman {
    dp_state st;
};

/* ------------------------------------------------------------------------
 * The regime law
 * ---------------------------------------------------------------------- */

static void law_free(dp_law *law)
{
    free(law->start);
    free(law->col);
    free(law->prob);
}

/* The law of next period's joint regime given this period's: independent
 * destinations, a held regime stays, and forced[d] >= 0 is a regime an
 * anticipated event imposes at the start of next period. */
static int law_build(const dp_state *st, const dp_process *pr, const int *forced, dp_law *law)
{
    int J = st->n_joint, D = st->n_dest;
    law->start = malloc(((size_t)J + 1) * sizeof(int));
    law->col = NULL;
    law->prob = NULL;
    if (!law->start)
        return -1;
    double T[TM_MAX_DEST][TM_MAX_REGIMES][TM_MAX_REGIMES];
    for (int d = 0; d < D; d++) {
        int n = st->n_regimes[d];
        int dd = st->dest_of[d];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++) {
                /* Firms expect the perceived process (docs/model.md section 10). */
                double q = pr->held[dd] ? (double)(i == k) : pr->perceived[dd][i][k];
                if (forced[dd] >= 0)
                    q = (double)(k == forced[dd]);
                T[d][i][k] = q;
            }
    }
    for (int pass = 0; pass < 2; pass++) {
        size_t nnz = 0;
        for (int j = 0; j < J; j++) {
            law->start[j] = (int)nnz;
            for (int k = 0; k < J; k++) {
                double q = 1.0;
                for (int d = 0; d < D && q > 0.0; d++)
                    q *= T[d][j / st->stride[d] % st->n_regimes[d]][k / st->stride[d] % st->n_regimes[d]];
                if (q <= 0.0)
                    continue;
                if (pass) {
                    law->col[nnz] = k;
                    law->prob[nnz] = q;
                }
                nnz++;
            }
        }
        law->start[J] = (int)nnz;
        if (!pass) {
            law->col = malloc((nnz ? nnz : 1) * sizeof(int));
            law->prob = malloc((nnz ? nnz : 1) * sizeof(double));
            if (!law->col || !law->prob)
                return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * The Bellman operator
 * ---------------------------------------------------------------------- */

/* Flow payoffs Pi(z, m, r) - fixed costs for every joint regime at the
 * parameters' demand (no crowding), under the process's tariff overrides:
 * flow[(z * n_joint + j) * n_states + m]; and the costs of each choice,
 * cost[(j * n_states + m) * n_sets + S] (src/engine/mstate.h). */
static void dp_flows(const dp_state *st, dp_work *w, int s, const dp_sector *sec, const dp_process *pr)
{
    const tm_params *p = st->p;
    const tm_sector *ps = &p->sector[s];
    int N = st->n_states, J = st->n_joint;
    size_t NM = (size_t)N * (size_t)st->n_sets;
    double *one = w->scratch; /* n_z * n_states, before per-thread use */
    /* The sector as this problem sees it: its destinations in local order,
     * their markets under the process (dated paths, section 10). */
    tm_sector view = *ps;
    for (int d = 0; d < st->n_dest; d++)
        view.market[d] = tm_process_market(p, pr, s, st->dest_of[d]);
    tm_profit_fn profit;
    tm_econ_sector_profit_fn(&profit, p, s);
    for (int j = 0; j < J; j++) {
        tm_conditions cond;
        double fixed[TM_MAX_DEST];
        memset(&cond, 0, sizeof cond);
        for (int d = 0; d < st->n_dest; d++) {
            int dd = st->dest_of[d];
            int r = j / st->stride[d] % st->n_regimes[d];
            const tm_regime *reg = &p->dest[dd].regime[r];
            cond.tariff[d] = tm_process_tariff(p, pr, s, dd, r);
            tm_econ_closure(reg, s, st->n_z, sec->pi, &cond.closed[d], &cond.closed_top[d]);
            cond.demand[d] = view.market[d].demand *
                             (sec->type >= 0 ? tm_demand_types_multiplier(&st->types, sec->type, dd) : 1.0);
            /* Partial adjustment: firms expect each regime's long-run demand,
             * the stock at its steady state ln(1 + t) (docs/model.md eq. 2b). */
            if (tm_econ_adjusts(p))
                cond.demand[d] *= tm_econ_adjusted_demand(p, cond.tariff[d], log1p(cond.tariff[d]));
            cond.sunk[d] = view.market[d].sunk_cost;
            fixed[d] = view.market[d].fixed_cost;
        }
        tm_econ_state_tables(&profit, &view, &st->ms, &cond, sec->z_grid, st->n_z, one, w->revenue);
        for (int iz = 0; iz < st->n_z; iz++)
            memcpy(w->flow + ((size_t)iz * (size_t)J + (size_t)j) * (size_t)N, one + (size_t)iz * (size_t)N,
                   (size_t)N * sizeof(double));
        tm_mstate_costs(&st->ms, cond.sunk, fixed, cond.closed, w->cost + (size_t)j * NM);
    }
}

/* exp(t) is 0 in double precision for t below about -745.13. */
#define DP_EXP_UNDERFLOW (-746.0)

/* lambda log sum exp(x / lambda) over finite-or--inf x (lambda > 0), or the
 * max (lambda = 0): the expected maximum of x + extreme-value shocks, less
 * the constant lambda * Euler's gamma (docs/model.md eq. 9). */
static double aggregate(const double *x, int n, double lambda)
{
    double m = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > m)
            m = x[i];
    if (lambda <= 0.0 || isinf(m))
        return m;
    /* exp underflows to 0 below DP_EXP_UNDERFLOW, so such terms (and -inf)
     * are skipped, and exp(0) is exactly 1 (C11 F.10.3.1), so the largest
     * term is added as 1: the same sum, bit for bit, without the calls. */
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        double t = (x[i] - m) / lambda;
        if (t == 0.0)
            sum += 1.0;
        else if (!(t < DP_EXP_UNDERFLOW))
            sum += exp(t);
    }
    return m + lambda * log(sum);
}

typedef struct {
    const double *P;    /* [n_z * n_z] */
    const int *band;    /* [2 * n_z] */
    const double *flow; /* [cells] */
    const double *cost; /* [n_joint * n_states * n_sets] */
    const dp_law *law;
    const double *bd; /* [n_z]: beta (1 - delta(z)) */
} dp_step;

/* The value of choosing S from state m at one (z, j): flow row `flow`
 * (n_states entries), continuation `ev` = E[V(z', m', r') | z, r] over m',
 * costs `cost` of this j (n_states x n_sets). Timing current: the flow of
 * the state served; timing next: the flow of the state held now. The
 * solver adds the continuation before subtracting the cost and the
 * per-period values subtract the cost first (cost_first), the orders the
 * plain sunk-cost model always used, so that its results do not change. */
static inline double choice_value(const tm_mstate *ms, const double *flow, const double *ev, const double *cost, int m,
                                  int S, double bd, int cost_first)
{
    const int M = ms->n_sets;
    const int *start = ms->law_start + m * M + S;
    double cont = 0.0;
    for (int k = start[0]; k < start[1]; k++)
        cont += ms->law_prob[k] * ev[ms->law_state[k]];
    double f = ms->timing == TM_TIMING_NEXT ? flow[m] : flow[ms->served[m * M + S]];
    return cost_first ? f - cost[m * M + S] + bd * cont : f + bd * cont - cost[m * M + S];
}

/* Sets st->choice_law: every law row (m, S) is one entry of probability 1,
 * and it and the state served are those of row (0, S). */
static void detect_choice_law(dp_state *st)
{
    const tm_mstate *ms = &st->ms;
    const int M = ms->n_sets;
    st->choice_law = ms->timing == TM_TIMING_CURRENT;
    for (int S = 0; S < M && st->choice_law; S++) {
        int first = ms->law_start[S];
        st->law_entry[S] = first;
        for (int m = 0; m < ms->n_states && st->choice_law; m++) {
            int k = ms->law_start[m * M + S];
            st->choice_law = ms->law_start[m * M + S + 1] == k + 1 && ms->law_prob[k] == 1.0 &&
                             ms->law_state[k] == ms->law_state[first] && ms->served[m * M + S] == ms->served[S];
        }
    }
}

/* The team of a start-of-run sweep: its own thread and an equal share of
 * the idle ones (read afresh each sweep, so that items still running when
 * others finish take over their threads). */
static int share_threads(dp_share *sh)
{
    int idle, running;
#pragma omp atomic read
    idle = sh->idle;
#pragma omp atomic read
    running = sh->running;
    return 1 + (running > 0 && idle > 0 ? idle / running : 0);
}

/* Row iz of a sweep (see bellman) in the work space y of one thread; lowers
 * *lo and raises *hi to the range of v_out - v_in seen. */
static void bellman_row(const dp_state *st, const dp_step *step, const double *v_in, double *v_out, double *ev_out,
                        double *y, int iz, double *lo, double *hi)
{
    const int n_z = st->n_z, J = st->n_joint, N = st->n_states, M = st->n_sets;
    const size_t C = (size_t)J * (size_t)N, NM = (size_t)N * (size_t)M;
    const double lambda = st->lambda;
    const int choice_law = st->choice_law;
    double lo_row = *lo, hi_row = *hi;
    double *w = y + C, *x = w + N, *g = x + M;
    /* y[j', m'] = sum_z' P(z, z') v_in(z', m', j') */
    memset(y, 0, C * sizeof(double));
    const double *Prow = step->P + (size_t)iz * (size_t)n_z;
    for (int jz = step->band[2 * iz]; jz < step->band[2 * iz + 1]; jz++) {
        double q = Prow[jz];
        if (q == 0.0)
            continue;
        const double *vin = v_in + (size_t)jz * C;
        for (size_t c = 0; c < C; c++)
            y[c] += q * vin[c];
    }
    const double bd = step->bd[iz];
    for (int j = 0; j < J; j++) {
        size_t row = ((size_t)iz * (size_t)J + (size_t)j) * (size_t)N;
        for (int m = 0; m < N; m++)
            w[m] = 0.0;
        for (int k = step->law->start[j]; k < step->law->start[j + 1]; k++) {
            const double *yc = y + (size_t)step->law->col[k] * (size_t)N;
            double q = step->law->prob[k];
            for (int m = 0; m < N; m++)
                w[m] += q * yc[m];
        }
        if (ev_out)
            memcpy(ev_out + row, w, (size_t)N * sizeof(double));
        if (!v_out)
            continue;
        const double *flow = step->flow + row, *cost = step->cost + (size_t)j * NM;
        if (choice_law) {
            /* flow + bd cont of each S, added as choice_value adds them
             * (cont = 0 + 1 x E[V]), so the values are the same bits. */
            for (int S = 0; S < M; S++) {
                int k = st->law_entry[S];
                double cont = 0.0;
                cont += st->ms.law_prob[k] * w[st->ms.law_state[k]];
                g[S] = flow[st->ms.served[S]] + bd * cont;
            }
        }
        for (int m = 0; m < N; m++) {
            if (choice_law) {
                const double *cost_m = cost + (size_t)m * (size_t)M;
                for (int S = 0; S < M; S++)
                    x[S] = g[S] - cost_m[S];
            } else {
                for (int S = 0; S < M; S++)
                    x[S] = choice_value(&st->ms, flow, w, cost, m, S, bd, 0);
            }
            double v = aggregate(x, M, lambda);
            v_out[row + (size_t)m] = v;
            double diff = v - v_in[row + (size_t)m];
            if (diff < lo_row)
                lo_row = diff;
            if (diff > hi_row)
                hi_row = diff;
        }
    }
    *lo = lo_row;
    *hi = hi_row;
}

/* v_out = B(v_in): for each (z, r, m),
 *   max_S { flow - cost(m, S) + bd(z) E[v_in(z', m', r') | z, r, m, S] }
 * (log-sum-exp with logit noise). Writes E[v_in] to ev_out when not NULL,
 * and the range of v_out - v_in to lo, hi. Rows of z are independent, so
 * the result does not depend on the number of threads. */
static void bellman(const dp_state *st, dp_work *work, const dp_step *step, const double *v_in, double *v_out,
                    double *ev_out, double *lo, double *hi, int threads)
{
    const int n_z = st->n_z, N = st->n_states, M = st->n_sets;
    const size_t C = (size_t)st->n_joint * (size_t)N;
    double lo_all = INFINITY, hi_all = -INFINITY;
    if (work->share)
        threads = (size_t)n_z * C * (size_t)M < DP_SHARED_WORK ? 1 : share_threads(work->share);
    if (threads <= 0 || threads > work->scratch_threads)
        threads = work->scratch_threads;
    /* Small problems are faster on one thread than with a barrier a sweep
     * (a start-of-run sweep's extra threads would wait otherwise). */
    if (!work->share && (size_t)n_z * C < DP_PARALLEL_CELLS)
        threads = 1;
    if (threads > n_z)
        threads = n_z;
    int team = 1; /* the team the sweep got (written by the thread of row 0) */
    if (threads <= 1) {
        /* No parallel region at all: libgomp's team of one, even when not
         * active, costs futex syscalls a sweep. */
        for (int iz = 0; iz < n_z; iz++)
            bellman_row(st, step, v_in, v_out, ev_out, work->scratch, iz, &lo_all, &hi_all);
    } else {
#pragma omp parallel for schedule(static) num_threads(threads) reduction(min : lo_all) reduction(max : hi_all)
        for (int iz = 0; iz < n_z; iz++) {
            if (iz == 0)
                team = omp_get_num_threads();
            double *y = work->scratch + (size_t)omp_get_thread_num() * (C + (size_t)N + 2 * (size_t)M);
            bellman_row(st, step, v_in, v_out, ev_out, y, iz, &lo_all, &hi_all);
        }
    }
    if (work->share && team > 1) {
        int *most = &work->share->team_max;
#pragma omp critical(tm_bellman_team)
        if (team > *most)
            *most = team;
    }
    *lo = lo_all;
    *hi = hi_all;
}

/* ------------------------------------------------------------------------
 * Solving one epoch
 * ---------------------------------------------------------------------- */

static void sector_clear_solution(dp_sector *sec)
{
    free(sec->ev_step);
    free(sec->ev_stat);
    free(sec->proc);
    sec->ev_step = sec->ev_stat = NULL;
    sec->proc = NULL;
    sec->solved = 0;
}

/* Cut-offs of the policy at period t0 from its continuation value: the
 * lowest grid z at which the argmax set contains d, from the state serving
 * nothing (entry) and from the state serving only d at level 1 (staying). */
static void summarise(const dp_state *st, const dp_work *w, dp_sector *sec, const double *ev)
{
    const int n_z = st->n_z, J = st->n_joint, N = st->n_states, M = st->n_sets, D = st->n_dest;
    const size_t NM = (size_t)N * (size_t)M;
    for (int j = 0; j < J; j++)
        for (int d = 0; d < D; d++) {
            double cut[2] = {INFINITY, INFINITY};
            int only_d = 1;
            for (int e = 0; e < d; e++)
                only_d *= st->ms.radix;
            for (int which = 0; which < 2; which++) {
                int m = which ? only_d : 0;
                for (int iz = 0; iz < n_z; iz++) {
                    size_t row = ((size_t)iz * (size_t)J + (size_t)j) * (size_t)N;
                    int best = 0;
                    double best_v = -INFINITY;
                    for (int S = 0; S < M; S++) {
                        double v = choice_value(&st->ms, w->flow + row, ev + row, w->cost + (size_t)j * NM, m, S,
                                                sec->bd[iz], 1);
                        if (v > best_v) {
                            best_v = v;
                            best = S;
                        }
                    }
                    if (best >> d & 1) {
                        cut[which] = sec->z_grid[iz];
                        break;
                    }
                }
            }
            sec->entry_cut[j * D + d] = cut[0];
            sec->exit_cut[j * D + d] = cut[1];
        }
}

/* MacQueen-Porteus: V* lies within bd/(1-bd) [lo, hi] of the new iterate
 * B V (lo, hi: the least and largest of B V - V); the midpoint is off by at
 * most half the width. With a discount that varies with z, the plain
 * contraction bound. */
static double error_bound(const dp_sector *sec, double bd, double lo, double hi)
{
    return sec->constant_bd ? bd * (hi - lo) / (2.0 * (1.0 - bd)) : bd * fmax(fabs(lo), fabs(hi)) / (1.0 - bd);
}

/* Value iteration under the process after the last anticipated event
 * (sec->proc[n_steps]), then one backward Bellman step per period down to
 * t0: E[V] tables of problem st into ev_stat and ev_step (st's layout).
 * *iterations and *bound report the stationary solve. */
static int solve_problem(const dp_state *st, dp_work *w, const dp_sector *sec, int s, int first, int n_steps, int t0,
                         int threads, double *ev_stat, double *ev_step, int *iterations, double *bound_out,
                         tm_error *err)
{
    const size_t cells = st->cells;
    const tm_params *p = st->p;
    const tm_sector *ps = &p->sector[s];
    /* The contraction modulus: the largest beta (1 - delta(z)). */
    double bd = 0.0;
    for (int iz = 0; iz < st->n_z; iz++)
        if (sec->bd[iz] > bd)
            bd = sec->bd[iz];
    /* Stationary solve under the final process. */
    int none[TM_MAX_DEST];
    for (int d = 0; d < TM_MAX_DEST; d++)
        none[d] = -1;
    dp_law law;
    if (law_build(st, &sec->proc[n_steps], none, &law)) {
        law_free(&law);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    dp_flows(st, w, s, sec, &sec->proc[n_steps]);
    dp_step step = {sec->P, sec->band, w->flow, w->cost, &law, sec->bd};
    double *v = w->v, *vn = w->v_next;
    memset(v, 0, cells * sizeof(double));
    double lo = 0, hi = 0, bound = INFINITY;
    int it = 0;
    /* Joint programmes (more than one destination solved together) are
     * Anderson-accelerated (docs/model.md, "Solving"); one-destination
     * programmes, the parts of separable ones among them, iterate plainly. */
    tm_anderson acc;
    int accelerate = p->dp_acceleration == TM_ACCEL_ANDERSON && st->n_dest > 1;
    double *x = NULL;
    int mixed = 0; /* v is a mixed iterate */
    if (accelerate && (tm_anderson_init(&acc, cells, DP_ANDERSON_DEPTH) || !(x = malloc(cells * sizeof(double))))) {
        tm_anderson_free(&acc);
        law_free(&law);
        return tm_error_set(err, TM_ERR_RUNTIME,
                            "sector %s: out of memory for Anderson acceleration (%zu cells); set "
                            "decision.acceleration: none",
                            ps->name, cells);
    }
    while (it < st->max_iterations) {
        bellman(st, w, &step, v, vn, NULL, &lo, &hi, threads);
        it++;
        double b = error_bound(sec, bd, lo, hi);
        if (mixed && !(b < bd * bound)) {
            /* Safeguard: the mixed iterate v did no better than the plain
             * step from the previous one is sure to (a contraction of
             * modulus bd shrinks the bound by bd): forget the history and
             * take the plain step from x, the previous iterate. */
            tm_anderson_reset(&acc);
            mixed = 0;
            memcpy(v, x, cells * sizeof(double));
            if (it >= st->max_iterations)
                break;
            bellman(st, w, &step, v, vn, NULL, &lo, &hi, threads);
            it++;
            b = error_bound(sec, bd, lo, hi);
        }
        bound = b;
        if (bound < st->tolerance || !accelerate) {
            double *t = v;
            v = vn;
            vn = t;
            if (bound < st->tolerance)
                break;
            continue;
        }
        /* x keeps the plain step B(v) for the safeguard; the next iterate
         * is the mix of the history's plain steps. */
        memcpy(x, vn, cells * sizeof(double));
        mixed = tm_anderson_step(&acc, v, vn, v) > 0;
    }
    if (accelerate) {
        tm_anderson_free(&acc);
        free(x);
    }
    if (!(bound < st->tolerance)) {
        law_free(&law);
        return tm_error_set(err, TM_ERR_RUNTIME,
                            "sector %s: value iteration did not converge in %d iterations (error bound %.3g, "
                            "decision.tolerance %.3g); raise decision.max_iterations or decision.tolerance",
                            ps->name, it, bound, st->tolerance);
    }
    double shift = sec->constant_bd ? bd * (lo + hi) / (2.0 * (1.0 - bd)) : 0.0;
    for (size_t c = 0; c < cells; c++)
        v[c] += shift;
    /* The stationary continuation value: E[V*] with the same law. */
    bellman(st, w, &step, v, NULL, ev_stat, &lo, &hi, threads);
    law_free(&law);

    /* Backward over the periods before the last anticipated event. */
    for (int k = n_steps - 1; k >= 0; k--) {
        int u = t0 + k, forced[TM_MAX_DEST];
        for (int d = 0; d < TM_MAX_DEST; d++)
            forced[d] = -1;
        for (int e = first; e < p->n_events; e++)
            if (p->event[e].anticipated && p->event[e].period == u + 1 && p->event[e].kind == TM_EVENT_REGIME)
                forced[p->event[e].destination] = p->event[e].regime;
        if (law_build(st, &sec->proc[k], forced, &law)) {
            law_free(&law);
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        }
        dp_flows(st, w, s, sec, &sec->proc[k]);
        step.law = &law;
        double *ev = ev_step + (size_t)k * cells;
        bellman(st, w, &step, v, k > 0 ? vn : NULL, ev, &lo, &hi, threads);
        law_free(&law);
        double *t = v;
        v = vn;
        vn = t;
    }
    *iterations = it;
    *bound_out = bound;
    return 0;
}

/* The part of separable problem st that concerns its destination d: one
 * destination, its regimes, market states of that destination alone; the
 * tolerance is shared out so that the parts' error bounds add up to it. */
static int part_open(const dp_state *st, int d, dp_state *one)
{
    *one = *st;
    one->n_dest = 1;
    one->dest_of[0] = st->dest_of[d];
    one->n_regimes[0] = st->n_regimes[d];
    one->stride[0] = 1;
    one->n_joint = st->n_regimes[d];
    one->n_sets = 2;
    one->tolerance = st->tolerance / st->n_dest;
    one->separable = 0;
    if (tm_mstate_init_dest(&one->ms, 1, &st->p->experience, st->p->timing))
        return -1;
    one->n_states = one->ms.n_states;
    detect_choice_law(one);
    one->cells = (size_t)one->n_z * (size_t)one->n_joint * (size_t)one->n_states;
    return 0;
}

/* whole[(z * n_joint + j) * n_states + m] += part[(z * R_d + r_d(j)) * (K+1) + level_d(m)]. */
static void part_add(const dp_state *st, const dp_state *one, int d, const double *part, double *whole)
{
    const int J = st->n_joint, N = st->n_states, R = one->n_joint, L = one->n_states;
    for (int iz = 0; iz < st->n_z; iz++)
        for (int j = 0; j < J; j++) {
            int r = j / st->stride[d] % st->n_regimes[d];
            const double *src = part + ((size_t)iz * (size_t)R + (size_t)r) * (size_t)L;
            double *dst = whole + ((size_t)iz * (size_t)J + (size_t)j) * (size_t)N;
            for (int m = 0; m < N; m++)
                dst[m] += src[st->ms.level[m][d]];
        }
}

/* Solve sector s from period t0, the process in force being `now`:
 * stationary value iteration under the process after the last anticipated
 * event, then one backward Bellman step per period down to t0. */
static int solve_sector(dp_state *st, dp_work *w, int s, int k_class, int t0, const dp_process *now, int threads,
                        tm_error *err)
{
    const tm_params *p = st->p;
    const tm_sector *ps = &p->sector[s];
    dp_sector *sec = &st->sec[(size_t)s * (size_t)st->n_classes + (size_t)k_class];
    const size_t cells = st->cells;
    double started = tm_clock_seconds();
    sector_clear_solution(sec);

    /* Models that do not foresee events (learning) solve the process now. */
    int first = 0;
    while (first < p->n_events && p->event[first].period <= t0)
        first++;
    if (!st->foresee)
        first = p->n_events;
    int last = t0;
    for (int e = first; e < p->n_events; e++)
        if (p->event[e].anticipated && p->event[e].period > last)
            last = p->event[e].period;
    int n_steps = last - t0;
    sec->proc = malloc(((size_t)n_steps + 1) * sizeof *sec->proc);
    sec->ev_stat = malloc(cells * sizeof(double));
    sec->ev_step = n_steps ? malloc((size_t)n_steps * cells * sizeof(double)) : NULL;
    if (!sec->proc || !sec->ev_stat || (n_steps && !sec->ev_step)) {
        sector_clear_solution(sec);
        return tm_error_set(err, TM_ERR_RUNTIME, "sector %s: out of memory for the dynamic programme (%d periods)",
                            ps->name, n_steps + 1);
    }
    dp_process cur = *now;
    for (int k = 0, e = first; k <= n_steps; k++) {
        for (; e < p->n_events && p->event[e].period <= t0 + k; e++)
            if (p->event[e].anticipated)
                tm_process_apply(p, &cur, &p->event[e], s);
        sec->proc[k] = cur;
    }

    int it = 0;
    double bound = 0.0;
    const int separable = st->separable && tm_econ_capacity_elasticity(p, s) == 0.0;
    if (!separable) {
        if (solve_problem(st, w, sec, s, first, n_steps, t0, threads, sec->ev_stat, sec->ev_step, &it, &bound, err)) {
            sector_clear_solution(sec);
            return -1;
        }
    } else {
        /* Independent markets: one problem per destination, then
         * E[V(z', m', r')] = sum_d E[V_d(z', level_d(m'), r'_d)]. */
        for (size_t c = 0; c < cells; c++)
            sec->ev_stat[c] = 0.0;
        for (size_t c = 0; c < (size_t)n_steps * cells; c++)
            sec->ev_step[c] = 0.0;
        for (int d = 0; d < st->n_dest; d++) {
            dp_state one;
            double *stat = NULL, *steps = NULL;
            int one_it = 0;
            double one_bound = 0.0;
            int rc = part_open(st, d, &one);
            if (!rc) {
                stat = malloc(one.cells * sizeof(double));
                steps = n_steps ? malloc((size_t)n_steps * one.cells * sizeof(double)) : NULL;
                rc = !stat || (n_steps && !steps);
                if (rc)
                    tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
            } else {
                tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
            }
            if (!rc)
                rc = solve_problem(&one, w, sec, s, first, n_steps, t0, threads, stat, steps, &one_it, &one_bound, err);
            if (!rc) {
                part_add(st, &one, d, stat, sec->ev_stat);
                for (int k = 0; k < n_steps; k++)
                    part_add(st, &one, d, steps + (size_t)k * one.cells, sec->ev_step + (size_t)k * cells);
            }
            free(stat);
            free(steps);
            tm_mstate_free(&one.ms);
            if (rc) {
                sector_clear_solution(sec);
                return -1;
            }
            if (one_it > it)
                it = one_it;
            bound += one_bound;
        }
    }
    sec->t0 = t0;
    sec->n_steps = n_steps;
    sec->solved = 1;
    if (!sec->summarised) {
        /* The whole problem's tables for period t0's process (dp_flows
         * last ran for it unless the problem was solved in parts). */
        if (n_steps == 0 || separable)
            dp_flows(st, w, s, sec, &sec->proc[0]);
        summarise(st, w, sec, n_steps ? sec->ev_step : sec->ev_stat);
        sec->iterations = it;
        sec->residual = bound;
        sec->seconds = tm_clock_seconds() - started;
        sec->summarised = 1;
    }
    return 0;
}

/* The productivity chain is banded in practice: an AR(1) moves a few grid
 * steps a period. Entries below DP_NEGLIGIBLE (a row sums to 1) change
 * E[V] by less than the rounding of the sum, so each row's sum runs over
 * the columns between its first and last entry at or above it. */
#define DP_NEGLIGIBLE 1e-17

static void band_rows(int n_z, const double *P, int *band)
{
    for (int i = 0; i < n_z; i++) {
        const double *row = P + (size_t)i * (size_t)n_z;
        int lo = 0, hi = n_z;
        while (lo < n_z - 1 && row[lo] < DP_NEGLIGIBLE)
            lo++;
        while (hi > lo + 1 && row[hi - 1] < DP_NEGLIGIBLE)
            hi--;
        band[2 * i] = lo;
        band[2 * i + 1] = hi;
    }
}

/* The process as firms of class k see it: their own transition matrices
 * (the class's belief is what they perceive). */
static void process_for_class(const dp_state *st, int k, dp_process *pr)
{
    if (!st->class_trans)
        return;
    for (int d = 0; d < st->n_dest; d++)
        for (int i = 0; i < st->n_regimes[d]; i++)
            for (int j = 0; j < st->n_regimes[d]; j++)
                pr->transition[d][i][j] = pr->perceived[d][i][j] = st->class_trans[k][d][i][j];
}

/* The start-of-run items in the order they are handed out: largest first
 * (the work of one sweep: cells x market sets of a joint programme, the
 * sum over destinations of the parts of a separable one), ties in item
 * order. Joint programmes need fewer sweeps but each is far larger, so
 * they come first, then the separable items. */
typedef struct {
    double work;
    int item;
} dp_item;

static int item_cmp(const void *a, const void *b)
{
    const dp_item *x = a, *y = b;
    if (x->work != y->work)
        return x->work > y->work ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

static void item_order(const dp_state *st, int n_classes, dp_item *order)
{
    const tm_params *p = st->p;
    const int levels = p->experience.levels + 1;
    for (int s = 0; s < p->n_sectors; s++) {
        double work = (double)st->cells * (double)st->n_sets;
        if (st->separable && tm_econ_capacity_elasticity(p, s) == 0.0) {
            work = 0.0;
            for (int d = 0; d < st->n_dest; d++)
                work += (double)st->n_z * (double)st->n_regimes[d] * (double)levels * 2.0;
        }
        for (int k = 0; k < n_classes; k++)
            order[s * n_classes + k] = (dp_item){work, s * n_classes + k};
    }
    qsort(order, (size_t)p->n_sectors * (size_t)n_classes, sizeof *order, item_cmp);
}

/* ------------------------------------------------------------------------
 * Interface
 * ---------------------------------------------------------------------- */

void tm_bellman_close(tm_bellman *b)
{
    if (!b)
        return;
    dp_state *st = &b->st;
    size_t n = (size_t)st->p->n_sectors * (size_t)st->n_classes;
    for (size_t i = 0; st->sec && i < n; i++) {
        sector_clear_solution(&st->sec[i]);
        free(st->sec[i].entry_cut);
        free(st->sec[i].exit_cut);
    }
    free(st->sec);
    free(st->class_trans);
    free(st->grid_z);
    free(st->grid_P);
    free(st->grid_pi);
    free(st->grid_band);
    free(st->grid_bd);
    tm_mstate_free(&st->ms);
    for (int i = 0; st->work && i < st->n_work; i++) {
        free(st->work[i].cost);
        free(st->work[i].v);
        free(st->work[i].v_next);
        free(st->work[i].flow);
        free(st->work[i].revenue);
        free(st->work[i].scratch);
    }
    free(st->work);
    free(b);
}

int tm_bellman_open(const tm_params *p, const tm_model_env *env, int n_classes, const tm_bellman_matrices *class_trans,
                    int foresee, tm_bellman **out, tm_error *err)
{
    *out = NULL;
    if (env->grids->n_z != p->grid_points || env->grids->n_sectors != p->n_sectors)
        return tm_error_set(err, TM_ERR_RUNTIME, "%s model: its grids do not match its parameters",
                            tm_model_name(p->model));
    tm_bellman *b = calloc(1, sizeof *b);
    if (!b)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    dp_state *st = &b->st;
    st->p = p;
    tm_demand_types_init(&st->types, p);
    st->discount = p->discount;
    st->lambda = p->logit_scale;
    st->tolerance = p->dp_tolerance;
    st->max_iterations = p->dp_max_iterations;
    st->n_z = p->grid_points;
    st->n_dest = p->n_dest;
    st->n_sets = tm_n_sets(p->n_dest);
    if (tm_mstate_init(&st->ms, p)) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    st->n_states = st->ms.n_states;
    detect_choice_law(st);
    for (int d = 0; d < TM_MAX_DEST; d++)
        st->dest_of[d] = d;
    st->separable = p->n_dest > 1 && p->dp_solver == TM_SOLVER_AUTO;
    st->n_classes = n_classes;
    st->foresee = foresee;
    size_t joint = 1;
    for (int d = 0; d < p->n_dest; d++) {
        st->n_regimes[d] = p->dest[d].n_regimes;
        st->stride[d] = (int)joint;
        joint *= (size_t)p->dest[d].n_regimes;
    }
    st->cells = (size_t)st->n_z * joint * (size_t)st->n_states;
    if (joint * joint > DP_MAX_CELLS || st->cells > DP_MAX_CELLS) {
        tm_error_set(err, TM_ERR_INPUT,
                     "run.model: the %s model needs %zu joint regimes x %d market states x %d grid points; "
                     "expected fewer destinations, regimes or experience levels (at most %zu cells)",
                     tm_model_name(p->model), joint, st->n_states, st->n_z, DP_MAX_CELLS);
        goto fail;
    }
    st->n_joint = (int)joint;
    size_t C = joint * (size_t)st->n_states, n_z = (size_t)st->n_z, S = (size_t)p->n_sectors;
    size_t NM = (size_t)st->n_states * (size_t)st->n_sets;
    const int threads = env->threads > 0 ? env->threads : 1;
    size_t one = n_z * (size_t)st->n_states;
    st->sec = calloc(S * (size_t)n_classes, sizeof *st->sec);
    st->grid_z = malloc(S * n_z * sizeof(double));
    st->grid_P = malloc(S * n_z * n_z * sizeof(double));
    st->grid_pi = malloc(S * n_z * sizeof(double));
    st->grid_band = malloc(S * 2 * n_z * sizeof(int));
    st->grid_bd = malloc(S * n_z * sizeof(double));
    st->n_work = threads;
    st->work = calloc((size_t)threads, sizeof *st->work);
    for (int i = 0; st->work && i < threads; i++) {
        dp_work *w = &st->work[i];
        /* Room for every thread: work[0] for the solves during the run,
         * each for the sweeps of the start-of-run solve that it shares. */
        w->scratch_threads = threads;
        size_t scratch = (size_t)w->scratch_threads * (C + (size_t)st->n_states + 2 * (size_t)st->n_sets);
        w->v = malloc(st->cells * sizeof(double));
        w->v_next = malloc(st->cells * sizeof(double));
        w->flow = malloc(st->cells * sizeof(double));
        w->revenue = malloc(one * (size_t)st->n_dest * sizeof(double));
        w->scratch = malloc((scratch > one ? scratch : one) * sizeof(double));
        w->cost = malloc(joint * NM * sizeof(double));
        if (!w->v || !w->v_next || !w->flow || !w->revenue || !w->scratch || !w->cost) {
            tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
            goto fail;
        }
    }
    if (class_trans) {
        st->class_trans = malloc((size_t)n_classes * sizeof *st->class_trans);
        if (st->class_trans)
            memcpy(st->class_trans, class_trans, (size_t)n_classes * sizeof *st->class_trans);
    }
    if (!st->sec || !st->grid_z || !st->grid_P || !st->grid_pi || !st->grid_band || !st->grid_bd || !st->work ||
        (class_trans && !st->class_trans)) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    for (int s = 0; s < p->n_sectors; s++) {
        const tm_sector *ps = &p->sector[s];
        double *z = st->grid_z + (size_t)s * n_z, *P = st->grid_P + (size_t)s * n_z * n_z;
        double *pi = st->grid_pi + (size_t)s * n_z;
        int *band = st->grid_band + (size_t)s * 2 * n_z;
        /* The firms' own grid (src/engine/grid.h). */
        memcpy(z, env->grids->z + (size_t)s * n_z, n_z * sizeof(double));
        memcpy(P, env->grids->P + (size_t)s * n_z * n_z, n_z * n_z * sizeof(double));
        memcpy(pi, env->grids->pi + (size_t)s * n_z, n_z * sizeof(double));
        band_rows(st->n_z, P, band);
        double *bd = st->grid_bd + (size_t)s * n_z;
        int constant_bd = 1;
        for (int iz = 0; iz < st->n_z; iz++) {
            bd[iz] = p->discount * (1.0 - tm_econ_death_probability(p, ps, z[iz]));
            constant_bd &= bd[iz] == bd[0];
        }
        for (int k = 0; k < n_classes; k++) {
            dp_sector *sec = &st->sec[(size_t)s * (size_t)n_classes + (size_t)k];
            sec->z_grid = z;
            sec->P = P;
            sec->pi = pi;
            sec->band = band;
            sec->bd = bd;
            sec->constant_bd = constant_bd;
            /* Classes are [belief class * n_types + demand type] (one belief
             * class without belief matrices). */
            sec->type = p->n_types > 1 ? k % p->n_types : -1;
            sec->entry_cut = malloc(joint * (size_t)st->n_dest * sizeof(double));
            sec->exit_cut = malloc(joint * (size_t)st->n_dest * sizeof(double));
            if (!sec->entry_cut || !sec->exit_cut) {
                tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
                goto fail;
            }
        }
    }
    /* The start-of-run solves are independent: one (sector, class) per
     * thread, each with its own work space, from the process in force at the
     * start, largest first (item_order). A thread with no item left lends
     * itself to the sweeps of the items still running (share_threads: a
     * nested team, enabled here and restored after); a sweep's result does
     * not depend on its team, so neither do the values. The error reported
     * is that of the first failing (sector, class), whatever the thread
     * count. */
    int items = p->n_sectors * n_classes, first_failed = items;
    tm_error *errs = calloc((size_t)threads, sizeof *errs);
    int *failed = malloc((size_t)threads * sizeof *failed);
    dp_item *order = malloc((size_t)items * sizeof *order);
    if (!errs || !failed || !order) {
        free(errs);
        free(failed);
        free(order);
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    item_order(st, n_classes, order);
    dp_share share = {0, 0, 1};
    const int nest = threads > 1 && omp_get_active_level() == 0, levels = omp_get_max_active_levels();
    if (nest && levels < 2)
        omp_set_max_active_levels(2);
    for (int i = 0; i < threads; i++)
        st->work[i].share = nest ? &share : NULL;
    for (int i = 0; i < threads; i++)
        failed[i] = items;
    int solved = 0;
    tm_progress_report_to(&env->progress, "solving", 0, items, NULL, NULL);
    /* Threads 0 to items - 1 take the items in order as they come free;
     * the others (and each of those once no item is left) are idle. */
    int next = 0;
    const int idle_asked = threads > items ? threads - items : 0;
    share.idle = idle_asked;
#pragma omp parallel num_threads(threads)
    {
        const int me = omp_get_thread_num(), team = omp_get_num_threads();
        if (me == 0) {
            st->solve_threads = team;
            /* A smaller team than asked has fewer idle threads. */
            int fewer = (team > items ? team - items : 0) - idle_asked;
#pragma omp atomic
            share.idle += fewer;
        }
        while (me < items) {
            int at;
#pragma omp atomic capture
            at = next++;
            if (at >= items)
                break;
            int item = order[at].item, s = item / n_classes, k = item % n_classes;
            dp_process initial = env->process[s];
            process_for_class(st, k, &initial);
            tm_error e = {0};
#pragma omp atomic
            share.running++;
            int rc = solve_sector(st, &st->work[me], s, k, -p->burn_in, &initial, 1, &e);
#pragma omp atomic
            share.running--;
            if (rc && item < failed[me]) {
                failed[me] = item;
                errs[me] = e;
            }
#pragma omp critical(tm_bellman_progress)
            tm_progress_report_to(&env->progress, "solving", ++solved, items, NULL, NULL);
        }
        if (me < items) {
#pragma omp atomic
            share.idle++;
        }
    }
    if (nest && levels < 2)
        omp_set_max_active_levels(levels);
    for (int i = 0; i < threads; i++)
        st->work[i].share = NULL;
    st->sweep_threads = share.team_max;
    free(order);
    for (int i = 0; i < threads; i++)
        if (failed[i] < first_failed) {
            first_failed = failed[i];
            if (err)
                *err = errs[i];
        }
    free(errs);
    free(failed);
    if (first_failed < items)
        goto fail;
    *out = b;
    return 0;
fail:
    tm_bellman_close(b);
    return -1;
}

/* The continuation table E[V] of class k that serves ctx's period (solving
 * again when the process in force is not the one it expected), and the
 * joint regime index of ctx. */
static int class_ev(dp_state *st, int k, const tm_choice_ctx *ctx, const double **ev, int *joint, tm_error *err)
{
    const tm_params *p = st->p;
    int s = ctx->sector;
    if (ctx->n_z != st->n_z || ctx->n_sets != st->n_sets || ctx->n_dest != st->n_dest ||
        (ctx->n_states ? ctx->n_states : ctx->n_sets) != st->n_states || k < 0 || k >= st->n_classes || s < 0 ||
        s >= p->n_sectors)
        return tm_error_set(err, TM_ERR_RUNTIME, "%s model: choice context does not match its parameters",
                            tm_model_name(p->model));
    dp_sector *sec = &st->sec[(size_t)s * (size_t)st->n_classes + (size_t)k];
    if (!ctx->process)
        return tm_error_set(err, TM_ERR_RUNTIME, "%s model: the choice context has no regime process",
                            tm_model_name(p->model));
    dp_process now = *ctx->process;
    process_for_class(st, k, &now);
    int t = ctx->period;
    int step = t - sec->t0;
    if (!sec->solved || step < 0 || !tm_process_equal(p, &now, &sec->proc[step < sec->n_steps ? step : sec->n_steps])) {
        if (solve_sector(st, &st->work[0], s, k, t, &now, ctx->threads, err))
            return -1;
        step = 0;
    }
    *ev = step < sec->n_steps ? sec->ev_step + (size_t)step * st->cells : sec->ev_stat;
    int j = 0;
    for (int d = 0; d < st->n_dest; d++)
        j += ctx->regime[d] * st->stride[d];
    *joint = j;
    return 0;
}

int tm_bellman_values(tm_bellman *b, int k, const tm_choice_ctx *ctx, double *value, tm_error *err)
{
    double one = 1.0;
    return tm_bellman_values_mix(b, 1, &k, &one, ctx, value, err);
}

int tm_bellman_values_mix(tm_bellman *b, int n, const int *k, const double *weight, const tm_choice_ctx *ctx,
                          double *value, tm_error *err)
{
    dp_state *st = &b->st;
    const tm_params *p = st->p;
    const double *ev[TM_BELLMAN_MAX_MIX];
    int j = 0;
    if (n < 1 || n > TM_BELLMAN_MAX_MIX)
        return tm_error_set(err, TM_ERR_RUNTIME, "%s model: %d classes to mix; expected 1 to %d",
                            tm_model_name(p->model), n, TM_BELLMAN_MAX_MIX);
    for (int c = 0; c < n; c++)
        if (class_ev(st, k[c], ctx, &ev[c], &j, err))
            return -1;
    const int M = st->n_sets, J = st->n_joint, N = st->n_states;
    /* This period's costs (spillovers, events). */
    const double *cost = tm_model_costs(ctx, &st->ms, &p->sector[ctx->sector], st->work[0].cost);
    double mixed[TM_MAX_STATES];
    for (int iz = 0; iz < ctx->n_z; iz++) {
        const double *flow = ctx->flow + (size_t)iz * (size_t)N;
        const size_t row = ((size_t)iz * (size_t)J + (size_t)j) * (size_t)N;
        const double *evz = ev[0] + row;
        if (n > 1) {
            for (int m = 0; m < N; m++) {
                double x = 0.0;
                for (int c = 0; c < n; c++)
                    x += weight[c] * ev[c][row + (size_t)m];
                mixed[m] = x;
            }
            evz = mixed;
        }
        double death = ctx->death ? ctx->death[iz] : ctx->death_rate;
        const double bd = p->discount * (1.0 - death);
        for (int m = 0; m < N; m++) {
            double *v = value + ((size_t)iz * (size_t)N + (size_t)m) * (size_t)M;
            for (int S = 0; S < M; S++)
                v[S] = choice_value(&st->ms, flow, evz, cost, m, S, bd, 1);
        }
    }
    return 0;
}

int tm_bellman_median_type(const tm_params *p)
{
    int median = 0;
    for (int t = 1; t < p->n_types; t *= p->type_points)
        median = median * p->type_points + (p->type_points - 1) / 2;
    return median;
}

const tm_params *tm_bellman_params(const tm_bellman *b)
{
    return b->st.p;
}

void tm_bellman_summary(const tm_bellman *b, int sector, int k, tm_policy_summary *out)
{
    const dp_state *st = &b->st;
    const dp_sector *sec = &st->sec[(size_t)sector * (size_t)st->n_classes + (size_t)k];
    out->n_joint = st->n_joint;
    out->entry_cutoff = sec->entry_cut;
    out->exit_cutoff = sec->exit_cut;
    out->iterations = sec->iterations;
    out->residual = sec->residual;
    out->seconds = sec->seconds;
    out->threads = st->solve_threads;
    out->sweep_threads = st->sweep_threads;
}

int tm_bellman_expected_process(const tm_bellman *b, int sector, int k, int period, tm_process *out)
{
    const dp_state *st = &b->st;
    if (sector < 0 || sector >= st->p->n_sectors || k < 0 || k >= st->n_classes)
        return -1;
    const dp_sector *sec = &st->sec[(size_t)sector * (size_t)st->n_classes + (size_t)k];
    int step = period - sec->t0;
    if (!sec->solved || step < 0)
        return -1;
    *out = sec->proc[step < sec->n_steps ? step : sec->n_steps];
    return 0;
}
