/* test_transition_events: events that replace a destination's regime
 * transition matrix from their date (time-varying regime processes,
 * docs/model.md "Exporter dynamics"). The environment switches matrices on
 * the date (and regimes then move by the new rows), an escalation scales
 * whichever base matrix is in force, other destinations are untouched, the
 * canonical text keeps the matrix, and forward-looking firms foresee an
 * anticipated change (less entry before the date) but not a surprise (the
 * path before the date is the no-event path). */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/env.h"
#include "engine/process.h"
#include "engine/run.h"
#include "fixtures.h"
#include "params/params.h"

#define N_PERIODS 200000

/* Two destinations; US three regimes, CN two. Start 2024Q1: 2024Q2 is
 * period 1. The event list is appended by each test. */
static const char *const base_text =
    "run: {periods: 1000, seed: 4242}\n"
    "sectors:\n"
    "  steel: {}\n"
    "destinations:\n"
    "  US:\n"
    "    regimes:\n"
    "      open: {tariff: 0}\n"
    "      threat: {tariff: 0.05}\n"
    "      war: {tariff: 0.25}\n"
    "    transition:\n"
    "      - [0.80, 0.15, 0.05]\n"
    "      - [0.20, 0.60, 0.20]\n"
    "      - [0.10, 0.30, 0.60]\n"
    "  CN:\n"
    "    regimes: {normal: {}, ban: {closed: true}}\n"
    "    transition: [[0.9, 0.1], [0.4, 0.6]]\n";

/* The matrix the events below install in US. */
static const double new_us[3][3] = {{0.5, 0.3, 0.2}, {0.1, 0.5, 0.4}, {0.05, 0.15, 0.8}};
#define NEW_US "[[0.5, 0.3, 0.2], [0.1, 0.5, 0.4], [0.05, 0.15, 0.8]]"

static tm_params *load(const char *events)
{
    return fixture_params_fmt("transition-test", NULL, 0, "%s%s", base_text, events ? events : "");
}

static void expect_matrix(const double (*got)[TM_MAX_REGIMES], const double (*want)[3], int n, const char *what)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            cr_expect(fabs(got[i][j] - want[i][j]) < 1e-15, "%s [%d][%d]: %.17g, want %.17g", what, i, j, got[i][j],
                      want[i][j]);
}

/* The matrix in force in destination d of e's environment. */
static void expect_in_force(const fixture_env *e, int d, const double (*want)[3], int n, const char *what)
{
    expect_matrix((const double(*)[TM_MAX_REGIMES])e->env.process[0].transition[d], want, n, what);
}

/* The destination's own matrix as a 3x3 array. */
static void own_matrix(const tm_destination *d, double out[3][3])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            out[i][j] = i < d->n_regimes && j < d->n_regimes ? d->transition[i][j] : 0.0;
}

/* base with hazards to more restrictive regimes x scale, stay absorbs the rest. */
static void escalated(const double (*base)[3], double scale, double out[3][3])
{
    for (int i = 0; i < 3; i++) {
        double stay = 1.0;
        for (int j = 0; j < 3; j++)
            if (j != i) {
                out[i][j] = base[i][j] * (j > i ? scale : 1.0);
                stay -= out[i][j];
            }
        out[i][i] = stay;
    }
}

Test(transition_events, event_is_parsed_with_its_matrix_and_date)
{
    tm_params *p = load(
        "events:\n"
        "  - {at: 2024Q3, destination: US, transition: " NEW_US ", note: new regime process}\n");
    cr_assert_eq(p->n_events, 1);
    const tm_event *ev = &p->event[0];
    cr_expect_eq(ev->kind, TM_EVENT_TRANSITION);
    cr_expect_eq(ev->period, 2);
    cr_expect_eq(ev->destination, 0);
    cr_expect_eq(ev->anticipated, 0, "events are surprises unless marked");
    expect_matrix((const double(*)[TM_MAX_REGIMES])ev->transition, new_us, 3, "event matrix");
    tm_params_free(p);
}

Test(transition_events, canonical_text_keeps_the_matrix_and_reloads_to_the_same_digest)
{
    tm_params *p = load(
        "events:\n"
        "  - {at: 2024Q3, destination: US, transition: " NEW_US
        ", anticipated: true}\n"
        "  - {at: 2025Q1, destination: CN, transition: [[0.5, 0.5], [0.5, 0.5]]}\n");
    cr_assert(strstr(p->canonical, "transition:"), "%s", p->canonical);
    tm_params *q = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_params_load_text("canonical", p->canonical, NULL, 0, &q, &err), 0, "%s\n%s", err.msg, p->canonical);
    cr_expect_str_eq(q->sha256, p->sha256);
    cr_expect_str_eq(q->canonical, p->canonical);
    cr_assert_eq(q->n_events, 2);
    cr_expect_eq(q->event[0].kind, TM_EVENT_TRANSITION);
    cr_expect_eq(q->event[0].anticipated, 1);
    expect_matrix((const double(*)[TM_MAX_REGIMES])q->event[0].transition, new_us, 3, "reloaded");
    cr_expect_eq(q->event[1].transition[0][1], 0.5);
    tm_params_free(p);
    tm_params_free(q);
}

Test(transition_events, event_replaces_the_matrix_from_its_date)
{
    fixture_env e;
    fixture_env_open(&e, load("events:\n"
                              "  - {at: 2024Q3, destination: US, transition: " NEW_US "}\n"));
    double own[3][3], cn[3][3];
    own_matrix(&e.p->dest[0], own);
    own_matrix(&e.p->dest[1], cn);
    expect_in_force(&e, 0, (const double(*)[3])own, 3, "at the start");
    for (int t = -5; t <= 1; t++) {
        cr_expect_eq(tm_env_advance(&e.env, t, NULL), 0, "no event before 2024Q3 (t = %d)", t);
        expect_in_force(&e, 0, (const double(*)[3])own, 3, "before");
    }
    int applied[1];
    cr_assert_eq(tm_env_advance(&e.env, 2, applied), 1);
    cr_expect_eq(applied[0], 0);
    expect_in_force(&e, 0, new_us, 3, "from the date");
    cr_expect_eq(e.env.process[0].escalation[0], 1.0);
    for (int t = 3; t < 50; t++)
        tm_env_advance(&e.env, t, NULL);
    expect_in_force(&e, 0, new_us, 3, "later");
    expect_in_force(&e, 1, (const double(*)[3])cn, 2, "CN untouched");
    fixture_env_close(&e);
}

Test(transition_events, regimes_switch_with_the_new_rows_after_the_date)
{
    /* Given the regime left, each switch after the date is a draw from the
     * new row (5 binomial s.e.); the new matrix differs from the old by far
     * more than that. */
    fixture_env e;
    fixture_env_open(&e, load("events:\n"
                              "  - {at: 2024Q2, destination: US, transition: " NEW_US "}\n"));
    tm_env_advance(&e.env, 0, NULL);
    fixture_env_expect_switch_rows(&e, 0, 1, N_PERIODS - 1, &new_us[0][0], 3);
    fixture_env_close(&e);
}

Test(transition_events, escalation_after_a_transition_event_scales_the_new_matrix)
{
    fixture_env e;
    fixture_env_open(&e, load("events:\n"
                              "  - {at: 2024Q2, destination: US, transition: " NEW_US "}\n"
                              "  - {at: 2024Q3, destination: US, escalation_scale: 1.5}\n"));
    tm_env_advance(&e.env, 0, NULL);
    tm_env_advance(&e.env, 1, NULL);
    expect_in_force(&e, 0, new_us, 3, "after the transition event");
    tm_env_advance(&e.env, 2, NULL);
    double want[3][3];
    escalated(new_us, 1.5, want);
    cr_expect_eq(e.env.process[0].escalation[0], 1.5);
    expect_in_force(&e, 0, (const double(*)[3])want, 3, "escalated new base");
    for (int i = 0; i < 3; i++) {
        double row = 0;
        for (int j = 0; j < 3; j++)
            row += e.env.process[0].transition[0][i][j];
        cr_expect(fabs(row - 1) < 1e-12, "row %d sums to %.17g", i, row);
    }
    fixture_env_close(&e);
}

Test(transition_events, escalation_in_force_scales_a_later_transition_matrix)
{
    /* The scale of the last escalation event applies to whichever base
     * matrix is in force, including one installed later. */
    fixture_env e;
    fixture_env_open(&e, load("events:\n"
                              "  - {at: 2024Q2, destination: US, escalation_scale: 0.5}\n"
                              "  - {at: 2024Q3, destination: US, transition: " NEW_US "}\n"));
    double own[3][3], want[3][3];
    own_matrix(&e.p->dest[0], own);
    tm_env_advance(&e.env, 0, NULL);
    tm_env_advance(&e.env, 1, NULL);
    escalated((const double(*)[3])own, 0.5, want);
    expect_in_force(&e, 0, (const double(*)[3])want, 3, "escalated own matrix");
    tm_env_advance(&e.env, 2, NULL);
    escalated(new_us, 0.5, want);
    cr_expect_eq(e.env.process[0].escalation[0], 0.5);
    expect_in_force(&e, 0, (const double(*)[3])want, 3, "new base under the scale in force");
    fixture_env_close(&e);
}

Test(transition_events, a_list_of_transition_events_is_a_time_varying_process)
{
    fixture_env e;
    fixture_env_open(&e, load("events:\n"
                              "  - {at: 2024Q2, destination: US, transition: " NEW_US "}\n"
                              "  - {at: 2024Q4, destination: US, transition: [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}\n"
                              "  - {at: 2024Q4, destination: CN, transition: [[0.5, 0.5], [0.5, 0.5]]}\n"));
    const double id[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, half[3][3] = {{0.5, 0.5, 0}, {0.5, 0.5, 0}};
    double own[3][3], cn[3][3];
    own_matrix(&e.p->dest[0], own);
    own_matrix(&e.p->dest[1], cn);
    /* tm_process_after gives the base in force after n events. */
    tm_process pr;
    tm_process_after(e.p, 0, 0, &pr);
    expect_matrix(pr.base[0], (const double(*)[3])own, 3, "US after 0 events");
    cr_expect_eq(pr.escalation[0], 1.0);
    tm_process_after(e.p, 0, 1, &pr);
    expect_matrix(pr.base[0], new_us, 3, "US after 1 event");
    tm_process_after(e.p, 0, 3, &pr);
    expect_matrix(pr.base[0], id, 3, "US after 3 events");
    tm_process_after(e.p, 0, 2, &pr);
    expect_matrix(pr.base[1], (const double(*)[3])cn, 2, "CN after 2 events");
    tm_process_after(e.p, 0, 3, &pr);
    expect_matrix(pr.base[1], half, 2, "CN after 3 events");

    for (int t = 0; t <= 2; t++)
        tm_env_advance(&e.env, t, NULL);
    expect_in_force(&e, 0, new_us, 3, "US in 2024Q3");
    expect_in_force(&e, 1, (const double(*)[3])cn, 2, "CN in 2024Q3");
    tm_env_advance(&e.env, 3, NULL);
    expect_in_force(&e, 0, id, 3, "US in 2024Q4");
    expect_in_force(&e, 1, half, 2, "CN in 2024Q4");
    /* Under the identity the US regime no longer moves. */
    int r = e.env.regime[0];
    for (int t = 4; t < 500; t++) {
        tm_env_advance(&e.env, t, NULL);
        cr_assert_eq(e.env.regime[0], r, "period %d", t);
    }
    fixture_env_close(&e);
}

Test(transition_events, transition_event_does_not_change_another_destinations_regime_path)
{
    fixture_env a, b;
    fixture_env_open(&a, load(NULL));
    fixture_env_open(&b, load("events:\n"
                              "  - {at: 2024Q2, destination: US, transition: " NEW_US "}\n"));
    int differ = 0;
    for (int t = 0; t < 5000; t++) {
        tm_env_advance(&a.env, t, NULL);
        tm_env_advance(&b.env, t, NULL);
        cr_assert_eq(a.env.regime[1], b.env.regime[1], "CN, period %d", t);
        differ |= a.env.regime[0] != b.env.regime[0];
    }
    cr_expect(differ, "the US path changes with its matrix");
    fixture_env_close(&a);
    fixture_env_close(&b);
}

/* ------------------------------------------------------------------------
 * Forward-looking firms
 * ---------------------------------------------------------------------- */

/* One destination whose tariff may rise: regime `low` (0) or `high` (60%).
 * Hikes are rare (0.5% a period) until 2024Q1, period 12 from 2021Q1,
 * when the event makes them likely (30% a period). */
static const char *const uncertain_market =
    "run: {model: dynamic, start: 2021Q1, periods: 16, burn_in: 200, seed: 7}\n"
    "productivity: {grid: 201}\n"
    "decision: {discount: 0.95, tolerance: 1e-9}\n"
    "sectors:\n"
    "  a: {firms: 100000, persistence: 0.9, volatility: 0.1, death_rate: 0.02}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {demand: 1, iceberg: 1, fixed_cost: 1, sunk_cost: 3}\n"
    "    regimes:\n"
    "      low: {tariff: 0}\n"
    "      high: {tariff: 0.6}\n"
    "    transition: [[0.995, 0.005], [0.05, 0.95]]\n"
    "%s";

static tm_params *with_hazard_rise(const char *anticipated)
{
    char events[256] = "";
    if (anticipated)
        snprintf(events, sizeof events,
                 "events:\n"
                 "  - {at: 2024Q1, destination: US, transition: [[0.7, 0.3], [0.05, 0.95]], anticipated: %s}\n",
                 anticipated);
    return fixture_params_fmt("transition-test", NULL, 0, uncertain_market, events);
}

Test(transition_events, anticipated_rise_in_hike_hazard_lowers_entry_before_the_date)
{
    fixture_path a, b;
    fixture_expect_foresight_lowers_entry(with_hazard_rise("true"), with_hazard_rise("false"), 12, &a, &b);
    for (int t = 0; t < 12; t++)
        cr_expect_eq(a.regime[t][0], b.regime[t][0], "the regime path is the same (period %d)", t);
    cr_expect_lt(a.serving[11][0], b.serving[11][0], "exporters just before the date: %lld foreseen, %lld unforeseen",
                 (long long)a.serving[11][0], (long long)b.serving[11][0]);
}

Test(transition_events, unanticipated_transition_event_leaves_the_pre_event_path_unchanged)
{
    tm_params *surprise = with_hazard_rise("false"), *none = with_hazard_rise(NULL);
    fixture_path a, b;
    fixture_simulate(surprise, &a);
    fixture_simulate(none, &b);
    fixture_expect_same_path(&a, &b, 12);
    /* From the date firms solve again for the riskier process: fewer
     * enter, fewer serve. */
    int64_t entry_a = fixture_path_entrants(&a, 0, 12, 16), entry_b = fixture_path_entrants(&b, 0, 12, 16);
    cr_expect_lt(entry_a, entry_b, "entrants from the date: %lld with the event, %lld without", (long long)entry_a,
                 (long long)entry_b);
    tm_params_free(surprise);
    tm_params_free(none);
}
