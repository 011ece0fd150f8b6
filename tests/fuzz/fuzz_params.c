/* Fuzz target for the parameter loader: the input is a parameter text;
 * lines starting with "#set " (YAML comments, so the text stays valid)
 * are also applied as --set overrides. Any outcome but a crash, a leak or
 * a sanitizer report is fine; an accepted input must be fully resolved. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "params/params.h"

#define FUZZ_MAX_SETS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    /* Collect "#set " lines (copies, NUL-terminated at the line end). */
    char *sets_buf = malloc(size + 1);
    const char *sets[FUZZ_MAX_SETS];
    int n_sets = 0;
    if (sets_buf) {
        memcpy(sets_buf, text, size + 1);
        char *line = sets_buf;
        while (line && *line && n_sets < FUZZ_MAX_SETS) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            if (strncmp(line, "#set ", 5) == 0)
                sets[n_sets++] = line + 5;
            line = nl ? nl + 1 : NULL;
        }
    }

    tm_error err = {0};
    tm_params *p = NULL;
    int rc = tm_params_load_text("fuzz.yaml", text, sets, n_sets, &p, &err);
    if (rc == 0) {
        /* Accepted: the resolved parameters must be usable. */
        if (!p || !p->canonical || strlen(p->sha256) != 64 || p->n_sectors < 1 || p->n_dest < 1)
            abort();
        /* The canonical text must load again to the same parameters. */
        tm_params *again = NULL;
        tm_error err2 = {0};
        if (tm_params_load_text("canonical", p->canonical, NULL, 0, &again, &err2) != 0 ||
            strcmp(again->sha256, p->sha256) != 0)
            abort();
        tm_params_free(again);
    } else if (p != NULL || err.msg[0] == '\0' || err.status != TM_ERR_INPUT) {
        /* Rejected: one message, an input error, nothing returned. (Out of
         * memory is a runtime error; the fuzzer's inputs are small.) */
        abort();
    }
    tm_params_free(p);
    free(sets_buf);
    free(text);
    return 0;
}
