#include "engine/preflight.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "engine/economy.h"

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

/* Peak memory: firm arrays, per-sector tables, per-thread accumulators,
 * per-period results and (with the panel) one period of compressed chunks.
 * Models that solve a programme keep values over (z, previous set, set,
 * joint regime); counted generously. */
static double memory_estimate(const tm_params *p, int threads, int panel)
{
    double n_z = p->grid_points, n_sets = tm_n_sets(p->n_dest), n_dest = p->n_dest;
    double joint = 1;
    for (int d = 0; d < p->n_dest; d++)
        joint *= p->dest[d].n_regimes;
    double firms = 0;
    for (int s = 0; s < p->n_sectors; s++)
        firms += (double)p->sector[s].firms;
    double per_sector = n_z * n_z * (8 + 4 + 4)                        /* transition and alias tables */
                        + n_z * n_sets * (8 + 8 * n_dest + 8 * n_sets) /* flow, revenue, value */
                        + n_z * n_sets * (1 + 8 * n_sets);             /* policy (logit cdf at most) */
    if (p->model != TM_MODEL_MYOPIC)
        per_sector += 4 * 8 * n_z * n_sets * n_sets * joint;
    double per_thread = p->n_sectors * 4.0 * (n_z * n_sets + n_sets * n_sets + n_sets);
    double results = p->n_sectors * (n_dest * 8 * 8 + n_sets * 8 + 8);
    double mem = BASE_MEMORY_BYTES + FIRM_STATE_BYTES * firms + p->n_sectors * per_sector + threads * per_thread +
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
        firms += (double)p->sector[s].firms;
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

int tm_preflight_check(const tm_params *p, int threads, int panel, const char *output_path, tm_error *err)
{
    const char *mode = getenv("TRADEABM_PREFLIGHT");
    if (mode && strcmp(mode, "off") == 0)
        return 0;
    tm_preflight est;
    tm_preflight_estimate(p, threads, panel, output_path, &est);
    double firms = 0;
    for (int s = 0; s < p->n_sectors; s++)
        firms += (double)p->sector[s].firms;
    char need[32], have[32];
    if (est.memory_available >= 0 && est.memory_bytes > est.memory_available) {
        human(est.memory_bytes, need, sizeof need);
        human(est.memory_available, have, sizeof have);
        return tm_error_set(err, TM_ERR_INPUT,
                            "not enough memory: the run needs about %s (%.0f firms x %.0f bytes plus tables) "
                            "but %s is available (%s); reduce sectors.<name>.firms or "
                            "set TRADEABM_PREFLIGHT=off to try anyway",
                            need, firms, FIRM_STATE_BYTES, have, est.memory_source);
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
