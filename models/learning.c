/* Learning firms: they do not know the regime transition probabilities.
 * Each holds a Beta belief about the per-period hazard of an escalation
 * (a switch to a more restrictive regime) of every destination, updated
 * from the switches it observes with forgetting (and, optionally, from
 * peers entering and leaving), and acts on the dynamic policy solved for
 * its posterior mean (anticipated utility) on a grid of hazards: the
 * nearest grid point's, or continuation values interpolated between grid
 * points (docs/model.md section 7). Every firm sees the same regime
 * history, so a belief depends only on the sector (prior) and the firm's
 * birth period: beliefs are kept per (sector, birth cohort) here and the
 * engine keeps one birth period per firm. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/ckbuf.h"
#include "engine/process.h"
#include "models/bellman.h"
#include "models/model.h"

/* Belief classes are indices into a uint16_t table per birth cohort. */
#define LEARN_MAX_CLASSES 4096

typedef struct {
    const tm_params *p;
    tm_bellman *dp;
    int G, K;    /* grid points per destination, solved classes = G^n_learn */
    int n_learn; /* destinations with an escalation to learn about */
    int learn_dest[TM_MAX_DEST];
    double grid[64];              /* h_g = hazard_max g / (G - 1) */
    int first_birth, n_births;    /* cohorts born -burn_in .. periods - 1 */
    double *alpha, *beta;         /* [(s * n_births + cohort) * n_dest + d] */
    int *observed;                /* [s]: last period whose regimes were seen */
    int *last_regime, *last_held; /* [s * TM_MAX_DEST] */
    int *prior_class;             /* [s] */
    double *last_share;           /* [s * TM_MAX_DEST]: peers' share serving d when last observed (NaN: none) */
    /* Interpolated beliefs (belief_interpolation linear): the
     * engine's classes are slots, one per distinct belief in use; slot k of
     * sector s lies between grid points lo and lo + 1 of each learned
     * destination i with weight w on lo + 1. */
    int n_slots;       /* slots per sector: run.periods + 1 bounds the distinct beliefs */
    int *slot_lo;      /* [(s * n_slots + k) * n_learn + i] */
    double *slot_w;    /* same layout */
    int *slots_in_use; /* [s] */
} learn_state;

static int nearest_point(const learn_state *st, double mean)
{
    double x = mean / st->p->hazard_max * (double)(st->G - 1);
    long g = lround(x);
    return g < 0 ? 0 : g >= st->G ? st->G - 1 : (int)g;
}

/* The class of a belief: firms act on the hazard they perceive, their
 * posterior mean times the perceived scale k_d of the destination
 * (docs/model.md section 10; k_d = 1 leaves the mean as it is). */
static int class_of(const learn_state *st, const double *a, const double *b, const double *perceived_scale)
{
    int k = 0, scale = 1;
    for (int i = 0; i < st->n_learn; i++) {
        int d = st->learn_dest[i];
        k += nearest_point(st, a[d] / (a[d] + b[d]) * perceived_scale[d]) * scale;
        scale *= st->G;
    }
    return k;
}

/* Where a posterior mean lies on the grid: *lo and the weight on lo + 1
 * (docs/model.md eq. 13a); beliefs above the top use the top point. */
static void bracket(const learn_state *st, double mean, int *lo, double *w)
{
    int G = st->G;
    if (!(mean < st->grid[G - 1])) {
        *lo = G - 1;
        *w = 0.0;
        return;
    }
    int k = (int)floor(mean / st->p->hazard_max * (double)(G - 1));
    if (k < 0)
        k = 0;
    if (k > G - 2)
        k = G - 2;
    if (mean >= st->grid[k + 1]) /* the division rounded below a grid point */
        k++;
    double x = k == G - 1 ? 0.0 : (mean - st->grid[k]) / (st->grid[k + 1] - st->grid[k]);
    *lo = k;
    *w = x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
}

/* The transition matrices a firm with hazards h (one per destination)
 * believes: from each regime below the most restrictive, an escalation
 * with total probability h, split over the more restrictive regimes as in
 * the parameters' matrix (all to the next one if the matrix has none); moves
 * to less restrictive regimes as in the parameters; the diagonal takes up
 * the rest (docs/model.md eq. 13). */
static void believed_matrices(const tm_params *p, const double *h, double (*T)[TM_MAX_REGIMES][TM_MAX_REGIMES])
{
    memset(T, 0, sizeof(double) * TM_MAX_DEST * TM_MAX_REGIMES * TM_MAX_REGIMES);
    for (int d = 0; d < p->n_dest; d++)
        tm_process_hazard_matrix(p->dest[d].n_regimes, (const double(*)[TM_MAX_REGIMES])p->dest[d].transition, h[d],
                                 T[d]);
}

static void learning_free(void *state)
{
    learn_state *st = state;
    if (!st)
        return;
    tm_bellman_close(st->dp);
    free(st->alpha);
    free(st->beta);
    free(st->observed);
    free(st->last_regime);
    free(st->last_held);
    free(st->prior_class);
    free(st->last_share);
    free(st->slot_lo);
    free(st->slot_w);
    free(st->slots_in_use);
    free(st);
}

static int learning_init(const tm_params *p, const tm_model_env *env, void **state, tm_error *err)
{
    *state = NULL;
    learn_state *st = calloc(1, sizeof *st);
    tm_bellman_matrices *trans = NULL;
    if (!st)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    st->p = p;
    st->G = p->belief_points;
    for (int g = 0; g < st->G; g++)
        st->grid[g] = p->hazard_max * ((double)g / (double)(st->G - 1));
    st->K = 1;
    for (int d = 0; d < p->n_dest; d++)
        if (p->dest[d].n_regimes > 1) {
            st->learn_dest[st->n_learn++] = d;
            st->K *= st->G;
            if (st->K > LEARN_MAX_CLASSES) {
                int n_learn = st->n_learn;
                learning_free(st);
                return tm_error_set(err, TM_ERR_INPUT,
                                    "decision.belief_points: %d points for each of %d destinations make more than %d "
                                    "belief classes; expected fewer points",
                                    p->belief_points, n_learn, LEARN_MAX_CLASSES);
            }
        }
    st->first_birth = -p->burn_in;
    st->n_births = p->burn_in + p->periods;
    size_t S = (size_t)p->n_sectors, cells = S * (size_t)st->n_births * (size_t)p->n_dest;
    st->alpha = malloc(cells * sizeof(double));
    st->beta = malloc(cells * sizeof(double));
    st->observed = malloc(S * sizeof(int));
    st->last_regime = malloc(S * TM_MAX_DEST * sizeof(int));
    st->last_held = calloc(S * TM_MAX_DEST, sizeof(int));
    st->prior_class = malloc(S * sizeof(int));
    st->last_share = malloc(S * TM_MAX_DEST * sizeof(double));
    st->n_slots = p->belief_interpolation == TM_BELIEF_NEAREST ? 0 : p->periods + 1;
    size_t slot_cells = S * (size_t)(st->n_slots > 0 ? st->n_slots : 1) * (size_t)(st->n_learn > 0 ? st->n_learn : 1);
    st->slot_lo = malloc(slot_cells * sizeof(int));
    st->slot_w = malloc(slot_cells * sizeof(double));
    st->slots_in_use = calloc(S, sizeof(int));
    trans = malloc((size_t)st->K * sizeof *trans);
    if (!st->alpha || !st->beta || !st->observed || !st->last_regime || !st->last_held || !st->prior_class ||
        !st->last_share || !st->slot_lo || !st->slot_w || !st->slots_in_use || !trans) {
        free(trans);
        learning_free(st);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    double perceived[TM_MAX_DEST];
    for (int d = 0; d < p->n_dest; d++)
        perceived[d] = p->dest[d].perceived_escalation_scale;
    for (int s = 0; s < p->n_sectors; s++) {
        const tm_sector *ps = &p->sector[s];
        double a0 = ps->hazard_prior_mean * ps->hazard_prior_strength;
        double b0 = (1.0 - ps->hazard_prior_mean) * ps->hazard_prior_strength;
        for (size_t i = (size_t)s * (size_t)st->n_births * (size_t)p->n_dest;
             i < (size_t)(s + 1) * (size_t)st->n_births * (size_t)p->n_dest; i++) {
            st->alpha[i] = a0;
            st->beta[i] = b0;
        }
        st->prior_class[s] = class_of(st, st->alpha + (size_t)s * (size_t)st->n_births * (size_t)p->n_dest,
                                      st->beta + (size_t)s * (size_t)st->n_births * (size_t)p->n_dest, perceived);
        st->observed[s] = st->first_birth;
        for (int d = 0; d < p->n_dest; d++)
            st->last_regime[s * TM_MAX_DEST + d] = p->dest[d].initial_regime;
        for (int d = 0; d < TM_MAX_DEST; d++)
            st->last_share[s * TM_MAX_DEST + d] = NAN;
    }
    for (int k = 0; k < st->K; k++) {
        double h[TM_MAX_DEST];
        for (int d = 0; d < TM_MAX_DEST; d++)
            h[d] = NAN;
        for (int i = 0, rest = k; i < st->n_learn; i++, rest /= st->G)
            h[st->learn_dest[i]] = st->grid[rest % st->G];
        believed_matrices(p, h, trans[k]);
    }
    /* The programme's classes: every belief class for every demand type,
     * [class * n_types + type]. */
    tm_bellman_matrices *by_type = malloc((size_t)st->K * (size_t)p->n_types * sizeof *by_type);
    int rc = -1;
    if (!by_type) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    } else {
        for (int k = 0; k < st->K; k++)
            for (int t = 0; t < p->n_types; t++)
                memcpy(by_type[(size_t)k * (size_t)p->n_types + (size_t)t], trans[k], sizeof trans[k]);
        rc = tm_bellman_open(p, env, st->K * p->n_types, (const tm_bellman_matrices *)by_type, 0, &st->dp, err);
    }
    free(by_type);
    free(trans);
    if (rc) {
        learning_free(st);
        return -1;
    }
    *state = st;
    return 0;
}

/* Bring sector s's cohorts up to period t: from t > 0 (regimes are frozen
 * before), each destination not held last period and not already in its
 * most restrictive regime is one Bernoulli trial, success = it escalated.
 * Every cohort born before t sees it: a <- omega a + x, b <- omega b + 1 - x
 * (eq. 12). With a peer weight w_p, every learned destination then adds
 * the change in peers' participation since the last observation,
 * Delta = m_d(now) - m_d(before): a <- a + w_p max(0, -Delta),
 * b <- b + w_p max(0, Delta) (eq. 12b). */
static void observe(learn_state *st, const tm_choice_ctx *ctx)
{
    const tm_params *p = st->p;
    int s = ctx->sector, t = ctx->period;
    if (t <= st->observed[s])
        return;
    int *last = st->last_regime + s * TM_MAX_DEST, *held = st->last_held + s * TM_MAX_DEST;
    double *share_before = st->last_share + s * TM_MAX_DEST;
    if (t > 0) {
        double omega = p->forgetting;
        int born_before = t - st->first_birth;
        if (born_before > st->n_births)
            born_before = st->n_births;
        for (int i = 0; i < st->n_learn; i++) {
            int d = st->learn_dest[i];
            size_t base = (size_t)s * (size_t)st->n_births * (size_t)p->n_dest + (size_t)d;
            if (!held[d] && last[d] < p->dest[d].n_regimes - 1) {
                double x = ctx->regime[d] > last[d] ? 1.0 : 0.0;
                for (int c = 0; c < born_before; c++) {
                    size_t at = base + (size_t)c * (size_t)p->n_dest;
                    st->alpha[at] = omega * st->alpha[at] + x;
                    st->beta[at] = omega * st->beta[at] + (1.0 - x);
                }
            }
            if (p->peer_weight > 0.0 && ctx->share_serving && !isnan(share_before[d])) {
                double change = ctx->share_serving[d] - share_before[d];
                double leave = p->peer_weight * (change < 0.0 ? -change : 0.0);
                double join = p->peer_weight * (change > 0.0 ? change : 0.0);
                for (int c = 0; c < born_before; c++) {
                    size_t at = base + (size_t)c * (size_t)p->n_dest;
                    st->alpha[at] += leave;
                    st->beta[at] += join;
                }
            }
        }
    }
    for (int d = 0; d < p->n_dest; d++) {
        last[d] = ctx->regime[d];
        held[d] = ctx->process ? ctx->process->held[d] != 0 : 0;
        if (ctx->share_serving)
            share_before[d] = ctx->share_serving[d];
    }
    st->observed[s] = t;
}

/* Where the beliefs of sector s's firms born in period `birth` start in
 * alpha and beta (births outside the run: the nearest cohort). */
static size_t cohort_at(const learn_state *st, int s, int birth)
{
    int c = birth - st->first_birth;
    if (c < 0)
        c = 0;
    if (c >= st->n_births)
        c = st->n_births - 1;
    return ((size_t)s * (size_t)st->n_births + (size_t)c) * (size_t)st->p->n_dest;
}

/* Interpolated beliefs: one slot per run of consecutive cohorts with the
 * same grid brackets and weights (cohorts born up to period 0 share one;
 * each later cohort has seen one period less, so at most run.periods + 1
 * slots are ever in use). */
static int assign_slots(learn_state *st, const tm_choice_ctx *ctx, int first_birth, int n_births,
                        const double *perceived_scale, uint16_t *class_of_birth)
{
    int s = ctx->sector, n = st->n_learn, used = 0;
    int *lo_all = st->slot_lo + (size_t)s * (size_t)st->n_slots * (size_t)n;
    double *w_all = st->slot_w + (size_t)s * (size_t)st->n_slots * (size_t)n;
    for (int b = 0; b < n_births; b++) {
        size_t at = cohort_at(st, s, first_birth + b);
        int lo[TM_MAX_DEST];
        double w[TM_MAX_DEST];
        for (int i = 0; i < n; i++) {
            int d = st->learn_dest[i];
            bracket(st,
                    st->alpha[at + (size_t)d] / (st->alpha[at + (size_t)d] + st->beta[at + (size_t)d]) *
                        perceived_scale[d],
                    &lo[i], &w[i]);
        }
        int same = used > 0;
        for (int i = 0; same && i < n; i++)
            same = lo[i] == lo_all[(size_t)(used - 1) * (size_t)n + (size_t)i] &&
                   w[i] == w_all[(size_t)(used - 1) * (size_t)n + (size_t)i];
        /* used < n_slots always holds (see above); the test keeps the
         * tables in bounds whatever happens. */
        if (!same && used < st->n_slots) {
            for (int i = 0; i < n; i++) {
                lo_all[(size_t)used * (size_t)n + (size_t)i] = lo[i];
                w_all[(size_t)used * (size_t)n + (size_t)i] = w[i];
            }
            used++;
        }
        class_of_birth[b] = (uint16_t)(used - 1);
    }
    st->slots_in_use[s] = used;
    return used;
}

static int learning_classes(void *state, const tm_choice_ctx *ctx, int first_birth, int n_births,
                            uint16_t *class_of_birth)
{
    learn_state *st = state;
    if (!class_of_birth)
        return st->n_slots ? st->n_slots : st->K;
    observe(st, ctx);
    const tm_params *p = st->p;
    double perceived[TM_MAX_DEST];
    for (int d = 0; d < p->n_dest; d++)
        perceived[d] = ctx->process ? ctx->process->perceived_scale[d] : p->dest[d].perceived_escalation_scale;
    if (st->n_slots)
        return assign_slots(st, ctx, first_birth, n_births, perceived, class_of_birth);
    for (int i = 0; i < n_births; i++) {
        size_t at = cohort_at(st, ctx->sector, first_birth + i);
        class_of_birth[i] = (uint16_t)class_of(st, st->alpha + at, st->beta + at, perceived);
    }
    return st->K;
}

static int learning_values(void *state, const tm_choice_ctx *ctx, double *value, tm_error *err)
{
    learn_state *st = state;
    const tm_params *p = st->p;
    if (!st->n_slots)
        return tm_bellman_values(st->dp, ctx->belief_class * p->n_types + ctx->type, ctx, value, err);
    int s = ctx->sector, n = st->n_learn, k = ctx->belief_class;
    if (s < 0 || s >= p->n_sectors || k < 0 || k >= st->slots_in_use[s])
        return tm_error_set(err, TM_ERR_RUNTIME, "learning model: belief slot %d of sector %d is not in use", k, s);
    const int *lo = st->slot_lo + ((size_t)s * (size_t)st->n_slots + (size_t)k) * (size_t)n;
    const double *w = st->slot_w + ((size_t)s * (size_t)st->n_slots + (size_t)k) * (size_t)n;
    /* The corners of the slot's box of grid points, multilinear weights;
     * corners of weight 0 are left out, so a belief on a grid point gives
     * that class's values exactly. */
    int corner_class[TM_BELLMAN_MAX_MIX], n_corners = 0;
    double corner_w[TM_BELLMAN_MAX_MIX];
    for (int mask = 0; mask < 1 << n; mask++) {
        double weight = 1.0;
        int cls = 0, scale = 1;
        for (int i = 0; i < n; i++) {
            int up = (mask >> i) & 1;
            weight *= up ? w[i] : 1.0 - w[i];
            cls += (lo[i] + up) * scale;
            scale *= st->G;
        }
        if (weight == 0.0)
            continue;
        corner_class[n_corners] = cls * p->n_types + ctx->type;
        corner_w[n_corners++] = weight;
    }
    return tm_bellman_values_mix(st->dp, n_corners, corner_class, corner_w, ctx, value, err);
}

static int learning_summary(const void *state, int sector, tm_policy_summary *out)
{
    const learn_state *st = state;
    tm_bellman_summary(st->dp, sector, st->prior_class[sector] * st->p->n_types + tm_bellman_median_type(st->p), out);
    return 0;
}

double tm_learning_hazard_mean(const void *state, int sector, int birth, int d)
{
    const learn_state *st = state;
    int c = birth - st->first_birth;
    if (c < 0 || c >= st->n_births || d < 0 || d >= st->p->n_dest)
        return NAN;
    size_t at = ((size_t)sector * (size_t)st->n_births + (size_t)c) * (size_t)st->p->n_dest + (size_t)d;
    return st->alpha[at] / (st->alpha[at] + st->beta[at]);
}

/* Checkpoints: the beliefs and what the model last observed, in a fixed
 * layout (host byte order, docs/reliability.md section 3):
 *   tag[8] "learnst1", i32 n_sectors, i32 n_births, i32 n_dest,
 *   i32 n_learn, i32 belief_points,
 *   f64 alpha[n_sectors * n_births * n_dest], f64 beta[same],
 *   then per sector: i32 observed, i32 last_regime[n_dest],
 *   i32 last_held[n_dest]; with decision.peer_weight > 0 then
 *   f64 last_share[n_sectors * n_dest] (NaN: not yet seen).
 * The solved programmes are not saved: init() solves them from the
 * parameters, and a class's programme is solved again whenever the process
 * in force differs from the one it was solved for, with the same result. */
static const char learn_tag[8] = {'l', 'e', 'a', 'r', 'n', 's', 't', '1'};

static int learning_save(const void *state, tm_ckbuf *b, tm_error *err)
{
    const learn_state *st = state;
    const tm_params *p = st->p;
    (void)err;
    size_t cells = (size_t)p->n_sectors * (size_t)st->n_births * (size_t)p->n_dest;
    int32_t dims[5] = {p->n_sectors, st->n_births, p->n_dest, st->n_learn, st->G};
    tm_ckbuf_put(b, learn_tag, sizeof learn_tag);
    tm_ckbuf_put(b, dims, sizeof dims);
    tm_ckbuf_put(b, st->alpha, cells * sizeof *st->alpha);
    tm_ckbuf_put(b, st->beta, cells * sizeof *st->beta);
    for (int s = 0; s < p->n_sectors; s++) {
        int32_t observed = st->observed[s], regime[TM_MAX_DEST], held[TM_MAX_DEST];
        for (int d = 0; d < p->n_dest; d++) {
            regime[d] = st->last_regime[s * TM_MAX_DEST + d];
            held[d] = st->last_held[s * TM_MAX_DEST + d];
        }
        tm_ckbuf_put(b, &observed, sizeof observed);
        tm_ckbuf_put(b, regime, (size_t)p->n_dest * sizeof *regime);
        tm_ckbuf_put(b, held, (size_t)p->n_dest * sizeof *held);
    }
    if (p->peer_weight > 0.0)
        for (int s = 0; s < p->n_sectors; s++)
            tm_ckbuf_put(b, st->last_share + s * TM_MAX_DEST, (size_t)p->n_dest * sizeof(double));
    return 0;
}

/* Reads into a state fresh from init() with the same parameters; every
 * value is checked before the state is changed. */
static int learning_restore(void *state, tm_ckbuf *b, tm_error *err)
{
    learn_state *st = state;
    const tm_params *p = st->p;
    size_t cells = (size_t)p->n_sectors * (size_t)st->n_births * (size_t)p->n_dest;
    size_t per_sector = (size_t)(1 + 2 * p->n_dest);
    char tag[8];
    int32_t dims[5];
    size_t n_share = p->peer_weight > 0.0 ? (size_t)p->n_sectors * (size_t)p->n_dest : 0;
    double *alpha = NULL, *beta = NULL, *share = NULL;
    int32_t *rest = NULL;
    if (tm_ckbuf_get(b, tag, sizeof tag) || memcmp(tag, learn_tag, sizeof tag) != 0 ||
        tm_ckbuf_get(b, dims, sizeof dims) || dims[0] != p->n_sectors || dims[1] != st->n_births ||
        dims[2] != p->n_dest || dims[3] != st->n_learn || dims[4] != st->G)
        goto bad;
    alpha = malloc(cells * sizeof *alpha);
    beta = malloc(cells * sizeof *beta);
    rest = malloc((size_t)p->n_sectors * per_sector * sizeof *rest);
    share = malloc((n_share ? n_share : 1) * sizeof *share);
    if (!alpha || !beta || !rest || !share) {
        free(alpha);
        free(beta);
        free(rest);
        free(share);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory restoring the learning model's beliefs");
    }
    if (tm_ckbuf_get(b, alpha, cells * sizeof *alpha) || tm_ckbuf_get(b, beta, cells * sizeof *beta) ||
        tm_ckbuf_get(b, rest, (size_t)p->n_sectors * per_sector * sizeof *rest) ||
        (n_share && tm_ckbuf_get(b, share, n_share * sizeof *share)))
        goto bad;
    for (size_t i = 0; i < n_share; i++)
        if (!isnan(share[i]) && !(share[i] >= 0.0 && share[i] <= 1.0))
            goto bad;
    for (size_t i = 0; i < cells; i++)
        if (!isfinite(alpha[i]) || !isfinite(beta[i]) || alpha[i] < 0.0 || beta[i] < 0.0 || !(alpha[i] + beta[i] > 0.0))
            goto bad;
    for (int s = 0; s < p->n_sectors; s++) {
        const int32_t *r = rest + (size_t)s * per_sector;
        if (r[0] < st->first_birth || r[0] >= p->periods)
            goto bad;
        for (int d = 0; d < p->n_dest; d++) {
            int32_t regime = r[1 + d], held = r[1 + p->n_dest + d];
            if (regime < 0 || regime >= p->dest[d].n_regimes || (held != 0 && held != 1))
                goto bad;
        }
    }
    memcpy(st->alpha, alpha, cells * sizeof *alpha);
    memcpy(st->beta, beta, cells * sizeof *beta);
    for (int s = 0; s < p->n_sectors; s++) {
        const int32_t *r = rest + (size_t)s * per_sector;
        st->observed[s] = r[0];
        for (int d = 0; d < p->n_dest; d++) {
            st->last_regime[s * TM_MAX_DEST + d] = r[1 + d];
            st->last_held[s * TM_MAX_DEST + d] = r[1 + p->n_dest + d];
            if (n_share)
                st->last_share[s * TM_MAX_DEST + d] = share[(size_t)s * (size_t)p->n_dest + (size_t)d];
        }
    }
    free(alpha);
    free(beta);
    free(rest);
    free(share);
    return 0;
bad:
    free(alpha);
    free(beta);
    free(rest);
    free(share);
    return tm_error_set(err, TM_ERR_INPUT, "the checkpoint's learning beliefs do not match its parameters (corrupt?)");
}

const tm_model_ops tm_model_learning = {"learning",       learning_init,    learning_values, learning_free,
                                        learning_summary, learning_classes, learning_save,   learning_restore};
