/* test_exporter_years: export histories by calendar year
 * (src/experiments/exporter_years.c) against closed forms.
 *
 * The test economy: one sector, one destination, no fixed or sunk cost and
 * productivity all but constant, so every firm exports in every period of
 * its life and histories change only by deaths (probability delta a
 * quarter, the slot then holding a newborn). Then, with quarters q = 1..4
 * of a year:
 * - a firm that exported in the two years before year Y stops in Y only if
 *   it dies in Y's first quarter: continuation = 1 - delta;
 * - a new exporter of Y is a firm born in Y and alive at its end; born in
 *   quarter q (births are equally likely in every quarter) it exports 5 - q
 *   quarters and survives with probability (1 - delta)^(4 - q), while a
 *   firm exporting in Y and Y - 1 exports all 4: the size ratio is
 *   E[5 - q] / 4 under those weights;
 * - a spell lasts from birth (quarter q) to death k >= 1 quarters later,
 *   k geometric; it covers floor((q - 1 + k - 1) / 4) + 1 calendar years.
 * Tolerances are 5 binomial (or sampling) standard errors. */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "experiments/exporter_years.h"
#include "fixtures.h"

#define DELTA 0.05
#define FIRMS 20000

/* 60 years of burn-in, so that no spell completed in the logged periods
 * began before the run (0.95^240 of them would). */
static const char *const always_exporting =
    "run: {model: myopic, periods: 40, burn_in: 240, seed: 77}\n"
    "productivity: {grid: 2}\n"
    "sectors:\n"
    "  all: {firms: 20000, death_rate: 0.05, persistence: 0, volatility: 1.0e-6}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {fixed_cost: 0, sunk_cost: 0}\n"
    "    regimes: {open: {tariff: 0}}\n";

static tm_stats_years run_histories(void)
{
    tm_params *p = fixture_params("always.yaml", always_exporting, NULL, 0);
    tm_error err = {0};
    tm_exporter_years *y = NULL;
    cr_assert_eq(tm_exporter_years_open(p, &y, &err), 0, "%s", err.msg);
    fixture_sim s;
    fixture_sim_open(&s, p, 2);
    while (fixture_sim_next(&s))
        tm_exporter_years_observe(y, s.run);
    tm_stats_years sums = *tm_exporter_years_sums(y);
    tm_exporter_years_close(y);
    fixture_sim_close(&s);
    return sums;
}

Test(exporter_years, established_exporters_continue_unless_they_die_in_the_first_quarter)
{
    tm_stats_years s = run_histories();
    cr_assert_gt(s.established, 1000.0);
    double rate = s.continuing / s.established, se = sqrt(DELTA * (1 - DELTA) / s.established);
    cr_assert_leq(fabs(rate - (1 - DELTA)), 5 * se, "continuation %.5f, expected %.5f (se %.5f)", rate, 1 - DELTA, se);
}

Test(exporter_years, new_exporters_sell_the_share_of_the_year_they_were_alive)
{
    tm_stats_years s = run_histories();
    double w = 0, m = 0, m2 = 0;
    for (int q = 1; q <= 4; q++) {
        double weight = pow(1 - DELTA, 4 - q), quarters = 5 - q;
        w += weight;
        m += weight * quarters;
        m2 += weight * quarters * quarters;
    }
    double expected = m / w / 4, sd = sqrt(m2 / w - (m / w) * (m / w)) / 4;
    /* Established firms all sell 4 quarters of the same value (productivity
     * within 1e-6 of 0), so the ratio is the mean share of a year. */
    double ratio = (s.new_value / s.new_exporters) / (s.old_value / s.old_exporters);
    cr_assert_gt(s.new_exporters, 1000.0);
    cr_assert_leq(fabs(ratio - expected), 5 * sd / sqrt(s.new_exporters), "ratio %.5f, expected %.5f", ratio, expected);
}

Test(exporter_years, spell_lengths_follow_lifetimes_in_calendar_years)
{
    tm_stats_years s = run_histories();
    double law[TM_STATS_SPELL_YEARS] = {0};
    for (int q = 1; q <= 4; q++)
        for (int k = 1; k < 4 * TM_STATS_SPELL_YEARS; k++) {
            int years = (q - 1 + k - 1) / 4 + 1;
            law[years < TM_STATS_SPELL_YEARS ? years : TM_STATS_SPELL_YEARS - 1] += 0.25 * pow(1 - DELTA, k - 1) *
                                                                                    DELTA;
        }
    double total = 0;
    for (int L = 1; L < TM_STATS_SPELL_YEARS; L++)
        total += s.spells[L];
    cr_assert_gt(total, 1000.0);
    for (int L = 1; L <= 6; L++) {
        double share = s.spells[L] / total, se = sqrt(law[L] * (1 - law[L]) / total);
        cr_assert_leq(fabs(share - law[L]), 5 * se, "spells of %d years: %.4f, expected %.4f", L, share, law[L]);
    }
}

Test(exporter_years, refuses_exact_aggregation)
{
    tm_params *p = fixture_params_set("always.yaml", always_exporting, "run.aggregation=exact");
    tm_error err = {0};
    tm_exporter_years *y = NULL;
    cr_assert_neq(tm_exporter_years_open(p, &y, &err), 0);
    cr_assert_null(y);
    cr_assert(strstr(err.msg, "run.aggregation") != NULL);
    tm_params_free(p);
}
