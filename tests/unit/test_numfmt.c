/* numfmt: what tables print. Each case is a number a table shows and the
 * text a reader should see; none may contain an exponent. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/numfmt.h"

static void expect_plain(double v, const char *want)
{
    char buf[64];
    tm_numfmt_plain(v, buf, sizeof buf);
    cr_expect_str_eq(buf, want, "plain(%.17g)", v);
}

static void expect_si(double v, const char *want)
{
    char buf[64];
    tm_numfmt_si(v, buf, sizeof buf);
    cr_expect_str_eq(buf, want, "si(%.17g)", v);
}

Test(numfmt, plain_keeps_three_significant_digits_without_exponent)
{
    expect_plain(6.4412, "6.44");
    expect_plain(-0.33213, "-0.332");
    expect_plain(42.71, "42.7");
    expect_plain(-4453.2, "-4453");
    expect_plain(-4.55e3, "-4550");
    expect_plain(1.234e-5, "0.0000123");
    expect_plain(153471318.7, "153471319");
    expect_plain(0.0, "0");
    expect_plain(3e-12, "0");
    expect_plain(9.996, "10.0");
    expect_plain(0.09996, "0.100");
    expect_plain(__builtin_nan(""), "-");
}

Test(numfmt, si_abbreviates_large_amounts)
{
    expect_si(7062.8, "7063");
    expect_si(28224.1, "28.22k");
    expect_si(153471318.5, "153.5M");
    expect_si(-12640699.8, "-12.64M");
    expect_si(1234567890.0, "1.235G");
    expect_si(999960.0, "1.000M");
    expect_si(12.345, "12.3");
}

Test(numfmt, count_has_thousands_separators)
{
    char buf[32];
    tm_numfmt_count(150000, buf, sizeof buf);
    cr_expect_str_eq(buf, "150,000");
    tm_numfmt_count(999, buf, sizeof buf);
    cr_expect_str_eq(buf, "999");
    tm_numfmt_count(-1234567, buf, sizeof buf);
    cr_expect_str_eq(buf, "-1,234,567");
    tm_numfmt_count(0, buf, sizeof buf);
    cr_expect_str_eq(buf, "0");
}

Test(numfmt, plural)
{
    cr_expect_str_eq(tm_numfmt_plural(1), "");
    cr_expect_str_eq(tm_numfmt_plural(0), "s");
    cr_expect_str_eq(tm_numfmt_plural(2), "s");
}
