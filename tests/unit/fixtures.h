/* fixtures: small helpers the unit tests share (load parameters from text,
 * open a run, step it), each failing the test with the library's message. */
#ifndef TM_TEST_FIXTURES_H
#define TM_TEST_FIXTURES_H

#include <criterion/criterion.h>

#include "params/params.h"
#include "engine/run.h"

static inline tm_params *fixture_params(const char *name, const char *text, const char *const *sets, int n_sets)
{
    tm_params *p = NULL;
    tm_error err = {0};
    int rc = tm_params_load_text(name, text, sets, n_sets, &p, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    return p;
}

static inline tm_run *fixture_run(const tm_params *p, int threads)
{
    tm_run *run = NULL;
    tm_error err = {0};
    tm_run_options opts = {.threads = threads};
    cr_assert_eq(tm_run_open(p, &opts, &run, &err), 0, "%s", err.msg);
    return run;
}

static inline void fixture_step(tm_run *run)
{
    tm_error err = {0};
    cr_assert_eq(tm_run_step(run, &err), 0, "%s", err.msg);
}

#endif
