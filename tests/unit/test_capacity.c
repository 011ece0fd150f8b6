/* test_capacity: the capacity (power-cost) elasticity per sector
 * (sectors.<s>.capacity_elasticity overrides capacity.elasticity,
 * docs/model.md eq. 4). Sectors share no state but the environment, so a
 * sector's path depends only on its own elasticity: with the override, each
 * sector's series are those of the run where the global value is its own. */
#include <criterion/criterion.h>

#include <string.h>

#include "fixtures.h"

static const char *const two_sectors =
    "run: {model: %s, periods: 8, burn_in: 20}\n"
    "productivity: {grid: 21}\n"
    "decision: {discount: 0.95}\n"
    "capacity: {elasticity: %s}\n"
    "sectors:\n"
    "  steel: {firms: 3000, persistence: 0.9, volatility: 0.25%s}\n"
    "  food: {firms: 2000, persistence: 0.85, volatility: 0.3}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {fixed_cost: 0.3, sunk_cost: 0.8}\n"
    "    regimes: {low: {tariff: 0}, high: {tariff: 0.3}}\n"
    "    transition: [[0.8, 0.2], [0.3, 0.7]]\n"
    "  CN:\n"
    "    market: {demand: 0.6, fixed_cost: 0.2, sunk_cost: 0.5}\n"
    "    regimes: {open: {}}\n";

#define PERIODS 8
#define D 2

typedef struct {
    int64_t serving[PERIODS][2][D];
    double exports[PERIODS][2][D];
} sector_paths;

static void simulate(const char *model, const char *global, const char *steel_override, sector_paths *out)
{
    tm_params *p = fixture_params_fmt("capacity", NULL, 0, two_sectors, model, global, steel_override);
    fixture_sim s;
    fixture_sim_open(&s, p, 2);
    memset(out, 0, sizeof *out);
    while (fixture_sim_next(&s)) {
        int t = s.result->period;
        if (t < 0)
            continue;
        for (int k = 0; k < 2; k++)
            for (int d = 0; d < D; d++) {
                out->serving[t][k][d] = s.result->serving[k * D + d];
                out->exports[t][k][d] = s.result->export_value[k * D + d];
            }
    }
    fixture_sim_close(&s);
}

static void expect_sector_equal(const sector_paths *a, const sector_paths *b, int sector, const char *what)
{
    for (int t = 0; t < PERIODS; t++)
        for (int d = 0; d < D; d++) {
            cr_expect_eq(a->serving[t][sector][d], b->serving[t][sector][d], "%s: period %d, destination %d", what, t,
                         d);
            cr_expect_eq(a->exports[t][sector][d], b->exports[t][sector][d], "%s: period %d, destination %d", what, t,
                         d);
        }
}

static void expect_override_acts_per_sector(const char *model)
{
    sector_paths mixed, all0, all5;
    simulate(model, "0", ", capacity_elasticity: 0.5", &mixed);
    simulate(model, "0", "", &all0);
    simulate(model, "0.5", "", &all5);
    expect_sector_equal(&mixed, &all5, 0, "steel at its own 0.5");
    expect_sector_equal(&mixed, &all0, 1, "food at the global 0");
    /* The elasticity matters: otherwise the test shows nothing. */
    int differ = 0;
    for (int t = 0; t < PERIODS; t++)
        differ |= all0.exports[t][0][0] != all5.exports[t][0][0];
    cr_expect(differ, "capacity costs must change steel's exports");
}

Test(capacity, sector_elasticity_overrides_the_global_one_myopic)
{
    expect_override_acts_per_sector("myopic");
}

Test(capacity, sector_elasticity_overrides_the_global_one_dynamic)
{
    /* The dynamic model solves steel's programme jointly and food's per
     * destination, as the global values 0.5 and 0 do. */
    expect_override_acts_per_sector("dynamic");
}

Test(capacity, sector_elasticity_zero_overrides_a_positive_global_one)
{
    sector_paths mixed, all0;
    simulate("dynamic", "0.5", ", capacity_elasticity: 0", &mixed);
    simulate("dynamic", "0", "", &all0);
    expect_sector_equal(&mixed, &all0, 0, "steel at its own 0");
}
