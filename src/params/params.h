/* params: every model parameter, defined once in a descriptor table that
 * drives parsing, defaults, validation, the canonical dump and `params --doc`.
 * Owns tm_params (the resolved, validated parameters of one run). */
#ifndef TM_PARAMS_H
#define TM_PARAMS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"

/* Limits (not model sizes): market sets are bit masks in one byte and the
 * joint regime space grows as the product of regimes per destination. */
#define TM_MAX_DEST 6
/* Most firms of a sector, and most slots (firms times run.resolution). */
#define TM_MAX_SLOTS 100000000
/* Largest multiplier of a demand shifter an event may set. */
#define TM_MAX_DEMAND_SCALE 1e6
#define TM_MAX_REGIMES 8
#define TM_NAME_MAX 32
#define TM_NOTE_MAX 160
#define TM_LABEL_MAX 16
/* Experience levels per market, and the joint market states (a firm's
 * level in every destination, 0 = not serving) that fit in one byte. */
#define TM_MAX_LEVELS 8
#define TM_MAX_STATES 64
/* Completed export spells are counted by length 1 .. TM_SPELL_MAX - 1
 * periods, longer ones in the last bin. */
#define TM_SPELL_MAX 41
/* Firm-by-destination demand types: points per destination, and types. */
#define TM_MAX_TYPE_POINTS 8
#define TM_MAX_TYPES 256

typedef enum { TM_MODEL_MYOPIC = 0, TM_MODEL_DYNAMIC, TM_MODEL_LEARNING } tm_model_kind;
typedef enum { TM_GRID_ROUWENHORST = 0, TM_GRID_TAUCHEN } tm_grid_method;
typedef enum { TM_SUNK_FULL = 0, TM_SUNK_ANNUITY } tm_sunk_rule;
/* When a market choice takes effect: this period, or next period (firms
 * decide and pay now for next period's market state). */
typedef enum { TM_TIMING_CURRENT = 0, TM_TIMING_NEXT } tm_timing;
/* Dynamic programmes: one per destination when markets are independent
 * (auto), or always over all destinations jointly. */
typedef enum { TM_SOLVER_AUTO = 0, TM_SOLVER_JOINT } tm_solver;
/* Value iteration of joint programmes (more than one destination, solved
 * together): Anderson-accelerated (models/anderson.h) or plain. */
typedef enum { TM_ACCEL_ANDERSON = 0, TM_ACCEL_NONE } tm_acceleration;
/* Death probability: constant, clip(exp(-a z) + b, 0, 1) in log productivity
 * z, or clip(exp(-a exp((sigma - 1) z)) + b, 0, 1) in profitability. */
typedef enum { TM_DEATH_CONSTANT = 0, TM_DEATH_PRODUCTIVITY, TM_DEATH_PROFITABILITY } tm_death_rule;
/* Learning: a belief between hazard grid points uses the nearest point's
 * policy, or continuation values interpolated linearly in the hazard
 * (docs/model.md section 7). */
typedef enum { TM_BELIEF_NEAREST = 0, TM_BELIEF_LINEAR } tm_belief_interp;

/* Market-specific experience (docs/model.md): level k = 1..K of a firm
 * serving a market scales demand, the iceberg cost and the fixed cost;
 * entry lands in level 1; a firm that keeps serving moves from level k to
 * level k' with probability transition[k-1][k'-1]; leaving resets it. */
typedef struct {
    int levels; /* K; 1 = no experience states */
    double demand[TM_MAX_LEVELS];
    double iceberg[TM_MAX_LEVELS];
    double fixed_cost[TM_MAX_LEVELS];
    double transition[TM_MAX_LEVELS][TM_MAX_LEVELS];
} tm_experience;

/* Demand and trade costs of one sector in one destination (DESIGN eq. pi). */
typedef struct {
    double demand;            /* B(d,s): market size and price index, model units */
    double iceberg;           /* tau(d,s) >= 1 */
    double fixed_cost;        /* f(d,s) per period of service */
    double sunk_cost;         /* F(d,s) in a period the firm enters d */
    double tariff_absorption; /* alpha(d,s): share of the duty absorbed in the producer price */
    /* p(d,s): share of the sector's exports to d that qualifies for a
     * preference (CUSMA) and so is exempt from duties that exempt it. */
    double preferential_share;
    /* mu(d,s): the home country's share of d's market for the sector's
     * goods; while a closure of d is in force, the open firms' demand
     * rises as the closed ones' supply leaves (docs/model.md eq. 36). */
    double market_share;
    /* lambda_r(d,s): the share of the gap to eq. 36's target that ln m
     * closes each period (buyers switching to the open firms); NaN: the
     * tariff response's demand.adjustment. */
    double switching_rate;
} tm_market;

typedef struct {
    char name[TM_NAME_MAX];
    int64_t firms;
    double persistence;           /* rho_s of the log-productivity AR(1) */
    double volatility;            /* sigma_s, innovation s.d. */
    double death_rate;            /* delta_s per period (death_rule constant) */
    int death_rule;               /* tm_death_rule */
    double death_slope;           /* a: productivity rule clip(exp(-a z) + b, 0, 1) */
    double death_shift;           /* b */
    double hazard_prior_mean;     /* learning: prior mean of the escalation hazard */
    double hazard_prior_strength; /* learning: prior weight in observations */
    double capacity_elasticity;   /* gamma_s; NaN: capacity.elasticity */
    tm_market market[TM_MAX_DEST];
} tm_sector;

typedef struct {
    char name[TM_NAME_MAX];
    double tariff;         /* default ad-valorem rate for sectors not listed */
    int closed;            /* market closed (a ban): nobody may serve it */
    double *sector_tariff; /* [n_sectors], resolved: the effective rate firms pay */
    /* [n_sectors], resolved: 1 where the regime closes the market to the
     * sector (every sector when `closed`, else those in `closed_sectors`). */
    int *sector_closed;
    /* q(d,r) of docs/model.md eq. 26a: a sector in `closed_sectors` is
     * closed to firms at grid points whose stationary mass below is at
     * least q, open to the rest; 0 (the default) closes every firm, 1 none. */
    double closed_above_quantile;
    /* [n_sectors], resolved: the statutory (announced) rate, for reporting
     * only; the effective rate where `statutory_tariffs` does not name the
     * sector. */
    double *sector_statutory;
    /* The regime's rates as written are statutory and spare the
     * preferential share: sector_tariff = (1 - p(d,s)) x the written rate,
     * sector_statutory = the written rate (docs/model.md eq. 32). */
    int exempts_preferential;
} tm_regime;

typedef struct {
    char name[TM_NAME_MAX];
    int n_regimes;
    tm_regime regime[TM_MAX_REGIMES]; /* ordered from least to most restrictive */
    double transition[TM_MAX_REGIMES][TM_MAX_REGIMES];
    char initial_regime_name[TM_NAME_MAX];
    int initial_regime;
    /* Firms perceive the hazards of moving to more restrictive regimes as
     * this multiple of the true ones (1: they perceive the truth). */
    double perceived_escalation_scale;
    tm_market defaults;
} tm_destination;

typedef enum {
    TM_EVENT_REGIME = 0, /* force the regime; optionally hold it */
    TM_EVENT_TARIFF,     /* override a tariff in every regime */
    TM_EVENT_ESCALATION, /* scale the hazards of moving to more restrictive regimes */
    TM_EVENT_RELEASE,    /* let a held regime follow its Markov chain again */
    TM_EVENT_SUNK_COST,  /* scale the sunk cost of entering a destination (a policy lever) */
    TM_EVENT_TRANSITION, /* replace the regime transition matrix (time-varying processes) */
    TM_EVENT_PERCEIVED,  /* scale the escalation hazards firms perceive, not the true ones */
    TM_EVENT_DEMAND,     /* set the multiplier of the demand shifter B(d,s) */
    TM_EVENT_ICEBERG,    /* set the multiplier of the iceberg cost tau(d,s) */
    TM_EVENT_FIXED_COST, /* set the multiplier of the fixed cost f(d,s) */
    TM_EVENT_GROWTH,     /* one period's step of a demand growth path: B multiplier x (1 + g) */
    TM_EVENT_HAZARD,     /* one period's step of an index-driven escalation hazard path */
} tm_event_kind;

typedef struct {
    tm_event_kind kind;
    char at[TM_LABEL_MAX];
    int period; /* logged-period index (0 = run.start) */
    char destination_name[TM_NAME_MAX];
    char sector_name[TM_NAME_MAX];
    char regime_name[TM_NAME_MAX];
    int destination;
    int sector; /* -1: every sector */
    int regime;
    int hold;
    double tariff;                     /* NaN when unset */
    double statutory_tariff;           /* tariff events: the statutory rate beside it (NaN: the same) */
    int exempts_preferential;          /* tariff events: `tariff` is statutory and spares p(d,s) (eq. 32) */
    double escalation_scale;           /* NaN when unset */
    double perceived_escalation_scale; /* NaN when unset */
    double demand_scale, iceberg_scale, fixed_cost_scale; /* NaN when unset */
    double price_scale;                                   /* world price multiple x (eq. 29b); NaN when unset */
    double demand_factor;     /* TM_EVENT_DEMAND: demand_scale, or price_scale^sigma (not in the canonical text) */
    double demand_growth;     /* g per period; NaN when unset */
    char until[TM_LABEL_MAX]; /* growth: last period of the path (included) */
    int until_period;
    int derived; /* a growth step made from the event written at `at` (not in the canonical text) */
    /* Within its period: the event takes effect at point `within` of the
     * period (0: at its start), from `fraction` or from a calendar `date`. */
    double fraction;        /* NaN when unset */
    char date[TM_NAME_MAX]; /* "YYYY-MM-DD", empty when unset */
    double within;
    double sunk_cost_scale; /* NaN when unset */
    int release;
    int anticipated; /* known to forward-looking firms from the start of the run */
    int item;        /* position in the file's event list (events are kept in period order) */
    char note[TM_NOTE_MAX];
    double transition[TM_MAX_REGIMES][TM_MAX_REGIMES]; /* TM_EVENT_TRANSITION: the new matrix */
    /* Index-driven hazard (docs/model.md section 12): h = logistic(a + b
     * ln(I / mean I)) of the step's index value I. The values of the whole
     * path are index_values[index_first .. index_first + index_count - 1]
     * of the parameters (the written event's; steps share them). */
    double hazard_intercept, hazard_slope; /* a, b; NaN when unset */
    double escalation_hazard;              /* TM_EVENT_HAZARD: h of this step */
    int index_first, index_count;
} tm_event;

typedef struct tm_params {
    /* run */
    int model;
    uint64_t seed;
    char start[TM_LABEL_MAX];
    int start_index; /* year * periods_per_year + sub-period */
    int periods;
    int periods_per_year;
    int burn_in;
    int spells;     /* track each firm's export spells (run.spells) */
    int exact;      /* run.aggregation: exact (iterate the distribution of firms) */
    int resolution; /* run.resolution: simulated slots per firm (tm_params_slots) */
    /* productivity */
    int grid_points;
    int grid_method;
    double tauchen_width;
    /* demand, decisions, capacity, interactions */
    double elasticity;
    /* Partial adjustment of demand to tariffs (docs/model.md eq. 2b): NaN
     * when unset (sigma); off when both are unset. */
    double demand_impact_elasticity;
    double demand_long_run_elasticity;
    double demand_adjustment; /* lambda_c per period */
    int myopic_sunk;
    double logit_scale;
    int timing;          /* tm_timing */
    int dp_solver;       /* tm_solver */
    int dp_acceleration; /* tm_acceleration */
    double discount;
    double dp_tolerance; /* value iteration: bound on the sup-norm error */
    int dp_max_iterations;
    int belief_points;        /* learning: hazard grid points per destination */
    double hazard_max;        /* learning: top of the hazard grid */
    double forgetting;        /* learning: omega */
    int belief_interpolation; /* learning: tm_belief_interp */
    double peer_weight;       /* learning: pseudo-observations per unit change in peers' participation */
    double capacity_elasticity;
    double spillover;
    double crowding;
    double *index_values; /* every index-driven hazard path's values, in event order */
    int n_index_values;
    double exchange_elasticity; /* eta_e of the real exchange rate (docs/model.md section 11); 0 = off */

    tm_experience experience;
    /* Firm-by-destination demand types (src/engine/demand_types.h): each
     * firm draws, at birth and for life, one of `type_points` equally likely
     * demand multipliers per typed destination. n_types = points^typed. */
    int type_points;
    double type_dispersion;
    int type_dest[TM_MAX_DEST]; /* position of d among the destinations with types, -1: none */
    int n_types;

    int n_sectors;
    tm_sector *sector;
    int n_dest;
    tm_destination dest[TM_MAX_DEST];
    int n_events;
    tm_event *event;

    char *source;    /* where the parameters came from (file, or "built-in baseline") */
    char *canonical; /* canonical resolved YAML text */
    char sha256[65]; /* SHA-256 of canonical */
} tm_params;

/* Load a parameter file (NULL: the built-in Canadian baseline), apply
 * `--set` overrides in order, validate. On error *out is NULL. */
int tm_params_load(const char *path, const char *const *sets, int n_sets, tm_params **out, tm_error *err);

/* Same from text in memory (used by `reproduce` with the stored text). */
int tm_params_load_text(const char *name, const char *text, const char *const *sets, int n_sets, tm_params **out,
                        tm_error *err);

/* Like tm_params_load, for `check`: after an error in the parameters, the
 * key it names is set aside and checking goes on, so that one pass finds
 * every error it can (up to max_errs, at most TM_PARAMS_MAX_CHECK_ERRORS),
 * into errs[0 .. *n_errs - 1]. An error that leaves nothing to go on with
 * (reading, syntax, --set, a missing section) ends the list; a later error
 * may follow from an earlier key's absence. 0 and *out when none. */
#define TM_PARAMS_MAX_CHECK_ERRORS 20
int tm_params_check_all(const char *path, const char *const *sets, int n_sets, tm_params **out, tm_error *errs,
                        int max_errs, int *n_errs);

void tm_params_free(tm_params *params);

/* The listing of every parameter (path, type, default, range, unit,
 * symbol, description, source) as a Markdown table, generated from the
 * descriptor tables; malloc'd (NULL: out of memory). */
char *tm_params_doc(void);

/* Period labels: "2024Q1" (4 per year), "2024M03" (12), "2024H2" (2),
 * "2024" (1). Index = year * periods_per_year + (sub-period - 1). */
int tm_period_parse(const char *label, int periods_per_year, int *index);
void tm_period_label(int index, int periods_per_year, char *buf, size_t size);

/* Index of the destination named "US", or 0 if none is: the reference for
 * every "non-US share" (summary tables, series, moments, comparisons). */
int tm_params_us_index(const tm_params *params);

/* Whether some regime's statutory tariff differs from its effective one
 * (then runs write /environment/statutory_tariff). */
int tm_params_has_statutory(const tm_params *params);

/* The uniform rate a sector pays under a duty of statutory rate
 * `statutory` that spares the share `share` of its sales (docs/model.md
 * eq. 32): the rate t with (1 + t)^(-e) = share + (1 - share)
 * (1 + statutory)^(-e), e the long-run elasticity of the market weight
 * (demand.long_run_elasticity, sigma when unset). `statutory` itself when
 * share is 0, 0 when it is 1. */
double tm_params_preferential_rate(const tm_params *params, double share, double statutory);

/* Number of joint market states: (levels + 1)^n_dest (2^n_dest without
 * experience states, the market sets). */
int tm_params_n_states(const tm_params *params);

/* Slots simulated for sector s: its firms times run.resolution (firms
 * alone with run.aggregation: exact, whose masses are the firms), and the
 * weight of one slot in every aggregate (docs/model.md eq. 37). */
static inline int64_t tm_params_slots(const tm_params *p, int s)
{
    return p->exact ? p->sector[s].firms : p->sector[s].firms * (int64_t)p->resolution;
}
static inline double tm_params_slot_weight(const tm_params *p)
{
    return p->exact ? 1.0 : 1.0 / (double)p->resolution;
}
/* Counts of firms are not whole numbers: expected masses (exact) or sums
 * of slots weighted by 1 / run.resolution; they are written as doubles. */
static inline int tm_params_fractional_counts(const tm_params *p)
{
    return p->exact || p->resolution > 1;
}

/* The Canadian baseline compiled into the binary. */
extern const char tm_embedded_baseline[];

/* Helpers for other input files (sweeps) so their messages match ours.
 * tm_params_fail_at sets an input error "file:line:col: path: detail" at
 * `node` (plain "path: detail" when node is NULL) and returns -1. */
struct tm_ynode;
TM_PRINTF(4, 5)
int tm_params_fail_at(tm_error *err, const struct tm_ynode *node, const char *path, const char *fmt, ...);
/* "expected one of: a, b, c (did you mean `b`?)" into buf. */
void tm_params_describe_choices(char *buf, size_t size, const char *found, const char *const *names, size_t n);
/* Strict decimal number / integer parsing as parameter files use; 0 on success. */
int tm_params_parse_number(const char *text, double *out);
int tm_params_parse_integer(const char *text, long long *out);

#endif
