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
#include "params/params.h"

#define N_PERIODS 200000

/* Two destinations; US has three regimes that switch often, CN two. The
 * event list is appended by each test. Start 2024Q1: 2024Q2 is period 1. */
static const char *const base_text = "run: {periods: 1000, seed: 4242}\n"
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

static tm_params *load(const char *events)
{
    char text[4096];
    snprintf(text, sizeof text, "%s%s", base_text, events ? events : "");
    tm_params *p = NULL;
    tm_error err = {0};
    int rc = tm_params_load_text("env-test", text, NULL, 0, &p, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    return p;
}

static void open_env(tm_env *env, const tm_params *p)
{
    tm_error err = {0};
    cr_assert_eq(tm_env_init(env, p, &err), 0, "%s", err.msg);
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

Test(env, regime_visit_frequencies_match_the_stationary_distribution_within_5_se)
{
    tm_params *p = load(NULL);
    tm_env env;
    open_env(&env, p);
    const tm_destination *us = &p->dest[0];
    int n = us->n_regimes;
    double flat[9], pi[3];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            flat[i * n + j] = us->transition[i][j];
    cr_assert_eq(tm_grid_stationary(n, flat, pi, 1e-14, 100000), 0);
    long visits[3] = {0};
    for (int t = 0; t < N_PERIODS; t++) {
        tm_env_advance(&env, t, NULL);
        visits[env.regime[0]]++;
    }
    for (int r = 0; r < n; r++) {
        double freq = (double)visits[r] / N_PERIODS;
        double se = sqrt(visit_variance(n, us->transition, pi, r) / N_PERIODS);
        cr_expect_lt(fabs(freq - pi[r]), 5.0 * se, "regime %d: frequency %.5f, stationary %.5f, se %.5f", r, freq,
                     pi[r], se);
    }
    tm_env_free(&env);
    tm_params_free(p);
}

Test(env, regime_switch_frequencies_match_transition_rows_within_5_se)
{
    tm_params *p = load(NULL);
    tm_env env;
    open_env(&env, p);
    const tm_destination *cn = &p->dest[1];
    long moves[2][2] = {{0}}, from[2] = {0};
    tm_env_advance(&env, 0, NULL);
    int prev = env.regime[1];
    for (int t = 1; t < N_PERIODS; t++) {
        tm_env_advance(&env, t, NULL);
        moves[prev][env.regime[1]]++;
        from[prev]++;
        prev = env.regime[1];
    }
    /* Given the regime left, each switch is an independent draw from its row. */
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            double p_ij = cn->transition[i][j];
            double freq = (double)moves[i][j] / (double)from[i];
            double se = sqrt(p_ij * (1.0 - p_ij) / (double)from[i]);
            cr_expect_lt(fabs(freq - p_ij), 5.0 * se, "%d->%d: %.5f vs %.5f", i, j, freq, p_ij);
        }
    tm_env_free(&env);
    tm_params_free(p);
}

Test(env, regimes_stay_at_their_initial_values_in_burn_in_and_period_zero)
{
    tm_params *p = load(NULL);
    tm_env env;
    open_env(&env, p);
    for (int t = -500; t <= 0; t++) {
        cr_expect_eq(tm_env_advance(&env, t, NULL), 0);
        cr_expect_eq(env.regime[0], p->dest[0].initial_regime);
        cr_expect_eq(env.regime[1], p->dest[1].initial_regime);
    }
    tm_env_free(&env);
    tm_params_free(p);
}

Test(env, same_seed_gives_the_same_regime_path_and_another_seed_a_different_one)
{
    tm_params *p = load(NULL);
    tm_params *q = load("");
    char text[4096];
    snprintf(text, sizeof text, "%s", base_text);
    tm_params *other = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_params_load_text("other", text, (const char *const[]){"run.seed=4243"}, 1, &other, &err), 0);
    tm_env a, b, c;
    open_env(&a, p);
    open_env(&b, q);
    open_env(&c, other);
    int differ = 0;
    for (int t = 0; t < 1000; t++) {
        tm_env_advance(&a, t, NULL);
        tm_env_advance(&b, t, NULL);
        tm_env_advance(&c, t, NULL);
        cr_assert_eq(a.regime[0], b.regime[0]);
        cr_assert_eq(a.regime[1], b.regime[1]);
        differ |= a.regime[0] != c.regime[0];
    }
    cr_expect(differ, "seeds 4242 and 4243 gave the same 1000-period path");
    tm_env_free(&a);
    tm_env_free(&b);
    tm_env_free(&c);
    tm_params_free(p);
    tm_params_free(q);
    tm_params_free(other);
}

Test(env, regime_event_forces_and_holds_the_regime)
{
    tm_params *p = load("events:\n"
                        "  - {at: 2025Q2, destination: US, regime: war}\n");
    tm_env env;
    open_env(&env, p);
    int applied[4];
    for (int t = 0; t < 5; t++)
        cr_expect_eq(tm_env_advance(&env, t, applied), 0);
    cr_assert_eq(tm_env_advance(&env, 5, applied), 1, "the event is dated 2025Q2 = period 5");
    cr_expect_eq(applied[0], 0);
    cr_expect_eq(env.regime[0], 2);
    /* war would be left with probability 0.4 a period: 2000 periods in it
     * without a switch happen only because it is held. */
    for (int t = 6; t < 2000; t++) {
        tm_env_advance(&env, t, NULL);
        cr_assert_eq(env.regime[0], 2, "period %d left the held regime", t);
    }
    tm_env_free(&env);
    tm_params_free(p);
}

Test(env, release_event_lets_a_held_regime_move_again)
{
    tm_params *p = load("events:\n"
                        "  - {at: 2024Q2, destination: US, regime: war}\n"
                        "  - {at: 2026Q1, destination: US, release: true}\n");
    tm_env env;
    open_env(&env, p);
    for (int t = 0; t < 8; t++) {
        tm_env_advance(&env, t, NULL);
        if (t >= 1)
            cr_expect_eq(env.regime[0], 2, "held at period %d", t);
    }
    cr_assert_eq(tm_env_advance(&env, 8, NULL), 1);
    /* P(no switch in 200 periods from war) = 0.6^200: never in practice. */
    int moved = 0;
    for (int t = 9; t < 209 && !moved; t++) {
        tm_env_advance(&env, t, NULL);
        moved = env.regime[0] != 2;
    }
    cr_expect(moved, "the regime never moved after its release");
    tm_env_free(&env);
    tm_params_free(p);
}

Test(env, regime_event_without_hold_only_sets_the_starting_point)
{
    tm_params *p = load("events:\n"
                        "  - {at: 2024Q2, destination: US, regime: war, hold: false}\n");
    tm_env env;
    open_env(&env, p);
    tm_env_advance(&env, 0, NULL);
    tm_env_advance(&env, 1, NULL);
    cr_expect_eq(env.regime[0], 2);
    int moved = 0;
    for (int t = 2; t < 202 && !moved; t++) {
        tm_env_advance(&env, t, NULL);
        moved = env.regime[0] != 2;
    }
    cr_expect(moved, "an unheld regime must follow its chain");
    tm_env_free(&env);
    tm_params_free(p);
}

Test(env, events_in_one_destination_do_not_change_another_destinations_path)
{
    tm_params *plain = load(NULL);
    tm_params *held = load("events:\n"
                           "  - {at: 2024Q3, destination: US, regime: war}\n"
                           "  - {at: 2025Q1, destination: US, escalation_scale: 2}\n");
    tm_env a, b;
    open_env(&a, plain);
    open_env(&b, held);
    for (int t = 0; t < 5000; t++) {
        tm_env_advance(&a, t, NULL);
        tm_env_advance(&b, t, NULL);
        cr_assert_eq(a.regime[1], b.regime[1], "CN path differs at period %d", t);
    }
    tm_env_free(&a);
    tm_env_free(&b);
    tm_params_free(plain);
    tm_params_free(held);
}

Test(env, tariff_event_overrides_one_sectors_tariff_in_every_regime)
{
    tm_params *p = load("events:\n"
                        "  - {at: 2024Q3, destination: US, sector: steel, tariff: 0.5}\n");
    tm_env env;
    open_env(&env, p);
    tm_env_advance(&env, 0, NULL);
    tm_env_advance(&env, 1, NULL);
    cr_expect_eq(tm_env_tariff(&env, 0, 0), p->dest[0].regime[env.regime[0]].sector_tariff[0]);
    cr_assert_eq(tm_env_advance(&env, 2, NULL), 1);
    int seen[3] = {0};
    for (int t = 2; t < 500; t++) {
        if (t > 2)
            tm_env_advance(&env, t, NULL);
        int r = env.regime[0];
        seen[r] = 1;
        cr_expect_eq(tm_env_tariff(&env, 0, 0), 0.5, "steel in the US at period %d", t);
        cr_expect_eq(tm_env_tariff(&env, 1, 0), p->dest[0].regime[r].sector_tariff[1], "agri untouched");
        cr_expect_eq(tm_env_tariff(&env, 0, 1), 0.0, "CN untouched");
    }
    cr_expect(seen[0] && seen[1] && seen[2], "the override was seen in every regime");
    tm_env_free(&env);
    tm_params_free(p);
}

Test(env, tariff_event_without_sector_applies_to_every_sector)
{
    tm_params *p = load("events:\n"
                        "  - {at: 2024Q1, destination: US, tariff: 0.3}\n");
    tm_env env;
    open_env(&env, p);
    cr_assert_eq(tm_env_advance(&env, 0, NULL), 1, "an event at the start applies at period 0");
    cr_expect_eq(tm_env_tariff(&env, 0, 0), 0.3);
    cr_expect_eq(tm_env_tariff(&env, 1, 0), 0.3);
    tm_env_free(&env);
    tm_params_free(p);
}

Test(env, closed_regime_closes_the_market)
{
    tm_params *p = load("events:\n"
                        "  - {at: 2024Q2, destination: CN, regime: ban}\n");
    tm_env env;
    open_env(&env, p);
    tm_env_advance(&env, 0, NULL);
    cr_expect_eq(tm_env_closed(&env, 1), 0);
    tm_env_advance(&env, 1, NULL);
    cr_expect_eq(tm_env_closed(&env, 1), 1);
    cr_expect_eq(tm_env_closed(&env, 0), 0);
    tm_env_free(&env);
    tm_params_free(p);
}

Test(env, escalation_event_scales_hazards_towards_more_restrictive_regimes)
{
    tm_params *p = load("events:\n"
                        "  - {at: 2024Q2, destination: US, escalation_scale: 1.5}\n");
    tm_env env;
    open_env(&env, p);
    const tm_destination *us = &p->dest[0];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            cr_expect(fabs(env.process[0].transition[0][i][j] - us->transition[i][j]) < 1e-15, "unscaled before the event");
    tm_env_advance(&env, 0, NULL);
    tm_env_advance(&env, 1, NULL);
    cr_expect_eq(env.process[0].escalation[0], 1.5);
    for (int i = 0; i < 3; i++) {
        double row = 0.0;
        for (int j = 0; j < 3; j++) {
            double want = j > i ? 1.5 * us->transition[i][j] : us->transition[i][j];
            if (j != i)
                cr_expect(fabs(env.process[0].transition[0][i][j] - want) < 1e-15, "[%d][%d] = %g, want %g", i, j,
                          env.process[0].transition[0][i][j], want);
            row += env.process[0].transition[0][i][j];
        }
        cr_expect(fabs(row - 1.0) < 1e-12, "row %d sums to %.15g", i, row);
    }
    /* Staying absorbs the change: open stays with 1 - 1.5 (0.15 + 0.05). */
    cr_expect(fabs(env.process[0].transition[0][0][0] - 0.7) < 1e-12);
    cr_expect(fabs(env.process[0].transition[0][2][2] - 0.6) < 1e-12, "the most restrictive regime has no escalation");
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            cr_expect(fabs(env.process[0].transition[1][i][j] - p->dest[1].transition[i][j]) < 1e-15, "CN untouched");
    tm_env_free(&env);
    tm_params_free(p);
}

Test(env, escalation_scale_changes_switch_frequencies_accordingly)
{
    /* With hazards halved, the share of periods in open rises to the new
     * stationary value. */
    tm_params *p = load("events:\n"
                        "  - {at: 2024Q1, destination: US, escalation_scale: 0.5}\n");
    tm_env env;
    open_env(&env, p);
    tm_env_advance(&env, 0, NULL);
    double flat[9], pi[3], P[TM_MAX_REGIMES][TM_MAX_REGIMES] = {{0}};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            flat[i * 3 + j] = P[i][j] = env.process[0].transition[0][i][j];
    cr_assert_eq(tm_grid_stationary(3, flat, pi, 1e-14, 100000), 0);
    long visits[3] = {0};
    for (int t = 1; t <= N_PERIODS; t++) {
        tm_env_advance(&env, t, NULL);
        visits[env.regime[0]]++;
    }
    for (int r = 0; r < 3; r++) {
        double freq = (double)visits[r] / N_PERIODS;
        double se = sqrt(visit_variance(3, (const double(*)[TM_MAX_REGIMES])P, pi, r) / N_PERIODS);
        cr_expect_lt(fabs(freq - pi[r]), 5.0 * se, "regime %d: %.5f vs %.5f (se %.5f)", r, freq, pi[r], se);
    }
    tm_env_free(&env);
    tm_params_free(p);
}

Test(env, events_of_one_period_apply_in_file_order)
{
    tm_params *p = load("events:\n"
                        "  - {at: 2024Q3, destination: US, regime: threat}\n"
                        "  - {at: 2024Q2, destination: US, tariff: 0.2}\n"
                        "  - {at: 2024Q3, destination: US, regime: war}\n");
    tm_env env;
    open_env(&env, p);
    int applied[3];
    tm_env_advance(&env, 0, applied);
    cr_expect_eq(tm_env_advance(&env, 1, applied), 1);
    cr_expect_eq(p->event[applied[0]].kind, TM_EVENT_TARIFF);
    cr_assert_eq(tm_env_advance(&env, 2, applied), 2);
    cr_expect_str_eq(p->event[applied[0]].regime_name, "threat");
    cr_expect_str_eq(p->event[applied[1]].regime_name, "war");
    cr_expect_eq(env.regime[0], 2, "the later event in the file wins");
    tm_env_free(&env);
    tm_params_free(p);
}
