/* mstate: a firm's market state and how it moves. Without experience
 * states the state is the market set (bit d: serves d). With K experience
 * levels it holds a level 0..K per destination (0: not serving), packed as
 * m = sum_d level_d (K + 1)^d, so K = 1 gives back the bit mask. Choices
 * are always market sets S. See docs/model.md, "Exporter dynamics".
 *
 * Timing `current`: the state a firm carries into a period is the level
 * vector it will serve at if it continues; choosing S it serves
 * served(m, S) (entrants at level 1) and its next state is drawn from
 * the experience transition of each level served.
 * Timing `next`: the state is what the firm serves this period; choosing S
 * now fixes next period's state: 0 outside S, level 1 for entrants, a draw
 * from the experience transition for continuing markets. */
#ifndef TM_MSTATE_H
#define TM_MSTATE_H

#include <stdint.h>

#include "params/params.h"

typedef struct tm_mstate {
    int n_dest, levels, timing;
    int n_sets, n_states;
    int radix;                                     /* levels + 1 */
    uint8_t set_of[TM_MAX_STATES];                 /* destinations served in state m */
    uint8_t level[TM_MAX_STATES][TM_MAX_DEST];     /* level of each destination */
    uint8_t served[TM_MAX_STATES * TM_MAX_STATES]; /* [m * n_sets + S]: state served (timing current) */
    /* The law of next period's state given (m, S) (docs/model.md): sparse
     * rows [m * n_sets + S] -> (state, probability). */
    int *law_start; /* [n_states * n_sets + 1] */
    uint8_t *law_state;
    double *law_prob;
    /* Sampling the experience transition: cumulative thresholds x 2^32 of
     * row k (level k + 1), uint64 so that probability 1 is exact. */
    uint64_t cum[TM_MAX_LEVELS][TM_MAX_LEVELS];
    int identity; /* no experience draws needed (K = 1, or Q = I) */
    double demand[TM_MAX_LEVELS], iceberg[TM_MAX_LEVELS], fixed_cost[TM_MAX_LEVELS];
} tm_mstate;

/* Build the tables for the parameters' destinations, experience and timing. */
int tm_mstate_init(tm_mstate *ms, const tm_params *p);
/* The same for n_dest destinations with the given experience and timing. */
int tm_mstate_init_dest(tm_mstate *ms, int n_dest, const tm_experience *x, int timing);
/* The tables of plain market sets over n_dest destinations (K = 1, timing current). */
int tm_mstate_init_sets(tm_mstate *ms, int n_dest);
void tm_mstate_free(tm_mstate *ms);

/* Costs of choosing S from state m (cost[m * n_sets + S]), given each
 * destination's sunk cost F, fixed cost f and whether it is closed:
 * timing current: sum over entered d of F_d (fixed costs are in the flow;
 * closed markets make the flow -inf);
 * timing next: sum over d in S of F_d (if entering) + f_d times the
 * fixed-cost multiplier of the level paid for (1 for entrants), +inf if d is
 * closed. */
void tm_mstate_costs(const tm_mstate *ms, const double *sunk, const double *fixed, const int *closed, double *cost);

/* Next level of a firm serving at level k (1..K), from a 32-bit draw. */
static inline int tm_mstate_next_level(const tm_mstate *ms, int k, uint32_t r)
{
    const uint64_t *c = ms->cum[k - 1];
    int j = 0;
    while ((uint64_t)r >= c[j])
        j++;
    return j + 1;
}

#endif
