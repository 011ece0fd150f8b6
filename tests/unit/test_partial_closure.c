/* test_partial_closure: a regime that closes a destination to a sector's
 * most productive firms only, closed_above_quantile (docs/model.md
 * eq. 26a): the closed share of the stationary mass, the flow tables, and
 * runs of every model and of exact aggregation. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/economy.h"
#include "engine/grid.h"
#include "engine/run.h"
#include "fixtures.h"
#include "models/model.h"
#include "params/params.h"

/* The Rouwenhorst chain's stationary law is Binomial(n - 1, 1/2) (Kopecky
 * and Suen 2010): pi_i = C(n - 1, i) / 2^(n - 1), from the closed form,
 * not from the chain. */
static void binomial_law(int n, double *pi)
{
    double c = 1.0;
    for (int i = 0; i < n; i++) {
        pi[i] = c * ldexp(1.0, -(n - 1));
        c = c * (double)(n - 1 - i) / (double)(i + 1);
    }
}

/* The first point whose mass strictly below is at least q, by the
 * definition of eq. 26a applied to the law pi. */
static int first_closed(int n, const double *pi, double q)
{
    double below = 0.0;
    for (int i = 0; i < n; i++) {
        if (below >= q)
            return i;
        below += pi[i];
    }
    return n;
}

Test(partial_closure, closed_share_is_the_top_1_minus_q_of_the_stationary_mass)
{
    enum { N = 41 };
    double z[N], P[N * N], pi[N], law[N];
    cr_assert_eq(tm_grid_rouwenhorst(N, 0.9, 0.2, z, P), 0);
    binomial_law(N, pi);
    /* The count is taken on the law the run uses (GTH elimination, as
     * tm_grid_tables_init computes it) and checked on the closed form. */
    cr_assert_eq(tm_grid_stationary_exact(N, P, law), 0);
    const double qs[] = {0.3, 0.5, 0.7, 0.9, 0.98, 0.999};
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        double q = qs[k];
        int top = tm_grid_top_count(N, law, q);
        int first = first_closed(N, pi, q);
        cr_expect_eq(top, N - first, "q = %g: %d points closed, expected %d", q, top, N - first);
        double closed = 0.0;
        for (int i = N - top; i < N; i++)
            closed += pi[i];
        /* At most 1 - q, and one more point would take it past 1 - q: equal
         * to 1 - q up to the mass of one grid point. */
        cr_expect_leq(closed, 1.0 - q + 1e-12, "q = %g: closed mass %g", q, closed);
        cr_expect_gt(closed + pi[N - top - 1], 1.0 - q - 1e-12, "q = %g: closed mass %g", q, closed);
    }
    cr_expect_eq(tm_grid_top_count(N, law, 1.0), 0, "q = 1 closes no point");
    cr_expect_eq(tm_grid_top_count(N, law, 0.0), N, "q = 0 closes every point");
    cr_expect_eq(tm_grid_top_count(N, law, 1e-300), N - 1, "a small q closes all but the lowest point");
}

/* The same on a Tauchen grid, whose law has no closed form: against the
 * law found by power iteration, another algorithm than the one used. */
Test(partial_closure, closed_share_on_a_tauchen_grid)
{
    enum { N = 31 };
    double z[N], P[N * N], pi[N], law[N];
    cr_assert_eq(tm_grid_tauchen(N, 0.8, 0.3, 3.0, z, P), 0);
    cr_assert_eq(tm_grid_stationary(N, P, pi, 1e-15, 100000), 0);
    cr_assert_eq(tm_grid_stationary_exact(N, P, law), 0);
    const double qs[] = {0.5, 0.8, 0.95};
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        int top = tm_grid_top_count(N, law, qs[k]);
        cr_expect_eq(top, N - first_closed(N, pi, qs[k]), "q = %g", qs[k]);
        double closed = 0.0;
        for (int i = N - top; i < N; i++)
            closed += pi[i];
        cr_expect_leq(closed, 1.0 - qs[k] + 1e-9);
        cr_expect_gt(closed + pi[N - top - 1], 1.0 - qs[k] - 1e-9);
    }
}

/* Eq. 26a in the tables: the sets containing the closed market are -inf
 * at the top points only; every other entry is the unclosed table's, bit
 * for bit; closing every point is the total closure of eq. 26. */
Test(partial_closure, tables_close_the_top_points_only)
{
    enum { NZ = 6, NS = 4, ND = 2, TOP = 2 };
    const double z[NZ] = {-1.0, -0.5, 0.0, 0.3, 0.7, 1.2};
    tm_profit_fn fn;
    tm_profit_fn_init(&fn, 3.8, 0.0);
    tm_sector sec;
    memset(&sec, 0, sizeof sec);
    sec.market[0] = (tm_market){.demand = 1.0, .iceberg = 1.1, .fixed_cost = 0.4, .sunk_cost = 1.0};
    sec.market[1] = (tm_market){.demand = 0.5, .iceberg = 1.3, .fixed_cost = 0.2, .sunk_cost = 1.0};
    tm_conditions open, part, all;
    memset(&open, 0, sizeof open);
    for (int d = 0; d < ND; d++) {
        open.demand[d] = sec.market[d].demand;
        open.tariff[d] = 0.1;
    }
    part = all = open;
    part.closed_top[1] = TOP;
    all.closed[1] = 1;
    double f_open[NZ * NS], f_part[NZ * NS], f_all[NZ * NS], r[NZ * NS * ND];
    tm_econ_tables(&fn, &sec, ND, &open, z, NZ, f_open, r);
    tm_econ_tables(&fn, &sec, ND, &part, z, NZ, f_part, r);
    tm_econ_tables(&fn, &sec, ND, &all, z, NZ, f_all, r);
    for (int iz = 0; iz < NZ; iz++)
        for (int S = 0; S < NS; S++) {
            int shut = (S >> 1 & 1) && iz >= NZ - TOP;
            double got = f_part[iz * NS + S];
            if (shut)
                cr_expect(isinf(got) && got < 0, "z %d, set %d: closed", iz, S);
            else
                cr_expect_eq(got, f_open[iz * NS + S], "z %d, set %d: as without the closure", iz, S);
        }
    part.closed_top[1] = NZ;
    tm_econ_tables(&fn, &sec, ND, &part, z, NZ, f_part, r);
    cr_expect_eq(memcmp(f_part, f_all, sizeof f_all), 0, "every point closed is the total closure");
}

static const char *const chain = "[[0.95, 0.05], [0.2, 0.8]]";
/* The ban is forced from period 4 (2025Q1). */
static const char *const ban_at_4 =
    "events:\n"
    "  - {at: 2024Q1, destination: CN, regime: normal}\n"
    "  - {at: 2025Q1, destination: CN, regime: ban}\n";

enum { PERIODS = 10, NZ = 41, NSETS = 4 };

/* Per logged period: firms (or expected firms) serving each sector and
 * destination, canola's export value to China, and canola's firms by grid
 * point serving China. */
typedef struct {
    double serving[PERIODS][2][2];
    double canola_cn_value[PERIODS];
    double canola_cn_by_z[PERIODS][NZ];
} path;

static void simulate(const char *model, const char *ban, path *out)
{
    memset(out, 0, sizeof *out);
    fixture_sim sim;
    fixture_sim_open(&sim, fixture_params_fmt("partial-test", NULL, 0, fixture_ban_world, model, ban, chain, ban_at_4),
                     2);
    cr_assert_eq(tm_run_grid_size(sim.run), NZ);
    while (fixture_sim_next(&sim)) {
        const tm_period_result *r = sim.result;
        if (r->period < 0)
            continue;
        int t = r->period;
        for (int s = 0; s < 2; s++)
            for (int d = 0; d < 2; d++)
                out->serving[t][s][d] = r->exact ? r->x_serving[s * 2 + d] : (double)r->serving[s * 2 + d];
        out->canola_cn_value[t] = r->export_value[0 * 2 + 1];
        for (int iz = 0; iz < NZ; iz++)
            for (int S = 2; S < NSETS; S++) { /* the sets containing China (bit 1) */
                size_t c = (size_t)iz * NSETS + (size_t)S;
                out->canola_cn_by_z[t][iz] += r->exact ? r->x_firms_by_z_set[c] : (double)r->firms_by_z_set[c];
            }
    }
    fixture_sim_close(&sim);
}

/* In every model: q = 1 is the run without any closure and q = 0 the total
 * closure, bit for bit; a small q shuts out every firm that would serve
 * China; q = 0.9 shuts out the firms at the grid points holding the top
 * 10% of the stationary mass (found from the binomial law) and no others:
 * smaller firms keep serving China, steel is untouched. */
static void expect_partial_closure(const char *model)
{
    path none, one, total, zero, tiny, part;
    simulate(model, "{}", &none);
    simulate(model, "{closed_sectors: [canola], closed_above_quantile: 1}", &one);
    simulate(model, "{closed_sectors: [canola]}", &total);
    simulate(model, "{closed_sectors: [canola], closed_above_quantile: 0}", &zero);
    simulate(model, "{closed_sectors: [canola], closed_above_quantile: 1e-9}", &tiny);
    simulate(model, "{closed_sectors: [canola], closed_above_quantile: 0.9}", &part);
    cr_expect_eq(memcmp(&one, &none, sizeof one), 0, "%s: q = 1 is no closure", model);
    cr_expect_eq(memcmp(&zero, &total, sizeof zero), 0, "%s: q = 0 is the total closure", model);
    double pi[NZ];
    binomial_law(NZ, pi);
    const int first = first_closed(NZ, pi, 0.9);
    for (int t = 4; t < PERIODS; t++) {
        cr_expect_eq(tiny.serving[t][0][1], 0.0, "%s: small q, period %d: canola in China", model, t);
        cr_expect_eq(tiny.canola_cn_value[t], 0.0, "%s: small q, period %d: canola sales in China", model, t);
        for (int iz = first; iz < NZ; iz++)
            cr_expect_eq(part.canola_cn_by_z[t][iz], 0.0, "%s: period %d, closed point %d serves China", model, t, iz);
        double below = 0.0;
        for (int iz = 0; iz < first; iz++)
            below += part.canola_cn_by_z[t][iz];
        cr_expect_leq(fabs(below - part.serving[t][0][1]), 1e-9 * part.serving[t][0][1],
                      "%s: period %d: every firm serving China is below the closed points", model, t);
        cr_expect_gt(part.serving[t][0][1], 0.0, "%s: period %d: smaller canola firms still serve China", model, t);
        cr_expect_gt(part.canola_cn_value[t], 0.0, "%s: period %d", model, t);
        cr_expect_lt(part.canola_cn_value[t], none.canola_cn_value[t], "%s: period %d: sales fall", model, t);
        cr_expect_eq(part.serving[t][1][1], none.serving[t][1][1], "%s: period %d: steel in China", model, t);
    }
    /* Before the ban the closed points did serve China: the closure binds. */
    double top = 0.0;
    for (int iz = first; iz < NZ; iz++)
        top += part.canola_cn_by_z[3][iz];
    cr_expect_gt(top, 0.0, "%s: firms at the top points served China before the ban", model);
}

Test(partial_closure, closes_the_top_firms_only_myopic)
{
    expect_partial_closure("model: myopic");
}

Test(partial_closure, closes_the_top_firms_only_dynamic)
{
    expect_partial_closure("model: dynamic");
}

Test(partial_closure, closes_the_top_firms_only_learning)
{
    expect_partial_closure("model: learning");
}

/* Exact aggregation: the closed firms' mass serving China is exactly zero,
 * so they make no China sales. */
Test(partial_closure, closes_the_top_firms_only_exact)
{
    expect_partial_closure("model: dynamic, aggregation: exact");
}

/* Forward-looking firms price the partial closure (eq. 7 with eq. 26a):
 * in the ban regime canola firms below the closed points still enter
 * China (a finite entry cut-off below the first closed point, where the
 * total closure has none); in the open regime the risk of losing China
 * weighs on canola's entry at most as much as the total closure's risk,
 * and at least as much as steel's, which faces none. */
static void cutoffs(const char *ban, double *canola_open, double *canola_ban, double *steel_open)
{
    static const char *const sets[] = {"productivity.grid=201", "destinations.CN.market.sunk_cost=3"};
    tm_params *p = fixture_params_fmt("partial-test", sets, 2, fixture_ban_world, "model: dynamic", ban,
                                      "[[0.8, 0.2], [0.05, 0.95]]", "");
    void *state = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_model_open(&tm_model_dynamic, p, 1, &state, &err), 0, "init: %s", err.msg);
    tm_policy_summary canola, steel;
    cr_assert_eq(tm_model_dynamic.summary(state, 0, &canola), 0);
    cr_assert_eq(tm_model_dynamic.summary(state, 1, &steel), 0);
    /* Joint regime j (CN normal 0, ban 1), destination CN (1). */
    *canola_open = canola.entry_cutoff[0 * 2 + 1];
    *canola_ban = canola.entry_cutoff[1 * 2 + 1];
    *steel_open = steel.entry_cutoff[0 * 2 + 1];
    tm_model_dynamic.free(state);
    tm_params_free(p);
}

Test(partial_closure, dynamic_cutoffs_price_the_partial_closure)
{
    enum { N = 201 };
    double z[N], P[N * N], pi[N], law[N];
    cr_assert_eq(tm_grid_rouwenhorst(N, 0.9, 0.2, z, P), 0);
    binomial_law(N, pi);
    /* The count is taken on the law the run uses (GTH elimination, as
     * tm_grid_tables_init computes it) and checked on the closed form. */
    cr_assert_eq(tm_grid_stationary_exact(N, P, law), 0);
    const int first = first_closed(N, pi, 0.9);
    double part_open, part_ban, total_open, total_ban, steel_open, steel_open2;
    cutoffs("{closed_sectors: [canola], closed_above_quantile: 0.9}", &part_open, &part_ban, &steel_open);
    cutoffs("{closed_sectors: [canola]}", &total_open, &total_ban, &steel_open2);
    cr_expect(isinf(total_ban), "total closure: canola never enters (cut-off %g)", total_ban);
    cr_expect(isfinite(part_ban) && part_ban < z[first], "partial closure: enters below z[%d] = %g (cut-off %g)", first,
              z[first], part_ban);
    cr_expect_leq(part_open, total_open, "open regime: %g vs total closure's %g", part_open, total_open);
    cr_expect_geq(part_open, steel_open, "open regime: %g vs steel's %g", part_open, steel_open);
    cr_expect_eq(steel_open, steel_open2, "steel does not depend on canola's closure");
}

/* The parameter prints only when set, and its text reads back to the same
 * parameters. */
Test(partial_closure, canonical_text_round_trips_the_quantile)
{
    tm_params *p = fixture_params_fmt("partial-test", NULL, 0, fixture_ban_world, "model: myopic",
                                      "{closed_sectors: [canola], closed_above_quantile: 0.98}", chain, "");
    tm_params *q = fixture_params("canonical", p->canonical, NULL, 0);
    cr_expect_str_eq(q->canonical, p->canonical);
    cr_expect(strstr(p->canonical, "closed_above_quantile: 0.98") != NULL);
    cr_expect_eq(q->dest[1].regime[1].closed_above_quantile, 0.98);
    tm_params *plain = fixture_params_fmt("partial-test", NULL, 0, fixture_ban_world, "model: myopic",
                                          "{closed_sectors: [canola]}", chain, "");
    cr_expect(strstr(plain->canonical, "closed_above_quantile") == NULL, "not printed at its default");
    tm_params *empty = fixture_params_fmt("partial-test", NULL, 0, fixture_ban_world, "model: myopic",
                                          "{closed_sectors: []}", chain, "");
    cr_expect_eq(empty->dest[1].regime[1].sector_closed[0], 0, "an empty list closes nothing");
    cr_expect(strstr(empty->canonical, "closed_sectors") == NULL);
    tm_params_free(empty);
    tm_params_free(plain);
    tm_params_free(q);
    tm_params_free(p);
}
