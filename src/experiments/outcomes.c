#include "experiments/outcomes.h"

#include <stdlib.h>
#include <string.h>

int tm_outcomes_init(tm_outcomes *o, const tm_params *p, int firm_level, tm_error *err)
{
    memset(o, 0, sizeof *o);
    o->sectors = malloc((size_t)(p->n_sectors > 0 ? p->n_sectors : 1) * sizeof *o->sectors);
    if (!o->sectors)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    for (int s = 0; s < p->n_sectors; s++)
        o->sectors[s] = p->sector[s].name;
    for (int d = 0; d < p->n_dest; d++)
        o->dests[d] = p->dest[d].name;
    o->shape.n_sectors = p->n_sectors;
    o->shape.n_dest = p->n_dest;
    o->shape.sectors = o->sectors;
    o->shape.dests = o->dests;
    o->shape.us = tm_params_us_index(p);
    o->shape.firm_level = firm_level;
    return 0;
}

void tm_outcomes_free(tm_outcomes *o)
{
    free(o->sectors);
    o->sectors = NULL;
}

int tm_outcomes_parse(const tm_outcomes *o, const char *name, tm_stats_outcome *out, tm_error *err)
{
    return tm_stats_outcome_parse(name, &o->shape, out, err);
}
