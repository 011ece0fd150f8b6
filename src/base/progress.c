#include "base/progress.h"

#include <stddef.h>

void tm_progress_report_to(const tm_progress *p, const char *stage, int64_t done, int64_t total, const char *label,
                           const void *detail)
{
    if (!p || !p->fn)
        return;
    tm_progress_report r = {stage, done, total, label, detail};
    p->fn(p->user, &r);
}
