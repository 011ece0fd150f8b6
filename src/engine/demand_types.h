/* demand_types: firm-by-destination demand types (parameters demand_types,
 * docs/model.md). Each firm draws at birth, for life, one of `points`
 * equally likely demand multipliers per typed destination: the bin means
 * of a lognormal of log s.d. `dispersion` cut into equal-probability bins,
 * scaled to mean 1. Type t indexes the bins of the typed destinations, the
 * first listed fastest. */
#ifndef TM_DEMAND_TYPES_H
#define TM_DEMAND_TYPES_H

#include "params/params.h"

typedef struct {
    int points, n_types;
    int type_dest[TM_MAX_DEST]; /* position of d among the typed destinations, -1: none */
    double multiplier[TM_MAX_TYPE_POINTS];
} tm_demand_types;

void tm_demand_types_init(tm_demand_types *types, const tm_params *params);

/* Demand multiplier of firms of type t in destination d (1 in a
 * destination without types). */
double tm_demand_types_multiplier(const tm_demand_types *types, int t, int d);

#endif
