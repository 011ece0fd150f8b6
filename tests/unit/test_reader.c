/* The run-file reader (src/io/reader.c): what it reads is what the run
 * stored, and every error names the file and, where there is one, the
 * dataset. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/runner.h"
#include "fixtures.h"
#include "io/reader.h"

static const char *const small_run =
    "run: {model: myopic, seed: 3, periods: 4, burn_in: 2}\n"
    "productivity: {grid: 11}\n"
    "sectors:\n"
    "  a: {firms: 500, markets: {US: {demand: 1.0}, CN: {demand: 0.5}}}\n"
    "destinations:\n"
    "  US: {market: {fixed_cost: 0.5, sunk_cost: 1.5}, regimes: {open: {tariff: 0}}, transition: [[1]]}\n"
    "  CN: {market: {fixed_cost: 0.6, sunk_cost: 2.0}, regimes: {open: {tariff: 0}}, transition: [[1]]}\n";

static char path[256], damaged[256];

static void setup(void)
{
    tm_params *p = fixture_params("small", small_run, NULL, 0);
    tm_error err = {0};
    char digest[65];
    snprintf(path, sizeof path, "/tmp/tradeabm-test-reader-%ld.h5", (long)getpid());
    snprintf(damaged, sizeof damaged, "/tmp/tradeabm-test-reader-%ld-damaged.h5", (long)getpid());
    tm_simulate_options so = {.threads = 1, .force = 1};
    cr_assert_eq(tm_simulate(p, path, &so, digest, &err), 0, "%s", err.msg);
    tm_params_free(p);
}

static void teardown(void)
{
    unlink(path);
    unlink(damaged);
}

TestSuite(reader, .init = setup, .fini = teardown);

static void contains(const char *msg, const char *what)
{
    cr_assert(strstr(msg, what) != NULL, "`%s` not in: %s", what, msg);
}

Test(reader, reads_provenance_names_and_series_as_stored)
{
    tm_reader *r = NULL;
    tm_error err = {0};
    cr_assert_eq(tm_reader_open(path, &r, &err), 0, "%s", err.msg);
    tm_file_info info;
    cr_assert_eq(tm_reader_info(r, &info, &err), 0, "%s", err.msg);
    cr_assert_str_eq(info.status, "complete");
    cr_assert_eq(info.seed, 3u);
    cr_assert(info.parameters && strstr(info.parameters, "myopic"));
    tm_reader_info_free(&info);
    const char *const *dests;
    int n = 0, periods = 0;
    cr_assert_eq(tm_reader_names(r, "destinations", &dests, &n, &err), 0, "%s", err.msg);
    cr_assert(n == 2 && strcmp(dests[0], "US") == 0 && strcmp(dests[1], "CN") == 0);
    cr_assert_eq(tm_reader_periods(r, &periods, &err), 0);
    cr_assert_eq(periods, 4);
    /* Periods 1-2 of export_value against the whole dataset read by HDF5. */
    double part[2][2], all[4][2];
    cr_assert_eq(tm_reader_series(r, "export_value", 1, 2, 2, &part[0][0], &err), 0, "%s", err.msg);
    tm_reader_close(r);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "series/export_value", H5P_DEFAULT);
    cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, all), 0);
    H5Dclose(d);
    H5Fclose(f);
    cr_assert(memcmp(part, all[1], sizeof part) == 0);
}

Test(reader, a_missing_dataset_is_named_with_its_file)
{
    FILE *in = fopen(path, "rb"), *out = fopen(damaged, "wb");
    cr_assert(in && out);
    char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, got, out);
    fclose(in);
    fclose(out);
    hid_t f = H5Fopen(damaged, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert_geq(H5Ldelete(f, "series/exiters", H5P_DEFAULT), 0);
    H5Fclose(f);
    tm_reader *r = NULL;
    tm_error err = {0};
    double out_values[8];
    cr_assert_eq(tm_reader_open(damaged, &r, &err), 0, "%s", err.msg);
    cr_assert_neq(tm_reader_series(r, "exiters", 0, 4, 2, out_values, &err), 0);
    cr_assert_eq(err.status, TM_ERR_INPUT);
    contains(err.msg, damaged);
    contains(err.msg, "/series/exiters");
    tm_reader_close(r);
}

Test(reader, a_shape_or_range_mismatch_names_the_dataset)
{
    tm_reader *r = NULL;
    tm_error err = {0};
    double out[16];
    cr_assert_eq(tm_reader_open(path, &r, &err), 0, "%s", err.msg);
    cr_assert_neq(tm_reader_series(r, "firms_serving", 0, 1, 3, out, &err), 0);
    contains(err.msg, path);
    contains(err.msg, "/series/firms_serving: 2 values a period, expected 3");
    cr_assert_neq(tm_reader_series(r, "entrants", 3, 2, 2, out, &err), 0);
    contains(err.msg, "/series/entrants: 4 periods, cannot read periods 3 to 4");
    cr_assert_neq(tm_reader_names(r, "regions", NULL, NULL, &err), 0);
    contains(err.msg, "/dimensions/regions");
    tm_reader_close(r);
}

Test(reader, files_that_are_not_run_files_are_named)
{
    tm_reader *r = NULL;
    tm_error err = {0};
    cr_assert_neq(tm_reader_open("/nonexistent/run.h5", &r, &err), 0);
    contains(err.msg, "/nonexistent/run.h5");
    hid_t f = H5Fcreate(damaged, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    cr_assert_neq(tm_reader_open(damaged, &r, &err), 0);
    cr_assert_eq(err.status, TM_ERR_INPUT);
    contains(err.msg, damaged);
    contains(err.msg, "not a tradeabm run file");
}
