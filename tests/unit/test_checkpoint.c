/* test_checkpoint: a run saved at a period boundary and restored into a
 * fresh run continues exactly as the original (every aggregate, every firm,
 * every later period), and damaged checkpoint files are refused. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/run.h"
#include "fixtures.h"
#include "io/checkpoint.h"
#include "models/model.h"
#include "params/params.h"

/* Regimes that switch often, events, spillovers and crowding: every piece
 * of carried state matters for the periods after the checkpoint. */
static const char *const text =
    "run: {periods: 16, burn_in: 6, seed: 4242}\n"
    "productivity: {grid: 15}\n"
    "interactions: {spillover: 0.5, crowding: 0.8}\n"
    "sectors:\n"
    "  steel: {firms: 9000, death_rate: 0.05, volatility: 0.2, persistence: 0.9}\n"
    "  agri: {firms: 2500, death_rate: 0.04}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {fixed_cost: 0.6, sunk_cost: 0.8}\n"
    "    regimes:\n"
    "      open: {tariff: 0}\n"
    "      war: {tariff: 0.3}\n"
    "    transition: [[0.7, 0.3], [0.4, 0.6]]\n"
    "  CN:\n"
    "    market: {demand: 0.7, fixed_cost: 0.4, sunk_cost: 0.5}\n"
    "    regimes:\n"
    "      normal: {tariff: 0}\n"
    "      ban: {tariff: 0, closed: true}\n"
    "    transition: [[0.8, 0.2], [0.5, 0.5]]\n"
    "events:\n"
    "  - {at: 2024Q4, destination: US, regime: war, hold: true}\n"
    "  - {at: 2025Q3, destination: US, release: true}\n"
    "  - {at: 2025Q4, destination: CN, tariff: 0.2, sector: agri}\n";

/* Learning firms: two sectors with different priors, two destinations
 * that escalate often, forgetting, a held regime and its release, and a
 * coarse hazard grid, so that cohorts change belief class during the run. */
static const char *const learning_text =
    "run: {model: learning, periods: 18, burn_in: 5, seed: 77}\n"
    "productivity: {grid: 31}\n"
    "decision: {discount: 0.95, tolerance: 1e-6, belief_points: 3,\n"
    "           hazard_max: 0.4, forgetting: 0.9}\n"
    "interactions: {spillover: 0.3}\n"
    "sectors:\n"
    "  steel: {firms: 4000, death_rate: 0.08, hazard_prior_mean: 0.02,\n"
    "          hazard_prior_strength: 4}\n"
    "  agri: {firms: 1500, death_rate: 0.05, hazard_prior_mean: 0.3,\n"
    "         hazard_prior_strength: 2}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {fixed_cost: 0.6, sunk_cost: 3}\n"
    "    regimes:\n"
    "      open: {tariff: 0}\n"
    "      war: {tariff: 0.6}\n"
    "    transition: [[0.7, 0.3], [0.4, 0.6]]\n"
    "  CN:\n"
    "    market: {demand: 0.7, fixed_cost: 0.4, sunk_cost: 0.5}\n"
    "    regimes:\n"
    "      normal: {tariff: 0}\n"
    "      ban: {tariff: 0, closed: true}\n"
    "    transition: [[0.8, 0.2], [0.5, 0.5]]\n"
    "events:\n"
    "  - {at: 2024Q3, destination: US, regime: war, hold: true}\n"
    "  - {at: 2025Q2, destination: US, release: true}\n";

static tm_params *load_text(const char *yaml)
{
    return fixture_params("checkpoint.yaml", yaml, NULL, 0);
}

static tm_params *load(void)
{
    return load_text(text);
}

#define open_run fixture_run
#define step fixture_step

/* A run of p on `threads` threads stepped to logged period `at`. */
static tm_run *run_to(const tm_params *p, int threads, int at)
{
    tm_run *run = open_run(p, threads);
    while (tm_run_period(run) < at)
        step(run);
    return run;
}

static void save(const tm_run *run, tm_ckbuf *saved)
{
    tm_error err = {0};
    cr_assert_eq(tm_run_save(run, saved, &err), 0, "%s", err.msg);
}

/* `saved` must be refused by a fresh run of p as bad input. */
static void expect_refused(const tm_params *p, tm_ckbuf *saved)
{
    tm_run *run = open_run(p, 1);
    tm_error err = {0};
    cr_assert_neq(tm_run_restore(run, saved, &err), 0);
    cr_assert_eq(err.status, TM_ERR_INPUT);
    tm_run_close(run);
}

static void assert_same_period(const tm_run *a, const tm_run *b, const tm_params *p)
{
    const tm_period_result *x = tm_run_result(a), *y = tm_run_result(b);
    size_t sd = (size_t)p->n_sectors * (size_t)p->n_dest;
    cr_assert_eq(x->period, y->period);
    cr_assert_str_eq(x->label, y->label);
    cr_assert_eq(memcmp(x->serving, y->serving, sd * sizeof(int64_t)), 0, "serving differs at %s", x->label);
    cr_assert_eq(memcmp(x->entrants, y->entrants, sd * sizeof(int64_t)), 0);
    cr_assert_eq(memcmp(x->exiters, y->exiters, sd * sizeof(int64_t)), 0);
    cr_assert_eq(memcmp(x->export_value, y->export_value, sd * sizeof(double)), 0);
    cr_assert_eq(memcmp(x->tariff, y->tariff, sd * sizeof(double)), 0);
    cr_assert_eq(memcmp(x->regime, y->regime, sizeof x->regime), 0);
    for (int s = 0; s < p->n_sectors; s++) {
        size_t n = (size_t)p->sector[s].firms;
        cr_assert_eq(memcmp(tm_run_firm_z(a, s), tm_run_firm_z(b, s), n * sizeof(uint16_t)), 0);
        cr_assert_eq(memcmp(tm_run_firm_markets(a, s), tm_run_firm_markets(b, s), n), 0);
    }
}

Test(checkpoint, restored_run_continues_exactly_as_the_original)
{
    tm_params *p = load();
    /* Checkpoint after logged period 4 (the US regime is held by then). */
    tm_run *original = run_to(p, 2, 4);
    /* Restored with another thread count: results must not depend on it. */
    tm_run *restored = fixture_run_copy(p, original, 3);
    cr_assert_eq(tm_run_period(restored), 4);
    while (!tm_run_finished(original)) {
        step(original);
        step(restored);
        assert_same_period(original, restored, p);
    }
    cr_assert(tm_run_finished(restored));
    tm_run_close(original);
    tm_run_close(restored);
    tm_params_free(p);
}

/* Every cohort's posterior mean hazard, bit for bit. */
static void assert_same_beliefs(const tm_run *a, const tm_run *b, const tm_params *p)
{
    const void *sa, *sb;
    cr_assert_eq(tm_run_model(a, &sa), &tm_model_learning);
    cr_assert_eq(tm_run_model(b, &sb), &tm_model_learning);
    for (int s = 0; s < p->n_sectors; s++)
        for (int birth = -p->burn_in; birth < p->periods; birth++)
            for (int d = 0; d < p->n_dest; d++) {
                double x = tm_learning_hazard_mean(sa, s, birth, d), y = tm_learning_hazard_mean(sb, s, birth, d);
                cr_assert_eq(memcmp(&x, &y, sizeof x), 0, "sector %d cohort %d destination %d: %.17g != %.17g", s,
                             birth, d, x, y);
            }
}

static void check_learning_resume(int at, int threads_before, int threads_after)
{
    tm_params *p = load_text(learning_text);
    tm_run *original = run_to(p, threads_before, at);
    tm_run *restored = fixture_run_copy(p, original, threads_after);
    cr_assert_eq(tm_run_period(restored), at);
    assert_same_beliefs(original, restored, p);
    while (!tm_run_finished(original)) {
        step(original);
        step(restored);
        assert_same_period(original, restored, p);
        assert_same_beliefs(original, restored, p);
    }
    cr_assert(tm_run_finished(restored));
    /* The beliefs did move after the checkpoint (the test is not vacuous). */
    const void *st;
    tm_run_model(original, &st);
    cr_assert_neq(tm_learning_hazard_mean(st, 0, -p->burn_in, 0), p->sector[0].hazard_prior_mean,
                  "the oldest cohort still holds its prior");
    tm_run_close(original);
    tm_run_close(restored);
    tm_params_free(p);
}

Test(checkpoint, restored_learning_run_continues_exactly_as_the_original)
{
    /* Mid-way (the US regime is held), with another thread count. */
    check_learning_resume(5, 2, 3);
}

Test(checkpoint, learning_run_restored_early_and_single_threaded)
{
    /* Right after the burn-in, when the cohorts have seen nothing yet. */
    check_learning_resume(0, 3, 1);
    /* Late, after the release. */
    check_learning_resume(13, 1, 2);
}

Test(checkpoint, damaged_learning_state_is_refused)
{
    tm_params *p = load_text(learning_text);
    tm_run *run = run_to(p, 1, 3);
    tm_ckbuf saved = {0};
    save(run, &saved);
    /* The model's section ends the state; cut into it. */
    saved.len -= 8;
    expect_refused(p, &saved);
    /* A learning state does not restore into a run of another model. */
    saved.len += 8;
    saved.pos = 0;
    tm_params *q = fixture_params("checkpoint.yaml", learning_text, (const char *const[]){"run.model=myopic"}, 1);
    expect_refused(q, &saved);
    tm_params_free(q);
    tm_ckbuf_free(&saved);
    tm_run_close(run);
    tm_params_free(p);
}

Test(checkpoint, short_state_is_refused)
{
    tm_params *p = load();
    tm_run *run = run_to(p, 1, 1);
    tm_ckbuf saved = {0};
    save(run, &saved);
    saved.len /= 2;
    expect_refused(p, &saved);
    tm_ckbuf_free(&saved);
    tm_run_close(run);
    tm_params_free(p);
}

static char *scratch_path(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/tradeabm-test-%ld-%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid(),
             name);
    return buf;
}

Test(checkpoint, file_round_trip_and_damage_detection)
{
    tm_params *p = load();
    tm_checkpoint ck = {.period = 3, .every = 2, .panel = 1, .force = 0};
    ck.final_path = (char *)"out.h5";
    tm_ckbuf_put(&ck.state, "state bytes", 11);
    const char *path = scratch_path("a.ckpt");
    tm_error err = {0};
    cr_assert_eq(tm_checkpoint_write(path, p, &ck, &err), 0, "%s", err.msg);
    tm_ckbuf_free(&ck.state);

    tm_checkpoint back;
    cr_assert_eq(tm_checkpoint_read(path, &back, &err), 0, "%s", err.msg);
    cr_assert_eq(back.period, 3);
    cr_assert_eq(back.every, 2);
    cr_assert_eq(back.panel, 1);
    cr_assert_str_eq(back.final_path, "out.h5");
    cr_assert_str_eq(back.params_text, p->canonical);
    cr_assert_str_eq(back.params_sha256, p->sha256);
    char state[12] = {0};
    cr_assert_eq(tm_ckbuf_get(&back.state, state, 11), 0);
    cr_assert_str_eq(state, "state bytes");
    tm_checkpoint_free(&back);

    /* One flipped byte anywhere fails the checksum. */
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fseek(f, 200, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 200, SEEK_SET);
    fputc(c ^ 1, f);
    fclose(f);
    cr_assert_neq(tm_checkpoint_read(path, &back, &err), 0);
    cr_assert_eq(err.status, TM_ERR_INPUT);
    cr_assert(strstr(err.msg, "checksum") != NULL, "%s", err.msg);

    /* A file that is not a checkpoint. */
    f = fopen(path, "wb");
    fputs("hello", f);
    fclose(f);
    cr_assert_neq(tm_checkpoint_read(path, &back, &err), 0);
    cr_assert(strstr(err.msg, "not a tradeabm checkpoint") != NULL, "%s", err.msg);
    unlink(path);
    tm_params_free(p);
}
