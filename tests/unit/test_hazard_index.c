/* test_hazard_index: index-driven escalation hazards (docs/model.md
 * section 12). An event `hazard_index` gives an index I_t for consecutive
 * periods from its date; the escalation hazard of its destination is
 *     h_t = logistic(a + b ln(I_t / mean I))
 * from period t on (the last value holds after the path). */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fixtures.h"

/* Two regimes: from free the base escalation hazard is 0.05, from high the
 * hazard of easing is 0.2. */
static const char *const world =
    "run: {model: %s, start: 2024Q1, periods: %d, burn_in: %d, seed: %d}\n"
    "sectors:\n"
    "  steel: {firms: %d}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {fixed_cost: 0.2, sunk_cost: 1.0}\n"
    "    regimes: {free: {}, high: {tariff: 0.5}}\n"
    "    transition: [[0.95, 0.05], [0.2, 0.8]]\n"
    "events:\n"
    "  - {at: 2024Q3, destination: US, hazard_index: [%s], hazard_intercept: %.17g,\n"
    "     hazard_slope: %.17g, anticipated: %s}\n";

static const double path_values[] = {120.0, 300.0, 80.0, 95.0, 410.0, 150.0, 60.0, 200.0};
#define N_VALUES 8
#define FIRST 2 /* logged period of the event (2024Q3) */

static tm_params *with_index(const char *model, int periods, int burn_in, int seed, int firms, double a, double b,
                             const char *anticipated)
{
    char list[512] = "";
    for (int k = 0; k < N_VALUES; k++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%g", k ? ", " : "", path_values[k]);
    return fixture_params_fmt("hazard_index", NULL, 0, world, model, periods, burn_in, seed, firms, list, a, b,
                              anticipated);
}

/* The closed form of eq. 35. */
static double closed_form(double a, double b, int k)
{
    double mean = 0.0;
    for (int i = 0; i < N_VALUES; i++)
        mean += path_values[i];
    mean /= N_VALUES;
    return 1.0 / (1.0 + exp(-(a + b * log(path_values[k] / mean))));
}

Test(hazard_index, hazard_path_follows_the_closed_form)
{
    /* The matrix in force after the events of period t: the base before
     * the path, h_{t - FIRST} during it, the last value after it; the
     * true and perceived matrices agree. One exp, log and division against
     * the same in another order: 1e-15 absolute. */
    const double a = -3.0, b = 1.5;
    fixture_env e;
    fixture_env_open(&e, with_index("myopic", 16, 2, 1, 100, a, b, "false"));
    for (int t = 0; t < 16; t++) {
        tm_env_advance(&e.env, t, NULL);
        const tm_process *pr = &e.env.process[0];
        double want = t < FIRST ? 0.05 : closed_form(a, b, t - FIRST < N_VALUES ? t - FIRST : N_VALUES - 1);
        cr_expect(fabs(pr->transition[0][0][1] - want) < 1e-15, "period %d: h %.17g, closed form %.17g", t,
                  pr->transition[0][0][1], want);
        cr_expect(fabs(pr->transition[0][0][0] - (1.0 - want)) < 1e-15, "period %d: staying", t);
        cr_expect_eq(pr->transition[0][1][0], 0.2, "period %d: easing untouched", t);
        cr_expect_eq(memcmp(pr->transition, pr->perceived, sizeof pr->transition), 0, "period %d: perceived", t);
    }
    fixture_env_close(&e);
}

Test(hazard_index, zero_slope_is_a_constant_hazard)
{
    /* b = 0 and a = logit(0.05): h = 0.05 in every period (to rounding),
     * and the realised regimes are those of the run without the event. */
    const double a = log(0.05 / 0.95);
    fixture_env with, without;
    fixture_env_open(&with, with_index("myopic", 200, 2, 7, 100, a, 0.0, "false"));
    fixture_env_open(&without, fixture_params_fmt("hazard_index", NULL, 0, "%s",
                                                  "run: {start: 2024Q1, periods: 200, burn_in: 2, seed: 7}\n"
                                                  "sectors:\n"
                                                  "  steel: {firms: 100}\n"
                                                  "destinations:\n"
                                                  "  US:\n"
                                                  "    market: {fixed_cost: 0.2, sunk_cost: 1.0}\n"
                                                  "    regimes: {free: {}, high: {tariff: 0.5}}\n"
                                                  "    transition: [[0.95, 0.05], [0.2, 0.8]]\n"));
    int moves = 0;
    for (int t = 0; t < 200; t++) {
        tm_env_advance(&with.env, t, NULL);
        tm_env_advance(&without.env, t, NULL);
        cr_expect(fabs(with.env.process[0].transition[0][0][1] - 0.05) < 1e-15, "period %d", t);
        cr_expect_eq(with.env.regime[0], without.env.regime[0], "period %d: same regime", t);
        moves += t > 0 && with.env.regime[0] != 0;
    }
    cr_expect_gt(moves, 0, "the path visits the high regime (else the comparison says nothing)");
    fixture_env_close(&with);
    fixture_env_close(&without);
}

Test(hazard_index, realised_escalations_match_the_hazard_path)
{
    /* Over 2000 seeds and the periods of the path (the draw into period t
     * uses the matrix in force after the events of t - 1), the number of
     * escalations from free is a sum of independent Bernoulli(h) draws:
     * its mean is sum h and its s.d. sqrt(sum h (1 - h)); 4 s.d. leaves a
     * false failure probability of 6e-5. */
    const double a = -2.5, b = 1.2;
    double expected = 0.0, variance = 0.0;
    long escalations = 0;
    for (int seed = 1; seed <= 2000; seed++) {
        fixture_env e;
        fixture_env_open(&e, with_index("myopic", FIRST + N_VALUES + 1, 1, seed, 10, a, b, "false"));
        tm_env_advance(&e.env, 0, NULL);
        int prev = e.env.regime[0];
        for (int t = 1; t <= FIRST + N_VALUES; t++) {
            double h = e.env.process[0].transition[0][0][1]; /* in force after t - 1 */
            tm_env_advance(&e.env, t, NULL);
            if (prev == 0) {
                expected += h;
                variance += h * (1.0 - h);
                escalations += e.env.regime[0] == 1;
            }
            prev = e.env.regime[0];
        }
        fixture_env_close(&e);
    }
    double z = ((double)escalations - expected) / sqrt(variance);
    cr_expect(fabs(z) < 4.0, "escalations %ld, expected %.1f (s.d. %.1f): z = %.2f", escalations, expected,
              sqrt(variance), z);
}

Test(hazard_index, anticipated_rise_in_the_index_lowers_entry_before_it)
{
    /* An index that peaks in the path's fifth period: foreseen, the dynamic
     * firms price the higher hazard ahead and enter less before the path
     * starts than firms it surprises. */
    fixture_path a, b;
    fixture_expect_foresight_lowers_entry(with_index("dynamic", 16, 60, 3, 20000, -2.0, 2.0, "true"),
                                          with_index("dynamic", 16, 60, 3, 20000, -2.0, 2.0, "false"), FIRST, &a, &b);
}

Test(hazard_index, firm_simulation_does_not_depend_on_the_thread_count)
{
    /* fixture_simulate runs on two threads; the same run on one thread
     * gives the same serving counts in every period. */
    tm_params *p = with_index("dynamic", 16, 20, 5, 5000, -2.0, 1.5, "true");
    fixture_path two;
    fixture_simulate(p, &two);
    fixture_sim s;
    fixture_sim_open(&s, p, 1);
    while (fixture_sim_next(&s))
        if (s.result->period >= 0) {
            cr_expect_eq(s.result->serving[0], two.serving[s.result->period][0], "period %d", s.result->period);
            cr_expect_eq(s.result->regime[0], two.regime[s.result->period][0], "period %d", s.result->period);
        }
    fixture_sim_close(&s);
}

Test(hazard_index, index_file_is_read_relative_to_the_parameter_file)
{
    /* The same path from a file beside the parameter file gives the same
     * resolved parameters (the values are written into the canonical
     * text), so runs and digests do not depend on the file once loaded. */
    char dir[] = "/tmp/tm-hazard-XXXXXX";
    cr_assert(mkdtemp(dir));
    char csv[512], yaml[512];
    snprintf(csv, sizeof csv, "%s/tpu.csv", dir);
    snprintf(yaml, sizeof yaml, "%s/run.yaml", dir);
    FILE *f;
    f = fopen(csv, "w");
    cr_assert(f);
    fprintf(f, "period,index\n# a comment\n");
    for (int k = 0; k < N_VALUES; k++)
        fprintf(f, "%dQ%d,%g\n", 2024 + (2 + k) / 4, (2 + k) % 4 + 1, path_values[k]);
    fclose(f);
    tm_params *listed = with_index("myopic", 16, 2, 1, 100, -3.0, 1.5, "false");
    f = fopen(yaml, "w");
    cr_assert(f);
    /* The listed parameters' canonical text, with the list replaced by the file. */
    const char *canon = listed->canonical;
    const char *list_at = strstr(canon, "hazard_index: [");
    cr_assert(list_at);
    fprintf(f, "%.*shazard_index: tpu.csv\n", (int)(list_at - canon), canon);
    fprintf(f, "%s", strchr(list_at, '\n') + 1);
    fclose(f);
    tm_params *filed = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_params_load(yaml, NULL, 0, &filed, &err), 0, "%s", err.msg);
    cr_expect_str_eq(filed->canonical, canon);
    tm_params_free(filed);
    tm_params_free(listed);
    remove(csv);
    remove(yaml);
    remove(dir);
}
