/* run_state: the state of one run, shared by the files of the run module
 * (src/engine/run.h): run.c (open, close, step, accessors), firms.c
 * (each sector's firms and tables), kernel.c (the firm loop), aggregate.c
 * (a period's aggregates), exact.c (run.aggregation: exact) and
 * run_checkpoint.c. Not for use outside them. */
#ifndef TM_RUN_STATE_H
#define TM_RUN_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/rng.h"
#include "base/stats.h"
#include "engine/demand_types.h"
#include "engine/economy.h"
#include "engine/env.h"
#include "engine/grid.h"
#include "engine/mstate.h"
#include "engine/policy.h"
#include "engine/run.h"
#include "engine/team.h"
#include "models/model.h"

/* One sector's firms and tables. */
typedef struct {
    int64_t n;
    uint64_t *rng_state; /* PCG32 state per slot */
    uint16_t *z;         /* productivity grid index */
    uint8_t *markets;    /* market state served (bits 0-5, src/engine/mstate.h) and born flag (bit 7) */
    uint8_t *pending;    /* timing next: the state chosen for next period; else NULL */
    uint8_t *tenure;     /* run.spells: [i * n_dest + d] periods of the current spell in d (capped) */
    /* run.aggregation: exact: the mass of firms over (z, state served last
     * period) [n_z * n_states], with timing next also the state chosen for
     * this period [n_z * n_states * n_states]; firm arrays are not kept. */
    double *mass, *mass_next, *prob, *entry_law;
    size_t mass_cells, mass_per_z; /* all cells; cells per (type, z) */
    /* Demand types (demand_types.points > 1): each firm's type, one policy
     * per type; flow, revenue and value tables hold one block per type. */
    uint8_t *type;
    tm_policy *type_pol;
    uint64_t inc_base;                     /* odd; slot i's stream increment is inc_base + 2 i */
    const double *z_grid;                  /* [n_z]: this sector's part of the run's grids */
    const double *P;                       /* [n_z * n_z] */
    const double *pi;                      /* [n_z]: the stationary law of P */
    uint32_t *move_threshold, *move_alias; /* flattened alias tables, [n_z * n_z] */
    tm_alias entry;                        /* entrants' productivity (the stationary law) */
    uint64_t *death_threshold;             /* [n_z]: a firm at z dies if its draw is below */
    double *death;                         /* [n_z]: death probability at z */
    double *flow, *revenue, *value, *cost;
    tm_policy policy;
    /* Models whose firms hold different beliefs (learning) only, else NULL:
     * each firm's birth period, the belief class of each birth cohort
     * (index birth + burn_in) and one policy per class. */
    int32_t *birth;
    uint16_t *class_of_birth;
    tm_policy *classes;
    int n_classes;
    int n_types;
    /* Runs counted by transition (run->joint_cells > 0): [z * 2 n_sets + k]
     * the cell of the joint table (src/engine/kernel.c) a firm at z with key
     * k lands in, built from this period's policy; the low bits of a cell
     * are the set chosen. */
    uint32_t *joint_code;
} sector_state;

/* A block of consecutive slots of one sector. */
typedef struct {
    int sector;
    int64_t start, end;
} block;

/* Lanes of the count tables hist, trans and enter: each cell holds
 * TM_COUNT_LANES counters side by side ([cell][lane]) and the firm loop
 * counts firm i into lane i % TM_COUNT_LANES. Neighbouring firms mostly
 * land in the same cell (they stay where they were), and with one counter
 * each increment had to wait for the previous firm's; the lanes are added
 * up when the period is aggregated. Two lanes measured fastest (four cost
 * more instructions than they save: docs/performance.md). */
#define TM_COUNT_LANES 2
/* Lanes of the joint table (one count a firm: src/engine/kernel.c), laid
 * out as those above; two measured faster than one or four. */
#define TM_JOINT_LANES 2

/* Integer accumulators of one thread (counts add exactly in any order).
 * Between periods every table is zero: the thread counts into the
 * sectors of its blocks, from first_sector to last_sector (none when
 * last_sector < first_sector), and the merge of the period
 * (src/engine/kernel.c) reads those sectors' tables and zeroes them. */
typedef struct {
    uint32_t *hist;  /* [s][z * n_states + m][lane] firms by the state they serve after the decision */
    uint32_t *trans; /* [s][prev * n_sets + S][lane] survivors' and entrants' moves between market sets */
    uint32_t *died;  /* [s][S] market set of firms that died */
    uint32_t *enter; /* [s][d][z * n_states + m][lane] firms serving d for the first period of a spell */
    uint32_t *spell; /* [s][d][length]: spells in d that ended (run.spells) */
    uint32_t *joint; /* [s][z][k][S][lane] when run->joint_cells > 0: see src/engine/kernel.c */
    int first_sector, last_sector;
} accum;

/* The period's counts of every thread summed, one count a cell (the lanes
 * added), integers below 2^53 held exactly in doubles (the same sums in
 * any order): the joint table when run->joint_cells > 0, else the ended
 * spells. The general loop's other tables are summed straight into the
 * sectors' period tables (run->tables). */
typedef struct {
    double *spell, *joint;
} count_sums;

struct tm_run {
    const tm_params *p;
    const tm_model_ops *model;
    void *model_state;
    tm_env env;
    tm_grid_tables grids; /* every sector's productivity grid (the model is given the same) */
    tm_demand_types types;
    int n_z, n_sets, n_dest, n_sectors;
    int n_states, levels, n_types;
    tm_mstate ms;
    int threads;
    tm_team team; /* the team of each period's firm loop, at most threads (engine/team.h) */
    sector_state *sec;
    block *blocks;
    size_t n_blocks;
    accum *acc;     /* [threads] */
    count_sums sum; /* the threads' counts of the period, summed by the kernel */
    /* Each sector's tables of the period, [s][hist | trans | died | enter]
     * (table_cells doubles a sector), and the cells of its top-decile
     * share (hist_cells a sector): tm_run_aggregate_sectors. */
    double *tables;
    size_t table_cells;
    tm_stats_cell *top_cells;
    size_t hist_cells, trans_cells, enter_cells, spell_cells;
    /* Cells of a sector's joint table when the firm loop counts each firm
     * once by (z, state before, set chosen) (tm_run_joint_cells), else 0. */
    size_t joint_cells;
    int period; /* last computed */
    int started;
    double *share_serving; /* [s * n_dest] previous period's share serving d */
    double *stock;         /* [s * n_dest] partial adjustment's customer stock L (NULL when off) */
    /* Residual demand (docs/model.md eq. 36), NULL when no market_share is
     * set: [4 * s * n_dest], per (s, d) the log multiplier ln m of demand,
     * the reference supply, last period's supply (export value over m) and
     * whether a partial closure was in force last period (0 or 1). */
    double *resid;
    /* Tables of the conditions before an event within the period (one
     * type's: n_z * n_states, and x n_dest); NULL when no event has one. */
    double *within_flow, *within_revenue;
    int us_index;
    tm_period_result res;
};

/* firms.c: set up sector s (its firms, or their distribution with
 * run.aggregation: exact, and its tables) once run->grids and the model
 * exist; free what it allocated. */
int tm_run_sector_init(tm_run *run, int s, tm_error *err);
void tm_run_sector_free(sector_state *sec);

/* kernel.c: one period of every simulated firm (death and replacement,
 * productivity move, decision) into the threads' accumulators, their sum
 * into run->sum (the threads' tables zeroed for the next period), then
 * every sector's aggregates (tm_run_aggregate_sectors with
 * tm_run_count_firms), all on one team of threads; the economy-wide
 * figures (tm_run_finish_aggregates) are left to the caller. */
void tm_run_kernel_step(tm_run *run);

/* Residual demand (docs/model.md eq. 36): whether some sector sets a
 * market share, and the end-of-period record of each sector's supply in
 * each destination (export value over the multiplier) it uses next period. */
int tm_run_residual_on(const tm_params *p);
void tm_run_residual_observe(tm_run *run);

/* kernel.c: the cells of a sector's joint table if the run's firms can be
 * counted by transition (market sets only, timing current, no spells,
 * demand types, logit noise or belief classes, and a table of at most
 * TM_JOINT_MAX_CELLS cells), else 0. The limit keeps what each thread
 * zeroes and sums every period at most 128 KiB a sector (two lanes),
 * whatever the grid and destinations. */
#define TM_JOINT_MAX_CELLS 16384
size_t tm_run_joint_cells(const tm_run *run);

/* Fills one sector's period tables, every cell (they hold last period's
 * on entry): firms by (type, z, state served), moves between market sets,
 * deaths by set, first periods of spells. */
typedef void (*tm_run_sector_fill)(tm_run *run, int s, double *hist, double *trans, double *died, double *enter);

/* aggregate.c: every sector's tables from `fill`, then the period's
 * aggregates (run->res): tm_run_aggregate_period runs the two parts
 * below, the sectors on a team of its own. tm_run_aggregate_sectors is
 * a worksharing loop over the sectors for the threads of the team that
 * calls it (or one thread outside a parallel region);
 * tm_run_finish_aggregates the economy-wide figures after it, serial.
 * tm_run_count_firms fills a sector's tables from the kernel's summed
 * counts (run->sum). */
int tm_run_aggregate_period(tm_run *run, tm_run_sector_fill fill, tm_error *err);
void tm_run_aggregate_sectors(tm_run *run, tm_run_sector_fill fill);
int tm_run_finish_aggregates(tm_run *run, tm_error *err);
void tm_run_count_firms(tm_run *run, int s, double *hist, double *trans, double *died, double *enter);

/* exact.c: one period of sector s's distribution of firms, counted into
 * the same tables (run.aggregation: exact). */
void tm_run_exact_step(tm_run *run, int s, double *hist, double *trans, double *died, double *enter);

#endif
