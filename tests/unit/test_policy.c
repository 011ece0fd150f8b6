/* test_policy: the argmax decision table (src/engine/policy.h). Ties go to
 * the smallest set index and an infeasible set (-INFINITY) is never chosen
 * while a feasible one exists; the table agrees with the probabilities
 * (tm_policy_probabilities at lambda 0 puts all mass on the chosen set). */
#include <criterion/criterion.h>

#include <math.h>

#include "engine/policy.h"

/* Two productivity points, two rows, four sets a row. */
static const double values[2 * 2 * 4] = {
    1.0,       3.0,       3.0,       2.0,       /* tie between sets 1 and 2 */
    -INFINITY, -INFINITY, 0.5,       -INFINITY, /* only set 2 feasible */
    -INFINITY, -INFINITY, -INFINITY, -INFINITY, /* nothing feasible */
    2.0,       2.0,       2.0,       2.0,       /* all equal */
};

Test(policy, argmax_takes_the_first_of_equal_values_and_never_an_infeasible_set)
{
    tm_policy pol;
    cr_assert_eq(tm_policy_alloc_rows(&pol, 2, 2, 4, 0), 0);
    tm_policy_build(&pol, values, 0.0);
    cr_assert_eq(pol.choice[0], 1);
    cr_assert_eq(pol.choice[1], 2);
    cr_assert_eq(pol.choice[2], 0, "no feasible set: the first");
    cr_assert_eq(pol.choice[3], 0);
    tm_policy_free(&pol);
}

Test(policy, argmax_table_agrees_with_the_probabilities_at_lambda_zero)
{
    tm_policy pol;
    double prob[2 * 2 * 4];
    cr_assert_eq(tm_policy_alloc_rows(&pol, 2, 2, 4, 0), 0);
    tm_policy_build(&pol, values, 0.0);
    tm_policy_row_probabilities(values, 4, 4, 0.0, prob);
    for (int row = 0; row < 4; row++)
        for (int S = 0; S < 4; S++)
            cr_assert_eq(prob[row * 4 + S], S == pol.choice[row] ? 1.0 : 0.0, "row %d set %d", row, S);
    tm_policy_free(&pol);
}
