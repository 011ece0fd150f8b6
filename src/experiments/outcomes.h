/* outcomes: the named outcomes of base/stats.h bound to one parameter set,
 * whose sectors and destinations are the names an outcome's qualifiers are
 * resolved against. Owns the list of sector names it points to. */
#ifndef TM_OUTCOMES_H
#define TM_OUTCOMES_H

#include "base/error.h"
#include "base/stats.h"
#include "params/params.h"

typedef struct {
    tm_stats_shape shape;
    const char **sectors;
    const char *dests[TM_MAX_DEST];
} tm_outcomes;

/* `firm_level`: the outcomes will be computed from a run in memory, so the
 * firm-level ones (exporter_persistence, top shares) are allowed. */
int tm_outcomes_init(tm_outcomes *o, const tm_params *params, int firm_level, tm_error *err);
void tm_outcomes_free(tm_outcomes *o);

/* Resolve a name against these parameters (tm_stats_outcome_parse). */
int tm_outcomes_parse(const tm_outcomes *o, const char *name, tm_stats_outcome *out, tm_error *err);

#endif
