/* Fuzz target for the sweep-file loader: the input is a sweep file, written
 * next to a small base parameter file (small.yaml) in a private folder, then
 * opened with full resolution (base loaded, every swept value checked).
 * Any outcome but a crash, a leak or a sanitizer report is fine; a rejected
 * input must come back as one input error and no sweep. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "experiments/sweep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char base_text[] =
    "run: {periods: 2, burn_in: 1}\n"
    "sectors:\n"
    "  a: {firms: 10}\n"
    "  b: {firms: 10}\n"
    "destinations:\n"
    "  US:\n"
    "    regimes: {low: {tariff: 0}, high: {tariff: 0.25}}\n"
    "    transition: [[0.9, 0.1], [0.2, 0.8]]\n"
    "  CN:\n"
    "    regimes: {open: {tariff: 0}}\n";

static int write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int rc = fwrite(data, 1, size, f) == size ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/tradeabm-fuzz-sweep-XXXXXX");
        if (!mkdtemp(dir))
            abort();
    }
    char base[128], sweep[128];
    snprintf(base, sizeof base, "%s/small.yaml", dir);
    snprintf(sweep, sizeof sweep, "%s/sweep.yaml", dir);
    if (write_file(base, base_text, sizeof base_text - 1) || write_file(sweep, data, size))
        abort();
    tm_error err = {0};
    tm_sweep *s = NULL;
    int rc = tm_sweep_open(sweep, 1, &s, &err);
    if (rc == 0) {
        /* Accepted: the design must be usable. */
        if (!s || tm_sweep_points(s) < 1 || tm_sweep_replicates(s) < 1 || strlen(tm_sweep_sha256(s)) != 64)
            abort();
        for (int p = 0; p < tm_sweep_points(s) && p < 64; p++)
            for (int j = 0; j < tm_sweep_n_values(s); j++)
                (void)tm_sweep_value(s, p, j);
        tm_sweep_close(s);
    } else if (s != NULL || err.msg[0] == '\0' || err.status == TM_OK) {
        abort();
    }
    return 0;
}
