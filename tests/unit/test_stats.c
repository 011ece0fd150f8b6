/* The statistics module (src/base/stats.c): the t quantile against closed
 * forms and tables, the accumulator against hand computation, top shares,
 * one vocabulary of outcome names, outcomes of a hand-made window. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "base/stats.h"

/* ---- t quantile ---- */

Test(stats, t975_matches_the_closed_forms_for_one_and_two_degrees_of_freedom)
{
    /* df 1 (Cauchy): tan(pi (p - 1/2)); df 2: (2p - 1) / sqrt(2 p (1 - p)). */
    double p = 0.975;
    cr_assert_float_eq(tm_stats_t975(1), tan(M_PI * (p - 0.5)), 1e-9);
    cr_assert_float_eq(tm_stats_t975(2), (2 * p - 1) / sqrt(2 * p * (1 - p)), 1e-9);
}

Test(stats, t975_matches_printed_tables)
{
    /* Tables print three decimals: agreement within half a unit of the
     * last printed digit. Above 20 degrees of freedom the former
     * approximations (1.96 + 2.5 / df) were off by up to 0.03. */
    static const struct {
        int df;
        double t;
    } table[] = {{1, 12.706}, {5, 2.571},  {10, 2.228},  {20, 2.086},
                 {30, 2.042}, {60, 2.000}, {120, 1.980}, {1000, 1.962}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        cr_assert_float_eq(tm_stats_t975(table[i].df), table[i].t, 5e-4, "df %d: %.6f", table[i].df,
                           tm_stats_t975(table[i].df));
}

Test(stats, t975_tends_to_the_normal_quantile_and_is_nan_below_one)
{
    cr_assert_float_eq(tm_stats_t975(1000000), 1.959963984540054, 1e-5);
    cr_assert(isnan(tm_stats_t975(0)));
}

/* ---- accumulator ---- */

Test(stats, accumulator_gives_mean_sd_and_t_interval)
{
    tm_stats_acc acc = {0};
    double xs[] = {1, 2, NAN, 3, 4, INFINITY};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++)
        tm_stats_acc_add(&acc, xs[i]);
    tm_stats_summary s = tm_stats_acc_summary(&acc);
    /* {1, 2, 3, 4}: mean 2.5, sample variance 5/3; non-finite skipped. */
    cr_assert_eq(s.n, 4);
    cr_assert_float_eq(s.mean, 2.5, 1e-15);
    cr_assert_float_eq(s.sd, sqrt(5.0 / 3.0), 1e-15);
    double half = 3.182446305284263 * sqrt(5.0 / 3.0) / 2.0; /* t(0.975, 3) from tables to 15 digits */
    cr_assert_float_eq(s.ci_low, 2.5 - half, 1e-12);
    cr_assert_float_eq(s.ci_high, 2.5 + half, 1e-12);
}

Test(stats, accumulator_has_no_interval_below_two_values)
{
    tm_stats_acc acc = {0};
    tm_stats_summary none = tm_stats_acc_summary(&acc);
    cr_assert(none.n == 0 && isnan(none.mean) && isnan(none.sd));
    tm_stats_acc_add(&acc, 7.0);
    tm_stats_summary one = tm_stats_acc_summary(&acc);
    cr_assert(one.n == 1 && one.mean == 7.0 && isnan(one.ci_low) && isnan(one.ci_high));
}

/* ---- top shares ---- */

Test(stats, top_share_takes_a_fraction_of_the_boundary_cell)
{
    /* 10 firms worth 1 and one worth 10: the top 10% of 11 firms is the big
     * one and a tenth of a small one, (10 + 0.1) of 20. */
    tm_stats_cell cells[] = {{1.0, 10.0}, {10.0, 1.0}};
    cr_assert_float_eq(tm_stats_top_share(cells, 2, 0.10, 11.0, 20.0), 10.1 / 20.0, 1e-15);
    cr_assert_eq(cells[0].value, 10.0, "sorted largest first");
    cr_assert(isnan(tm_stats_top_share(cells, 2, 0.10, 0.0, 20.0)));
}

/* ---- names ---- */

static const char *const sectors[] = {"energy", "canola"};
static const char *const dests[] = {"US", "CN", "ROW"};
static const tm_stats_shape shape = {2, 3, sectors, dests, 0, 0};

static void parses(const char *name, int dest, int sector)
{
    tm_stats_outcome o;
    tm_error err = {0};
    cr_assert_eq(tm_stats_outcome_parse(name, &shape, &o, &err), 0, "%s: %s", name, err.msg);
    cr_assert_eq(o.dest, dest, "%s", name);
    cr_assert_eq(o.sector, sector, "%s", name);
}

static void refused(const char *name, const tm_stats_shape *sh, const char *words)
{
    tm_stats_outcome o;
    tm_error err = {0};
    cr_assert_neq(tm_stats_outcome_parse(name, sh, &o, &err), 0, "%s accepted", name);
    cr_assert_eq(err.status, TM_ERR_INPUT);
    cr_assert(strstr(err.msg, words) != NULL, "%s: %s", name, err.msg);
}

Test(stats, names_are_a_root_then_a_destination_then_a_sector)
{
    parses("export_value", -1, -1);
    parses("export_value.CN", 1, -1);
    parses("export_value.CN.canola", 1, 1);
    parses("export_value.canola", -1, 1);
    parses("export_share.ROW.energy", 2, 0);
    parses("exporters.energy", -1, 0);
    parses("non_us_share", -1, -1);
}

Test(stats, names_of_the_older_vocabularies_are_refused_with_the_new_name)
{
    refused("exports_US", &shape, "did you mean `export_value.US`?");
    refused("exports_total", &shape, "did you mean `export_value`?");
    refused("exporters_CN", &shape, "did you mean `firms_serving.CN`?");
    refused("tariff_paid_US", &shape, "did you mean `tariff_paid.US`?");
    refused("us_share", &shape, "did you mean `export_share.US`?");
    refused("cn_share.energy", &shape, "did you mean `export_share.CN.energy`?");
    refused("row_weight.canola", &shape, "did you mean `export_weight.ROW.canola`?");
    refused("us_only_share", &shape, "did you mean `only_share.US`?");
    refused("us_exports", &shape, "did you mean `export_value.US`?");
    refused("non_us_exports", &shape, "did you mean `non_us_export_value`?");
    refused("us_share_change_pp", &shape, "did you mean `export_share.US`?");
    refused("entries_change", &shape, "did you mean `entrants`?");
    /* Before the base is known (a sweep file), the sweep forms still get one. */
    refused("exports_CN", NULL, "did you mean `export_value.CN`?");
}

Test(stats, bad_qualifiers_and_firm_level_names_are_input_errors)
{
    refused("export_share", &shape, "needs a destination");
    refused("export_share.EU", &shape, "`EU` is not a destination or sector");
    refused("export_value.canola.US", &shape, "`US` is not");
    refused("export_participation.US", &shape, "is not a sector");
    refused("top1_share.energy", &shape, "takes no qualifier");
    refused("top1_share", &shape, "calibration moment");
    refused("export_vlaue", &shape, "unknown outcome `export_vlaue`");
    tm_stats_shape in_memory = shape;
    in_memory.firm_level = 1;
    tm_stats_outcome o;
    cr_assert_eq(tm_stats_outcome_parse("top1_share", &in_memory, &o, NULL), 0);
}

/* ---- a hand-made window ---- */

/* Two periods, one sector, destinations US and CN (sets: none, US, CN,
 * both). */
Test(stats, outcomes_of_a_window_follow_their_definitions)
{
    static const char *const one_sector[] = {"s"};
    static const char *const two_dests[] = {"US", "CN"};
    tm_stats_shape sh = {1, 2, one_sector, two_dests, 0, 0};
    tm_stats_window *w = NULL;
    cr_assert_eq(tm_stats_window_open(&sh, 4, &w, NULL), 0);
    double value[2][2] = {{30, 10}, {50, 10}}, serving[2][2] = {{20, 10}, {24, 8}};
    double entrants[2][2] = {{2, 1}, {6, 0}}, exiters[2][2] = {{1, 0}, {2, 2}}, tariff[2][2] = {{3, 0}, {5, 0}};
    double by_set[2][4] = {{70, 15, 5, 5}, {70, 18, 4, 4}};
    for (int t = 0; t < 2; t++) {
        tm_stats_period p = {value[t],  serving[t], entrants[t],          exiters[t],
                             tariff[t], by_set[t],  t ? serving[0] : NULL};
        tm_stats_window_add(w, &p);
    }
    struct {
        const char *name;
        double expected;
    } cases[] = {
        {"export_value", (30 + 10 + 50 + 10) / 2.0},
        {"export_value.US", (30 + 50) / 2.0},
        {"export_share.US", 80.0 / 100.0},
        {"non_us_share", 20.0 / 100.0},
        {"non_us_export_value", 20.0 / 2.0},
        {"export_weight.CN.s", 20.0 / 100.0},
        {"firms_serving.CN", (10 + 8) / 2.0},
        {"entrants", (2 + 1 + 6 + 0) / 2.0},
        {"tariff_paid.US", (3 + 5) / 2.0},
        {"exporters", (25 + 26) / 2.0},
        {"export_participation", 51.0 / 191.0},
        {"single_market_share", (15 + 5 + 18 + 4) / 51.0},
        {"only_share.CN", (5 + 4) / 51.0},
        /* Only the second period's period before is known: 2 of 20 left. */
        {"market_persistence.US", pow(1.0 - 2.0 / 20.0, 4)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tm_stats_outcome o;
        tm_error err = {0};
        cr_assert_eq(tm_stats_outcome_parse(cases[i].name, &sh, &o, &err), 0, "%s", err.msg);
        cr_assert_float_eq(tm_stats_outcome_value(w, &o), cases[i].expected, 1e-14, "%s: %.17g", cases[i].name,
                           tm_stats_outcome_value(w, &o));
    }
    tm_stats_window_close(w);
}

/* Two sectors, destinations US, CN and ROW, one period: leaving a sector
 * out of the (non-US) value is the (non-US) value of the other sector. */
Test(stats, value_except_a_sector_is_that_of_the_other_sectors)
{
    static const char *const two_sectors[] = {"gold", "other"};
    static const char *const three_dests[] = {"US", "CN", "ROW"};
    tm_stats_shape sh = {2, 3, two_sectors, three_dests, 0, 0};
    tm_stats_window *w = NULL;
    cr_assert_eq(tm_stats_window_open(&sh, 4, &w, NULL), 0);
    double value[6] = {100, 7, 40, 300, 11, 13}, zero[6] = {0}, by_set[16] = {0};
    tm_stats_period p = {value, zero, zero, zero, zero, by_set, NULL};
    tm_stats_window_add(w, &p);
    struct {
        const char *name;
        double expected;
    } cases[] = {
        {"non_us_export_value_except.gold", 11 + 13}, {"non_us_export_value_except.other", 7 + 40},
        {"non_us_export_value", 7 + 40 + 11 + 13},    {"export_value_except.gold", 300 + 11 + 13},
        {"export_value_except.other", 100 + 7 + 40},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tm_stats_outcome o;
        tm_error err = {0};
        cr_assert_eq(tm_stats_outcome_parse(cases[i].name, &sh, &o, &err), 0, "%s", err.msg);
        cr_assert_eq(tm_stats_outcome_value(w, &o), cases[i].expected, "%s", cases[i].name);
    }
    refused("non_us_export_value_except", &sh, "needs a sector");
    refused("non_us_export_value_except.US", &sh, "is not a sector");
    refused("non_us_export_value_except.gold.other", &sh, "at most a sector");
    refused("export_value_except", &sh, "needs a sector");
    refused("export_value_except.US", &sh, "is not a sector");
    refused("export_value_except.US.gold", &sh, "at most a sector");
    tm_stats_window_close(w);
}

Test(stats, effects_are_points_percent_or_differences_by_unit)
{
    tm_stats_outcome share, value, count;
    tm_stats_outcome_parse("export_share.US", &shape, &share, NULL);
    tm_stats_outcome_parse("export_value", &shape, &value, NULL);
    tm_stats_outcome_parse("entrants", &shape, &count, NULL);
    cr_assert_float_eq(tm_stats_effect(&share, 0.75, 0.70), -5.0, 1e-12);
    cr_assert_str_eq(tm_stats_effect_units(&share), "percentage points");
    cr_assert_float_eq(tm_stats_effect(&value, 200.0, 150.0), -25.0, 1e-12);
    cr_assert_str_eq(tm_stats_effect_units(&value), "percent");
    cr_assert(isnan(tm_stats_effect(&value, 0.0, 1.0)));
    cr_assert_float_eq(tm_stats_effect(&count, 12.0, 9.5), -2.5, 1e-12);
    cr_assert_str_eq(tm_stats_effect_units(&count), "firms");
}

Test(stats, spell_median_spreads_each_whole_year_over_the_year_around_it)
{
    tm_stats_years s;
    memset(&s, 0, sizeof s);
    s.spells[1] = 3;
    s.spells[2] = 5;
    s.spells[3] = 2;
    /* F(1) = 0.3, then 2's half of the mass: 1.5 + (0.5 - 0.3) / 0.5. */
    cr_assert_float_eq(tm_stats_median_spell(&s), 1.9, 1e-12);
    s.spells[2] = 0;
    s.spells[1] = 1;
    s.spells[3] = 1;
    /* Half the mass at 1: the median is the top of 1's year. */
    cr_assert_float_eq(tm_stats_median_spell(&s), 1.5, 1e-12);
    tm_stats_years none;
    memset(&none, 0, sizeof none);
    cr_assert(isnan(tm_stats_median_spell(&none)));
}
