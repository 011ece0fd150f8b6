#include "base/progress.h"

#include <stddef.h>

void tm_progress_report_to(const tm_progress *p, const char *stage, int done, int total, const char *label)
{
    if (!p || !p->fn)
        return;
    tm_progress_report r = {stage, done, total, label};
    p->fn(p->user, &r);
}
