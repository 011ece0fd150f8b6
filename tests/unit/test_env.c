/* test_env: the regime Markov chains visit regimes with their stationary
 * frequencies and switch with their transition probabilities (tolerances
 * from the chain's exact asymptotic variance), and dated events force,
 * hold, release regimes, override tariffs and scale escalation hazards. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/env.h"
#include "engine/grid.h"
#include "fixtures.h"
#include "params/params.h"

#define N_PERIODS 200000

/* Two destinations; US has three regimes that switch often, CN two. The
 * event list is appended by each test. Start 2024Q1: 2024Q2 is period 1. */
static const char *const base_text =
    "run: {periods: 1000, seed: 4242}\n"
    "sectors:\n"
    "  steel: {}\n"
    "  agri: {}\n"
    "destinations:\n"
    "  US:\n"
    "    regimes:\n"
    "      open: {tariff: 0}\n"
    "      threat: {tariff: 0.05}\n"
    "      war:\n"
    "        tariff: 0.1\n"
    "        sector_tariffs: {steel: 0.25}\n"
    "    transition:\n"
    "      - [0.80, 0.15, 0.05]\n"
    "      - [0.20, 0.60, 0.20]\n"
    "      - [0.10, 0.30, 0.60]\n"
    "  CN:\n"
    "    regimes: {normal: {}, ban: {closed: true}}\n"
    "    transition: [[0.9, 0.1], [0.4, 0.6]]\n";

/* The base world with `events` (NULL: none) appended, and its environment. */
static void open_case(fixture_env *e, const char *events)
{
    fixture_env_open(e, fixture_params_fmt("env-test", NULL, 0, "%s%s", base_text, events ? events : ""));
}

/* Asymptotic variance of the visit frequency of state r for a stationary
 * chain: pi_r (1 - pi_r) + 2 pi_r sum_{k>=1} (P^k[r][r] - pi_r). The terms
 * decay geometrically with the second eigenvalue; 2000 lags is plenty. */
static double visit_variance(int n, const double P[][TM_MAX_REGIMES], const double *pi, int r)
{
    double row[TM_MAX_REGIMES] = {0}, next[TM_MAX_REGIMES];
    row[r] = 1.0;
    double sum = 0.0;
    for (int k = 1; k <= 2000; k++) {
        for (int j = 0; j < n; j++) {
            next[j] = 0.0;
            for (int i = 0; i < n; i++)
                next[j] += row[i] * P[i][j];
        }
        memcpy(row, next, sizeof row);
        sum += row[r] - pi[r];
    }
    return pi[r] * (1.0 - pi[r]) + 2.0 * pi[r] * sum;
}

/* Checks the visit frequency of every regime of destination 0 over
 * N_PERIODS periods from period `first` against the stationary law of the
 * transition matrix in force then, within 5 standard errors of the chain's
 * asymptotic variance. */
static void expect_stationary_visits(fixture_env *e, int first)
{
    int n = e->p->dest[0].n_regimes;
    double flat[TM_MAX_REGIMES * TM_MAX_REGIMES], pi[TM_MAX_REGIMES], P[TM_MAX_REGIMES][TM_MAX_REGIMES] = {{0}};
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            flat[i * n + j] = P[i][j] = e->env.process[0].transition[0][i][j];
    cr_assert_eq(tm_grid_stationary(n, flat, pi, 1e-14, 100000), 0);
    long visits[TM_MAX_REGIMES] = {0};
    for (int t = first; t < first + N_PERIODS; t++) {
        tm_env_advance(&e->env, t, NULL);
        visits[e->env.regime[0]]++;
    }
    for (int r = 0; r < n; r++) {
        double freq = (double)visits[r] / N_PERIODS;
        double se = sqrt(visit_variance(n, (const double(*)[TM_MAX_REGIMES])P, pi, r) / N_PERIODS);
        cr_expect_lt(fabs(freq - pi[r]), 5.0 * se, "regime %d: frequency %.5f, stationary %.5f, se %.5f", r, freq,
                     pi[r], se);
    }
}

Test(env, regime_visit_frequencies_match_the_stationary_distribution_within_5_se)
{
    fixture_env e;
    open_case(&e, NULL);
    expect_stationary_visits(&e, 0);
    fixture_env_close(&e);
}

Test(env, regime_switch_frequencies_match_transition_rows_within_5_se)
{
    fixture_env e;
    open_case(&e, NULL);
    fixture_env_expect_switch_rows(&e, 1, 0, N_PERIODS - 1, &e.p->dest[1].transition[0][0], TM_MAX_REGIMES);
    fixture_env_close(&e);
}

Test(env, regimes_stay_at_their_initial_values_in_burn_in_and_period_zero)
{
    fixture_env e;
    open_case(&e, NULL);
    for (int t = -500; t <= 0; t++) {
        cr_expect_eq(tm_env_advance(&e.env, t, NULL), 0);
        cr_expect_eq(e.env.regime[0], e.p->dest[0].initial_regime);
        cr_expect_eq(e.env.regime[1], e.p->dest[1].initial_regime);
    }
    fixture_env_close(&e);
}

Test(env, same_seed_gives_the_same_regime_path_and_another_seed_a_different_one)
{
    fixture_env a, b, c;
    open_case(&a, NULL);
    open_case(&b, "");
    fixture_env_open(&c, fixture_params("other", base_text, (const char *const[]){"run.seed=4243"}, 1));
    int differ = 0;
    for (int t = 0; t < 1000; t++) {
        tm_env_advance(&a.env, t, NULL);
        tm_env_advance(&b.env, t, NULL);
        tm_env_advance(&c.env, t, NULL);
        cr_assert_eq(a.env.regime[0], b.env.regime[0]);
        cr_assert_eq(a.env.regime[1], b.env.regime[1]);
        differ |= a.env.regime[0] != c.env.regime[0];
    }
    cr_expect(differ, "seeds 4242 and 4243 gave the same 1000-period path");
    fixture_env_close(&a);
    fixture_env_close(&b);
    fixture_env_close(&c);
}

Test(env, regime_event_forces_and_holds_the_regime)
{
    fixture_env e;
    open_case(&e,
              "events:\n"
              "  - {at: 2025Q2, destination: US, regime: war}\n");
    int applied[4];
    for (int t = 0; t < 5; t++)
        cr_expect_eq(tm_env_advance(&e.env, t, applied), 0);
    cr_assert_eq(tm_env_advance(&e.env, 5, applied), 1, "the event is dated 2025Q2 = period 5");
    cr_expect_eq(applied[0], 0);
    cr_expect_eq(e.env.regime[0], 2);
    /* war would be left with probability 0.4 a period: 2000 periods in it
     * without a switch happen only because it is held. */
    int left = fixture_env_first_move(&e, 0, 2, 6, 1999);
    cr_assert_eq(left, 2000, "period %d left the held regime", left);
    fixture_env_close(&e);
}

Test(env, release_event_lets_a_held_regime_move_again)
{
    fixture_env e;
    open_case(&e,
              "events:\n"
              "  - {at: 2024Q2, destination: US, regime: war}\n"
              "  - {at: 2026Q1, destination: US, release: true}\n");
    tm_env_advance(&e.env, 0, NULL);
    int left = fixture_env_first_move(&e, 0, 2, 1, 7);
    cr_expect_eq(left, 8, "held from period 1 to 7, left at period %d", left);
    cr_assert_eq(tm_env_advance(&e.env, 8, NULL), 1);
    /* P(no switch in 200 periods from war) = 0.6^200: never in practice. */
    cr_expect_lt(fixture_env_first_move(&e, 0, 2, 9, 208), 209, "the regime never moved after its release");
    fixture_env_close(&e);
}

Test(env, regime_event_without_hold_only_sets_the_starting_point)
{
    fixture_env e;
    open_case(&e,
              "events:\n"
              "  - {at: 2024Q2, destination: US, regime: war, hold: false}\n");
    fixture_env_advance(&e, 0, 1);
    cr_expect_eq(e.env.regime[0], 2);
    cr_expect_lt(fixture_env_first_move(&e, 0, 2, 2, 201), 202, "an unheld regime must follow its chain");
    fixture_env_close(&e);
}

Test(env, events_in_one_destination_do_not_change_another_destinations_path)
{
    fixture_env a, b;
    open_case(&a, NULL);
    open_case(&b,
              "events:\n"
              "  - {at: 2024Q3, destination: US, regime: war}\n"
              "  - {at: 2025Q1, destination: US, escalation_scale: 2}\n");
    for (int t = 0; t < 5000; t++) {
        tm_env_advance(&a.env, t, NULL);
        tm_env_advance(&b.env, t, NULL);
        cr_assert_eq(a.env.regime[1], b.env.regime[1], "CN path differs at period %d", t);
    }
    fixture_env_close(&a);
    fixture_env_close(&b);
}

Test(env, tariff_event_overrides_one_sectors_tariff_in_every_regime)
{
    fixture_env e;
    open_case(&e,
              "events:\n"
              "  - {at: 2024Q3, destination: US, sector: steel, tariff: 0.5}\n");
    const tm_destination *us = &e.p->dest[0];
    fixture_env_advance(&e, 0, 1);
    cr_expect_eq(tm_env_tariff(&e.env, 0, 0), us->regime[e.env.regime[0]].sector_tariff[0]);
    cr_assert_eq(tm_env_advance(&e.env, 2, NULL), 1);
    int seen[3] = {0};
    for (int t = 2; t < 500; t++) {
        if (t > 2)
            tm_env_advance(&e.env, t, NULL);
        int r = e.env.regime[0];
        seen[r] = 1;
        cr_expect_eq(tm_env_tariff(&e.env, 0, 0), 0.5, "steel in the US at period %d", t);
        cr_expect_eq(tm_env_tariff(&e.env, 1, 0), us->regime[r].sector_tariff[1], "agri untouched");
        cr_expect_eq(tm_env_tariff(&e.env, 0, 1), 0.0, "CN untouched");
    }
    cr_expect(seen[0] && seen[1] && seen[2], "the override was seen in every regime");
    fixture_env_close(&e);
}

Test(env, tariff_event_without_sector_applies_to_every_sector)
{
    fixture_env e;
    open_case(&e,
              "events:\n"
              "  - {at: 2024Q1, destination: US, tariff: 0.3}\n");
    cr_assert_eq(tm_env_advance(&e.env, 0, NULL), 1, "an event at the start applies at period 0");
    cr_expect_eq(tm_env_tariff(&e.env, 0, 0), 0.3);
    cr_expect_eq(tm_env_tariff(&e.env, 1, 0), 0.3);
    fixture_env_close(&e);
}

Test(env, closed_regime_closes_the_market)
{
    fixture_env e;
    open_case(&e,
              "events:\n"
              "  - {at: 2024Q2, destination: CN, regime: ban}\n");
    tm_env_advance(&e.env, 0, NULL);
    cr_expect_eq(tm_env_closed(&e.env, 0, 1), 0);
    tm_env_advance(&e.env, 1, NULL);
    cr_expect_eq(tm_env_closed(&e.env, 0, 1), 1);
    cr_expect_eq(tm_env_closed(&e.env, 0, 0), 0);
    fixture_env_close(&e);
}

Test(env, escalation_event_scales_hazards_towards_more_restrictive_regimes)
{
    fixture_env e;
    open_case(&e,
              "events:\n"
              "  - {at: 2024Q2, destination: US, escalation_scale: 1.5}\n");
    const tm_destination *us = &e.p->dest[0];
    const double(*T)[TM_MAX_REGIMES] = (const double(*)[TM_MAX_REGIMES])e.env.process[0].transition[0];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            cr_expect(fabs(T[i][j] - us->transition[i][j]) < 1e-15, "unscaled before the event");
    fixture_env_advance(&e, 0, 1);
    cr_expect_eq(e.env.process[0].escalation[0], 1.5);
    for (int i = 0; i < 3; i++) {
        double row = 0.0;
        for (int j = 0; j < 3; j++) {
            double want = j > i ? 1.5 * us->transition[i][j] : us->transition[i][j];
            if (j != i)
                cr_expect(fabs(T[i][j] - want) < 1e-15, "[%d][%d] = %g, want %g", i, j, T[i][j], want);
            row += T[i][j];
        }
        cr_expect(fabs(row - 1.0) < 1e-12, "row %d sums to %.15g", i, row);
    }
    /* Staying absorbs the change: open stays with 1 - 1.5 (0.15 + 0.05). */
    cr_expect(fabs(T[0][0] - 0.7) < 1e-12);
    cr_expect(fabs(T[2][2] - 0.6) < 1e-12, "the most restrictive regime has no escalation");
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            cr_expect(fabs(e.env.process[0].transition[1][i][j] - e.p->dest[1].transition[i][j]) < 1e-15,
                      "CN untouched");
    fixture_env_close(&e);
}

Test(env, escalation_scale_changes_switch_frequencies_accordingly)
{
    /* With hazards halved, the share of periods in open rises to the new
     * stationary value. */
    fixture_env e;
    open_case(&e,
              "events:\n"
              "  - {at: 2024Q1, destination: US, escalation_scale: 0.5}\n");
    tm_env_advance(&e.env, 0, NULL);
    expect_stationary_visits(&e, 1);
    fixture_env_close(&e);
}

Test(env, events_of_one_period_apply_in_file_order)
{
    fixture_env e;
    open_case(&e,
              "events:\n"
              "  - {at: 2024Q3, destination: US, regime: threat}\n"
              "  - {at: 2024Q2, destination: US, tariff: 0.2}\n"
              "  - {at: 2024Q3, destination: US, regime: war}\n");
    int applied[3];
    tm_env_advance(&e.env, 0, applied);
    cr_expect_eq(tm_env_advance(&e.env, 1, applied), 1);
    cr_expect_eq(e.p->event[applied[0]].kind, TM_EVENT_TARIFF);
    cr_assert_eq(tm_env_advance(&e.env, 2, applied), 2);
    cr_expect_str_eq(e.p->event[applied[0]].regime_name, "threat");
    cr_expect_str_eq(e.p->event[applied[1]].regime_name, "war");
    cr_expect_eq(e.env.regime[0], 2, "the later event in the file wins");
    fixture_env_close(&e);
}
