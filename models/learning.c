/* Learning firms: they do not know the regime transition probabilities.
 * Each holds a Beta belief about the per-period hazard of an escalation
 * (a switch to a more restrictive regime) of every destination, updated
 * from the switches it observes with forgetting, and acts on the dynamic
 * policy solved for its posterior mean (anticipated utility) on a grid of
 * hazards (docs/model.md section 7). Every firm sees the same regime
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
    int G, K;    /* grid points per destination, classes = G^n_learn */
    int n_learn; /* destinations with an escalation to learn about */
    int learn_dest[TM_MAX_DEST];
    double grid[64];              /* h_g = hazard_max g / (G - 1) */
    int first_birth, n_births;    /* cohorts born -burn_in .. periods - 1 */
    double *alpha, *beta;         /* [(s * n_births + cohort) * n_dest + d] */
    int *observed;                /* [s]: last period whose regimes were seen */
    int *last_regime, *last_held; /* [s * TM_MAX_DEST] */
    int *prior_class;             /* [s] */
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

/* The transition matrices a firm with hazards h (one per destination)
 * believes: from each regime below the most restrictive, an escalation
 * with total probability h, split over the more restrictive regimes as in
 * the parameters' matrix (all to the next one if the matrix has none); moves
 * to less restrictive regimes as in the parameters; the diagonal takes up
 * the rest (docs/model.md eq. 13). */
static void believed_matrices(const tm_params *p, const double *h, double (*T)[TM_MAX_REGIMES][TM_MAX_REGIMES])
{
    memset(T, 0, sizeof(double) * TM_MAX_DEST * TM_MAX_REGIMES * TM_MAX_REGIMES);
    for (int d = 0; d < p->n_dest; d++) {
        const tm_destination *dest = &p->dest[d];
        int n = dest->n_regimes;
        for (int i = 0; i < n; i++) {
            double up = 0.0;
            for (int j = i + 1; j < n; j++)
                up += dest->transition[i][j];
            double stay = 1.0;
            for (int j = 0; j < n; j++) {
                if (j == i)
                    continue;
                double q;
                if (j < i || isnan(h[d]))
                    q = dest->transition[i][j];
                else if (up > 0.0)
                    q = h[d] * (dest->transition[i][j] / up);
                else
                    q = j == i + 1 ? h[d] : 0.0;
                T[d][i][j] = q;
                stay -= q;
            }
            T[d][i][i] = stay > 0.0 ? stay : 0.0;
        }
    }
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
    trans = malloc((size_t)st->K * sizeof *trans);
    if (!st->alpha || !st->beta || !st->observed || !st->last_regime || !st->last_held || !st->prior_class || !trans) {
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
 * Every cohort born before t sees it: a <- omega a + x, b <- omega b + 1 - x. */
static void observe(learn_state *st, const tm_choice_ctx *ctx)
{
    const tm_params *p = st->p;
    int s = ctx->sector, t = ctx->period;
    if (t <= st->observed[s])
        return;
    int *last = st->last_regime + s * TM_MAX_DEST, *held = st->last_held + s * TM_MAX_DEST;
    if (t > 0) {
        double omega = p->forgetting;
        int born_before = t - st->first_birth;
        if (born_before > st->n_births)
            born_before = st->n_births;
        for (int i = 0; i < st->n_learn; i++) {
            int d = st->learn_dest[i];
            if (held[d] || last[d] >= p->dest[d].n_regimes - 1)
                continue;
            double x = ctx->regime[d] > last[d] ? 1.0 : 0.0;
            size_t base = (size_t)s * (size_t)st->n_births * (size_t)p->n_dest + (size_t)d;
            for (int c = 0; c < born_before; c++) {
                size_t at = base + (size_t)c * (size_t)p->n_dest;
                st->alpha[at] = omega * st->alpha[at] + x;
                st->beta[at] = omega * st->beta[at] + (1.0 - x);
            }
        }
    }
    for (int d = 0; d < p->n_dest; d++) {
        last[d] = ctx->regime[d];
        held[d] = ctx->process ? ctx->process->held[d] != 0 : 0;
    }
    st->observed[s] = t;
}

static int learning_classes(void *state, const tm_choice_ctx *ctx, int first_birth, int n_births,
                            uint16_t *class_of_birth)
{
    learn_state *st = state;
    if (!class_of_birth)
        return st->K;
    observe(st, ctx);
    const tm_params *p = st->p;
    double perceived[TM_MAX_DEST];
    for (int d = 0; d < p->n_dest; d++)
        perceived[d] = ctx->process ? ctx->process->perceived_scale[d] : p->dest[d].perceived_escalation_scale;
    for (int i = 0; i < n_births; i++) {
        int c = first_birth + i - st->first_birth;
        if (c < 0)
            c = 0;
        if (c >= st->n_births)
            c = st->n_births - 1;
        size_t at = ((size_t)ctx->sector * (size_t)st->n_births + (size_t)c) * (size_t)p->n_dest;
        class_of_birth[i] = (uint16_t)class_of(st, st->alpha + at, st->beta + at, perceived);
    }
    return st->K;
}

static int learning_values(void *state, const tm_choice_ctx *ctx, double *value, tm_error *err)
{
    learn_state *st = state;
    return tm_bellman_values(st->dp, ctx->belief_class * st->p->n_types + ctx->type, ctx, value, err);
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
 *   i32 last_held[n_dest].
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
    double *alpha = NULL, *beta = NULL;
    int32_t *rest = NULL;
    if (tm_ckbuf_get(b, tag, sizeof tag) || memcmp(tag, learn_tag, sizeof tag) != 0 ||
        tm_ckbuf_get(b, dims, sizeof dims) || dims[0] != p->n_sectors || dims[1] != st->n_births ||
        dims[2] != p->n_dest || dims[3] != st->n_learn || dims[4] != st->G)
        goto bad;
    alpha = malloc(cells * sizeof *alpha);
    beta = malloc(cells * sizeof *beta);
    rest = malloc((size_t)p->n_sectors * per_sector * sizeof *rest);
    if (!alpha || !beta || !rest) {
        free(alpha);
        free(beta);
        free(rest);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory restoring the learning model's beliefs");
    }
    if (tm_ckbuf_get(b, alpha, cells * sizeof *alpha) || tm_ckbuf_get(b, beta, cells * sizeof *beta) ||
        tm_ckbuf_get(b, rest, (size_t)p->n_sectors * per_sector * sizeof *rest))
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
        }
    }
    free(alpha);
    free(beta);
    free(rest);
    return 0;
bad:
    free(alpha);
    free(beta);
    free(rest);
    return tm_error_set(err, TM_ERR_INPUT, "the checkpoint's learning beliefs do not match its parameters (corrupt?)");
}

const tm_model_ops tm_model_learning = {"learning",       learning_init,    learning_values, learning_free,
                                        learning_summary, learning_classes, learning_save,   learning_restore};
