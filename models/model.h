/* model: the small interface every decision model implements (myopic,
 * dynamic, learning). A model turns this period's payoffs into choice values
 * v(z, S_prev, S); the engine turns values into a policy table. */
#ifndef TM_MODEL_H
#define TM_MODEL_H

#include <stdint.h>

#include "base/error.h"
#include "base/progress.h"
#include "params/params.h"

/* What a sector's firms face in one period. Tables are over the sector's
 * productivity grid; sets are bit masks over destinations. */
struct tm_mstate;
struct tm_process;
struct tm_grid_tables;

typedef struct {
    int sector;
    int period; /* logged period index; negative during burn-in */
    int n_z, n_sets, n_dest;
    int n_states;                   /* market states (src/engine/mstate.h); 0: the n_sets market sets */
    const struct tm_mstate *states; /* NULL: plain market sets, timing current */
    const double *z_grid;           /* [n_z] log productivity */
    const double *P;                /* [n_z * n_z] productivity transition */
    const double *flow;  /* [n_z * n_states]: Pi(z,m) - fixed costs (timing next: Pi only); -inf if infeasible */
    const double *sunk;  /* [n_dest] sunk cost of entering d this period */
    const double *cost;  /* [n_states * n_sets]: tm_mstate_costs of this period; NULL: sunk of entered markets */
    const double *death; /* [n_z]: death probability at each z; NULL: death_rate */
    const int *regime;   /* [n_dest] regimes in force */
    double death_rate;   /* delta_s */
    /* The regime process this sector faces now (what forward-looking
     * models expect; src/engine/process.h). */
    const struct tm_process *process;
    int threads;      /* OpenMP threads a model may use (>= 1) */
    int belief_class; /* learning: the belief class whose values are wanted */
    int type;         /* demand type whose values are wanted (flow is that type's) */
    /* [n_dest]: share of the sector's firms serving d last period (what
     * crowding and spillovers use; learning from peers); NULL: unknown. */
    const double *share_serving;
} tm_choice_ctx;

/* What a forward-looking model reports about the policy it solved at the
 * start of the run (written to /policy in the output). Cut-offs are log
 * productivities indexed [joint regime * n_dest + d]; the joint regime is
 * sum_d r_d * prod_{e<d} R_e (destination 0 fastest). */
typedef struct {
    int n_joint;
    const double *entry_cutoff; /* lowest z at which a non-exporter enters d (+inf: never) */
    const double *exit_cutoff;  /* lowest z at which a firm serving only d keeps d (+inf: never) */
    int iterations;             /* value-iteration sweeps of the stationary solve */
    double residual;            /* sup-norm error bound when it stopped */
    double seconds;             /* wall time of the solve (not reproducible; not in the digest) */
    int threads;                /* threads the start-of-run solves ran on */
    int sweep_threads;          /* the largest team one of their sweeps ran on (idle threads lent) */
} tm_policy_summary;

/* What a model is given to prepare itself at the start of a run. It
 * copies what it keeps: the environment need only live during init. */
typedef struct {
    int threads;                        /* threads init may use (>= 1): the run's --threads */
    const struct tm_grid_tables *grids; /* every sector's productivity grid and transition */
    const struct tm_process *process;   /* [n_sectors]: the process in force at the start */
    tm_progress progress;               /* optional: reports of a long start-of-run solve */
} tm_model_env;

struct tm_ckbuf;

typedef struct tm_model_ops {
    const char *name;
    /* Prepare (e.g. solve a dynamic programme); *state may stay NULL. */
    int (*init)(const tm_params *params, const tm_model_env *env, void **state, tm_error *err);
    /* value[(z * n_states + m) * n_sets + S] for this sector and period:
     * the value of choosing market set S from state m. */
    int (*values)(void *state, const tm_choice_ctx *ctx, double *value, tm_error *err);
    void (*free)(void *state);
    /* Optional (NULL for models without a solved policy): the summary of
     * sector s; the pointers stay valid until free. */
    int (*summary)(const void *state, int sector, tm_policy_summary *out);
    /* Optional (NULL unless firms' beliefs differ): with class_of_birth
     * NULL, the number of belief classes K; otherwise observe this period
     * (ctx) and write the class of firms born in periods first_birth ..
     * first_birth + n_births - 1 (births before the run: -burn_in), and
     * return the number of classes in use now: the classes written are
     * below it. The engine then asks values() for each class in use
     * (ctx->belief_class). */
    int (*belief_classes)(void *state, const tm_choice_ctx *ctx, int first_birth, int n_births,
                          uint16_t *class_of_birth);
    /* Optional, for checkpoints (src/io/checkpoint.h): append the state that
     * evolves during a run (not what init() rebuilds from the parameters)
     * and read it back into a state fresh from init(). A model with belief
     * classes but no save cannot be checkpointed (the run refuses). */
    int (*save)(const void *state, struct tm_ckbuf *b, tm_error *err);
    int (*restore)(void *state, struct tm_ckbuf *b, tm_error *err);
} tm_model_ops;

/* The cost of each choice in this period, [m * n_sets + S]: ctx->cost, or
 * for a context without one tm_mstate_costs of ctx->sunk and the sector's
 * fixed costs, written to buf (n_states * n_sets doubles). */
const double *tm_model_costs(const tm_choice_ctx *ctx, const struct tm_mstate *ms, const tm_sector *sector,
                             double *buf);

/* The model of kind `kind` (run.model), or NULL for none. */
const tm_model_ops *tm_model_lookup(int kind);

/* Name of the model kind ("myopic", ...; "?" for none). */
const char *tm_model_name(int kind);

/* Prepare `model` for `params` as a run does at its start (the run's grids
 * and initial process) with `threads` threads: for a model used outside a
 * run (tests, benchmarks). Free the state with model->free. */
int tm_model_open(const tm_model_ops *model, const tm_params *params, int threads, void **state, tm_error *err);

extern const tm_model_ops tm_model_myopic;
extern const tm_model_ops tm_model_dynamic;
extern const tm_model_ops tm_model_learning;

/* Learning model: posterior mean of the escalation hazard of destination d
 * held by firms of `sector` born in period `birth` (NaN outside the run). */
double tm_learning_hazard_mean(const void *state, int sector, int birth, int d);

#endif
