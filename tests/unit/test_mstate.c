/* test_mstate: the market-state tables of src/engine/mstate.c against their
 * definitions (src/engine/mstate.h, docs/model.md "Exporter dynamics"): the
 * packing m = sum_d level_d (K+1)^d, the market set of a state, the state
 * served when choosing S (timing current), the law of next period's state
 * for both timings (recomputed here destination by destination), that one
 * level (K = 1) gives back the bit-mask model, the costs of each choice,
 * and the sampling of the experience transition. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "engine/mstate.h"
#include "fixtures.h"
#include "params/params.h"

/* Two destinations, two experience levels; tests replace keys with --set
 * style overrides. */
static const char *const two_levels =
    "run: {periods: 4, burn_in: 0}\n"
    "experience:\n"
    "  levels: 2\n"
    "  demand: [0.5, 1.5]\n"
    "  iceberg: [1.2, 1.0]\n"
    "  fixed_cost: [1.0, 0.6]\n"
    "  transition: [[0.7, 0.3], [0.1, 0.9]]\n"
    "sectors:\n"
    "  a: {firms: 100}\n"
    "destinations:\n"
    "  US:\n"
    "    regimes: {open: {tariff: 0}}\n"
    "  CN:\n"
    "    regimes: {open: {tariff: 0}}\n";

/* Three levels and a row with a zero at the end, one destination. */
static const char *const three_levels =
    "run: {periods: 4, burn_in: 0}\n"
    "experience:\n"
    "  levels: 3\n"
    "  demand: [0.5, 1, 2]\n"
    "  fixed_cost: [1, 0.8, 0.5]\n"
    "  transition: [[0.5, 0.5, 0], [0, 0.25, 0.75], [0.2, 0, 0.8]]\n"
    "sectors:\n"
    "  a: {firms: 100}\n"
    "destinations:\n"
    "  US:\n"
    "    regimes: {open: {tariff: 0}}\n";

/* Parameters and their market-state table. */
typedef struct {
    tm_params *p;
    tm_mstate ms;
} mcase;

/* `text` with at most one override (NULL: none). */
static void open_case(mcase *c, const char *text, const char *set)
{
    c->p = fixture_params_set("mstate-test", text, set);
    cr_assert_eq(tm_mstate_init(&c->ms, c->p), 0);
}

static void close_case(mcase *c)
{
    tm_mstate_free(&c->ms);
    tm_params_free(c->p);
}

/* The law of the next state of row (m, S): got[state] = probability. */
static void law_row(const tm_mstate *ms, int m, int S, double got[TM_MAX_STATES])
{
    int row = m * ms->n_sets + S;
    memset(got, 0, TM_MAX_STATES * sizeof got[0]);
    for (int k = ms->law_start[row]; k < ms->law_start[row + 1]; k++)
        got[ms->law_state[k]] = ms->law_prob[k];
}

static int ipow(int b, int e)
{
    int r = 1;
    while (e-- > 0)
        r *= b;
    return r;
}

/* The probability that a destination at level `from` (0: not served)
 * moves to level `to` when the firm chooses `in` (1: d in S), straight
 * from the definitions in src/engine/mstate.h. */
static double dest_law(const tm_params *p, int timing, int from, int in, int to)
{
    if (!in)
        return to == 0 ? 1.0 : 0.0;
    if (to == 0)
        return 0.0;
    if (timing == TM_TIMING_NEXT) {
        if (from == 0)
            return to == 1 ? 1.0 : 0.0; /* entry lands in level 1 */
        return p->experience.transition[from - 1][to - 1];
    }
    /* Current: the level served is from (or 1 on entry); then one step. */
    int served = from ? from : 1;
    return p->experience.transition[served - 1][to - 1];
}

/* ------------------------------------------------------------------------
 * Encoding
 * ---------------------------------------------------------------------- */

Test(mstate, states_pack_one_level_per_destination_in_base_k_plus_1)
{
    mcase c;
    open_case(&c, two_levels, NULL);
    cr_expect_eq(c.ms.n_dest, 2);
    cr_expect_eq(c.ms.levels, 2);
    cr_expect_eq(c.ms.radix, 3);
    cr_expect_eq(c.ms.n_sets, 4);
    cr_expect_eq(c.ms.n_states, 9);
    cr_expect_eq(tm_params_n_states(c.p), 9);
    int seen[TM_MAX_STATES] = {0};
    for (int a = 0; a <= 2; a++)
        for (int b = 0; b <= 2; b++) {
            int m = a + 3 * b; /* US fastest */
            cr_assert_lt(m, c.ms.n_states);
            seen[m]++;
            cr_expect_eq(c.ms.level[m][0], a, "state %d: US level %d, want %d", m, c.ms.level[m][0], a);
            cr_expect_eq(c.ms.level[m][1], b, "state %d: CN level %d, want %d", m, c.ms.level[m][1], b);
            int set = (a ? 1 : 0) | (b ? 2 : 0);
            cr_expect_eq(c.ms.set_of[m], set, "state %d: set %d, want %d", m, c.ms.set_of[m], set);
        }
    for (int m = 0; m < c.ms.n_states; m++)
        cr_expect_eq(seen[m], 1, "state %d decoded %d times", m, seen[m]);
    close_case(&c);
}

Test(mstate, decoding_inverts_encoding_for_every_state)
{
    mcase c;
    open_case(&c, three_levels, NULL);
    cr_expect_eq(c.ms.n_states, 4);
    for (int m = 0; m < c.ms.n_states; m++) {
        int back = 0;
        for (int d = 0; d < c.ms.n_dest; d++) {
            cr_expect_leq(c.ms.level[m][d], c.ms.levels);
            back += c.ms.level[m][d] * ipow(c.ms.radix, d);
        }
        cr_expect_eq(back, m);
    }
    close_case(&c);
}

Test(mstate, multipliers_are_copied_from_the_parameters)
{
    mcase c;
    open_case(&c, two_levels, NULL);
    cr_expect_eq(c.ms.demand[0], 0.5);
    cr_expect_eq(c.ms.demand[1], 1.5);
    cr_expect_eq(c.ms.iceberg[0], 1.2);
    cr_expect_eq(c.ms.iceberg[1], 1.0);
    cr_expect_eq(c.ms.fixed_cost[0], 1.0);
    cr_expect_eq(c.ms.fixed_cost[1], 0.6);
    cr_expect_eq(c.ms.timing, TM_TIMING_CURRENT);
    cr_expect_eq(c.ms.identity, 0);
    close_case(&c);
}

/* ------------------------------------------------------------------------
 * Served states and laws
 * ---------------------------------------------------------------------- */

Test(mstate, served_state_keeps_levels_of_continued_markets_and_enters_at_level_1)
{
    mcase c;
    open_case(&c, two_levels, NULL);
    const int M = c.ms.n_sets;
    for (int m = 0; m < c.ms.n_states; m++)
        for (int S = 0; S < M; S++) {
            int want = 0;
            for (int d = 0; d < c.ms.n_dest; d++)
                if (S >> d & 1)
                    want += (c.ms.level[m][d] ? c.ms.level[m][d] : 1) * ipow(c.ms.radix, d);
            int got = c.ms.served[m * M + S];
            cr_expect_eq(got, want, "m %d, S %d: served %d, want %d", m, S, got, want);
            cr_expect_eq(c.ms.set_of[got], S, "the state served serves exactly S");
        }
    close_case(&c);
}

static void expect_laws(const char *text, const char *timing)
{
    char set[64];
    snprintf(set, sizeof set, "decision.timing=%s", timing);
    mcase c;
    open_case(&c, text, set);
    const tm_mstate *ms = &c.ms;
    const int M = ms->n_sets, N = ms->n_states;
    cr_assert_eq(ms->timing, strcmp(timing, "next") == 0 ? TM_TIMING_NEXT : TM_TIMING_CURRENT);
    cr_expect_eq(ms->law_start[0], 0);
    for (int m = 0; m < N; m++)
        for (int S = 0; S < M; S++) {
            int row = m * M + S;
            cr_assert_leq(ms->law_start[row], ms->law_start[row + 1]);
            double sum = 0.0, got[TM_MAX_STATES] = {0};
            for (int k = ms->law_start[row]; k < ms->law_start[row + 1]; k++) {
                int to = ms->law_state[k];
                cr_assert_lt(to, N);
                cr_expect_gt(ms->law_prob[k], 0.0, "only states of positive probability are stored");
                cr_expect_eq(got[to], 0.0, "m %d, S %d: state %d listed twice", m, S, to);
                cr_expect_eq(ms->set_of[to], S, "m %d, S %d: next state %d does not serve S", m, S, to);
                got[to] = ms->law_prob[k];
                sum += ms->law_prob[k];
            }
            cr_expect(fabs(sum - 1.0) < 1e-12, "%s timing, m %d, S %d: law sums to %.17g", timing, m, S, sum);
            for (int to = 0; to < N; to++) {
                double want = 1.0;
                for (int d = 0; d < ms->n_dest; d++)
                    want *= dest_law(c.p, ms->timing, ms->level[m][d], S >> d & 1, ms->level[to][d]);
                cr_expect(fabs(got[to] - want) < 1e-15, "%s timing, m %d, S %d -> %d: %.17g, want %.17g", timing, m, S,
                          to, got[to], want);
            }
        }
    close_case(&c);
}

Test(mstate, every_law_row_sums_to_one_and_matches_the_definition_timing_current)
{
    expect_laws(two_levels, "current");
    expect_laws(three_levels, "current");
}

Test(mstate, every_law_row_sums_to_one_and_matches_the_definition_timing_next)
{
    expect_laws(two_levels, "next");
    expect_laws(three_levels, "next");
}

Test(mstate, timing_next_entry_lands_in_level_1_and_continuation_draws_from_the_row)
{
    mcase next, cur;
    open_case(&next, two_levels, "decision.timing=next");
    open_case(&cur, two_levels, NULL);
    const int M = next.ms.n_sets;
    /* From nothing, choosing {US}: next state US at level 1, for sure. */
    int row = 0 * M + 1;
    cr_assert_eq(next.ms.law_start[row + 1] - next.ms.law_start[row], 1);
    cr_expect_eq(next.ms.law_state[next.ms.law_start[row]], 1);
    cr_expect_eq(next.ms.law_prob[next.ms.law_start[row]], 1.0);
    /* From US level 2 (m = 2), continuing {US}: level 1 w.p. 0.1, level 2 w.p. 0.9. */
    double got[TM_MAX_STATES];
    law_row(&next.ms, 2, 1, got);
    cr_expect_eq(got[1], 0.1);
    cr_expect_eq(got[2], 0.9);
    /* Timing current, same (m, S): US is served at level 2 now, and moves
     * on by the same row. */
    cr_expect_eq(cur.ms.served[2 * M + 1], 2);
    /* Current timing, entry: served at level 1 now, then row 1 of Q. */
    law_row(&cur.ms, 0, 1, got);
    cr_expect_eq(got[1], 0.7);
    cr_expect_eq(got[2], 0.3);
    close_case(&cur);
    close_case(&next);
}

/* ------------------------------------------------------------------------
 * One level: the bit-mask model
 * ---------------------------------------------------------------------- */

static void expect_bit_mask_model(const tm_mstate *ms, int n_dest, const char *what)
{
    const int M = 1 << n_dest;
    cr_assert_eq(ms->n_sets, M, "%s", what);
    cr_assert_eq(ms->n_states, M, "%s: one state per market set", what);
    cr_expect_eq(ms->radix, 2);
    cr_expect_eq(ms->identity, 1, "%s: no experience draws", what);
    for (int m = 0; m < M; m++) {
        cr_expect_eq(ms->set_of[m], m, "%s: state %d is the set %d", what, m, m);
        for (int d = 0; d < n_dest; d++)
            cr_expect_eq(ms->level[m][d], m >> d & 1);
        for (int S = 0; S < M; S++) {
            int row = m * M + S;
            cr_expect_eq(ms->served[row], S, "%s: served(%d, %d) = %d", what, m, S, ms->served[row]);
            cr_assert_eq(ms->law_start[row + 1] - ms->law_start[row], 1, "%s: law (%d, %d) is a point mass", what, m,
                         S);
            cr_expect_eq(ms->law_state[ms->law_start[row]], S);
            cr_expect_eq(ms->law_prob[ms->law_start[row]], 1.0);
        }
    }
}

Test(mstate, one_level_gives_the_bit_mask_model_for_1_to_6_destinations)
{
    for (int n = 1; n <= TM_MAX_DEST; n++) {
        tm_mstate ms;
        cr_assert_eq(tm_mstate_init_sets(&ms, n), 0);
        char what[32];
        snprintf(what, sizeof what, "%d destinations", n);
        expect_bit_mask_model(&ms, n, what);
        cr_expect_eq(ms.timing, TM_TIMING_CURRENT);
        tm_mstate_free(&ms);
    }
}

Test(mstate, parameters_without_experience_give_the_bit_mask_model_in_both_timings)
{
    const char *text =
        "run: {periods: 4, burn_in: 0}\n"
        "sectors: {a: {firms: 10}}\n"
        "destinations:\n"
        "  US: {regimes: {open: {}}}\n"
        "  CN: {regimes: {open: {}}}\n"
        "  EU: {regimes: {open: {}}}\n";
    const char *timings[] = {"decision.timing=current", "decision.timing=next"};
    for (int i = 0; i < 2; i++) {
        mcase c;
        open_case(&c, text, timings[i]);
        cr_expect_eq(c.p->experience.levels, 1);
        cr_expect_eq(tm_params_n_states(c.p), 8);
        expect_bit_mask_model(&c.ms, 3, timings[i]);
        cr_expect_eq(c.ms.demand[0], 1.0);
        cr_expect_eq(c.ms.iceberg[0], 1.0);
        cr_expect_eq(c.ms.fixed_cost[0], 1.0);
        close_case(&c);
    }
}

Test(mstate, identity_transition_needs_no_draws)
{
    mcase c;
    open_case(&c, two_levels, "experience.transition=[[1, 0], [0, 1]]");
    cr_expect_eq(c.ms.identity, 1);
    close_case(&c);
}

/* ------------------------------------------------------------------------
 * Costs
 * ---------------------------------------------------------------------- */

static const double sunk[2] = {3.0, 5.0}, fixed[2] = {0.4, 0.7};

Test(mstate, costs_timing_current_are_the_sunk_costs_of_markets_entered)
{
    mcase c;
    open_case(&c, two_levels, NULL);
    const int M = c.ms.n_sets;
    double cost[TM_MAX_STATES * 4];
    int closed[2] = {1, 1}; /* closed markets enter through the flow (-inf), not the cost */
    tm_mstate_costs(&c.ms, sunk, fixed, closed, cost);
    for (int m = 0; m < c.ms.n_states; m++)
        for (int S = 0; S < M; S++) {
            double want = 0.0;
            for (int d = 0; d < 2; d++)
                if ((S >> d & 1) && c.ms.level[m][d] == 0)
                    want += sunk[d];
            cr_expect_eq(cost[m * M + S], want, "m %d, S %d: %g, want %g", m, S, cost[m * M + S], want);
        }
    /* Explicit cells: entering both from nothing; keeping US at level 2 and entering CN. */
    cr_expect_eq(cost[0 * M + 3], 8.0);
    cr_expect_eq(cost[2 * M + 3], 5.0);
    cr_expect_eq(cost[8 * M + 3], 0.0);
    close_case(&c);
}

Test(mstate, costs_timing_next_are_entry_plus_fixed_cost_by_level)
{
    mcase c;
    open_case(&c, two_levels, "decision.timing=next");
    const int M = c.ms.n_sets;
    double cost[TM_MAX_STATES * 4];
    tm_mstate_costs(&c.ms, sunk, fixed, NULL, cost);
    for (int m = 0; m < c.ms.n_states; m++)
        for (int S = 0; S < M; S++) {
            double want = 0.0;
            for (int d = 0; d < 2; d++) {
                if (!(S >> d & 1))
                    continue;
                int k = c.ms.level[m][d];
                want += k == 0 ? sunk[d] + fixed[d] * c.p->experience.fixed_cost[0]
                               : fixed[d] * c.p->experience.fixed_cost[k - 1];
            }
            cr_expect(fabs(cost[m * M + S] - want) < 1e-15, "m %d, S %d: %g, want %g", m, S, cost[m * M + S], want);
        }
    /* Nothing chosen costs nothing; entry pays F + f (level-1 multiplier 1). */
    cr_expect_eq(cost[0 * M + 0], 0.0);
    cr_expect(fabs(cost[0 * M + 1] - 3.4) < 1e-15);
    /* US at level 2 (m = 2) continuing: f x 0.6; and entering CN as well. */
    cr_expect(fabs(cost[2 * M + 1] - 0.24) < 1e-15, "%.17g", cost[2 * M + 1]);
    cr_expect(fabs(cost[2 * M + 3] - (0.24 + 5.7)) < 1e-15, "%.17g", cost[2 * M + 3]);
    /* Both at level 1 (m = 1 + 3 = 4), continuing both: f_US + f_CN. */
    cr_expect(fabs(cost[4 * M + 3] - 1.1) < 1e-15);
    close_case(&c);
}

Test(mstate, costs_timing_next_make_choosing_a_closed_market_infinite)
{
    mcase c;
    open_case(&c, two_levels, "decision.timing=next");
    const int M = c.ms.n_sets;
    double cost[TM_MAX_STATES * 4];
    int closed[2] = {0, 1}; /* CN closed */
    tm_mstate_costs(&c.ms, sunk, fixed, closed, cost);
    for (int m = 0; m < c.ms.n_states; m++)
        for (int S = 0; S < M; S++) {
            double x = cost[m * M + S];
            if (S & 2)
                cr_expect(isinf(x) && x > 0, "m %d, S %d: choosing closed CN costs %g, want +inf", m, S, x);
            else
                cr_expect(isfinite(x), "m %d, S %d: %g", m, S, x);
        }
    /* Leaving the closed market (not choosing it) is free. */
    cr_expect_eq(cost[1 * M + 0], 0.0);
    cr_expect_eq(cost[3 * M + 0], 0.0);
    close_case(&c);
}

Test(mstate, costs_with_one_level_in_timing_next_are_f_plus_f_on_entry_and_f_to_continue)
{
    const char *text =
        "run: {periods: 4, burn_in: 0}\n"
        "decision: {timing: next}\n"
        "sectors: {a: {firms: 10}}\n"
        "destinations:\n"
        "  US: {regimes: {open: {}}}\n"
        "  CN: {regimes: {open: {}}}\n";
    mcase c;
    open_case(&c, text, NULL);
    double cost[16];
    tm_mstate_costs(&c.ms, sunk, fixed, NULL, cost);
    for (int m = 0; m < 4; m++)
        for (int S = 0; S < 4; S++) {
            double want = 0;
            for (int d = 0; d < 2; d++)
                if (S >> d & 1)
                    want += fixed[d] + ((m >> d & 1) ? 0.0 : sunk[d]);
            cr_expect(fabs(cost[m * 4 + S] - want) < 1e-15, "m %d, S %d", m, S);
        }
    close_case(&c);
}

/* ------------------------------------------------------------------------
 * Sampling the experience transition
 * ---------------------------------------------------------------------- */

Test(mstate, next_level_draws_follow_the_transition_rows)
{
    mcase c;
    open_case(&c, three_levels, NULL);
    const int K = c.ms.levels;
    /* 2^20 evenly spaced 32-bit draws: each level's share is its
     * probability to within 2^-20. */
    const uint32_t n = 1u << 20;
    for (int k = 1; k <= K; k++) {
        long count[TM_MAX_LEVELS + 1] = {0};
        for (uint32_t i = 0; i < n; i++) {
            int next = tm_mstate_next_level(&c.ms, k, i << 12);
            cr_assert(next >= 1 && next <= K, "level %d -> %d", k, next);
            count[next]++;
        }
        for (int j = 1; j <= K; j++) {
            double share = (double)count[j] / n, want = c.p->experience.transition[k - 1][j - 1];
            cr_expect(fabs(share - want) <= 2.0 / n, "row %d: level %d share %.8f, want %g", k, j, share, want);
        }
    }
    /* The extremes land on levels of positive probability. */
    cr_expect_eq(tm_mstate_next_level(&c.ms, 1, 0), 1);
    cr_expect_eq(tm_mstate_next_level(&c.ms, 1, UINT32_MAX), 2, "row 1 puts nothing on level 3");
    cr_expect_eq(tm_mstate_next_level(&c.ms, 2, 0), 2, "row 2 puts nothing on level 1");
    cr_expect_eq(tm_mstate_next_level(&c.ms, 3, UINT32_MAX), 3);
    cr_expect_eq(tm_mstate_next_level(&c.ms, 3, 0), 1);
    close_case(&c);
}

/* ------------------------------------------------------------------------
 * Parameters: the canonical text
 * ---------------------------------------------------------------------- */

Test(mstate, experience_timing_and_death_rule_survive_the_canonical_text)
{
    const char *sets[] = {"decision.timing=next", "run.spells=true", "sectors.a.death_rule=productivity",
                          "sectors.a.death_slope=0.5", "sectors.a.death_shift=-0.9"};
    tm_params *p = fixture_params("mstate-test", two_levels, sets, 5);
    cr_assert(strstr(p->canonical, "experience:"), "%s", p->canonical);
    tm_params *q = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_params_load_text("canonical", p->canonical, NULL, 0, &q, &err), 0, "%s\n%s", err.msg, p->canonical);
    cr_expect_str_eq(q->sha256, p->sha256);
    cr_expect_eq(q->experience.levels, 2);
    cr_expect_eq(memcmp(&q->experience, &p->experience, sizeof p->experience), 0);
    cr_expect_eq(q->timing, TM_TIMING_NEXT);
    cr_expect_eq(q->spells, 1);
    cr_expect_eq(q->sector[0].death_rule, TM_DEATH_PRODUCTIVITY);
    cr_expect_eq(q->sector[0].death_slope, 0.5);
    cr_expect_eq(q->sector[0].death_shift, -0.9);
    tm_params_free(p);
    tm_params_free(q);
}

Test(mstate, files_without_the_new_keys_keep_their_canonical_text)
{
    /* Defaults of the new parameters are left out of the canonical text, so
     * digests of older files do not change. */
    const char *text =
        "run: {periods: 4, burn_in: 0}\n"
        "sectors: {a: {firms: 10}}\n"
        "destinations:\n"
        "  US: {regimes: {open: {}}}\n";
    tm_params *p = fixture_params("mstate-test", text, NULL, 0);
    cr_expect_null(strstr(p->canonical, "experience"), "%s", p->canonical);
    cr_expect_null(strstr(p->canonical, "timing"), "%s", p->canonical);
    cr_expect_null(strstr(p->canonical, "spells"), "%s", p->canonical);
    cr_expect_null(strstr(p->canonical, "death_rule"), "%s", p->canonical);
    cr_expect_null(strstr(p->canonical, "death_slope"), "%s", p->canonical);
    /* Setting them to their defaults explicitly changes nothing. */
    const char *sets[] = {"decision.timing=current", "run.spells=false", "sectors.a.death_rule=constant",
                          "experience.levels=1"};
    tm_params *q = fixture_params("mstate-test", text, sets, 4);
    cr_expect_str_eq(q->sha256, p->sha256);
    tm_params_free(p);
    tm_params_free(q);
}
