/* test_models: the table of decision models: each model is selected by its
 * own name as run.model, and a model can be prepared outside a run. */
#include <criterion/criterion.h>

#include <string.h>

#include "fixtures.h"
#include "models/model.h"
#include "params/params.h"

static const char *const one_market =
    "sectors:\n  a: {firms: 10}\n"
    "destinations:\n  US: {regimes: {low: {tariff: 0}}}\n";

Test(models, each_model_is_selected_by_its_name)
{
    for (int kind = TM_MODEL_MYOPIC; kind <= TM_MODEL_LEARNING; kind++) {
        const tm_model_ops *ops = tm_model_lookup(kind);
        cr_assert_not_null(ops, "kind %d", kind);
        cr_expect_str_eq(tm_model_name(kind), ops->name);
        tm_params *p = fixture_params_fmt("models-test", NULL, 0, "run: {model: %s}\n%s", ops->name, one_market);
        cr_expect_eq(p->model, kind, "run.model: %s", ops->name);
        tm_params_free(p);
    }
}

Test(models, unknown_kinds_have_no_model)
{
    cr_expect_null(tm_model_lookup(-1));
    cr_expect_null(tm_model_lookup(TM_MODEL_LEARNING + 1));
    cr_expect_str_eq(tm_model_name(TM_MODEL_LEARNING + 1), "?");
}

Test(models, every_model_can_be_prepared_outside_a_run)
{
    for (int kind = TM_MODEL_MYOPIC; kind <= TM_MODEL_LEARNING; kind++) {
        tm_params *p = fixture_params_fmt("models-test", NULL, 0,
                                          "run: {model: %s, burn_in: 2, periods: 2}\nproductivity: {grid: 11}\n%s",
                                          tm_model_name(kind), one_market);
        const tm_model_ops *ops = tm_model_lookup(kind);
        void *state = NULL;
        tm_error err = {0};
        cr_expect_eq(tm_model_open(ops, p, 1, &state, &err), 0, "%s: %s", ops->name, err.msg);
        ops->free(state);
        tm_params_free(p);
    }
}
