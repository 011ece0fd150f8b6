/* test_exporter_dynamics: the mechanisms of "Exporter dynamics"
 * (docs/model.md) in whole runs: experience states (K levels per market),
 * decision timing `next`, productivity-dependent death, and the new
 * outputs (exporters by level, entrants' export value, completed spells).
 *
 * - Payoff-neutral experience with Q = I is the plain model, bit for bit
 *   (no experience draw is taken when Q = I), for myopic and dynamic firms.
 * - Every series is recounted from the firm arrays each period: firms by
 *   level, entrants, exiters, deaths, export value, entrants' export value
 *   and, with run.spells, the completed-spell histogram (own tenure count).
 * - Completed spells sum to exiters; entrants - exiters = change in serving
 *   in both timings; newborns serve nothing in timing next.
 * - Experience: a dynamic firm values the chance of reaching a better level
 *   (lower exit cut-off, fewer exits); new exporters are small when level 1
 *   has a low demand multiplier.
 * - Death by productivity: the formula, deaths by last period's z against
 *   delta(z) (binomial), aggregate deaths against sum_z N(z) delta(z).
 * - Results do not depend on the number of threads. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/economy.h"
#include "models/model.h"
#include "engine/mstate.h"
#include "params/params.h"
#include "engine/run.h"
#include "fixtures.h"

/* Two sectors (steel spans several blocks), two destinations whose regimes
 * switch (CN can close), sunk and fixed costs. `%s` is replaced by the
 * experience section. */
static const char *const base_text =
    "run: {periods: 24, burn_in: 16, seed: 2718}\n"
    "productivity: {grid: 25}\n"
    "decision: {discount: 0.95, tolerance: 1e-8}\n"
    "%s"
    "sectors:\n"
    "  steel: {firms: 20000, death_rate: 0.03, volatility: 0.2, persistence: 0.9}\n"
    "  agri: {firms: 9001, death_rate: 0.05, volatility: 0.25, persistence: 0.85}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {fixed_cost: 0.6, sunk_cost: 0.8}\n"
    "    regimes:\n"
    "      open: {tariff: 0}\n"
    "      war: {tariff: 0.3}\n"
    "    transition: [[0.8, 0.2], [0.4, 0.6]]\n"
    "  CN:\n"
    "    market: {demand: 0.7, fixed_cost: 0.4, sunk_cost: 0.5}\n"
    "    regimes:\n"
    "      normal: {}\n"
    "      ban: {closed: true}\n"
    "    transition: [[0.85, 0.15], [0.4, 0.6]]\n";

/* Experience sections. */
static const char *const no_experience = "";
static const char *const neutral_identity =
    "experience:\n"
    "  levels: 2\n"
    "  transition: [[1, 0], [0, 1]]\n";
static const char *const neutral_moving =
    "experience:\n"
    "  levels: 2\n"
    "  transition: [[0.6, 0.4], [0.2, 0.8]]\n";
static const char *const two_levels =
    "experience:\n"
    "  levels: 2\n"
    "  demand: [0.6, 1.4]\n"
    "  iceberg: [1.1, 0.95]\n"
    "  fixed_cost: [1, 0.7]\n"
    "  transition: [[0.7, 0.3], [0.05, 0.95]]\n";
static const char *const three_levels =
    "experience:\n"
    "  levels: 3\n"
    "  demand: [0.5, 1, 1.6]\n"
    "  fixed_cost: [1, 0.9, 0.8]\n"
    "  transition: [[0.6, 0.4, 0], [0.1, 0.6, 0.3], [0, 0.1, 0.9]]\n";

static tm_params *load(const char *experience, const char *const *sets, int n_sets)
{
    char text[8192];
    snprintf(text, sizeof text, base_text, experience);
    return fixture_params("dynamics-test", text, sets, n_sets);
}

static tm_params *load_text(const char *text, const char *const *sets, int n_sets)
{
    return fixture_params("dynamics-test", text, sets, n_sets);
}

#define open_run fixture_run
#define step fixture_step

static int64_t sum64(const int64_t *x, size_t n)
{
    int64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s;
}

/* ------------------------------------------------------------------------
 * (a) Payoff-neutral experience with Q = I is the plain model
 * ---------------------------------------------------------------------- */

/* K = 1 against K = 2 with every multiplier 1, period by period: the
 * series (bitwise), the firms' productivity and market sets. With Q = I
 * every served market stays at level 1 and no experience draw is taken,
 * so each firm's random stream is used as in the plain model. */
static void expect_same_as_plain(const char *const *sets, int n_sets)
{
    tm_params *a = load(no_experience, sets, n_sets), *b = load(neutral_identity, sets, n_sets);
    cr_assert_eq(b->experience.levels, 2);
    tm_run *x = open_run(a, 2), *y = open_run(b, 2);
    const tm_mstate *msb = tm_run_states(y);
    cr_assert_eq(tm_run_n_states(y), 9);
    size_t sd = (size_t)a->n_sectors * (size_t)a->n_dest, ss = (size_t)a->n_sectors * 4;
    size_t szs = (size_t)a->n_sectors * (size_t)a->grid_points * 4;
    int64_t served = 0;
    while (!tm_run_finished(x)) {
        step(x);
        step(y);
        const tm_period_result *r = tm_run_result(x), *q = tm_run_result(y);
        int t = r->period;
        cr_assert_eq(memcmp(r->serving, q->serving, sd * sizeof(int64_t)), 0, "serving, period %d", t);
        cr_assert_eq(memcmp(r->entrants, q->entrants, sd * sizeof(int64_t)), 0, "entrants, period %d", t);
        cr_assert_eq(memcmp(r->exiters, q->exiters, sd * sizeof(int64_t)), 0, "exiters, period %d", t);
        cr_assert_eq(memcmp(r->export_value, q->export_value, sd * sizeof(double)), 0, "export value, period %d", t);
        cr_assert_eq(memcmp(r->entrant_value, q->entrant_value, sd * sizeof(double)), 0, "entrant value, period %d", t);
        cr_assert_eq(memcmp(r->top10_share, q->top10_share, sd * sizeof(double)), 0, "top-10 share, period %d", t);
        cr_assert_eq(memcmp(r->firms_by_set, q->firms_by_set, ss * sizeof(int64_t)), 0, "firms by set, period %d", t);
        cr_assert_eq(memcmp(r->firms_by_z_set, q->firms_by_z_set, szs * sizeof(int64_t)), 0,
                     "firms by z and set, period %d", t);
        cr_assert_eq(memcmp(r->deaths, q->deaths, (size_t)a->n_sectors * sizeof(int64_t)), 0, "deaths, period %d", t);
        cr_assert_eq(memcmp(r->regime, q->regime, sizeof r->regime), 0);
        for (size_t k = 0; k < sd; k++) {
            cr_assert_eq(q->by_level[2 * k], q->serving[k], "period %d: everyone serves at level 1", t);
            cr_assert_eq(q->by_level[2 * k + 1], 0, "period %d: nobody reaches level 2 with Q = I", t);
            served += r->serving[k];
        }
        for (int s = 0; s < a->n_sectors; s++) {
            size_t n = (size_t)a->sector[s].firms;
            cr_assert_eq(memcmp(tm_run_firm_z(x, s), tm_run_firm_z(y, s), n * sizeof(uint16_t)), 0);
            const uint8_t *mx = tm_run_firm_markets(x, s), *my = tm_run_firm_markets(y, s);
            for (size_t i = 0; i < n; i++) {
                cr_assert_eq(mx[i] & TM_BORN_BIT, my[i] & TM_BORN_BIT);
                cr_assert_eq(mx[i] & TM_SET_MASK, msb->set_of[my[i] & TM_SET_MASK], "period %d slot %zu", t, i);
            }
        }
    }
    cr_expect_gt(served, 0, "the scenario must export");
    tm_run_close(x);
    tm_run_close(y);
    tm_params_free(a);
    tm_params_free(b);
}

Test(exporter_dynamics, neutral_experience_with_identity_transition_is_the_plain_model_myopic)
{
    expect_same_as_plain(NULL, 0);
}

Test(exporter_dynamics, neutral_experience_with_identity_transition_is_the_plain_model_myopic_logit)
{
    const char *sets[] = {"decision.logit_scale=0.2"};
    expect_same_as_plain(sets, 1);
}

Test(exporter_dynamics, neutral_experience_with_identity_transition_is_the_plain_model_dynamic)
{
    const char *sets[] = {"run.model=dynamic"};
    expect_same_as_plain(sets, 1);
}

Test(exporter_dynamics, neutral_experience_with_identity_transition_is_the_plain_model_timing_next)
{
    const char *sets[] = {"decision.timing=next"};
    expect_same_as_plain(sets, 1);
    const char *dyn[] = {"decision.timing=next", "run.model=dynamic"};
    expect_same_as_plain(dyn, 2);
}

Test(exporter_dynamics, run_spells_does_not_change_the_path)
{
    /* Spell tracking takes the non-plain loop but no random draw. */
    const char *sets[] = {"run.spells=true"};
    tm_params *a = load(no_experience, NULL, 0), *b = load(no_experience, sets, 1);
    tm_run *x = open_run(a, 2), *y = open_run(b, 2);
    size_t sd = (size_t)a->n_sectors * (size_t)a->n_dest;
    while (!tm_run_finished(x)) {
        step(x);
        step(y);
        const tm_period_result *r = tm_run_result(x), *q = tm_run_result(y);
        cr_assert_eq(memcmp(r->serving, q->serving, sd * sizeof(int64_t)), 0);
        cr_assert_eq(memcmp(r->exiters, q->exiters, sd * sizeof(int64_t)), 0);
        cr_assert_eq(memcmp(r->export_value, q->export_value, sd * sizeof(double)), 0);
        cr_assert_eq(memcmp(r->entrant_value, q->entrant_value, sd * sizeof(double)), 0);
        cr_assert_eq(sum64(r->spells, sd * TM_SPELL_MAX), 0, "no spells counted without run.spells");
    }
    for (int s = 0; s < a->n_sectors; s++)
        cr_assert_eq(memcmp(tm_run_firm_markets(x, s), tm_run_firm_markets(y, s), (size_t)a->sector[s].firms), 0);
    tm_run_close(x);
    tm_run_close(y);
    tm_params_free(a);
    tm_params_free(b);
}

/* Periods each firm slot spent serving each destination over the logged
 * periods of a run: count[s][i * n_dest + d]; the caller frees count[s]. */
static void firm_service(const tm_params *p, int threads, int *count[2])
{
    cr_assert_leq(p->n_sectors, 2);
    tm_run *run = open_run(p, threads);
    const tm_mstate *ms = tm_run_states(run);
    int nd = p->n_dest;
    for (int s = 0; s < p->n_sectors; s++) {
        count[s] = calloc((size_t)p->sector[s].firms * (size_t)nd, sizeof(int));
        cr_assert_not_null(count[s]);
    }
    while (!tm_run_finished(run)) {
        step(run);
        const tm_period_result *r = tm_run_result(run);
        if (r->period < 0)
            continue;
        for (size_t k = 0; k < (size_t)p->n_sectors * (size_t)nd; k++) {
            int64_t levels = 0;
            for (int l = 0; l < ms->levels; l++)
                levels += r->by_level[k * (size_t)ms->levels + (size_t)l];
            cr_assert_eq(levels, r->serving[k], "period %d, cell %zu: firms by level add up to serving", r->period, k);
        }
        for (int s = 0; s < p->n_sectors; s++) {
            const uint8_t *m = tm_run_firm_markets(run, s);
            for (int64_t i = 0; i < p->sector[s].firms; i++)
                for (int d = 0; d < nd; d++)
                    count[s][i * nd + d] += ms->level[m[i] & TM_SET_MASK][d] > 0;
        }
    }
    tm_run_close(run);
}

/* Total firm-periods serving d in sector s and the variance of that total
 * estimated from the slots' spread (slots are independent and alike). */
static void service_total(const int *count, int64_t n, int nd, int d, double *total, double *variance)
{
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; i++) {
        double c = count[i * nd + d];
        sum += c;
        sq += c * c;
    }
    double mean = sum / (double)n;
    *total = sum;
    *variance = (double)n * (sq - (double)n * mean * mean) / (double)(n - 1);
}

Test(exporter_dynamics, neutral_experience_with_moving_transition_keeps_participation_statistically)
{
    /* With Q != I the experience draws shift each firm's stream, so paths
     * differ; but payoffs do not depend on the level, so the firm-periods
     * serving each (sector, destination) have the same law. Both runs see
     * the same regime path (the environment's own stream) and, given it,
     * firm slots are independent and alike (myopic firms, no interactions):
     * each total is a sum of i.i.d. per-slot counts whose variance is the
     * slots' sample variance times the number of slots. The two runs share
     * each slot's stream until its first experience draw, which correlates
     * them positively, so var(a) + var(b) bounds the variance of the
     * difference from above; 4 of its s.d. fail a correct engine with
     * probability below 6e-5 per cell (normal approximation, thousands of
     * slots). */
    tm_params *a = load(no_experience, NULL, 0), *b = load(neutral_moving, NULL, 0);
    int *ca[2], *cb[2];
    firm_service(a, 2, ca);
    firm_service(b, 2, cb);
    int differ = 0;
    for (int s = 0; s < a->n_sectors; s++) {
        int64_t n = a->sector[s].firms;
        differ |= memcmp(ca[s], cb[s], (size_t)n * (size_t)a->n_dest * sizeof(int)) != 0;
        for (int d = 0; d < a->n_dest; d++) {
            double ta, va, tb, vb;
            service_total(ca[s], n, a->n_dest, d, &ta, &va);
            service_total(cb[s], n, a->n_dest, d, &tb, &vb);
            double se = sqrt(va + vb);
            cr_expect_gt(ta, 1000.0, "sector %d, destination %d must have exporters", s, d);
            cr_expect_lt(fabs(ta - tb), 4.0 * se, "sector %d, destination %d: %g vs %g firm-periods (s.e. %.1f)", s, d,
                         ta, tb, se);
        }
        free(ca[s]);
        free(cb[s]);
    }
    cr_expect(differ, "experience draws change the firms' paths");
    tm_params_free(a);
    tm_params_free(b);
}

/* ------------------------------------------------------------------------
 * (b), (c), (g) Recount of every series from the firm arrays
 * ---------------------------------------------------------------------- */

typedef struct {
    int64_t serving, entrants, exiters, spells;
    double value, entrant_value;
} totals;

/* Runs p and checks, every period and for every (sector, destination):
 * firms by level, serving, entrants, exiters, deaths, export value and
 * entrants' export value against a recount from the firm arrays; with
 * run.spells, the histogram of completed spells against a tenure count kept
 * here; completed spells sum to exiters; entrants - exiters is the change
 * in serving; newborns serve nothing in timing next; a closed market sells
 * nothing. Returns totals over logged periods. */
static totals recount_run(const tm_params *p, int threads)
{
    tm_run *run = open_run(p, threads);
    const tm_mstate *ms = tm_run_states(run);
    const int nd = p->n_dest, K = p->experience.levels, N = tm_run_n_states(run);
    const int next = p->timing == TM_TIMING_NEXT;
    cr_assert_eq(N, tm_params_n_states(p));
    cr_assert_eq(ms->levels, K);
    size_t sd = (size_t)p->n_sectors * (size_t)nd;
    uint8_t *prev[8];
    uint8_t *tenure[8];
    cr_assert_leq(p->n_sectors, 8);
    for (int s = 0; s < p->n_sectors; s++) {
        prev[s] = calloc((size_t)p->sector[s].firms, 1);
        tenure[s] = calloc((size_t)p->sector[s].firms * (size_t)nd, 1);
        cr_assert(prev[s] && tenure[s]);
    }
    int64_t *before = calloc(sd, sizeof *before);
    int64_t *spells = calloc(sd * TM_SPELL_MAX, sizeof *spells);
    cr_assert(before && spells);
    totals tot = {0};
    int closed_seen = 0;
    while (!tm_run_finished(run)) {
        step(run);
        const tm_period_result *r = tm_run_result(run);
        const int t = r->period;
        memset(spells, 0, sd * TM_SPELL_MAX * sizeof *spells);
        for (int s = 0; s < p->n_sectors; s++) {
            const uint8_t *m = tm_run_firm_markets(run, s);
            const uint16_t *z = tm_run_firm_z(run, s);
            const double *rev = tm_run_revenue_table(run, s);
            int64_t n = p->sector[s].firms, born = 0;
            int64_t by_level[TM_MAX_DEST][TM_MAX_LEVELS] = {{0}};
            int64_t serving[TM_MAX_DEST] = {0}, entrants[TM_MAX_DEST] = {0}, exiters[TM_MAX_DEST] = {0};
            double value[TM_MAX_DEST] = {0}, entrant_value[TM_MAX_DEST] = {0};
            for (int64_t i = 0; i < n; i++) {
                int is_born = (m[i] & TM_BORN_BIT) != 0;
                int now = m[i] & TM_SET_MASK, was = prev[s][i] & TM_SET_MASK;
                cr_assert_lt(now, N);
                int now_set = ms->set_of[now], was_set = ms->set_of[was];
                int had = is_born ? 0 : was_set; /* a newborn replaced the slot's previous firm */
                born += is_born;
                if (next && is_born)
                    cr_assert_eq(now, 0, "period %d: in timing next a newborn serves nothing yet", t);
                uint8_t *ten = tenure[s] + (size_t)i * (size_t)nd;
                for (int d = 0; d < nd; d++) {
                    int k = ms->level[now][d];
                    double v = rev[((size_t)z[i] * (size_t)N + (size_t)now) * (size_t)nd + (size_t)d];
                    if (k) {
                        by_level[d][k - 1]++;
                        serving[d]++;
                    } else {
                        cr_assert_eq(v, 0.0, "no revenue from a market not served");
                    }
                    value[d] += v;
                    int entered = k && !(had >> d & 1);
                    entrants[d] += entered;
                    if (entered) {
                        entrant_value[d] += v;
                        cr_assert_eq(k, 1, "period %d: entry lands in level 1", t);
                    }
                    exiters[d] += (was_set >> d & 1) && (is_born || !(now_set >> d & 1));
                    /* Spells, as defined in docs/model.md: a spell ends when
                     * the firm stops serving or dies; its length is the
                     * number of periods served. */
                    if (ten[d] && (is_born || !k)) {
                        spells[((size_t)s * (size_t)nd + (size_t)d) * TM_SPELL_MAX +
                               (ten[d] < TM_SPELL_MAX - 1 ? ten[d] : TM_SPELL_MAX - 1)]++;
                        ten[d] = 0;
                    }
                    if (k)
                        ten[d] = ten[d] < 255 ? (uint8_t)(ten[d] + 1) : 255;
                }
            }
            cr_assert_eq(r->deaths[s], born, "period %d sector %d deaths", t, s);
            for (int d = 0; d < nd; d++) {
                size_t c = (size_t)s * (size_t)nd + (size_t)d;
                const int64_t *lv = r->by_level + c * (size_t)K;
                for (int k = 0; k < K; k++)
                    cr_assert_eq(lv[k], by_level[d][k], "period %d cell %zu level %d: %lld, recount %lld", t, c, k + 1,
                                 (long long)lv[k], (long long)by_level[d][k]);
                cr_assert_eq(sum64(lv, (size_t)K), r->serving[c], "period %d cell %zu: levels sum to serving", t, c);
                cr_assert_eq(r->serving[c], serving[d], "period %d serving[%zu]", t, c);
                cr_assert_eq(r->entrants[c], entrants[d], "period %d entrants[%zu]", t, c);
                cr_assert_eq(r->exiters[c], exiters[d], "period %d exiters[%zu]", t, c);
                cr_assert_eq(r->serving[c] - before[c], r->entrants[c] - r->exiters[c],
                             "period %d cell %zu: serving %lld -> %lld, entrants %lld, exiters %lld", t, c,
                             (long long)before[c], (long long)r->serving[c], (long long)r->entrants[c],
                             (long long)r->exiters[c]);
                cr_assert(fabs(r->export_value[c] - value[d]) <= 1e-9 * fabs(value[d]),
                          "period %d cell %zu: export value %.17g, recount %.17g", t, c, r->export_value[c], value[d]);
                cr_assert(fabs(r->entrant_value[c] - entrant_value[d]) <= 1e-9 * fabs(entrant_value[d]),
                          "period %d cell %zu: entrant value %.17g, recount %.17g", t, c, r->entrant_value[c],
                          entrant_value[d]);
                cr_assert_leq(r->entrant_value[c], r->export_value[c] * (1 + 1e-12));
                if (p->dest[d].regime[r->regime[d]].closed) {
                    closed_seen = 1;
                    cr_assert_eq(r->export_value[c], 0.0, "period %d: a closed market sells nothing", t);
                    if (!next)
                        cr_assert_eq(r->serving[c], 0, "period %d: nobody serves a closed market", t);
                }
                before[c] = r->serving[c];
                if (t >= 0) {
                    tot.serving += r->serving[c];
                    tot.entrants += r->entrants[c];
                    tot.exiters += r->exiters[c];
                    tot.value += r->export_value[c];
                    tot.entrant_value += r->entrant_value[c];
                }
            }
            memcpy(prev[s], m, (size_t)n);
        }
        for (size_t c = 0; c < sd; c++) {
            const int64_t *h = r->spells + c * TM_SPELL_MAX;
            if (!p->spells) {
                cr_assert_eq(sum64(h, TM_SPELL_MAX), 0);
                continue;
            }
            cr_assert_eq(h[0], 0, "period %d cell %zu: no spell has length 0", t, c);
            cr_assert_eq(sum64(h, TM_SPELL_MAX), r->exiters[c],
                         "period %d cell %zu: completed spells %lld, exiters %lld", t, c,
                         (long long)sum64(h, TM_SPELL_MAX), (long long)r->exiters[c]);
            for (int l = 0; l < TM_SPELL_MAX; l++)
                cr_assert_eq(h[l], spells[c * TM_SPELL_MAX + l], "period %d cell %zu length %d: %lld, recount %lld", t,
                             c, l, (long long)h[l], (long long)spells[c * TM_SPELL_MAX + l]);
            if (t >= 0)
                tot.spells += sum64(h, TM_SPELL_MAX);
        }
    }
    (void)closed_seen;
    for (int s = 0; s < p->n_sectors; s++) {
        free(prev[s]);
        free(tenure[s]);
    }
    free(before);
    free(spells);
    tm_run_close(run);
    cr_expect_gt(tot.entrants, 0, "the scenario must have entry");
    cr_expect_gt(tot.exiters, 0, "the scenario must have exit");
    return tot;
}

Test(exporter_dynamics, series_match_a_recount_two_levels_myopic)
{
    const char *sets[] = {"run.spells=true"};
    tm_params *p = load(two_levels, sets, 1);
    recount_run(p, 2);
    tm_params_free(p);
}

Test(exporter_dynamics, series_match_a_recount_three_levels_myopic)
{
    const char *sets[] = {"run.spells=true"};
    tm_params *p = load(three_levels, sets, 1);
    recount_run(p, 2);
    tm_params_free(p);
}

Test(exporter_dynamics, series_match_a_recount_two_levels_dynamic)
{
    const char *sets[] = {"run.spells=true", "run.model=dynamic"};
    tm_params *p = load(two_levels, sets, 2);
    recount_run(p, 2);
    tm_params_free(p);
}

Test(exporter_dynamics, series_match_a_recount_without_experience_and_spells)
{
    /* K = 1 with spells takes the non-plain loop; without spells the plain one. */
    const char *sets[] = {"run.spells=true"};
    tm_params *p = load(no_experience, sets, 1);
    recount_run(p, 2);
    tm_params_free(p);
    p = load(no_experience, NULL, 0);
    recount_run(p, 2);
    tm_params_free(p);
}

Test(exporter_dynamics, completed_spells_reach_the_last_bin_in_a_long_run)
{
    /* 60 periods with low exit: some spells last longer than 40 periods
     * and land in the last bin, still one per exit. */
    const char *sets[] = {"run.spells=true",
                          "run.periods=60",
                          "run.burn_in=0",
                          "sectors.agri.firms=2000",
                          "sectors.steel.death_rate=0.005",
                          "sectors.steel.persistence=0.98",
                          "sectors.steel.volatility=0.05"};
    tm_params *p = load(two_levels, sets, 7);
    tm_run *run = open_run(p, 2);
    int64_t last_bin = 0;
    while (!tm_run_finished(run)) {
        step(run);
        const tm_period_result *r = tm_run_result(run);
        for (int d = 0; d < p->n_dest; d++)
            last_bin += r->spells[(size_t)d * TM_SPELL_MAX + TM_SPELL_MAX - 1];
    }
    cr_expect_gt(last_bin, 0, "spells of 40 periods or more are counted in the last bin");
    tm_run_close(run);
    tm_params_free(p);
    /* And the recount agrees on the same run. */
    p = load(two_levels, sets, 7);
    recount_run(p, 2);
    tm_params_free(p);
}

Test(exporter_dynamics, timing_next_myopic_without_sunk_cost_keeps_the_accounting_identity)
{
    /* F = 0: firms decide and pay f now for next period's market state. */
    const char *sets[] = {"decision.timing=next", "run.spells=true", "destinations.US.market.sunk_cost=0",
                          "destinations.CN.market.sunk_cost=0"};
    tm_params *p = load(no_experience, sets, 4);
    cr_assert_eq(p->timing, TM_TIMING_NEXT);
    totals tot = recount_run(p, 2);
    cr_expect_gt(tot.serving, 0);
    tm_params_free(p);
}

Test(exporter_dynamics, timing_next_with_experience_myopic_and_dynamic)
{
    const char *sets[] = {"decision.timing=next", "run.spells=true"};
    tm_params *p = load(two_levels, sets, 2);
    recount_run(p, 2);
    tm_params_free(p);
    const char *dyn[] = {"decision.timing=next", "run.spells=true", "run.model=dynamic"};
    p = load(two_levels, dyn, 3);
    recount_run(p, 2);
    tm_params_free(p);
}

Test(exporter_dynamics, timing_next_serving_follows_last_periods_choice)
{
    /* A firm serves in t what it chose in t - 1: with one regime, F = 0 and
     * myopic firms, a surviving firm's market set in t is the choice at
     * its productivity of t - 1 (its state of t - 1 as the row). Recompute
     * that choice from the same flows: serve d iff next period's profit at
     * today's z, discounted, covers f (markets are independent with
     * gamma = 0 and F = 0). */
    const char *text =
        "run: {periods: 12, burn_in: 4, seed: 99}\n"
        "productivity: {grid: 21}\n"
        "decision: {timing: next, discount: 0.9}\n"
        "sectors:\n"
        "  a: {firms: 20000, death_rate: 0.04, volatility: 0.25, persistence: 0.8}\n"
        "destinations:\n"
        "  US:\n"
        "    market: {demand: 1, fixed_cost: 0.8, sunk_cost: 0}\n"
        "    regimes: {open: {tariff: 0}}\n"
        "  CN:\n"
        "    market: {demand: 0.6, fixed_cost: 0.5, sunk_cost: 0}\n"
        "    regimes: {open: {tariff: 0.1}}\n";
    tm_params *p = load_text(text, NULL, 0);
    tm_run *run = open_run(p, 2);
    const int n = (int)p->sector[0].firms, nz = p->grid_points, nd = p->n_dest;
    uint16_t *z_before = malloc((size_t)n * sizeof *z_before);
    cr_assert(z_before);
    tm_profit_fn fn;
    tm_profit_fn_init(&fn, p->elasticity, p->capacity_elasticity);
    int64_t checked = 0, serving = 0;
    int first = 1;
    while (!tm_run_finished(run)) {
        memcpy(z_before, tm_run_firm_z(run, 0), (size_t)n * sizeof *z_before);
        step(run);
        const uint8_t *m = tm_run_firm_markets(run, 0);
        const double *zg = tm_run_z_grid(run, 0);
        const double bd = p->discount * (1.0 - p->sector[0].death_rate);
        if (!first) {
            for (int i = 0; i < n; i++) {
                if (m[i] & TM_BORN_BIT)
                    continue;
                int S = m[i] & TM_SET_MASK, want = 0;
                cr_assert_lt(z_before[i], nz);
                for (int d = 0; d < nd; d++) {
                    double a = tm_econ_weight(p->sector[0].market[d].demand, p->sector[0].market[d].iceberg,
                                              p->dest[d].regime[0].sector_tariff[0], p->elasticity);
                    double pi = tm_profit(&fn, zg[z_before[i]], a);
                    if (bd * pi > p->sector[0].market[d].fixed_cost)
                        want |= 1 << d;
                }
                cr_assert_eq(S, want, "period %d slot %d: serves %d, chose %d at last period's z", tm_run_period(run),
                             i, S, want);
                checked++;
                serving += S != 0;
            }
        }
        first = 0;
    }
    cr_expect_gt(checked, 0);
    cr_expect_gt(serving, 0);
    free(z_before);
    tm_run_close(run);
    tm_params_free(p);
}

/* Among firms that serve d in t-1 at level k, survive and serve d in t,
 * the level in t is distributed as row k of Q (5 binomial s.e.). In timing
 * current the draw comes before the choice, so the choice must not depend
 * on the level (multipliers 1) for the continuing firms to be a fair
 * sample; in timing next the draw follows the choice and any multipliers
 * will do. */
static void expect_levels_follow_q(const tm_params *p)
{
    tm_run *run = open_run(p, 2);
    const tm_mstate *ms = tm_run_states(run);
    const int K = p->experience.levels, nd = p->n_dest;
    long moves[TM_MAX_LEVELS][TM_MAX_LEVELS] = {{0}}, from[TM_MAX_LEVELS] = {0};
    uint8_t *prev[2];
    for (int s = 0; s < p->n_sectors; s++)
        prev[s] = calloc((size_t)p->sector[s].firms, 1);
    while (!tm_run_finished(run)) {
        step(run);
        for (int s = 0; s < p->n_sectors; s++) {
            const uint8_t *m = tm_run_firm_markets(run, s);
            for (int64_t i = 0; i < p->sector[s].firms; i++) {
                if (m[i] & TM_BORN_BIT)
                    continue;
                int now = m[i] & TM_SET_MASK, was = prev[s][i] & TM_SET_MASK;
                for (int d = 0; d < nd; d++) {
                    int k = ms->level[was][d], k2 = ms->level[now][d];
                    if (k && k2) {
                        moves[k - 1][k2 - 1]++;
                        from[k - 1]++;
                    }
                }
            }
            memcpy(prev[s], m, (size_t)p->sector[s].firms);
        }
    }
    for (int i = 0; i < K; i++) {
        cr_assert_gt(from[i], 1000, "level %d: %ld continuing firm-periods", i + 1, from[i]);
        for (int j = 0; j < K; j++) {
            double q = p->experience.transition[i][j], freq = (double)moves[i][j] / (double)from[i];
            double se = sqrt(q * (1 - q) / (double)from[i]);
            if (q == 0.0 || q == 1.0)
                cr_expect_eq(freq, q, "level %d -> %d: %.6f, Q %g", i + 1, j + 1, freq, q);
            else
                cr_expect_lt(fabs(freq - q), 5 * se, "level %d -> %d: %.5f, Q %g (se %.5f, %ld firms)", i + 1, j + 1,
                             freq, q, se, from[i]);
        }
    }
    for (int s = 0; s < p->n_sectors; s++)
        free(prev[s]);
    tm_run_close(run);
}

Test(exporter_dynamics, continuing_exporters_move_between_levels_by_q_timing_current)
{
    tm_params *p = load(neutral_moving, NULL, 0);
    expect_levels_follow_q(p);
    tm_params_free(p);
    const char *sets[] = {"run.model=dynamic"};
    p = load(neutral_moving, sets, 1);
    expect_levels_follow_q(p);
    tm_params_free(p);
}

Test(exporter_dynamics, continuing_exporters_move_between_levels_by_q_timing_next)
{
    const char *sets[] = {"decision.timing=next"};
    tm_params *p = load(two_levels, sets, 1);
    expect_levels_follow_q(p);
    tm_params_free(p);
    p = load(three_levels, sets, 1);
    expect_levels_follow_q(p);
    tm_params_free(p);
}

/* ------------------------------------------------------------------------
 * (d) Experience raises the value of continuing
 * ---------------------------------------------------------------------- */

/* One destination, dynamic firms, sunk cost: experience level 2 doubles
 * demand and level 1 moves to level 2 with probability 0.2 a period. */
static const char *const one_market =
    "run: {model: dynamic, periods: 40, burn_in: 120, seed: 31}\n"
    "productivity: {grid: 61}\n"
    "decision: {discount: 0.95, tolerance: 1e-9}\n"
    "%s"
    "sectors:\n"
    "  a: {firms: 40000, persistence: 0.9, volatility: 0.15, death_rate: 0.02}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1, iceberg: 1, fixed_cost: 1, sunk_cost: 2}\n"
    "    regimes: {low: {tariff: 0}}\n";
static const char *const learning_by_exporting =
    "experience:\n"
    "  levels: 2\n"
    "  demand: [1, 2]\n"
    "  transition: [[0.8, 0.2], [0, 1]]\n";

static tm_params *load_one_market(const char *experience, const char *const *sets, int n_sets)
{
    char text[4096];
    snprintf(text, sizeof text, one_market, experience);
    return load_text(text, sets, n_sets);
}

/* Cut-offs of sector 0 in the first joint regime, first destination. */
static void cutoffs(const tm_params *p, double *entry, double *exit_cut)
{
    fixture_cutoffs(p, 0, 0, entry, exit_cut);
}

Test(exporter_dynamics, experience_lowers_the_exit_cutoff_at_level_1_and_the_entry_cutoff)
{
    /* At level 1 the flow is the plain model's; the only difference is the
     * chance of reaching level 2, worth something only to a firm that
     * stays: staying and entering are worth more. */
    tm_params *plain = load_one_market(no_experience, NULL, 0), *exp = load_one_market(learning_by_exporting, NULL, 0);
    double entry0, exit0, entry1, exit1;
    cutoffs(plain, &entry0, &exit0);
    cutoffs(exp, &entry1, &exit1);
    cr_expect(isfinite(exit0) && isfinite(entry0));
    cr_expect_lt(exit1, exit0, "exit cut-off at level 1: %g with experience, %g without", exit1, exit0);
    cr_expect_lt(entry1, entry0, "entry cut-off: %g with experience, %g without", entry1, entry0);
    cr_expect_lt(exit0, entry0, "hysteresis without experience");
    tm_params_free(plain);
    tm_params_free(exp);
}

static double exit_rate(const tm_params *p)
{
    tm_run *run = open_run(p, 2);
    int64_t exits = 0, exposed = 0, before = 0;
    while (!tm_run_finished(run)) {
        step(run);
        const tm_period_result *r = tm_run_result(run);
        if (r->period >= 0) {
            exits += r->exiters[0];
            exposed += before;
        }
        before = r->serving[0];
    }
    tm_run_close(run);
    cr_assert_gt(exposed, 0);
    return (double)exits / (double)exposed;
}

Test(exporter_dynamics, experience_lowers_the_exit_rate_of_exporters)
{
    tm_params *plain = load_one_market(no_experience, NULL, 0), *exp = load_one_market(learning_by_exporting, NULL, 0);
    double e0 = exit_rate(plain), e1 = exit_rate(exp);
    /* Statistical, fixed seed: the margin is large (the rates differ by
     * far more than their sampling error of about 0.002). */
    cr_expect_lt(e1, 0.7 * e0, "exit rate of exporters: %.4f with experience, %.4f without", e1, e0);
    tm_params_free(plain);
    tm_params_free(exp);
}

/* ------------------------------------------------------------------------
 * (e) New exporters are small when level 1 has low demand
 * ---------------------------------------------------------------------- */

static void entrant_and_average_size(const tm_params *p, double *entrant, double *average)
{
    tm_run *run = open_run(p, 2);
    double ev = 0, v = 0;
    int64_t e = 0, n = 0;
    while (!tm_run_finished(run)) {
        step(run);
        const tm_period_result *r = tm_run_result(run);
        if (r->period < 0)
            continue;
        ev += r->entrant_value[0];
        v += r->export_value[0];
        e += r->entrants[0];
        n += r->serving[0];
    }
    tm_run_close(run);
    cr_assert_gt(e, 0);
    cr_assert_gt(n, 0);
    *entrant = ev / (double)e;
    *average = v / (double)n;
}

Test(exporter_dynamics, new_exporters_are_smaller_than_average_when_level_1_demand_is_low)
{
    const char *small_start =
        "experience:\n"
        "  levels: 2\n"
        "  demand: [0.5, 1.5]\n"
        "  transition: [[0.7, 0.3], [0, 1]]\n";
    const char *sets[] = {"run.model=myopic", "run.burn_in=60", "run.periods=20"};
    tm_params *p = load_one_market(small_start, sets, 3), *q = load_one_market(no_experience, sets, 3);
    double entrant, average, entrant0, average0;
    entrant_and_average_size(p, &entrant, &average);
    entrant_and_average_size(q, &entrant0, &average0);
    cr_expect_lt(entrant, average, "new exporters %g, all exporters %g", entrant, average);
    /* Experience makes them smaller relative to incumbents than selection alone. */
    cr_expect_lt(entrant / average, entrant0 / average0, "entrant/average: %g with experience, %g without",
                 entrant / average, entrant0 / average0);
    tm_params_free(p);
    tm_params_free(q);
}

/* ------------------------------------------------------------------------
 * (f) Productivity-dependent death
 * ---------------------------------------------------------------------- */

Test(exporter_dynamics, death_probability_follows_each_rule)
{
    const char *sets[] = {"sectors.steel.death_rule=productivity",
                          "sectors.steel.death_slope=0.5",
                          "sectors.steel.death_shift=-0.9",
                          "sectors.agri.death_rule=profitability",
                          "sectors.agri.death_slope=2",
                          "sectors.agri.death_shift=0.01",
                          "demand.elasticity=4"};
    tm_params *p = load(no_experience, sets, 7);
    const tm_sector *steel = &p->sector[0], *agri = &p->sector[1];
    cr_assert_eq(steel->death_rule, TM_DEATH_PRODUCTIVITY);
    cr_assert_eq(agri->death_rule, TM_DEATH_PROFITABILITY);
    for (double z = -3; z <= 3; z += 0.25) {
        double q = exp(-0.5 * z) - 0.9;
        q = q < 0 ? 0 : q > 1 ? 1 : q;
        cr_expect(fabs(tm_econ_death_probability(p, steel, z) - q) < 1e-15, "productivity rule at z = %g", z);
        double r = exp(-2 * exp(3 * z)) + 0.01;
        r = r < 0 ? 0 : r > 1 ? 1 : r;
        cr_expect(fabs(tm_econ_death_probability(p, agri, z) - r) < 1e-15, "profitability rule at z = %g", z);
    }
    /* Clipping: very low z dies for sure, high z never. */
    cr_expect_eq(tm_econ_death_probability(p, steel, -5), 1.0);
    cr_expect_eq(tm_econ_death_probability(p, steel, 5), 0.0);
    tm_params_free(p);
    tm_params *c = load(no_experience, NULL, 0);
    cr_expect_eq(tm_econ_death_probability(c, &c->sector[0], -2), 0.03, "constant rule: death_rate");
    cr_expect_eq(tm_econ_death_probability(c, &c->sector[0], 2), 0.03);
    tm_params_free(c);
}

/* Deaths in each period by the productivity firms had the period before:
 * per grid point, all periods pooled, within 5 binomial s.d. of delta(z)
 * (exactly 0 where delta = 0, every firm where delta = 1); per period,
 * total deaths within 5 s.d. of sum_z N_{t-1}(z) delta(z), with N_{t-1}
 * from the previous period's firms_by_productivity_and_set. */
static void expect_deaths_follow_rule(const tm_params *p)
{
    for (int s = 0; s < p->n_sectors; s++) {
        tm_run *run = open_run(p, 2);
        const int nz = tm_run_grid_size(run);
        const tm_sector *ps = &p->sector[s];
        const int64_t n = ps->firms;
        const double *zg = tm_run_z_grid(run, s);
        uint16_t *z_before = malloc((size_t)n * sizeof *z_before);
        int64_t *prev_by_z = calloc((size_t)nz, sizeof *prev_by_z);
        double *exposed = calloc((size_t)nz, sizeof(double)), *died = calloc((size_t)nz, sizeof(double));
        cr_assert(z_before && prev_by_z && exposed && died);
        int have_prev = 0, periods = 0;
        while (!tm_run_finished(run)) {
            memcpy(z_before, tm_run_firm_z(run, s), (size_t)n * sizeof *z_before);
            step(run);
            const tm_period_result *r = tm_run_result(run);
            const uint8_t *m = tm_run_firm_markets(run, s);
            int64_t deaths = 0;
            for (int64_t i = 0; i < n; i++) {
                exposed[z_before[i]] += 1;
                if (m[i] & TM_BORN_BIT) {
                    died[z_before[i]] += 1;
                    deaths++;
                }
            }
            cr_assert_eq(r->deaths[s], deaths);
            if (have_prev) {
                double mean = 0, var = 0;
                for (int iz = 0; iz < nz; iz++) {
                    double q = tm_econ_death_probability(p, ps, zg[iz]);
                    mean += (double)prev_by_z[iz] * q;
                    var += (double)prev_by_z[iz] * q * (1 - q);
                }
                cr_expect(fabs((double)deaths - mean) <= 5 * sqrt(var) + 1e-9,
                          "sector %d period %d: %lld deaths, expected %.1f (s.d. %.1f)", s, r->period,
                          (long long)deaths, mean, sqrt(var));
                periods++;
            }
            /* This period's firms by z: the exposure of the next. */
            const int64_t *by = r->firms_by_z_set + (size_t)s * (size_t)nz * 4;
            int64_t total = 0;
            for (int iz = 0; iz < nz; iz++) {
                prev_by_z[iz] = 0;
                for (int S = 0; S < 4; S++)
                    prev_by_z[iz] += by[iz * 4 + S];
                total += prev_by_z[iz];
            }
            cr_assert_eq(total, n);
            have_prev = 1;
        }
        cr_assert_gt(periods, 10);
        int informative = 0;
        for (int iz = 0; iz < nz; iz++) {
            double q = tm_econ_death_probability(p, ps, zg[iz]);
            if (exposed[iz] == 0)
                continue;
            if (q == 0.0) {
                cr_expect_eq(died[iz], 0.0, "sector %d z %d: delta = 0 but %g died", s, iz, died[iz]);
                continue;
            }
            if (q == 1.0) {
                cr_expect_eq(died[iz], exposed[iz], "sector %d z %d: delta = 1", s, iz);
                continue;
            }
            double sd = sqrt(exposed[iz] * q * (1 - q));
            cr_expect(fabs(died[iz] - exposed[iz] * q) <= 5 * sd + 1e-9,
                      "sector %d z %d (%g): %g of %g died, expected %.1f (s.d. %.1f)", s, iz, zg[iz], died[iz],
                      exposed[iz], exposed[iz] * q, sd);
            informative += exposed[iz] * q * (1 - q) > 25;
        }
        cr_expect_gt(informative, 5, "sector %d: the rule must be tested at several grid points (%d)", s, informative);
        free(z_before);
        free(prev_by_z);
        free(exposed);
        free(died);
        tm_run_close(run);
    }
}

Test(exporter_dynamics, productivity_death_rule_kills_by_last_periods_productivity)
{
    const char *sets[] = {"sectors.steel.death_rule=productivity",
                          "sectors.steel.death_slope=0.1",
                          "sectors.steel.death_shift=-0.93",
                          "sectors.agri.death_rule=productivity",
                          "sectors.agri.death_slope=0.3",
                          "sectors.agri.death_shift=-0.95",
                          "run.periods=30"};
    tm_params *p = load(two_levels, sets, 7);
    expect_deaths_follow_rule(p);
    tm_params_free(p);
}

Test(exporter_dynamics, profitability_death_rule_kills_by_last_periods_productivity)
{
    const char *sets[] = {"sectors.steel.death_rule=profitability",
                          "sectors.steel.death_slope=3",
                          "sectors.steel.death_shift=0.005",
                          "sectors.agri.death_rule=profitability",
                          "sectors.agri.death_slope=1",
                          "sectors.agri.death_shift=-0.2",
                          "decision.timing=next",
                          "run.periods=30"};
    tm_params *p = load(no_experience, sets, 8);
    expect_deaths_follow_rule(p);
    tm_params_free(p);
}

Test(exporter_dynamics, productivity_rule_with_zero_slope_is_the_constant_rule)
{
    /* exp(0) + b = 1 + b: with b = -0.98 the rule is delta = 0.02 (up to
     * rounding, which moves neither a death threshold nor a cut-off). */
    const char *sets[] = {"sectors.a.death_rule=productivity", "sectors.a.death_slope=0", "sectors.a.death_shift=-0.98",
                          "run.periods=12", "run.burn_in=40"};
    const char *base[] = {"run.periods=12", "run.burn_in=40"};
    tm_params *p = load_one_market(no_experience, sets, 5), *q = load_one_market(no_experience, base, 2);
    double e0, x0, e1, x1;
    cutoffs(p, &e1, &x1);
    cutoffs(q, &e0, &x0);
    cr_expect_eq(e1, e0);
    cr_expect_eq(x1, x0);
    tm_run *a = open_run(p, 2), *b = open_run(q, 2);
    while (!tm_run_finished(a)) {
        step(a);
        step(b);
        cr_expect_eq(tm_run_result(a)->serving[0], tm_run_result(b)->serving[0], "period %d", tm_run_period(a));
        cr_expect_eq(tm_run_result(a)->deaths[0], tm_run_result(b)->deaths[0], "period %d", tm_run_period(a));
    }
    tm_run_close(a);
    tm_run_close(b);
    tm_params_free(p);
    tm_params_free(q);
}

Test(exporter_dynamics, death_rising_at_low_productivity_raises_the_dynamic_cutoffs)
{
    /* The Bellman discounts with beta (1 - delta(z)): with
     * delta(z) = min(exp(-10 z) + 0.02, 1) >= 0.02 everywhere, and much
     * higher near the cut-offs, being an exporter is worth less, so both
     * cut-offs rise (weakly in general; strictly here). */
    const char *sets[] = {"sectors.a.death_rule=productivity", "sectors.a.death_slope=10",
                          "sectors.a.death_shift=0.02"};
    tm_params *p = load_one_market(no_experience, sets, 3), *q = load_one_market(no_experience, NULL, 0);
    double e_prod, x_prod, e_const, x_const;
    cutoffs(p, &e_prod, &x_prod);
    cutoffs(q, &e_const, &x_const);
    cr_expect_gt(e_prod, e_const, "entry cut-off %g vs %g", e_prod, e_const);
    cr_expect_geq(x_prod, x_const, "exit cut-off %g vs %g", x_prod, x_const);
    tm_params_free(p);
    tm_params_free(q);
}

/* ------------------------------------------------------------------------
 * (h) Thread independence
 * ---------------------------------------------------------------------- */

static void expect_same(const tm_run *a, const tm_run *b, const tm_params *p)
{
    const tm_period_result *x = tm_run_result(a), *y = tm_run_result(b);
    size_t sd = (size_t)p->n_sectors * (size_t)p->n_dest, ss = (size_t)p->n_sectors * (size_t)tm_n_sets(p->n_dest);
    size_t szs = ss * (size_t)p->grid_points, K = (size_t)p->experience.levels;
    int t = x->period;
    cr_assert_eq(x->period, y->period);
    cr_assert_str_eq(x->label, y->label);
#define SAME(field, count, type)                                                                                       \
    cr_assert_eq(memcmp(x->field, y->field, (count) * sizeof(type)), 0, #field ", period %d", t)
    SAME(serving, sd, int64_t);
    SAME(entrants, sd, int64_t);
    SAME(exiters, sd, int64_t);
    SAME(export_value, sd, double);
    SAME(tariff_paid, sd, double);
    SAME(mean_log_productivity, sd, double);
    SAME(top10_share, sd, double);
    SAME(tariff, sd, double);
    SAME(firms_by_set, ss, int64_t);
    SAME(firms_by_z_set, szs, int64_t);
    SAME(by_level, sd * K, int64_t);
    SAME(entrant_value, sd, double);
    SAME(spells, sd * TM_SPELL_MAX, int64_t);
    SAME(deaths, (size_t)p->n_sectors, int64_t);
#undef SAME
    cr_assert_eq(memcmp(x->regime, y->regime, sizeof x->regime), 0);
    cr_assert_eq(memcmp(&x->non_us_share, &y->non_us_share, sizeof(double)), 0);
    cr_assert_eq(x->n_events, y->n_events);
    for (int s = 0; s < p->n_sectors; s++) {
        size_t n = (size_t)p->sector[s].firms;
        cr_assert_eq(memcmp(tm_run_firm_z(a, s), tm_run_firm_z(b, s), n * sizeof(uint16_t)), 0);
        cr_assert_eq(memcmp(tm_run_firm_markets(a, s), tm_run_firm_markets(b, s), n), 0);
    }
}

static void expect_thread_invariance(const tm_params *p)
{
    tm_run *one = open_run(p, 1), *two = open_run(p, 2);
    cr_assert_eq(tm_run_threads(one), 1);
    cr_assert_eq(tm_run_threads(two), 2);
    while (!tm_run_finished(one)) {
        step(one);
        step(two);
        expect_same(one, two, p);
    }
    tm_run_close(one);
    tm_run_close(two);
}

static const char *const all_on[] = {"decision.timing=next",
                                     "run.spells=true",
                                     "sectors.steel.death_rule=productivity",
                                     "sectors.steel.death_slope=0.1",
                                     "sectors.steel.death_shift=-0.93",
                                     "sectors.agri.death_rule=profitability",
                                     "sectors.agri.death_slope=2",
                                     "sectors.agri.death_shift=0.01",
                                     "interactions.spillover=0.5",
                                     "interactions.crowding=0.8"};

Test(exporter_dynamics, results_do_not_depend_on_threads_myopic)
{
    tm_params *p = load(two_levels, all_on, 10);
    expect_thread_invariance(p);
    tm_params_free(p);
}

Test(exporter_dynamics, results_do_not_depend_on_threads_myopic_logit_timing_current)
{
    const char *sets[] = {"run.spells=true", "sectors.steel.death_rule=productivity", "sectors.steel.death_slope=0.1",
                          "sectors.steel.death_shift=-0.93", "decision.logit_scale=0.3"};
    tm_params *p = load(three_levels, sets, 5);
    expect_thread_invariance(p);
    tm_params_free(p);
}

Test(exporter_dynamics, results_do_not_depend_on_threads_dynamic)
{
    const char *sets[] = {"run.model=dynamic",
                          "decision.timing=next",
                          "run.spells=true",
                          "sectors.steel.death_rule=productivity",
                          "sectors.steel.death_slope=0.1",
                          "sectors.steel.death_shift=-0.93"};
    tm_params *p = load(two_levels, sets, 6);
    expect_thread_invariance(p);
    tm_params_free(p);
}

Test(exporter_dynamics, results_do_not_depend_on_threads_dynamic_parallel_solve)
{
    /* 501 grid points x 4 joint regimes x 9 states: the value-iteration
     * sweeps are shared among threads (from 16384 cells, models/bellman.c);
     * the surprise events force solves during the run. */
    char text[8192];
    int len = snprintf(text, sizeof text, base_text, two_levels);
    snprintf(text + len, sizeof text - (size_t)len,
             "events:\n"
             "  - {at: 2024Q3, destination: US, transition: [[0.5, 0.5], [0.5, 0.5]]}\n"
             "  - {at: 2024Q4, destination: CN, regime: ban, hold: true}\n");
    const char *sets[] = {"run.model=dynamic",
                          "productivity.grid=501",
                          "run.spells=true",
                          "run.periods=8",
                          "run.burn_in=4",
                          "sectors.steel.firms=9000",
                          "sectors.agri.firms=3000",
                          "sectors.steel.death_rule=productivity",
                          "sectors.steel.death_slope=0.1",
                          "sectors.steel.death_shift=-0.93"};
    tm_params *p = load_text(text, sets, 10);
    cr_assert_eq(p->n_events, 2);
    expect_thread_invariance(p);
    tm_params_free(p);
}
