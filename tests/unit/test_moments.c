/* Calibration's moments (src/experiments/moments.c), computed in memory
 * while a run steps, against the same statistics computed here, by plain
 * loops, from the datasets the same run stored in its file (read with
 * HDF5 directly, not through the reader or the statistics module). */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/runner.h"
#include "experiments/moments.h"
#include "fixtures.h"

/* burn_in 0: the first logged period has no period before in memory
 * either, so the file holds every period the moments use. */
static const char *const small_run =
    "run: {model: myopic, seed: 5, periods: 6, burn_in: 0}\n"
    "productivity: {grid: 21}\n"
    "decision: {myopic_sunk: annuity}\n"
    "sectors:\n"
    "  a: {firms: 3000, persistence: 0.95, volatility: 0.2, death_rate: 0.02,\n"
    "      markets: {US: {demand: 1.0}, CN: {demand: 0.4}, ROW: {demand: 0.3}}}\n"
    "  b: {firms: 2000, persistence: 0.9, volatility: 0.2, death_rate: 0.02,\n"
    "      markets: {US: {demand: 0.6}, CN: {demand: 0.5}, ROW: {demand: 0.5}}}\n"
    "destinations:\n"
    "  US: {market: {fixed_cost: 0.5, sunk_cost: 1.5}, regimes: {open: {tariff: 0}}, transition: [[1]]}\n"
    "  CN: {market: {fixed_cost: 0.6, sunk_cost: 2.0}, regimes: {open: {tariff: 0}}, transition: [[1]]}\n"
    "  ROW: {market: {fixed_cost: 0.6, sunk_cost: 2.0}, regimes: {open: {tariff: 0}}, transition: [[1]]}\n";

enum { T = 6, S = 2, D = 3, NS = 8, US = 0, CN = 1, ROW = 2 };
static const int firms[S] = {3000, 2000};

static tm_params *params;
static tm_moments *moments;
static char path[256];
/* Stored series, [period][sector][destination] and [period][sector][set]. */
static double value[T][S][D], serving[T][S][D], exiters[T][S][D], by_set[T][S][NS];
static unsigned char *markets[S]; /* panel: [period][slot] */

static void read_all(hid_t f, const char *name, hid_t type, void *out)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    cr_assert_geq(d, 0, "%s missing", name);
    cr_assert_geq(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), 0, "%s unreadable", name);
    H5Dclose(d);
}

static void setup(void)
{
    tm_error err = {0};
    char digest[65];
    params = fixture_params("small", small_run, NULL, 0);
    snprintf(path, sizeof path, "/tmp/tradeabm-test-moments-%ld.h5", (long)getpid());
    tm_simulate_options so = {.threads = 1, .panel = 1, .force = 1};
    cr_assert_eq(tm_simulate(params, path, &so, digest, &err), 0, "%s", err.msg);
    cr_assert_eq(tm_moments_of_run(params, 1, &moments, &err), 0, "%s", err.msg);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    read_all(f, "series/export_value", H5T_NATIVE_DOUBLE, value);
    read_all(f, "series/firms_serving", H5T_NATIVE_DOUBLE, serving);
    read_all(f, "series/exiters", H5T_NATIVE_DOUBLE, exiters);
    read_all(f, "series/firms_by_market_set", H5T_NATIVE_DOUBLE, by_set);
    for (int s = 0; s < S; s++) {
        char name[64];
        snprintf(name, sizeof name, "panel/%s/markets", s ? "b" : "a");
        markets[s] = malloc((size_t)T * (size_t)firms[s]);
        cr_assert(markets[s]);
        read_all(f, name, H5T_NATIVE_UCHAR, markets[s]);
    }
    H5Fclose(f);
}

static void teardown(void)
{
    for (int s = 0; s < S; s++)
        free(markets[s]);
    unlink(path);
    tm_moments_close(moments);
    tm_params_free(params);
}

static double moment(const char *name)
{
    tm_error err = {0};
    double v = NAN;
    cr_assert_eq(tm_moments_value(moments, name, &v, &err), 0, "%s: %s", name, err.msg);
    return v;
}

/* The file holds the same numbers the run had in memory; only the order of
 * the sums differs, each of at most T * S * 2^D = 96 terms of one sign, so
 * the relative difference is below 96 * 2^-53 < 1.1e-14. */
#define REL 1.1e-14

static void close_to(const char *name, double expected)
{
    double got = moment(name);
    cr_assert(isfinite(expected) && expected != 0, "%s: expected %g is not a useful check", name, expected);
    cr_assert_float_eq(got, expected, REL * fabs(expected), "%s: memory %.17g, file %.17g", name, got, expected);
}

/* Sum of stored export values over periods, sectors in [s0, s1) and
 * destinations in [d0, d1). */
static double exports(int s0, int s1, int d0, int d1)
{
    double sum = 0;
    for (int t = 0; t < T; t++)
        for (int s = s0; s < s1; s++)
            for (int d = d0; d < d1; d++)
                sum += value[t][s][d];
    return sum;
}

TestSuite(moments, .init = setup, .fini = teardown);

Test(moments, destination_shares_are_those_of_the_stored_export_values)
{
    close_to("export_share.US", exports(0, S, US, US + 1) / exports(0, S, 0, D));
    close_to("export_share.CN.b", exports(1, 2, CN, CN + 1) / exports(1, 2, 0, D));
    close_to("non_us_share", exports(0, S, CN, D) / exports(0, S, 0, D));
    close_to("export_weight.ROW.a", exports(0, 1, ROW, ROW + 1) / exports(0, S, 0, D));
}

Test(moments, export_values_are_stored_values_per_period)
{
    close_to("export_value", exports(0, S, 0, D) / T);
    close_to("export_value.US.a", exports(0, 1, US, US + 1) / T);
    close_to("non_us_export_value", exports(0, S, CN, D) / T);
}

Test(moments, market_set_shares_are_those_of_the_stored_sets)
{
    double exporters = 0, single = 0, only_us = 0, exporters_b = 0;
    for (int t = 0; t < T; t++)
        for (int s = 0; s < S; s++)
            for (int set = 1; set < NS; set++) {
                exporters += by_set[t][s][set];
                exporters_b += s == 1 ? by_set[t][s][set] : 0;
                single += set == 1 || set == 2 || set == 4 ? by_set[t][s][set] : 0;
                only_us += set == 1 << US ? by_set[t][s][set] : 0;
            }
    /* Slots from the parameters: every slot is in exactly one set. */
    close_to("export_participation", exporters / (T * (double)(firms[0] + firms[1])));
    close_to("single_market_share", single / exporters);
    close_to("only_share.US", only_us / exporters);
    close_to("exporters.b", exporters_b / T);
}

Test(moments, persistence_is_that_of_the_stored_panel_and_series)
{
    /* Firm level: exporters of period t - 1 still exporting at t, their
     * slot not reborn (panel markets: set in bits 0-5, born in bit 7). */
    double before = 0, kept = 0;
    for (int s = 0; s < S; s++)
        for (int t = 1; t < T; t++)
            for (int i = 0; i < firms[s]; i++) {
                unsigned char prev = markets[s][(t - 1) * firms[s] + i], now = markets[s][t * firms[s] + i];
                if (prev & 0x3F) {
                    before++;
                    kept += (now & 0x3F) && !(now & 0x80);
                }
            }
    close_to("exporter_persistence", pow(kept / before, 4));
    /* Destination level: exiters from US over firms serving it a period before. */
    double exits = 0, served = 0;
    for (int t = 1; t < T; t++)
        for (int s = 0; s < S; s++) {
            exits += exiters[t][s][US];
            served += serving[t - 1][s][US];
        }
    close_to("market_persistence.US", pow(1.0 - exits / served, 4));
}

Test(moments, pooled_top_shares_are_ordered_shares)
{
    double t1 = moment("top1_share"), t10 = moment("top10_share");
    cr_assert(t1 > 0.01 && t1 < t10 && t10 < 1.0, "top1 %g top10 %g", t1, t10);
}

Test(moments, unknown_and_older_names_are_input_errors)
{
    tm_error err = {0};
    double v;
    cr_assert_neq(tm_moments_value(moments, "export_share.EU", &v, &err), 0);
    cr_assert_eq(err.status, TM_ERR_INPUT);
    cr_assert_neq(tm_moments_value(moments, "us_share.a", &v, &err), 0);
    cr_assert(strstr(err.msg, "did you mean `export_share.US.a`?") != NULL, "%s", err.msg);
    cr_assert_neq(tm_moments_value(moments, "top1_share.a", &v, &err), 0);
}

Test(moments, largest_exporter_and_top_tenth_of_a_percent_are_ordered_shares)
{
    /* The largest exporter holds at least the mean exporter's share and at
     * most the top 0.1%, which hold at most the top 1%. */
    double largest = moment("largest_share"), t01 = moment("top01_share"), t1 = moment("top1_share");
    cr_assert(largest >= 1.0 / moment("exporters") && largest <= t01 + 1e-12 && t01 <= t1 + 1e-12,
              "largest %g top 0.1%% %g top 1%% %g", largest, t01, t1);
}

/* With exact aggregation the moments are those of the expected numbers of
 * firms the run stores, and firm-level names are refused. */
Test(moments_exact, shares_are_those_of_the_stored_expected_values_and_firm_names_are_refused)
{
    tm_error err = {0};
    char digest[65], file[256];
    tm_params *p = fixture_params_set("small", small_run, "run.aggregation=exact");
    snprintf(file, sizeof file, "/tmp/tradeabm-test-moments-exact-%ld.h5", (long)getpid());
    tm_simulate_options so = {.threads = 1, .force = 1};
    cr_assert_eq(tm_simulate(p, file, &so, digest, &err), 0, "%s", err.msg);
    tm_moments *m = NULL;
    cr_assert_eq(tm_moments_of_run(p, 1, &m, &err), 0, "%s", err.msg);
    static double v[T][S][D], sets[T][S][NS];
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    read_all(f, "/series/export_value", H5T_NATIVE_DOUBLE, v);
    read_all(f, "/series/firms_by_market_set", H5T_NATIVE_DOUBLE, sets);
    H5Fclose(f);
    unlink(file);
    double us = 0, all = 0, exporters = 0, slots = 0;
    for (int t = 0; t < T; t++)
        for (int s = 0; s < S; s++) {
            for (int d = 0; d < D; d++)
                all += v[t][s][d];
            us += v[t][s][US];
            for (int k = 0; k < NS; k++) {
                slots += sets[t][s][k];
                exporters += k ? sets[t][s][k] : 0;
            }
        }
    double got;
    cr_assert_eq(tm_moments_value(m, "export_share.US", &got, &err), 0, "%s", err.msg);
    cr_assert_float_eq(got, us / all, 1e-12);
    cr_assert_eq(tm_moments_value(m, "export_participation", &got, &err), 0, "%s", err.msg);
    cr_assert_float_eq(got, exporters / slots, 1e-12);
    cr_assert_neq(tm_moments_value(m, "spell_median", &got, &err), 0);
    cr_assert_eq(err.status, TM_ERR_INPUT);
    tm_moments_close(m);
    tm_params_free(p);
}
