/* rng: PCG32 (XSH-RR 64/32) generators, stream derivation and sampling.
 * Owns every source of randomness in tradeabm: firm slots, the environment
 * and sweep replicates each get a stream derived from a seed by tm_rng_mix. */
#ifndef TM_RNG_H
#define TM_RNG_H

#include <stdint.h>

/* One generator: 64-bit state and an odd stream increment (O'Neill 2014). */
typedef struct {
    uint64_t state;
    uint64_t inc;
} tm_pcg32;

#define TM_PCG32_MULT 6364136223846793005ULL

/* Advance a bare state with a given (odd) increment and return 32 output bits.
 * Firms keep only their 64-bit state; the increment is re-derived from the
 * slot, which keeps firm state at 8 bytes. */
static inline uint32_t tm_pcg32_step(uint64_t *state, uint64_t inc)
{
    uint64_t old = *state;
    *state = old * TM_PCG32_MULT + inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

static inline uint32_t tm_pcg32_next(tm_pcg32 *rng)
{
    return tm_pcg32_step(&rng->state, rng->inc);
}

/* Seeding exactly as the reference pcg32_srandom_r(initstate, initseq). */
void tm_pcg32_seed(tm_pcg32 *rng, uint64_t initstate, uint64_t initseq);

/* A strong 64-bit mixing function (SplitMix64 finaliser of a + golden * b),
 * used to derive independent seeds and stream ids from structured keys. */
uint64_t tm_rng_mix(uint64_t a, uint64_t b);

/* Stream of firm slot `slot` of sector `sector` under run seed `seed`:
 * fills the generator (state and increment) deterministically. */
void tm_rng_firm_stream(tm_pcg32 *rng, uint64_t seed, uint32_t sector, uint64_t slot);

/* The environment's stream (regime switches) for a run seed. */
void tm_rng_env_stream(tm_pcg32 *rng, uint64_t seed);

/* Uniform double in [0, 1) with 53 random bits (two draws). */
double tm_rng_uniform(tm_pcg32 *rng);

/* Standard normal (polar Box-Muller without caching: two or more draws). */
double tm_rng_normal(tm_pcg32 *rng);

/* Convert probability p in [0, 1] to a 32-bit threshold: a draw r satisfies
 * r < threshold with probability p (to within 2^-32). */
uint32_t tm_rng_threshold(double p);

/* Walker/Vose alias table over n outcomes, sampled with ONE 32-bit draw:
 * the high part of r*n picks the column, the low 32 bits are compared with
 * that column's threshold. */
typedef struct {
    uint32_t n;
    uint32_t *threshold; /* keep the column if low bits < threshold */
    uint32_t *alias;     /* otherwise take this outcome */
} tm_alias;

/* Build from non-negative weights (not necessarily normalised; at least one
 * positive). Returns 0 on success, -1 on bad weights or allocation failure. */
int tm_alias_init(tm_alias *table, const double *weights, uint32_t n);
void tm_alias_free(tm_alias *table);

static inline uint32_t tm_alias_draw(const tm_alias *table, uint32_t r)
{
    uint64_t scaled = (uint64_t)r * table->n;
    uint32_t column = (uint32_t)(scaled >> 32);
    uint32_t low = (uint32_t)scaled;
    return low < table->threshold[column] ? column : table->alias[column];
}

#endif
