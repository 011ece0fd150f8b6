/* process: the regime process one sector faces (each destination's
 * transition matrix in force, the regimes events hold, events' tariff
 * overrides and sunk-cost scales) and the one definition of what a
 * scenario event does to it. The environment (src/engine/env.c) applies
 * events as they happen; forward-looking models (models/bellman.c) apply
 * the anticipated ones ahead of time with the same function. */
#ifndef TM_PROCESS_H
#define TM_PROCESS_H

#include "params/params.h"

typedef struct tm_process {
    /* In force: base with the hazards of moving to more restrictive
     * regimes scaled by escalation (tm_process_escalate). */
    double transition[TM_MAX_DEST][TM_MAX_REGIMES][TM_MAX_REGIMES];
    /* What transition derives from: the destination's matrix or the last
     * `transition` event's (pointing into the parameters). */
    const double (*base[TM_MAX_DEST])[TM_MAX_REGIMES];
    double escalation[TM_MAX_DEST];
    /* Index-driven hazard (docs/model.md section 12): the escalation
     * hazard h of d in force, replacing the base matrix's escalation
     * hazards as in eq. 13 (NaN: none, the base as it is). */
    double hazard[TM_MAX_DEST];
    /* What forward-looking firms expect: base with the escalation hazards
     * scaled by escalation x perceived_scale (docs/model.md section 10);
     * equal to transition, bit for bit, when perceived_scale is 1. */
    double perceived[TM_MAX_DEST][TM_MAX_REGIMES][TM_MAX_REGIMES];
    double perceived_scale[TM_MAX_DEST];
    int held[TM_MAX_DEST];               /* 1 while an event pins the regime */
    double tariff_override[TM_MAX_DEST]; /* NaN: none */
    /* The statutory rate beside an override (reporting only, so it is
     * neither compared nor saved: restores rebuild it from the events). */
    double statutory_override[TM_MAX_DEST];
    double sunk_scale[TM_MAX_DEST]; /* scale of the sunk cost F (1: none) */
    /* Dated paths of the market (docs/model.md section 10): multipliers of
     * the demand shifter B, the iceberg cost tau and the fixed cost f. */
    double demand_scale[TM_MAX_DEST];
    double iceberg_scale[TM_MAX_DEST];
    double fixed_scale[TM_MAX_DEST];
} tm_process;

/* The process before any event: the destinations' matrices, nothing held,
 * no override, unscaled sunk costs. */
void tm_process_init(const tm_params *params, tm_process *process);

/* What event ev does to the process of sector `sector`. The realised
 * regime a `regime` event forces is not part of the process (the
 * environment sets it). */
void tm_process_apply(const tm_params *params, tm_process *process, const tm_event *ev, int sector);

/* The process of `sector` once the first n_applied events (in file order,
 * which is period order) have applied. */
void tm_process_after(const tm_params *params, int sector, int n_applied, tm_process *process);

/* Whether two processes give firms the same problem: same matrices in
 * force (true and perceived), holds, overrides and scales (base and the
 * scales of hazards matter only through the matrices). */
int tm_process_equal(const tm_params *params, const tm_process *a, const tm_process *b);

/* The tariff `sector` pays in d in regime r under the process: the
 * override of a tariff event in force, else the regime's rate. */
double tm_process_tariff(const tm_params *params, const tm_process *process, int sector, int d, int r);

/* The market of `sector` in d under the process: demand, iceberg, fixed
 * and sunk costs of the parameters times the multipliers in force. */
tm_market tm_process_market(const tm_params *params, const tm_process *process, int sector, int d);

/* out = base with the total hazard of moving to a more restrictive regime
 * set to h from every regime below the most restrictive, split over the
 * more restrictive regimes as in base (all to the next one where base has
 * none); moves to less restrictive regimes as in base; the diagonal takes
 * up the rest (docs/model.md eq. 13). h NaN: base's own hazards. */
void tm_process_hazard_matrix(int n, const double (*base)[TM_MAX_REGIMES], double h, double (*out)[TM_MAX_REGIMES]);

/* out = base with the hazards of moving to more restrictive regimes (j > i)
 * scaled by `scale` and the probability of staying adjusted (n regimes). */
void tm_process_escalate(int n, const double (*base)[TM_MAX_REGIMES], double scale, double (*out)[TM_MAX_REGIMES]);

#endif
