/* exact: run.aggregation: exact. One period of the distribution of a
 * sector's firms, in the order the simulation moves a firm: death (at last
 * period's productivity) and replacement by an entrant serving nothing,
 * the productivity move, the experience step of the markets kept (timing
 * current), the choice (its probabilities from this period's values), and
 * the state carried into next period. Writes the period's masses into the
 * same tables the firm simulation counts into (src/engine/aggregate.c). */
#include <string.h>

#include "engine/run_state.h"

/* Exact aggregation: mass w of row tz (type, z) serves state `served` this
 * period after serving the markets prev_set last period; counted as the
 * firm loop counts a firm. */
static inline void exact_record(const tm_run *run, double *hist, double *trans, double *enter, int tz, int prev_set,
                                int served, double w)
{
    const int set = run->ms.set_of[served];
    const size_t at = (size_t)tz * (size_t)run->n_states + (size_t)served;
    hist[at] += w;
    trans[prev_set * run->n_sets + set] += w;
    unsigned entered = (unsigned)(set & ~prev_set);
    for (int d = 0; entered; d++, entered >>= 1)
        if (entered & 1u)
            enter[(size_t)d * run->hist_cells + at] += w;
}

void tm_run_exact_step(tm_run *run, int s, double *hist, double *trans, double *died, double *enter)
{
    sector_state *sec = &run->sec[s];
    const tm_mstate *ms = &run->ms;
    const int n_z = run->n_z, N = run->n_states, M = run->n_sets;
    const int next = ms->timing == TM_TIMING_NEXT;
    const size_t per_z = sec->mass_per_z;               /* N, or N * N with timing next */
    memset(hist, 0, run->table_cells * sizeof(double)); /* the sector's tables, hist first */
    const int n_types = run->n_types;
    /* Deaths, then survivors move; mass_next holds the moved survivors.
     * Rows are (type, z): a firm keeps its type until it dies. */
    double born = 0.0;
    memset(sec->mass_next, 0, sec->mass_cells * sizeof(double));
    for (int tz = 0; tz < n_types * n_z; tz++) {
        const int iz = tz % n_z;
        const size_t base = (size_t)(tz - iz) * per_z; /* first row of this type */
        double *row = sec->mass + (size_t)tz * per_z;
        const double *P = sec->P + (size_t)iz * (size_t)n_z;
        /* The row's nonzero band: a productivity row is unimodal, its
         * tails underflow to exact zeros. Inside the band a zero entry
         * adds w * 0 = +0 to a nonnegative mass, which changes no bit, so
         * the loop below needs no test. */
        int lo = 0, hi = n_z;
        while (lo < hi && P[lo] == 0.0)
            lo++;
        while (hi > lo && P[hi - 1] == 0.0)
            hi--;
        for (size_t c = 0; c < per_z; c++) {
            double w = row[c];
            if (w == 0.0)
                continue;
            double dead = w * sec->death[iz];
            died[ms->set_of[c / (next ? (size_t)N : 1)]] += dead;
            born += dead;
            w -= dead;
            double *to = sec->mass_next + base + c;
            for (int jz = lo; jz < hi; jz++)
                to[(size_t)jz * per_z] += w * P[jz];
        }
    }
    /* Entrants serve nothing; their types are equally likely. */
    for (int t = 0; t < n_types; t++)
        for (int jz = 0; jz < n_z; jz++)
            sec->mass_next[((size_t)t * (size_t)n_z + (size_t)jz) * per_z] += born * sec->entry_law[jz] / n_types;
    /* Choices. */
    memset(sec->mass, 0, sec->mass_cells * sizeof(double));
    for (int tz = 0; tz < n_types * n_z; tz++) {
        const double *row = sec->mass_next + (size_t)tz * per_z;
        double *out = sec->mass + (size_t)tz * per_z;
        for (size_t c = 0; c < per_z; c++) {
            double w = row[c];
            if (w == 0.0)
                continue;
            int prev = next ? (int)(c / (size_t)N) : (int)c;
            int prev_set = ms->set_of[prev];
            /* The state the firm decides in, with its probability. */
            int cur_first, cur_last;
            const int *law_start = NULL;
            if (next) {
                cur_first = cur_last = (int)(c % (size_t)N);
            } else {
                /* Experience step of the markets served last period: the
                 * law of served(prev, set(prev)) = prev. */
                law_start = ms->law_start + prev * M + prev_set;
                cur_first = law_start[0];
                cur_last = law_start[1] - 1;
            }
            for (int k = cur_first; k <= cur_last; k++) {
                int cur = next ? k : ms->law_state[k];
                double wc = next ? w : w * ms->law_prob[k];
                if (next) /* served this period: chosen last period */
                    exact_record(run, hist, trans, enter, tz, prev_set, cur, wc);
                const double *pr = sec->prob + ((size_t)tz * (size_t)N + (size_t)cur) * (size_t)M;
                for (int S = 0; S < M; S++) {
                    if (pr[S] == 0.0)
                        continue;
                    double ws = wc * pr[S];
                    if (!next) {
                        int l = ms->served[cur * M + S];
                        exact_record(run, hist, trans, enter, tz, prev_set, l, ws);
                        out[l] += ws;
                        continue;
                    }
                    /* Timing next: the state chosen for next period. */
                    const int *ls = ms->law_start + cur * M + S;
                    for (int q = ls[0]; q < ls[1]; q++)
                        out[(size_t)cur * (size_t)N + ms->law_state[q]] += ws * ms->law_prob[q];
                }
            }
        }
    }
}
