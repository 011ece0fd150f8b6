#include "engine/preflight.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "engine/demand_types.h"
#include "engine/economy.h"
#include "engine/grid.h"

/* Bytes of state per firm slot: PCG32 state (8), productivity index (2),
 * market byte (1); see src/engine/run.h. */
#define FIRM_STATE_BYTES 11.0
/* Compressed firm panel, measured on the baseline: about 1.5 bytes per
 * firm-period (2-byte productivity index and 1-byte market mask, shuffled
 * and deflated). */
#define PANEL_BYTES_PER_FIRM_PERIOD 1.5
/* Fixed costs of a process: libraries, HDF5 caches, OpenMP stacks. */
#define BASE_MEMORY_BYTES (64.0 * 1024 * 1024)
#define BASE_OUTPUT_BYTES (128.0 * 1024) /* HDF5 metadata, dimension tables, grids */

/* Bytes of state per simulated firm: FIRM_STATE_BYTES, plus its demand
 * type (1, with demand types), the state chosen for next period (1, timing
 * next), its spell lengths (1 per destination, run.spells) and its birth
 * period (4, models with beliefs per cohort); src/engine/run_state.h. */
static double bytes_per_firm(const tm_params *p)
{
    double b = FIRM_STATE_BYTES;
    b += p->n_types > 1 ? 1 : 0;
    b += p->timing == TM_TIMING_NEXT ? 1 : 0;
    b += p->spells ? p->n_dest : 0;
    b += p->model == TM_MODEL_LEARNING ? 4 : 0;
    return b;
}

/* Learning firms keep beliefs per (sector, birth cohort, destination): two
 * doubles (alpha, beta) and each cohort's belief class (2 bytes); a cohort
 * is a period of burn-in or run (models/learning.c, run_state.h). */
static double cohort_bytes(const tm_params *p)
{
    if (p->model != TM_MODEL_LEARNING)
        return 0;
    double cohorts = (double)p->burn_in + p->periods;
    return p->n_sectors * cohorts * (16.0 * p->n_dest + 2.0);
}

/* Peak memory: firm arrays, per-cohort beliefs, per-sector tables,
 * per-thread accumulators, per-period results and (with the panel) one
 * period of compressed chunks. Tables are kept per market state and
 * demand type; models that solve a programme keep values over (z, previous
 * set, set, joint regime); counted generously. */
static double memory_estimate(const tm_params *p, int threads, int panel)
{
    double n_z = p->grid_points, n_sets = tm_n_sets(p->n_dest), n_dest = p->n_dest;
    double n_states = tm_params_n_states(p), n_types = p->n_types > 1 ? p->n_types : 1;
    double joint = 1;
    for (int d = 0; d < p->n_dest; d++)
        joint *= p->dest[d].n_regimes;
    double firms = 0;
    for (int s = 0; s < p->n_sectors; s++)
        firms += (double)tm_params_slots(p, s);
    double per_sector = n_z * n_z * (8 + 4 + 4)                                    /* transition and alias tables */
                        + n_types * n_z * n_states * (8 + 8 * n_dest + 8 * n_sets) /* flow, revenue, value */
                        + n_types * n_z * n_states * (1 + 8 * n_sets);             /* policy (logit cdf at most) */
    if (p->model != TM_MODEL_MYOPIC)
        per_sector += 4 * 8 * n_types * n_z * n_sets * n_sets * joint;
    double per_thread = p->n_sectors * 4.0 * (n_z * n_sets + n_sets * n_sets + n_sets);
    double results = p->n_sectors * (n_dest * 8 * 8 + n_sets * 8 + 8);
    double firm_bytes = p->exact ? 0 : bytes_per_firm(p) * firms;
    double mem = BASE_MEMORY_BYTES + firm_bytes + cohort_bytes(p) + p->n_sectors * per_sector + threads * per_thread +
                 results;
    if (panel)
        mem += 3.5 * firms; /* compressBound of one period's z and market chunks */
    return mem;
}

/* Finished file: series (stored uncompressed at worst) plus the panel. */
static double output_estimate(const tm_params *p, int panel)
{
    double S = p->n_sectors, D = p->n_dest, NS = tm_n_sets(p->n_dest), T = p->periods;
    double series_per_period = 8 * (9 * S * D + S * NS + S + 1) + 4 * D + TM_LABEL_MAX;
    double firms = 0;
    for (int s = 0; s < p->n_sectors; s++)
        firms += (double)tm_params_slots(p, s);
    double fixed = BASE_OUTPUT_BYTES + (p->canonical ? (double)strlen(p->canonical) : 0) + 8 * S * p->grid_points;
    return fixed + T * series_per_period + (panel ? PANEL_BYTES_PER_FIRM_PERIOD * firms * T : 0);
}

/* MemAvailable from /proc/meminfo (bytes), or free pages from sysconf. */
static double available_memory(const char **source)
{
    double avail = -1;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        unsigned long long kb;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
                avail = (double)kb * 1024.0;
                *source = "MemAvailable in /proc/meminfo";
                break;
            }
        fclose(f);
    }
    if (avail < 0) {
        long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        if (pages > 0 && size > 0) {
            avail = (double)pages * (double)size;
            *source = "free physical pages";
        }
    }
    /* An address-space limit (ulimit -v) binds before physical memory. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        double used = 0;
        FILE *statm = fopen("/proc/self/statm", "r");
        unsigned long long vm_pages;
        if (statm) {
            if (fscanf(statm, "%llu", &vm_pages) == 1)
                used = (double)vm_pages * (double)sysconf(_SC_PAGESIZE);
            fclose(statm);
        }
        double room = (double)rl.rlim_cur - used;
        if (room < 0)
            room = 0;
        if (avail < 0 || room < avail) {
            avail = room;
            *source = "the address-space limit (ulimit -v) less what is mapped";
        }
    }
    return avail;
}

static double available_disk(const char *output_path)
{
    char dir[4096];
    const char *slash = strrchr(output_path, '/');
    if (slash)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - output_path) + (slash == output_path), output_path);
    else
        snprintf(dir, sizeof dir, ".");
    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0 || vfs.f_blocks == 0)
        return -1; /* unknown (pseudo file systems report no blocks) */
    double avail = (double)vfs.f_bavail * (double)vfs.f_frsize;
    /* A file-size limit (ulimit -f) caps what one file may take. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (double)rl.rlim_cur < avail)
        avail = (double)rl.rlim_cur;
    return avail;
}

void tm_preflight_estimate(const tm_params *p, int threads, int panel, const char *output_path, tm_preflight *est)
{
    memset(est, 0, sizeof *est);
    if (threads <= 0)
        threads = omp_get_max_threads();
    est->memory_source = "unknown";
    est->memory_bytes = memory_estimate(p, threads, panel);
    est->memory_available = available_memory(&est->memory_source);
    est->output_bytes = output_estimate(p, panel);
    est->disk_available = output_path ? available_disk(output_path) : -1;
}

static void human(double bytes, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 6) {
        bytes /= 1024.0;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

/* Values must stay well inside a double: the dynamic programme sums
 * discounted profits (a factor 1 / (1 - beta)), the series sum over firms
 * and summaries over periods; 2^64 of headroom covers those sums. */
#define OVERFLOW_HEADROOM_LOG (64.0 * 0.6931471805599453)

/* The natural log of the largest export value one sector can report in a
 * period: its most productive grid point (tm_grid_half_width), serving
 * every destination at its best (demand, experience and demand-type
 * multipliers at their largest, iceberg and tariffs at their smallest:
 * tariffs only lower profits, so none is assumed), times its firms,
 * grossed up by the programme's discount factor. CES profit and revenue
 * as in src/engine/economy.c (docs/model.md), in logs so that the bound
 * itself cannot overflow. */
static double log_largest_value(const tm_params *p, const tm_demand_types *types, int s)
{
    const tm_sector *sec = &p->sector[s];
    const double sigma = p->elasticity;
    tm_profit_fn fn;
    tm_profit_fn_init(&fn, sigma, p->capacity_elasticity);
    double z_max = tm_grid_half_width(p->grid_method, p->grid_points, sec->persistence, sec->volatility,
                                      p->tauchen_width);
    double type_max = 1.0;
    for (int k = 0; k < types->points; k++)
        type_max = fmax(type_max, types->multiplier[k]);
    double weight = 0.0;
    for (int d = 0; d < p->n_dest; d++) {
        double best = 0.0;
        for (int k = 0; k < p->experience.levels; k++)
            best = fmax(best, tm_econ_weight(sec->market[d].demand * p->experience.demand[k] * type_max,
                                             sec->market[d].iceberg * p->experience.iceberg[k], 0.0, sigma));
        weight += best;
    }
    if (!(weight > 0.0))
        return -INFINITY;
    double log_profit = fn.gamma == 0.0
                            ? (sigma - 1.0) * z_max + log(weight)
                            : log(fn.scale) + fn.z_exponent * z_max + fn.theta * log(weight / fn.weight_unit);
    double log_discount = p->model == TM_MODEL_MYOPIC ? 0.0 : -log1p(-p->discount);
    return log_profit + log(fn.revenue_ratio) + log((double)sec->firms) + log_discount;
}

int tm_preflight_check_values(const tm_params *p, tm_error *err)
{
    tm_demand_types types;
    tm_demand_types_init(&types, p);
    const double limit = log(DBL_MAX) - OVERFLOW_HEADROOM_LOG;
    for (int s = 0; s < p->n_sectors; s++) {
        double v = log_largest_value(p, &types, s);
        if (v > limit || isnan(v)) {
            const tm_sector *sec = &p->sector[s];
            return tm_error_set(
                err, TM_ERR_INPUT,
                "%s: sector %s: profits overflow a double: with demand.elasticity %g, "
                "sectors.%s.volatility %g and persistence %g (productivity.grid %d points, "
                "log productivity up to %.4g), its export value reaches about e^%.0f model money "
                "while a double holds e^%.0f at most (less headroom for sums); lower "
                "demand.elasticity, the sector's volatility or persistence, or productivity.grid",
                p->source ? p->source : "parameters", sec->name, p->elasticity, sec->name, sec->volatility,
                sec->persistence, p->grid_points,
                tm_grid_half_width(p->grid_method, p->grid_points, sec->persistence, sec->volatility, p->tauchen_width),
                v, log(DBL_MAX));
        }
    }
    return 0;
}

int tm_preflight_check(const tm_params *p, int threads, int panel, const char *output_path, tm_error *err)
{
    const char *mode = getenv("TRADEABM_PREFLIGHT");
    if (mode && strcmp(mode, "off") == 0)
        return 0;
    if (tm_preflight_check_values(p, err))
        return -1;
    tm_preflight est;
    tm_preflight_estimate(p, threads, panel, output_path, &est);
    double firms = 0;
    for (int s = 0; s < p->n_sectors; s++)
        firms += (double)tm_params_slots(p, s);
    char need[32], have[32];
    if (est.memory_available >= 0 && est.memory_bytes > est.memory_available) {
        human(est.memory_bytes, need, sizeof need);
        human(est.memory_available, have, sizeof have);
        char beliefs[96] = "";
        if (cohort_bytes(p) > 0) {
            char size[32];
            human(cohort_bytes(p), size, sizeof size);
            snprintf(beliefs, sizeof beliefs, ", learning beliefs %s (%d sectors x %d cohorts)", size, p->n_sectors,
                     p->burn_in + p->periods);
        }
        return tm_error_set(err, TM_ERR_INPUT,
                            "not enough memory: the run needs about %s (%.0f firm slots x %.0f bytes%s, plus tables) "
                            "but %s is available (%s); reduce sectors.<name>.firms, run.resolution%s or "
                            "set TRADEABM_PREFLIGHT=off to try anyway",
                            need, firms, p->exact ? 0.0 : bytes_per_firm(p), beliefs, have, est.memory_source,
                            beliefs[0] ? ", the sectors or run.periods and run.burn_in" : "");
    }
    if (est.disk_available >= 0 && est.output_bytes > est.disk_available) {
        human(est.output_bytes, need, sizeof need);
        human(est.disk_available, have, sizeof have);
        return tm_error_set(err, TM_ERR_INPUT,
                            "%s: not enough disk space: the output needs about %s (%d periods%s) but %s is free "
                            "there; free space, write elsewhere with -o%s, or set TRADEABM_PREFLIGHT=off to try anyway",
                            output_path, need, p->periods, panel ? ", firm panel at 1.5 bytes per firm-period" : "",
                            have, panel ? ", drop --panel" : "");
    }
    return 0;
}
