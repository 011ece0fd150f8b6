/* test_params: every class of bad parameter input fails with status
 * TM_ERR_INPUT and one message naming the file, line:column, key path and
 * what was expected; good input resolves defaults, `extends:` chains and
 * `--set` overrides, and the canonical text round-trips. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "params/params.h"

/* The smallest valid file: one sector, one destination, one regime. */
static const char *const minimal_text =
    "run:\n"
    "  periods: 4\n"
    "sectors:\n"
    "  steel:\n"
    "    firms: 100\n"
    "destinations:\n"
    "  US:\n"
    "    regimes:\n"
    "      open: {tariff: 0}\n";

/* Each test runs in its own process; it gets its own scratch folder. */
static char scratch[64];

static void make_scratch(void)
{
    snprintf(scratch, sizeof scratch, "/tmp/tm_test_params_XXXXXX");
    cr_assert_not_null(mkdtemp(scratch), "cannot create a scratch folder");
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_scratch(void)
{
    if (scratch[0])
        nftw(scratch, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(params, .init = make_scratch, .fini = remove_scratch);

/* Write `len` bytes of text to scratch/name; the path goes to buf. */
static const char *write_bytes(const char *name, const char *text, size_t len, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", scratch, name);
    FILE *f = fopen(buf, "wb");
    cr_assert_not_null(f, "cannot write %s", buf);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    fclose(f);
    return buf;
}

static const char *write_text(const char *name, const char *text, char *buf, size_t size)
{
    return write_bytes(name, text, strlen(text), buf, size);
}

/* Load `path` with overrides; the load must fail as an input error whose
 * message contains every string of `needles` (NULL-terminated). */
static void expect_failure(const char *path, const char *const *sets, int n_sets, const char *const *needles)
{
    tm_params *p = (tm_params *)0x1;
    tm_error err = {0};
    int rc = tm_params_load(path, sets, n_sets, &p, &err);
    cr_assert_neq(rc, 0, "loading %s should fail", path ? path : "(baseline)");
    cr_expect_null(p, "no parameters are returned on failure");
    cr_expect_eq(err.status, TM_ERR_INPUT, "status %d, message: %s", err.status, err.msg);
    for (int i = 0; needles[i]; i++)
        cr_expect_not_null(strstr(err.msg, needles[i]), "message lacks \"%s\": %s", needles[i], err.msg);
    tm_params_free(p == (tm_params *)0x1 ? NULL : p);
}

/* Write text to scratch/name and expect the load to fail with needles. */
static void expect_text_failure(const char *name, const char *text, const char *const *needles)
{
    char path[256];
    write_text(name, text, path, sizeof path);
    expect_failure(path, NULL, 0, needles);
}

static tm_params *load_ok(const char *path, const char *const *sets, int n_sets)
{
    tm_params *p = NULL;
    tm_error err = {0};
    int rc = tm_params_load(path, sets, n_sets, &p, &err);
    cr_assert_eq(rc, 0, "load failed: %s", err.msg);
    cr_assert_not_null(p);
    return p;
}

static tm_params *load_text_ok(const char *name, const char *text, const char *const *sets, int n_sets)
{
    tm_params *p = NULL;
    tm_error err = {0};
    int rc = tm_params_load_text(name, text, sets, n_sets, &p, &err);
    cr_assert_eq(rc, 0, "load failed: %s", err.msg);
    cr_assert_not_null(p);
    return p;
}

/* ---- errors: keys, types, ranges ------------------------------------- */

/* Bad files, each with the strings its message must hold: the file name
 * with line:column where the input has one, the key path and what was
 * expected. */
typedef struct {
    const char *property; /* what the case shows */
    const char *file;
    const char *text;
    const char *needles[8]; /* NULL-terminated */
} bad_text_case;

/* World fragments the cases share (line numbers in the needles count them). */
#define US_OPEN                                                                                                        \
    "destinations:\n"                                                                                                  \
    "  US:\n"                                                                                                          \
    "    regimes:\n"                                                                                                   \
    "      open: {tariff: 0}\n"
#define STEEL_IN_US_OPEN_OR_SHUT                                                                                       \
    "sectors:\n"                                                                                                       \
    "  steel: {}\n"                                                                                                    \
    "destinations:\n"                                                                                                  \
    "  US:\n"                                                                                                          \
    "    regimes:\n"                                                                                                   \
    "      open: {tariff: 0}\n"                                                                                        \
    "      shut: {closed: true}\n"
/* A file whose one event is completed by the case's text. */
#define EVENT_HEAD                                                                                                     \
    "sectors:\n"                                                                                                       \
    "  steel: {}\n" US_OPEN                                                                                            \
    "events:\n"                                                                                                        \
    "  - at: 2024Q3\n"

static const bad_text_case bad_text_cases[] = {
    {"unknown key names file line col path and suggests the nearest key",
     "typo.yaml",
     "run:\n"
     "  perods: 4\n"
     "sectors:\n"
     "  steel: {}\n" US_OPEN,
     {"typo.yaml:2:3:", "run.perods", "unknown key", "expected one of:", "did you mean `periods`?", NULL}},
    {"unknown section is reported at its key with a suggestion",
     "section.yaml",
     "runn:\n  seed: 1\n",
     {"section.yaml:1:1:", "runn", "unknown section", "did you mean `run`?", NULL}},
    {"unknown key in a sector names the full path",
     "sector_key.yaml",
     "sectors:\n"
     "  steel:\n"
     "    firms: 10\n"
     "    volatilty: 0.2\n" US_OPEN,
     {"sector_key.yaml:4:5:", "sectors.steel.volatilty", "unknown key", "did you mean `volatility`?", NULL}},
    {"wrong scalar type names the value and the expected type",
     "type.yaml",
     "run:\n"
     "  periods: four\n",
     {"type.yaml:2:12:", "run.periods", "found \"four\"", "an integer in [1, 100000]", NULL}},
    {"list where a number is expected is a type error",
     "list.yaml",
     "sectors:\n"
     "  steel:\n"
     "    volatility: [0.1]\n" US_OPEN,
     {"list.yaml:3:17:", "sectors.steel.volatility", "found a list", "a number in (0, 5]", NULL}},
    {"bad enum value lists the choices and suggests one",
     "enum.yaml",
     "productivity:\n  method: tauchn\n",
     {"enum.yaml:2:11:", "productivity.method", "found \"tauchn\"", "rouwenhorst, tauchen", "did you mean `tauchen`?",
      NULL}},
    {"out of range value names the closed open interval",
     "range.yaml",
     "sectors:\n"
     "  steel:\n"
     "    death_rate: 1.5\n" US_OPEN,
     {"range.yaml:3:17:", "sectors.steel.death_rate", "found 1.5", "out of range", "[0, 1)", NULL}},
    {"integer out of range is rejected",
     "int_range.yaml",
     "run:\n  periods: 0\n",
     {"int_range.yaml:2:12:", "run.periods", "out of range", "[1, 100000]", NULL}},
    {"transition row not summing to one names the row and its sum",
     "rows.yaml",
     STEEL_IN_US_OPEN_OR_SHUT "    transition:\n"
                              "      - [0.9, 0.1]\n"
                              "      - [0.5, 0.4]\n",
     {"rows.yaml:10:9:", "destinations.US.transition[1]", "row sums to 0.9", "expected 1", "shut", NULL}},
    {"transition probability outside unit interval is rejected",
     "prob.yaml",
     STEEL_IN_US_OPEN_OR_SHUT "    transition:\n"
                              "      - [1.2, -0.2]\n"
                              "      - [0.5, 0.5]\n",
     {"prob.yaml:9:10:", "destinations.US.transition[0]", "found \"1.2\"", "a probability in [0, 1]", NULL}},
    {"missing transition with several regimes is an error",
     "no_matrix.yaml",
     STEEL_IN_US_OPEN_OR_SHUT,
     {"destinations.US.transition", "missing", "2 x 2", NULL}},
    {"empty file is an error", "empty.yaml", "", {"empty.yaml", "empty", NULL}},
    {"comment only file counts as empty", "comments.yaml", "# nothing here\n\n", {"comments.yaml", "empty", NULL}},
    {"unclosed flow sequence is a syntax error",
     "flow.yaml",
     "run:\n  seed: [1, 2\nsectors: x\n",
     {"flow.yaml:3:", "YAML syntax error", "flow sequence", NULL}},
    {"duplicate key is rejected at the second occurrence",
     "dup.yaml",
     "run:\n  seed: 1\n  seed: 2\n",
     {"dup.yaml:3:3:", "seed", "duplicate key", NULL}},
    {"document that is not a mapping is rejected",
     "seq.yaml",
     "- 1\n- 2\n",
     {"seq.yaml:1:1:", "sequence", "expected a mapping", NULL}},
    {"missing extends file names the including line and the missing file",
     "child.yaml",
     "# a child\nextends: nothere.yaml\nrun: {seed: 1}\n",
     {"child.yaml:2:10: extends", "nothere.yaml", "cannot open", NULL}},
    {"unknown destination in sector markets is named with a suggestion",
     "markets.yaml",
     "sectors:\n"
     "  steel: {}\n"
     "  agri:\n"
     "    markets:\n"
     "      UK: {demand: 2}\n" US_OPEN,
     {"markets.yaml:5:7:", "sectors.agri.markets.UK", "unknown destination \"UK\"", "expected one of: US", NULL}},
    {"unknown sector in sector tariffs is named with a suggestion",
     "tariffs.yaml",
     "sectors:\n"
     "  steel: {}\n"
     "destinations:\n"
     "  US:\n"
     "    regimes:\n"
     "      open:\n"
     "        sector_tariffs:\n"
     "          steal: 0.2\n",
     {"tariffs.yaml:8:11:", "destinations.US.regimes.open.sector_tariffs.steal", "unknown sector \"steal\"",
      "did you mean `steel`?", NULL}},
    {"unknown destination in an event is named",
     "ev_dest.yaml",
     EVENT_HEAD "    destination: CA\n    regime: open\n",
     {"ev_dest.yaml:9:18:", "events[0].destination", "unknown destination \"CA\"", "expected one of: US", NULL}},
    {"unknown regime in an event is named with a suggestion",
     "ev_regime.yaml",
     EVENT_HEAD "    destination: US\n    regime: opn\n",
     {"ev_regime.yaml:10:13:", "events[0].regime", "unknown regime \"opn\"", "did you mean `open`?", NULL}},
    {"unknown sector in an event is named with a suggestion",
     "ev_sector.yaml",
     EVENT_HEAD "    destination: US\n    sector: steal\n    tariff: 0.5\n",
     {"ev_sector.yaml:10:13:", "events[0].sector", "unknown sector \"steal\"", "did you mean `steel`?", NULL}},
    {"event with two actions is rejected",
     "ev_two.yaml",
     EVENT_HEAD "    destination: US\n    regime: open\n    tariff: 0.5\n",
     {"ev_two.yaml:8:5:", "events[0]", "several actions", "exactly one of", NULL}},
    {"event without an action is rejected",
     "ev_none.yaml",
     EVENT_HEAD "    destination: US\n",
     {"ev_none.yaml:8:5:", "events[0]", "no action", NULL}},
    {"event without a destination reports the missing key",
     "ev_missing.yaml",
     EVENT_HEAD "    regime: open\n",
     {"ev_missing.yaml:8:5:", "events[0].destination", "missing", NULL}},
    {"sector on a regime event is rejected",
     "ev_sector_regime.yaml",
     EVENT_HEAD "    destination: US\n    sector: steel\n    regime: open\n",
     {"events[0].sector", "apply to one sector", NULL}},
};

#define N_CASES(table) (sizeof table / sizeof table[0])

/* Case numbers 0, 1, ...: Criterion hands each test process a copy of its
 * parameter, and a copy of a pointer into this executable's data would not
 * be valid in the test process, so the parameter is the case's index. */
static int case_index[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                             16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

ParameterizedTestParameters(params, bad_file_fails_with_one_message_naming_where_and_what)
{
    cr_assert_leq(N_CASES(bad_text_cases), N_CASES(case_index));
    return cr_make_param_array(int, case_index, N_CASES(bad_text_cases));
}

ParameterizedTest(int *k, params, bad_file_fails_with_one_message_naming_where_and_what)
{
    const bad_text_case *c = &bad_text_cases[*k];
    cr_log_info("%s", c->property);
    expect_text_failure(c->file, c->text, c->needles);
}

Test(params, value_on_an_open_bound_is_out_of_range)
{
    /* sigma = 1 makes CES profits degenerate: the bound is open. */
    expect_text_failure(
        "bound.yaml", "demand:\n  elasticity: 1\n",
        (const char *const[]){"bound.yaml:2:15:", "demand.elasticity", "out of range", "(1, 20]", NULL});
}

Test(params, nan_and_infinity_are_rejected_in_every_spelling)
{
    static const char *const spellings[] = {"nan", ".nan", "NaN", "inf", ".inf", "-.inf", "Infinity", "1e999"};
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        char text[128], name[32];
        snprintf(text, sizeof text, "demand:\n  elasticity: %s\n", spellings[i]);
        snprintf(name, sizeof name, "nonfinite%zu.yaml", i);
        char found[64];
        snprintf(found, sizeof found, "found \"%s\"", spellings[i]);
        char where[64];
        snprintf(where, sizeof where, "%s:2:15:", name);
        expect_text_failure(name, text, (const char *const[]){where, "demand.elasticity", found, "a number", NULL});
    }
}

/* ---- errors: files and YAML ------------------------------------------ */

Test(params, binary_file_with_nul_bytes_is_rejected_as_not_text)
{
    char path[256];
    static const char bytes[] = "run:\n  seed: 1\n\0\0\x01\x02";
    write_bytes("binary.yaml", bytes, sizeof bytes, path, sizeof path);
    expect_failure(path, NULL, 0, (const char *const[]){"binary.yaml", "NUL bytes", "not a text file", NULL});
}

Test(params, yaml_syntax_error_gives_the_parser_position)
{
    /* A tab cannot indent YAML: the scanner stops at line 2, column 1. */
    expect_text_failure("tab.yaml", "run:\n\tseed: 1\n",
                        (const char *const[]){"tab.yaml:2:1:", "YAML syntax error", NULL});
}

Test(params, missing_file_is_an_input_error_naming_the_file)
{
    char path[256];
    snprintf(path, sizeof path, "%s/absent.yaml", scratch);
    expect_failure(path, NULL, 0, (const char *const[]){"absent.yaml", "cannot open", NULL});
}

Test(params, extends_cycle_is_detected_and_names_the_chain)
{
    char a[256], b[256];
    write_text("a.yaml", "extends: b.yaml\nrun: {seed: 1}\n", a, sizeof a);
    write_text("b.yaml", "extends: a.yaml\nrun: {seed: 2}\n", b, sizeof b);
    expect_failure(a, NULL, 0, (const char *const[]){"a.yaml:1:10: extends", "b.yaml:1:10: extends", "cycle", NULL});
}

Test(params, file_extending_itself_is_a_cycle)
{
    char a[256];
    write_text("self.yaml", "extends: self.yaml\n", a, sizeof a);
    expect_failure(a, NULL, 0, (const char *const[]){"self.yaml:1:10: extends", "cycle", NULL});
}

Test(params, unknown_key_in_an_extending_file_is_reported_in_that_file)
{
    char base[256], child[256];
    write_text("base.yaml", minimal_text, base, sizeof base);
    write_text("child.yaml", "# child\n\nextends: base.yaml\nrun:\n  perods: 8\n", child, sizeof child);
    expect_failure(
        child, NULL, 0,
        (const char *const[]){"child.yaml:5:3:", "run.perods", "unknown key", "did you mean `periods`?", NULL});
}

Test(params, extends_in_stored_text_is_rejected)
{
    tm_params *p = NULL;
    tm_error err = {0};
    int rc = tm_params_load_text("stored", "extends: base.yaml\n", NULL, 0, &p, &err);
    cr_assert_neq(rc, 0);
    cr_expect_null(p);
    cr_expect_eq(err.status, TM_ERR_INPUT);
    cr_expect_not_null(strstr(err.msg, "stored:1:10:"), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "extends"), "%s", err.msg);
}

/* ---- errors: events -------------------------------------------------- */

Test(params, event_dated_before_the_start_is_rejected)
{
    expect_text_failure("ev_early.yaml", "run: {start: 2025Q1}\n" EVENT_HEAD "    destination: US\n    regime: open\n",
                        (const char *const[]){"ev_early.yaml:9:9:", "events[0].at", "before run.start", NULL});
}

/* ---- errors: --set ---------------------------------------------------- */

static void expect_set_failure(const char *assignment, const char *const *needles)
{
    char path[256];
    write_text("base.yaml", minimal_text, path, sizeof path);
    expect_failure(path, (const char *const[]){assignment}, 1, needles);
}

Test(params, set_without_equals_sign_is_rejected)
{
    expect_set_failure("run.seed", (const char *const[]){"--set run.seed", "expected path.to.key=value", NULL});
}

Test(params, set_without_a_key_is_rejected)
{
    expect_set_failure("=3", (const char *const[]){"--set =3", "expected path.to.key=value", NULL});
}

Test(params, set_with_an_empty_value_is_rejected)
{
    expect_set_failure("run.seed=", (const char *const[]){"--set run.seed", "the value is empty", NULL});
}

Test(params, set_path_through_a_scalar_is_rejected)
{
    expect_set_failure("run.periods.x=1", (const char *const[]){"--set run.periods.x", "`x`", "not a mapping", NULL});
}

Test(params, set_with_malformed_yaml_value_is_a_syntax_error)
{
    expect_set_failure("run.seed=[1", (const char *const[]){"--set run.seed", "YAML syntax error", NULL});
}

Test(params, set_value_is_validated_like_a_file_value)
{
    expect_set_failure("demand.elasticity=0.5", (const char *const[]){"--set demand.elasticity:1:1:",
                                                                      "demand.elasticity", "out of range", NULL});
}

Test(params, set_creating_an_unknown_key_is_reported_against_the_set_option)
{
    expect_set_failure("run.sed=4", (const char *const[]){"--set run.sed:1:1:", "run.sed", "unknown key",
                                                          "did you mean `seed`?", NULL});
}

Test(params, set_replacing_a_file_entry_reports_errors_against_the_set_option)
{
    expect_set_failure("run.periods=0",
                       (const char *const[]){"--set run.periods:1:1:", "run.periods", "out of range", NULL});
}

/* ---- good input -------------------------------------------------------- */

Test(params, missing_sections_and_keys_take_their_table_defaults)
{
    tm_params *p = load_text_ok("minimal", minimal_text, NULL, 0);
    cr_expect_eq(p->periods, 4);
    cr_expect_eq(p->burn_in, 80);
    cr_expect_eq(p->seed, 20240101u);
    cr_expect_eq(p->periods_per_year, 4);
    cr_expect_str_eq(p->start, "2024Q1");
    cr_expect_eq(p->start_index, 2024 * 4);
    cr_expect_eq(p->grid_points, 41);
    cr_expect_eq(p->grid_method, TM_GRID_ROUWENHORST);
    cr_expect_eq(p->model, TM_MODEL_MYOPIC);
    cr_expect_eq(p->elasticity, 3.8);
    cr_expect_eq(p->logit_scale, 0.0);
    cr_expect_eq(p->capacity_elasticity, 0.0);
    cr_expect_eq(p->spillover, 0.0);
    cr_expect_eq(p->crowding, 0.0);
    cr_assert_eq(p->n_sectors, 1);
    cr_expect_str_eq(p->sector[0].name, "steel");
    cr_expect_eq(p->sector[0].firms, 100);
    cr_expect_eq(p->sector[0].persistence, 0.95);
    cr_expect_eq(p->sector[0].volatility, 0.1);
    cr_expect_eq(p->sector[0].death_rate, 0.01);
    cr_assert_eq(p->n_dest, 1);
    cr_expect_eq(p->dest[0].n_regimes, 1);
    cr_expect_eq(p->dest[0].transition[0][0], 1.0);
    cr_expect_eq(p->dest[0].initial_regime, 0);
    cr_expect_eq(p->sector[0].market[0].demand, 1.0);
    cr_expect_eq(p->sector[0].market[0].iceberg, 1.0);
    cr_expect_eq(p->sector[0].market[0].fixed_cost, 0.1);
    cr_expect_eq(p->sector[0].market[0].sunk_cost, 0.3);
    cr_expect_eq(p->n_events, 0);
    tm_params_free(p);
}

Test(params, default_start_is_the_first_period_of_its_year_at_any_frequency)
{
    static const char *const expected[] = {"2024", "2024H1", "2024Q1", "2024M01"};
    static const char *const ppy[] = {"run.periods_per_year=1", "run.periods_per_year=2", "run.periods_per_year=4",
                                      "run.periods_per_year=12"};
    static const int per_year[] = {1, 2, 4, 12};
    for (int i = 0; i < 4; i++) {
        tm_params *p = load_text_ok("minimal", minimal_text, &ppy[i], 1);
        cr_expect_str_eq(p->start, expected[i]);
        cr_expect_eq(p->start_index, 2024 * per_year[i]);
        tm_params_free(p);
    }
}

Test(params, destination_market_defaults_apply_to_sectors_that_do_not_override_them)
{
    static const char *const text =
        "sectors:\n"
        "  steel:\n"
        "    markets:\n"
        "      US: {demand: 2.5}\n"
        "  agri: {}\n"
        "destinations:\n"
        "  US:\n"
        "    market: {fixed_cost: 1.5, sunk_cost: 4}\n"
        "    regimes:\n"
        "      open:\n"
        "        tariff: 0.1\n"
        "        sector_tariffs: {agri: 0.3}\n";
    tm_params *p = load_text_ok("markets", text, NULL, 0);
    cr_expect_eq(p->sector[0].market[0].demand, 2.5);
    cr_expect_eq(p->sector[0].market[0].fixed_cost, 1.5);
    cr_expect_eq(p->sector[0].market[0].sunk_cost, 4.0);
    cr_expect_eq(p->sector[1].market[0].demand, 1.0);
    cr_expect_eq(p->sector[1].market[0].fixed_cost, 1.5);
    cr_expect_eq(p->dest[0].regime[0].sector_tariff[0], 0.1);
    cr_expect_eq(p->dest[0].regime[0].sector_tariff[1], 0.3);
    tm_params_free(p);
}

Test(params, extends_child_overrides_values_and_inherits_the_rest)
{
    char base[256], child[256];
    write_text("base.yaml",
               "run:\n"
               "  seed: 5\n"
               "  periods: 6\n"
               "sectors:\n"
               "  steel:\n"
               "    firms: 300\n"
               "    volatility: 0.15\n"
               "destinations:\n"
               "  US:\n"
               "    regimes:\n"
               "      open: {tariff: 0.05}\n",
               base, sizeof base);
    write_text("child.yaml",
               "extends: base.yaml\n"
               "run:\n"
               "  seed: 9\n"
               "sectors:\n"
               "  steel:\n"
               "    volatility: 0.2\n",
               child, sizeof child);
    tm_params *p = load_ok(child, NULL, 0);
    cr_expect_eq(p->seed, 9u);
    cr_expect_eq(p->periods, 6);
    cr_expect_eq(p->sector[0].firms, 300);
    cr_expect_eq(p->sector[0].volatility, 0.2);
    cr_expect_eq(p->dest[0].regime[0].sector_tariff[0], 0.05);
    cr_expect_str_eq(p->source, child);
    tm_params_free(p);
}

Test(params, extends_chain_of_three_files_applies_in_order)
{
    char a[256], b[256], c[256];
    write_text("a.yaml", minimal_text, a, sizeof a);
    write_text("b.yaml", "extends: a.yaml\nrun: {seed: 2, burn_in: 3}\n", b, sizeof b);
    write_text("c.yaml", "extends: b.yaml\nrun: {seed: 3}\n", c, sizeof c);
    tm_params *p = load_ok(c, NULL, 0);
    cr_expect_eq(p->seed, 3u);
    cr_expect_eq(p->burn_in, 3);
    cr_expect_eq(p->periods, 4);
    tm_params_free(p);
}

Test(params, set_overrides_a_file_value)
{
    char path[256];
    write_text("base.yaml", minimal_text, path, sizeof path);
    tm_params *p = load_ok(path, (const char *const[]){"run.periods=9", "sectors.steel.firms=7"}, 2);
    cr_expect_eq(p->periods, 9);
    cr_expect_eq(p->sector[0].firms, 7);
    tm_params_free(p);
}

Test(params, later_set_wins_over_earlier_set)
{
    tm_params *p = load_text_ok("minimal", minimal_text, (const char *const[]){"run.seed=1", "run.seed=2"}, 2);
    cr_expect_eq(p->seed, 2u);
    tm_params_free(p);
}

Test(params, set_creates_missing_sections_and_entries)
{
    tm_params *p = load_text_ok("minimal", minimal_text,
                                (const char *const[]){"decision.logit_scale=0.5", "sectors.agri.new=true",
                                                      "sectors.agri.firms=12", "capacity.elasticity=0.25"},
                                4);
    cr_expect_eq(p->logit_scale, 0.5);
    cr_expect_eq(p->capacity_elasticity, 0.25);
    cr_assert_eq(p->n_sectors, 2);
    cr_expect_str_eq(p->sector[1].name, "agri");
    cr_expect_eq(p->sector[1].firms, 12);
    cr_expect_eq(p->sector[1].persistence, 0.95);
    tm_params_free(p);
}

Test(params, set_value_is_yaml_so_a_list_can_replace_a_transition_matrix)
{
    static const char *const text =
        "sectors:\n"
        "  steel: {}\n"
        "destinations:\n"
        "  US:\n"
        "    regimes:\n"
        "      open: {tariff: 0}\n"
        "      shut: {closed: true}\n"
        "    transition: [[0.9, 0.1], [0.2, 0.8]]\n";
    tm_params *p = load_text_ok("matrix", text,
                                (const char *const[]){"destinations.US.transition=[[0.5, 0.5], [0.25, 0.75]]"}, 1);
    cr_expect_eq(p->dest[0].transition[0][0], 0.5);
    cr_expect_eq(p->dest[0].transition[1][1], 0.75);
    tm_params_free(p);
}

Test(params, canonical_text_reloads_to_identical_text_and_sha256)
{
    static const char *const text =
        "run: {seed: 77, periods: 5, burn_in: 3}\n"
        "decision: {logit_scale: 0.1}\n"
        "sectors:\n"
        "  steel: {firms: 300, volatility: 0.123456789}\n"
        "  agri: {}\n"
        "destinations:\n"
        "  US:\n"
        "    regimes:\n"
        "      open: {tariff: 0.1}\n"
        "      war:\n"
        "        tariff: 0.25\n"
        "        sector_tariffs: {steel: 0.5}\n"
        "    transition: [[0.9, 0.1], [0.3, 0.7]]\n"
        "  CN:\n"
        "    regimes: {normal: {}, ban: {closed: true}}\n"
        "    transition: [[0.95, 0.05], [0.1, 0.9]]\n"
        "events:\n"
        "  - at: 2024Q3\n"
        "    destination: CN\n"
        "    regime: ban\n"
        "    note: \"a \\\"quoted\\\" note\"\n"
        "  - at: 2024Q2\n"
        "    destination: US\n"
        "    sector: steel\n"
        "    tariff: 0.35\n";
    tm_params *a = load_text_ok("original", text, NULL, 0);
    tm_params *b = load_text_ok("canonical", a->canonical, NULL, 0);
    cr_expect_str_eq(b->canonical, a->canonical);
    cr_expect_str_eq(b->sha256, a->sha256);
    cr_expect_eq(strlen(a->sha256), 64u);
    /* Values survive the trip exactly, and events come out sorted by date. */
    cr_expect_eq(b->sector[0].volatility, 0.123456789);
    cr_assert_eq(b->n_events, 2);
    cr_expect_eq(b->event[0].kind, TM_EVENT_TARIFF);
    cr_expect_eq(b->event[1].kind, TM_EVENT_REGIME);
    cr_expect_str_eq(b->event[1].note, "a \"quoted\" note");
    tm_params_free(a);
    tm_params_free(b);
}

Test(params, different_values_give_different_sha256)
{
    tm_params *a = load_text_ok("a", minimal_text, NULL, 0);
    tm_params *b = load_text_ok("b", minimal_text, (const char *const[]){"run.seed=1"}, 1);
    cr_expect_str_neq(a->sha256, b->sha256);
    tm_params_free(a);
    tm_params_free(b);
}

Test(params, builtin_baseline_loads_and_round_trips)
{
    tm_params *p = load_ok(NULL, NULL, 0);
    cr_expect_gt(p->n_sectors, 1);
    cr_assert_geq(p->n_dest, 2);
    cr_expect_str_eq(p->dest[0].name, "US");
    cr_expect_str_eq(p->dest[1].name, "CN");
    tm_params *q = load_text_ok("canonical", p->canonical, NULL, 0);
    cr_expect_str_eq(q->sha256, p->sha256);
    tm_params_free(p);
    tm_params_free(q);
}

Test(params, baseline_file_in_the_repository_equals_the_builtin_one)
{
    tm_params *p = load_ok(NULL, NULL, 0);
    tm_params *q = load_ok(TM_SOURCE_DIR "/params/canada_baseline.yaml", NULL, 0);
    cr_expect_str_eq(q->sha256, p->sha256);
    tm_params_free(p);
    tm_params_free(q);
}

Test(params, period_labels_parse_and_print_for_every_frequency)
{
    int index;
    char buf[TM_LABEL_MAX];
    cr_assert_eq(tm_period_parse("2025Q2", 4, &index), 0);
    cr_expect_eq(index, 2025 * 4 + 1);
    tm_period_label(index, 4, buf, sizeof buf);
    cr_expect_str_eq(buf, "2025Q2");
    cr_assert_eq(tm_period_parse("2025M03", 12, &index), 0);
    cr_expect_eq(index, 2025 * 12 + 2);
    tm_period_label(index, 12, buf, sizeof buf);
    cr_expect_str_eq(buf, "2025M03");
    cr_assert_eq(tm_period_parse("2025H2", 2, &index), 0);
    tm_period_label(index, 2, buf, sizeof buf);
    cr_expect_str_eq(buf, "2025H2");
    cr_assert_eq(tm_period_parse("2025", 1, &index), 0);
    cr_expect_eq(index, 2025);
    cr_expect_neq(tm_period_parse("2025Q5", 4, &index), 0);
    cr_expect_neq(tm_period_parse("2025M03", 4, &index), 0);
    cr_expect_neq(tm_period_parse("25Q1", 4, &index), 0);
    cr_expect_neq(tm_period_parse("2025", 4, &index), 0);
}

/* A label with leading zeros in its sub-period ("2025M0...01", longer than
 * a label's buffer) means the same period as its short form; the resolved
 * parameters and the canonical text hold the short form, so the canonical
 * text loads again to the same parameters (found by tests/fuzz/fuzz_params.c:
 * the label used to be copied as written, cut at 15 characters). */
Test(params, period_label_with_leading_zeros_is_stored_in_its_short_form)
{
    static const char *const text =
        "run: {periods: 4, periods_per_year: 12, start: 2025M00000000000000000000000001}\n"
        "sectors: {steel: {firms: 100}}\n"
        "destinations: {US: {regimes: {open: {tariff: 0}}}}\n"
        "events:\n"
        "  - {at: 2025M0003, destination: US, tariff: 0.1}\n";
    tm_params *p = load_text_ok("zeros", text, NULL, 0);
    cr_expect_str_eq(p->start, "2025M01");
    cr_assert_eq(p->n_events, 1);
    cr_expect_str_eq(p->event[0].at, "2025M03");
    tm_params *again = load_text_ok("canonical", p->canonical, NULL, 0);
    cr_expect_str_eq(again->sha256, p->sha256);
    tm_params_free(again);
    tm_params_free(p);
}

/* Keys with their own loaders (matrices, lists, per-name maps) are listed
 * with the table's keys, each in its own section. */
Test(params, doc_lists_the_keys_with_their_own_loaders_in_their_sections)
{
    char *doc = tm_params_doc();
    cr_assert_not_null(doc);
    static const char *const in_order[][2] = {
        {"`demand_types.dispersion`", "`demand_types.destinations`"},
        {"`demand_types.destinations`", "`decision.myopic_sunk`"},
        {"`destinations.<dest>.regimes.<regime>.closed`",
         "`destinations.<dest>.regimes.<regime>.sector_tariffs.<sector>`"},
        {"`destinations.<dest>.regimes.<regime>.sector_tariffs.<sector>`", "`destinations.<dest>.transition`"},
        {"`events[].note`", "`events[].transition`"},
        {"`events[].transition`", "`experience.levels`"},
        {"`experience.levels`", "`experience.demand`"},
        {"`experience.fixed_cost`", "`experience.transition`"},
    };
    for (size_t i = 0; i < sizeof in_order / sizeof in_order[0]; i++) {
        const char *a = strstr(doc, in_order[i][0]), *b = strstr(doc, in_order[i][1]);
        cr_expect(a && b && a < b, "%s before %s", in_order[i][0], in_order[i][1]);
    }
    cr_expect(strstr(doc, "| `experience.levels` | integer | 1 | see the file | [1, 8] |"),
              "limits written from TM_MAX_LEVELS");
    free(doc);
}

/* Strict names: a sector, destination or regime that a --set or a file
 * extending another adds to a base that defines the collection is refused
 * unless its entry says `new: true`; the message names the line the user
 * wrote and the closest defined name. */
static const char *const two_regime_text =
    "sectors:\n"
    "  steel:\n"
    "    firms: 100\n"
    "  energy:\n"
    "    firms: 50\n"
    "destinations:\n"
    "  US:\n"
    "    regimes:\n"
    "      open: {tariff: 0}\n"
    "      tariffs: {tariff: 0.25}\n"
    "    transition: [[0.9, 0.1], [0.2, 0.8]]\n";

Test(params, set_into_an_undefined_sector_is_refused_with_a_suggestion)
{
    char path[256];
    write_text("base.yaml", two_regime_text, path, sizeof path);
    expect_failure(path, (const char *const[]){"sectors.enrgy.firms=200"}, 1,
                   (const char *const[]){"--set sectors.enrgy.firms:1:1: sectors.enrgy", "unknown sector \"enrgy\"",
                                         "did you mean `energy`", "new: true", NULL});
}

Test(params, set_into_an_undefined_regime_or_destination_is_refused)
{
    char path[256];
    write_text("base.yaml", two_regime_text, path, sizeof path);
    expect_failure(
        path, (const char *const[]){"destinations.US.regimes.tarifs.tariff=0.3"}, 1,
        (const char *const[]){"destinations.US.regimes.tarifs", "unknown regime", "did you mean `tariffs`", NULL});
    expect_failure(path, (const char *const[]){"destinations.UK.market.demand=2"}, 1,
                   (const char *const[]){"destinations.UK", "unknown destination", "did you mean `US`", NULL});
}

Test(params, extending_file_typo_blames_its_own_line_not_the_base)
{
    char base[256], child[256];
    write_text("base.yaml", two_regime_text, base, sizeof base);
    write_text("sector.yaml", "extends: base.yaml\nsectors:\n  stel:\n    firms: 5\n", child, sizeof child);
    expect_failure(child, NULL, 0,
                   (const char *const[]){"sector.yaml:3:3: sectors.stel", "did you mean `steel`", NULL});
    write_text("regime.yaml", "extends: base.yaml\ndestinations:\n  US:\n    regimes:\n      tarifs: {tariff: 0.3}\n",
               child, sizeof child);
    expect_failure(
        child, NULL, 0,
        (const char *const[]){"regime.yaml:5:7: destinations.US.regimes.tarifs", "did you mean `tariffs`", NULL});
    write_text("dest.yaml", "extends: base.yaml\ndestinations:\n  USA:\n    market: {demand: 2}\n", child,
               sizeof child);
    expect_failure(child, NULL, 0, (const char *const[]){"dest.yaml:3:3: destinations.USA", "did you mean `US`", NULL});
}

Test(params, new_sector_in_an_extending_file_is_added_when_declared)
{
    char base[256], child[256];
    write_text("base.yaml", two_regime_text, base, sizeof base);
    write_text("gold.yaml",
               "extends: base.yaml\nsectors:\n  gold:\n    new: true\n    firms: 40\n    persistence: 0.9\n"
               "destinations:\n  US:\n    regimes:\n      tariffs:\n        sector_tariffs: {gold: 0.1}\n",
               child, sizeof child);
    tm_params *p = load_ok(child, NULL, 0);
    cr_assert_eq(p->n_sectors, 3);
    cr_expect_str_eq(p->sector[2].name, "gold");
    cr_expect_eq(p->sector[2].firms, 40);
    cr_expect_eq(p->sector[2].persistence, 0.9);
    cr_expect_eq(p->dest[0].regime[1].sector_tariff[2], 0.1);
    /* The declaration is not a parameter: the canonical text is the same
     * as for a base that defines the sector itself. */
    cr_expect_null(strstr(p->canonical, "new:"));
    tm_params_free(p);
    /* The same through --set, as one YAML value. */
    p = load_ok(base, (const char *const[]){"sectors.gold={new: true, firms: 40}"}, 1);
    cr_expect_eq(p->n_sectors, 3);
    tm_params_free(p);
}

Test(params, new_over_a_defined_name_or_a_non_boolean_new_is_refused)
{
    char base[256], child[256];
    write_text("base.yaml", two_regime_text, base, sizeof base);
    write_text("again.yaml", "extends: base.yaml\nsectors:\n  steel:\n    new: true\n    firms: 5\n", child,
               sizeof child);
    expect_failure(child, NULL, 0,
                   (const char *const[]){"again.yaml:4:5: sectors.steel", "already defined at", "base.yaml:2", NULL});
    expect_failure(base, (const char *const[]){"sectors.gold.new=yes"}, 1,
                   (const char *const[]){"sectors.gold.new", "expected true", NULL});
}

Test(params, new_regime_over_a_base_matrix_blames_the_line_that_added_it)
{
    char base[256], child[256];
    write_text("base.yaml", two_regime_text, base, sizeof base);
    write_text("third.yaml",
               "extends: base.yaml\ndestinations:\n  US:\n    regimes:\n      ban: {new: true, closed: true}\n", child,
               sizeof child);
    expect_failure(
        child, NULL, 0,
        (const char *const[]){"third.yaml:5:7: destinations.US.regimes.ban", "3 x 3 matrix", "base.yaml:11", NULL});
    write_text("third_ok.yaml",
               "extends: base.yaml\ndestinations:\n  US:\n    regimes:\n      ban: {new: true, closed: true}\n"
               "    transition: [[0.9, 0.1, 0], [0.2, 0.7, 0.1], [0, 0.5, 0.5]]\n",
               child, sizeof child);
    tm_params *p = load_ok(child, NULL, 0);
    cr_expect_eq(p->dest[0].n_regimes, 3);
    cr_expect(p->dest[0].regime[2].closed);
    tm_params_free(p);
}

Test(params, set_path_with_an_empty_segment_is_refused)
{
    char path[256];
    write_text("base.yaml", minimal_text, path, sizeof path);
    static const char *const bad[] = {"run..periods=3", ".run.periods=3", "run.periods.=3", "..=3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_failure(path, &bad[i], 1, (const char *const[]){bad[i], "empty name in the key path", NULL});
}

Test(params, extends_of_a_fifo_or_folder_is_refused_without_reading)
{
    char fifo[256], child[256];
    snprintf(fifo, sizeof fifo, "%s/pipe.yaml", scratch);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    write_text("child.yaml", "extends: pipe.yaml\n", child, sizeof child);
    /* Before the fix this blocked forever waiting for a writer. */
    expect_failure(child, NULL, 0,
                   (const char *const[]){"child.yaml:1:10: extends", "FIFO", "not a regular file", NULL});
    expect_failure(scratch, NULL, 0, (const char *const[]){"a folder", "not a regular file", NULL});
}

Test(params, file_over_the_size_cap_names_the_real_cap)
{
    /* One byte over TM_YTREE_MAX_FILE is refused, exactly at it is read. */
    size_t n = (size_t)16 * 1024 * 1024 + 1;
    char *text = malloc(n);
    cr_assert_not_null(text);
    memset(text, '#', n);
    text[n - 1] = '\n';
    char path[256];
    write_bytes("big.yaml", text, n, path, sizeof path);
    expect_failure(path, NULL, 0, (const char *const[]){"larger than 16777216 bytes (16 MiB)", NULL});
    /* At the cap: read, then refused as YAML holding no document (only a
     * comment), not for its size. */
    write_bytes("cap.yaml", text + 1, n - 1, path, sizeof path);
    tm_params *p = NULL;
    tm_error err = {0};
    cr_expect_neq(tm_params_load(path, NULL, 0, &p, &err), 0);
    cr_expect_null(strstr(err.msg, "larger than"), "%s", err.msg);
    free(text);
}

/* ---- --set into lists: events by index, transition rows by regime ---- */

static const char *const three_regime_events_text =
    "run: {start: 2025Q1, periods: 4}\n"
    "sectors:\n"
    "  steel:\n"
    "    firms: 100\n"
    "destinations:\n"
    "  US:\n"
    "    regimes:\n"
    "      open: {tariff: 0}\n"
    "      threat: {tariff: 0}\n"
    "      tariffs: {tariff: 0.25}\n"
    "    transition:\n"
    "      - [0.9, 0.1, 0.0]\n"
    "      - [0.2, 0.5, 0.3]\n"
    "      - [0.05, 0.15, 0.8]\n"
    "events:\n"
    "  - {at: 2025Q2, destination: US, tariff: 0.1}\n"
    "  - {at: 2025Q3, destination: US, regime: tariffs}\n";

Test(params, set_addresses_an_event_by_its_index_in_the_list)
{
    char path[256];
    write_text("events.yaml", three_regime_events_text, path, sizeof path);
    tm_params *p = load_ok(path, (const char *const[]){"events[0].tariff=0.35", "events[1].hold=false"}, 2);
    cr_assert_eq(p->n_events, 2);
    cr_expect_eq(p->event[0].tariff, 0.35);
    cr_expect_eq(p->event[1].hold, 0);
    tm_params_free(p);
    /* A whole event replaced by one YAML value. */
    p = load_ok(path, (const char *const[]){"events[1]={at: 2025Q4, destination: US, escalation_scale: 2}"}, 1);
    cr_expect_eq(p->event[1].escalation_scale, 2.0);
    cr_expect_eq(p->event[1].period, 3);
    tm_params_free(p);
}

Test(params, set_with_an_unknown_or_malformed_index_is_refused)
{
    char path[256];
    write_text("events.yaml", three_regime_events_text, path, sizeof path);
    expect_failure(path, (const char *const[]){"events[2].tariff=0.1"}, 1,
                   (const char *const[]){"--set events[2].tariff:1:1: events: unknown index 2",
                                         "expected events[0] to events[1] (2 entries)", NULL});
    expect_failure(path, (const char *const[]){"events[0].tarif=0.1"}, 1,
                   (const char *const[]){"events[0].tarif", "did you mean `tariff`", NULL});
    static const char *const malformed[] = {"events[].tariff=0.1", "events[-1].tariff=0.1", "events[01].tariff=0.1",
                                            "events[x].tariff=0.1", "events[0.tariff=0.1"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        expect_failure(path, &malformed[i], 1, (const char *const[]){"malformed list index", NULL});
    expect_failure(path, (const char *const[]){"events[0]..tariff=0.1"}, 1,
                   (const char *const[]){"empty name in the key path", NULL});
    expect_failure(path, (const char *const[]){"[0].tariff=0.1"}, 1,
                   (const char *const[]){"empty name in the key path", NULL});
    expect_failure(path, (const char *const[]){"run[0]=1"}, 1,
                   (const char *const[]){"run: found a mapping, not a list", NULL});
    /* No events in the base: nothing to index. */
    write_text("plain.yaml", minimal_text, path, sizeof path);
    expect_failure(path, (const char *const[]){"events[0].tariff=0.1"}, 1,
                   (const char *const[]){"events: unknown list", NULL});
}

Test(params, set_of_one_transition_entry_moves_the_diagonal_by_the_change)
{
    char path[256];
    write_text("events.yaml", three_regime_events_text, path, sizeof path);
    tm_params *p = load_ok(path, (const char *const[]){"destinations.US.transition.threat.tariffs=0.45"}, 1);
    /* Row threat: [0.2, 0.5, 0.3] -> [0.2, (0.5 + 0.3) - 0.45, 0.45]: the
     * diagonal and the entry keep their sum. */
    cr_expect_eq(p->dest[0].transition[1][0], 0.2);
    cr_expect_eq(p->dest[0].transition[1][1], (0.5 + 0.3) - 0.45);
    cr_expect_eq(p->dest[0].transition[1][2], 0.45);
    /* Other rows untouched. */
    cr_expect_eq(p->dest[0].transition[0][1], 0.1);
    cr_expect_eq(p->dest[0].transition[2][2], 0.8);
    tm_params_free(p);
    /* An entry set to its own value leaves the parameters bit for bit. */
    tm_params *same = load_ok(path, (const char *const[]){"destinations.US.transition.tariffs.open=0.05"}, 1);
    tm_params *base = load_ok(path, NULL, 0);
    cr_expect_str_eq(same->sha256, base->sha256);
    tm_params_free(same);
    tm_params_free(base);
    /* Up to the whole diagonal, and no further. 0.7 + 0.2 rounds below
     * 0.9 in binary; 0.9 still means an empty diagonal, not a refusal. */
    p = load_ok(path, (const char *const[]){"destinations.US.transition.threat.open=0.7"}, 1);
    cr_expect_eq(p->dest[0].transition[1][1], 0.0);
    tm_params_free(p);
    p = load_ok(path,
                (const char *const[]){"destinations.US.transition.threat=[0.2, 0.7, 0.1]",
                                      "destinations.US.transition.threat.open=0.9"},
                2);
    cr_expect_eq(p->dest[0].transition[1][0], 0.9);
    cr_expect_eq(p->dest[0].transition[1][1], 0.0);
    tm_params_free(p);
    expect_failure(path, (const char *const[]){"destinations.US.transition.threat.open=0.71"}, 1,
                   (const char *const[]){"--set destinations.US.transition.threat.open:1:1:", "below 0",
                                         "expected at most 0.7", NULL});
}

Test(params, set_of_a_whole_transition_row_must_sum_to_one)
{
    char path[256];
    write_text("events.yaml", three_regime_events_text, path, sizeof path);
    tm_params *p = load_ok(path, (const char *const[]){"destinations.US.transition.open=[0.5, 0.25, 0.25]"}, 1);
    cr_expect_eq(p->dest[0].transition[0][0], 0.5);
    cr_expect_eq(p->dest[0].transition[0][2], 0.25);
    tm_params_free(p);
    /* 1e-9 off: a file's row would pass, a row set by path does not. */
    expect_failure(path, (const char *const[]){"destinations.US.transition.open=[0.5, 0.25, 0.250000001]"}, 1,
                   (const char *const[]){"destinations.US.transition.open", "row sums to", "within 1e-12", NULL});
    expect_failure(path, (const char *const[]){"destinations.US.transition.open=[0.5, 0.5]"}, 1,
                   (const char *const[]){"expected a row of 3 probabilities", NULL});
}

Test(params, set_of_a_transition_names_regimes_and_refuses_the_rest)
{
    char path[256];
    write_text("events.yaml", three_regime_events_text, path, sizeof path);
    expect_failure(path, (const char *const[]){"destinations.US.transition.thret.open=0.1"}, 1,
                   (const char *const[]){"destinations.US.transition.thret: unknown regime \"thret\"",
                                         "did you mean `threat`", NULL});
    expect_failure(path, (const char *const[]){"destinations.US.transition.threat.tarifs=0.1"}, 1,
                   (const char *const[]){"unknown regime \"tarifs\"", "did you mean `tariffs`", NULL});
    expect_failure(path, (const char *const[]){"destinations.UK.transition.threat.open=0.1"}, 1,
                   (const char *const[]){"unknown destination \"UK\"", "did you mean `US`", NULL});
    expect_failure(path, (const char *const[]){"destinations.US.transition.threat.threat=0.1"}, 1,
                   (const char *const[]){"the diagonal (staying in threat) absorbs", NULL});
    expect_failure(path, (const char *const[]){"destinations.US.transition[1]=[0.2, 0.5, 0.3]"}, 1,
                   (const char *const[]){"a row is named by its regime", "open, threat, tariffs", NULL});
    expect_failure(path, (const char *const[]){"destinations.US.transition.threat.open=1.5"}, 1,
                   (const char *const[]){"expected a probability in [0, 1]", NULL});
}

/* ---- destination-wide market keys that no sector uses ---------------- */

/* Both sectors set their own US sunk cost; the fixed cost only steel. */
static const char *const own_costs_text =
    "run: {periods: 4}\n"
    "sectors:\n"
    "  steel:\n"
    "    firms: 100\n"
    "    markets: {US: {sunk_cost: 2, fixed_cost: 0.2}}\n"
    "  energy:\n"
    "    firms: 50\n"
    "    markets: {US: {sunk_cost: 3}}\n"
    "destinations:\n"
    "  US:\n"
    "    market: {sunk_cost: 1, fixed_cost: 0.1}\n"
    "    regimes:\n"
    "      open: {tariff: 0}\n";

Test(params, destination_key_that_every_sector_overrides_is_refused_when_set_over_them)
{
    char base[256], child[256];
    write_text("own.yaml", own_costs_text, base, sizeof base);
    /* The file itself writes both: its destination value is the default
     * it documents, and is accepted. */
    tm_params *p = load_ok(base, NULL, 0);
    cr_expect_eq(p->sector[0].market[0].sunk_cost, 2.0);
    cr_expect_eq(p->sector[1].market[0].sunk_cost, 3.0);
    tm_params_free(p);
    expect_failure(base, (const char *const[]){"destinations.US.market.sunk_cost=5"}, 1,
                   (const char *const[]){"--set destinations.US.market.sunk_cost:1:1: destinations.US.market.sunk_cost",
                                         "every sector sets its own markets.US.sunk_cost",
                                         "expected a sector's key, sectors.SECTOR.markets.US.sunk_cost",
                                         "sectors.energy.markets.US.sunk_cost", NULL});
    write_text("child.yaml", "extends: own.yaml\ndestinations:\n  US:\n    market:\n      sunk_cost: 5\n", child,
               sizeof child);
    expect_failure(child, NULL, 0,
                   (const char *const[]){"child.yaml:5:7: destinations.US.market.sunk_cost", "change nothing", NULL});
}

Test(params, destination_key_that_reaches_a_sector_or_comes_first_is_accepted)
{
    char base[256];
    write_text("own.yaml", own_costs_text, base, sizeof base);
    /* energy takes the destination's fixed cost: not inert. */
    tm_params *p = load_ok(base, (const char *const[]){"destinations.US.market.fixed_cost=0.4"}, 1);
    cr_expect_eq(p->sector[0].market[0].fixed_cost, 0.2);
    cr_expect_eq(p->sector[1].market[0].fixed_cost, 0.4);
    tm_params_free(p);
    /* A sector key set over the file's destination default is what the
     * message asks for; the file's default then reaches nobody, which is
     * not the user's doing. */
    p = load_ok(base, (const char *const[]){"sectors.energy.markets.US.fixed_cost=0.3"}, 1);
    cr_expect_eq(p->sector[1].market[0].fixed_cost, 0.3);
    tm_params_free(p);
    /* The destination default first, the sector keys after it. */
    p = load_ok(
        base,
        (const char *const[]){"destinations.US.market.fixed_cost=0.4", "sectors.energy.markets.US.fixed_cost=0.3"}, 2);
    tm_params_free(p);
    expect_failure(
        base,
        (const char *const[]){"sectors.energy.markets.US.fixed_cost=0.3", "destinations.US.market.fixed_cost=0.4"}, 2,
        (const char *const[]){"destinations.US.market.fixed_cost", "change nothing", NULL});
}
