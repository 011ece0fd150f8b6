/* kernel: the hot loop of a run, one period of every simulated firm, in
 * one translation unit so that the per-case loops below are built inline
 * (docs/performance.md). */
#include <omp.h>
#include <string.h>

#include "base/clock.h"
#include "engine/run_state.h"

/* The hot loop: death and replacement, productivity move, decision.
 * Two PCG32 draws a firm (three with logit noise), no allocation, no
 * branches on the model; with belief classes (learning) the firm's policy
 * is the one of its birth cohort's class (a table lookup). */
#if defined(__GNUC__)
#define TM_ALWAYS_INLINE inline __attribute__((always_inline))
#define TM_NOINLINE __attribute__((noinline))
#define TM_RARELY(x) __builtin_expect(!!(x), 0)
#else
#define TM_ALWAYS_INLINE inline
#define TM_NOINLINE
#define TM_RARELY(x) (x)
#endif

/* The state a firm carries into this period after serving `served` last
 * period (timing current): each market served moves to its next experience
 * level, one draw per market. */
static TM_ALWAYS_INLINE int experience_step(const tm_mstate *ms, int served, uint64_t *st, uint64_t inc)
{
    int m = 0;
    for (int d = 0, stride = 1; d < ms->n_dest; d++, stride *= ms->radix) {
        int k = ms->level[served][d];
        if (k)
            m += tm_mstate_next_level(ms, k, tm_pcg32_step(st, inc)) * stride;
    }
    return m;
}

/* Timing next: next period's state after choosing S from state m (entry
 * lands in level 1, continuing markets draw their next level). */
static TM_ALWAYS_INLINE int next_state(const tm_mstate *ms, int m, int S, uint64_t *st, uint64_t inc)
{
    int out = 0;
    for (int d = 0, stride = 1; d < ms->n_dest; d++, stride *= ms->radix) {
        if (!(S >> d & 1))
            continue;
        int k = ms->level[m][d];
        int next = k == 0 ? 1 : ms->identity ? k : tm_mstate_next_level(ms, k, tm_pcg32_step(st, inc));
        out += next * stride;
    }
    return out;
}

/* `learning` and `plain` (market sets only: one experience level, timing
 * current) are constants at each call site, so the compiler builds the
 * loop for each case and the default path keeps no per-firm test. */
static TM_ALWAYS_INLINE void step_block_with(tm_run *run, const block *b, accum *acc, const int learning,
                                             const int plain)
{
    sector_state *sec = &run->sec[b->sector];
    const int n_z = run->n_z, n_sets = run->n_sets, n_states = run->n_states;
    uint32_t *hist = acc->hist + (size_t)b->sector * run->hist_cells * TM_COUNT_LANES;
    uint32_t *trans = acc->trans + (size_t)b->sector * run->trans_cells * TM_COUNT_LANES;
    uint32_t *died = acc->died + (size_t)b->sector * (size_t)n_sets;
    uint32_t *enter = acc->enter + (size_t)b->sector * run->enter_cells * TM_COUNT_LANES;
    const size_t hist_cells = run->hist_cells;
    const uint64_t *death = sec->death_threshold;
    const uint32_t *mt = sec->move_threshold, *ma = sec->move_alias;
    const tm_policy *pol = &sec->policy;
    const uint8_t *choice = pol->choice;
    const int logit = !plain && pol->logit; /* logit noise takes the general loop */
    const tm_mstate *mst = &run->ms;
    const uint8_t *set_of = mst->set_of, *served = mst->served;
    const int next_timing = mst->timing == TM_TIMING_NEXT, draws = !mst->identity;
    uint8_t *pend = sec->pending;
    uint8_t *tenure = sec->tenure;
    uint8_t *types = sec->type;
    const tm_policy *type_pol = sec->type_pol;
    const uint64_t n_types = (uint64_t)run->n_types;
    uint32_t *spell = acc->spell + (size_t)b->sector * run->spell_cells;
    const int n_dest = run->n_dest;
    uint64_t *state = sec->rng_state;
    uint16_t *zs = sec->z;
    uint8_t *ms = sec->markets;
    int32_t *births = sec->birth;
    const uint16_t *cohort_class = sec->class_of_birth;
    const tm_policy *classes = sec->classes;
    const int now = run->period, first_birth = -run->p->burn_in;
    /* Copies: the byte stores below may alias anything, so a value read
     * through a pointer inside the loop would be read again for each firm. */
    const uint64_t inc_base = sec->inc_base;
    const tm_alias entry = sec->entry;
    const int64_t first = b->start, last = b->end;
    /* Firms in groups of TM_COUNT_LANES, the loop body repeated for each
     * (the lane is a constant in each copy, so counting into it costs no
     * instruction): see the lanes in src/engine/run_state.h. */
    for (int64_t i0 = first; i0 < last; i0 += TM_COUNT_LANES) {
#pragma GCC unroll 8
        for (int lane = 0; lane < TM_COUNT_LANES; lane++) {
            const int64_t i = i0 + lane;
            if (i >= last)
                break;
            const uint64_t inc = inc_base + 2u * (uint64_t)i;
            uint64_t st = state[i];
            int prev = ms[i] & TM_SET_MASK; /* state served last period */
            int z, cur;
            unsigned born = 0;
            uint32_t r = tm_pcg32_step(&st, inc);
            uint32_t r2 = tm_pcg32_step(&st, inc);
            if ((uint64_t)r < death[zs[i]]) {
                died[plain ? prev : set_of[prev]]++;
                prev = 0;
                cur = 0;
                born = TM_BORN_BIT;
                z = (int)tm_alias_draw(&entry, r2);
                if (learning)
                    births[i] = now;
                if (!plain && types)
                    types[i] = (uint8_t)(((uint64_t)tm_pcg32_step(&st, inc) * n_types) >> 32);
            } else {
                uint64_t scaled = (uint64_t)r2 * (uint64_t)n_z;
                uint32_t col = (uint32_t)(scaled >> 32);
                size_t cell = (size_t)zs[i] * (size_t)n_z + col;
                /* Both outcomes read and one kept by a mask: the test goes either
             * way unpredictably, and a branch there costs about a tenth of
             * the loop (docs/performance.md). */
                const uint32_t keep = 0u - (uint32_t)((uint32_t)scaled < mt[cell]);
                z = (int)((col & keep) | (ma[cell] & ~keep));
                cur = plain           ? prev
                      : next_timing   ? pend[i]
                      : draws && prev ? experience_step(mst, prev, &st, inc)
                                      : prev;
            }
            const size_t type_base = !plain && types ? (size_t)types[i] * (size_t)n_z : 0;
            const tm_policy *own = learning ? &classes[(size_t)cohort_class[births[i] - first_birth] * n_types +
                                                       (!plain && types ? types[i] : 0)]
                                   : !plain && types ? &type_pol[types[i]]
                                                     : pol;
            int S = logit ? tm_policy_choose(own, z, cur, tm_pcg32_step(&st, inc))
                          : (learning || (!plain && types) ? own->choice : choice)[z * n_states + cur];
            int now_served, now_set, prev_set;
            if (plain) {
                now_served = now_set = S;
                prev_set = prev;
            } else {
                if (next_timing) {
                    now_served = cur;
                    pend[i] = (uint8_t)next_state(mst, cur, S, &st, inc);
                } else {
                    now_served = served[cur * n_sets + S];
                }
                now_set = set_of[now_served];
                prev_set = set_of[prev];
            }
            trans[(size_t)(prev_set * n_sets + now_set) * TM_COUNT_LANES + (size_t)lane]++;
            const size_t at = (type_base + (size_t)z) * (size_t)n_states + (size_t)now_served;
            hist[at * TM_COUNT_LANES + (size_t)lane]++;
            unsigned entered = (unsigned)(now_set & ~prev_set);
            for (int d = 0; entered; d++, entered >>= 1)
                if (entered & 1u)
                    enter[((size_t)d * hist_cells + at) * TM_COUNT_LANES + (size_t)lane]++;
            if (!plain && tenure) {
                /* Spells: a death or an exit ends one (its length is counted), a
             * period of service extends or starts one. */
                uint8_t *ten = tenure + (size_t)i * (size_t)n_dest;
                for (int d = 0; d < n_dest; d++) {
                    if (ten[d] && (born || !(now_set >> d & 1))) {
                        spell[d * TM_SPELL_MAX + (ten[d] < TM_SPELL_MAX ? ten[d] : TM_SPELL_MAX - 1)]++;
                        ten[d] = 0;
                    }
                    if (now_set >> d & 1)
                        ten[d] = ten[d] < 255 ? (uint8_t)(ten[d] + 1) : 255;
                }
            }
            zs[i] = (uint16_t)z;
            ms[i] = (uint8_t)((unsigned)now_served | born);
            state[i] = st;
        }
    }
}

/* What the loop of step_block_joint_with reads, copied out of the run
 * (the byte stores of the loop may alias anything, so a value read
 * through a pointer inside it would be read again for each firm). */
typedef struct {
    uint32_t *joint;
    const uint64_t *death;
    const uint32_t *mt, *ma, *code;
    tm_alias entry;
    uint64_t *state;
    uint16_t *zs;
    uint8_t *ms;
    uint64_t inc_base;
    uint32_t n_z;
    unsigned n_dest;
} joint_loop;

/* Runs counted by transition (run->joint_cells > 0): each firm adds one
 * to the cell (z, k, S) of its sector's joint table, z its productivity
 * after the move, S the market set it chose and k the set it served last
 * period, or n_sets plus that set if it died and its slot holds an entrant
 * (who serves nothing and so chooses from state 0). Every count of the
 * period follows from that table (tm_run_count_firms): firms by (z, S),
 * moves between sets, deaths by set and entries. `joint_code` gives in
 * one load both the cell and the set chosen. Deaths (a few percent of
 * firms a period) take a branch: written without one (the entrants' alias
 * table as one more row of the move tables, picked by a mask), the loop
 * took more instructions and ran slower (docs/performance.md). Same draws,
 * same results as step_block_with. */
static TM_ALWAYS_INLINE void joint_firm(const joint_loop L, const int64_t i, const size_t lane)
{
    const uint32_t n_sets = 1u << L.n_dest;
    const unsigned key_bits = L.n_dest + 1u; /* 2 n_sets keys a productivity */
    const uint64_t inc = L.inc_base + 2u * (uint64_t)i;
    uint64_t st = L.state[i];
    const uint32_t z_before = L.zs[i], prev = L.ms[i] & TM_SET_MASK;
    const uint32_t r = tm_pcg32_step(&st, inc);
    const uint32_t r2 = tm_pcg32_step(&st, inc);
    uint32_t z, c;
    if (TM_RARELY((uint64_t)r < L.death[z_before])) {
        z = tm_alias_draw(&L.entry, r2);
        c = L.code[(z << key_bits) | prev | n_sets];
        L.ms[i] = (uint8_t)((c & (n_sets - 1u)) | TM_BORN_BIT);
    } else {
        const uint64_t scaled = (uint64_t)r2 * (uint64_t)L.n_z;
        const uint32_t col = (uint32_t)(scaled >> 32);
        const size_t cell = (size_t)z_before * (size_t)L.n_z + col;
        const uint32_t keep = 0u - (uint32_t)((uint32_t)scaled < L.mt[cell]);
        z = (col & keep) | (L.ma[cell] & ~keep);
        c = L.code[(z << key_bits) | prev];
        L.ms[i] = (uint8_t)(c & (n_sets - 1u));
    }
    L.joint[(size_t)c * TM_JOINT_LANES + lane]++;
    L.zs[i] = (uint16_t)z;
    L.state[i] = st;
}

/* `dests` is the number of destinations when a constant at the call site
 * (the loop then keeps no register for it), else 0. Firms in groups of
 * TM_JOINT_LANES with the body written out for each lane, as in
 * step_block_with, then the remainder of the block. */
static TM_ALWAYS_INLINE void step_block_joint_with(tm_run *run, const block *b, accum *acc, const int dests)
{
    const sector_state *sec = &run->sec[b->sector];
    const joint_loop L = {
        .joint = acc->joint + (size_t)b->sector * run->joint_cells * TM_JOINT_LANES,
        .death = sec->death_threshold,
        .mt = sec->move_threshold,
        .ma = sec->move_alias,
        .code = sec->joint_code,
        .entry = sec->entry,
        .state = sec->rng_state,
        .zs = sec->z,
        .ms = sec->markets,
        .inc_base = sec->inc_base,
        .n_z = (uint32_t)run->n_z,
        .n_dest = dests ? (unsigned)dests : (unsigned)run->n_dest,
    };
    const int64_t last = b->end;
    int64_t i = b->start;
    for (; i + TM_JOINT_LANES <= last; i += TM_JOINT_LANES) {
#pragma GCC unroll 8
        for (int lane = 0; lane < TM_JOINT_LANES; lane++)
            joint_firm(L, i + lane, (size_t)lane);
    }
    for (; i < last; i++)
        joint_firm(L, i, 0);
}

static TM_NOINLINE void step_block_joint_1(tm_run *run, const block *b, accum *acc)
{
    step_block_joint_with(run, b, acc, 1);
}

static TM_NOINLINE void step_block_joint_2(tm_run *run, const block *b, accum *acc)
{
    step_block_joint_with(run, b, acc, 2);
}

static TM_NOINLINE void step_block_joint_3(tm_run *run, const block *b, accum *acc)
{
    step_block_joint_with(run, b, acc, 3);
}

static TM_NOINLINE void step_block_joint_any(tm_run *run, const block *b, accum *acc)
{
    step_block_joint_with(run, b, acc, 0);
}

size_t tm_run_joint_cells(const tm_run *run)
{
    const tm_params *p = run->p;
    size_t cells = (size_t)run->n_z * 2u * (size_t)run->n_sets * (size_t)run->n_sets;
    int plain = run->levels == 1 && run->ms.timing == TM_TIMING_CURRENT && !p->spells && run->n_types == 1 &&
                !(p->logit_scale > 0.0) && !run->model->belief_classes && !p->exact;
    return plain && cells <= TM_JOINT_MAX_CELLS ? cells : 0;
}

/* This period's joint codes of every sector from its policy: key k < n_sets
 * is a survivor that served k, k >= n_sets an entrant (state 0). */
static void build_joint_codes(tm_run *run)
{
    const uint32_t n_sets = (uint32_t)run->n_sets, keys = 2u * n_sets;
    for (int s = 0; s < run->n_sectors; s++) {
        sector_state *sec = &run->sec[s];
        const uint8_t *choice = sec->policy.choice;
        for (uint32_t z = 0; z < (uint32_t)run->n_z; z++)
            for (uint32_t k = 0; k < keys; k++) {
                uint32_t from = k < n_sets ? k : 0;
                uint32_t key = z * keys + k;
                sec->joint_code[key] = key * n_sets + choice[z * (uint32_t)run->n_states + from];
            }
    }
}

/* One function for each case, so that each loop has the registers to
 * itself: inlined into one function, the four loops shared them and kept
 * loop constants on the stack. */
static TM_NOINLINE void step_block_plain(tm_run *run, const block *b, accum *acc)
{
    step_block_with(run, b, acc, 0, 1);
}

static TM_NOINLINE void step_block_general(tm_run *run, const block *b, accum *acc)
{
    step_block_with(run, b, acc, 0, 0);
}

static TM_NOINLINE void step_block_learning_plain(tm_run *run, const block *b, accum *acc)
{
    step_block_with(run, b, acc, 1, 1);
}

static TM_NOINLINE void step_block_learning(tm_run *run, const block *b, accum *acc)
{
    step_block_with(run, b, acc, 1, 0);
}

static void step_block(tm_run *run, const block *b, accum *acc)
{
    if (run->joint_cells) {
        switch (run->n_dest) {
        case 1:
            step_block_joint_1(run, b, acc);
            break;
        case 2:
            step_block_joint_2(run, b, acc);
            break;
        case 3:
            step_block_joint_3(run, b, acc);
            break;
        default:
            step_block_joint_any(run, b, acc);
        }
        return;
    }
    const sector_state *sec = &run->sec[b->sector];
    int learning = sec->birth != NULL;
    int plain = run->levels == 1 && run->ms.timing == TM_TIMING_CURRENT && !sec->tenure && run->n_types == 1 &&
                !sec->policy.logit;
    if (learning)
        plain ? step_block_learning_plain(run, b, acc) : step_block_learning(run, b, acc);
    else
        plain ? step_block_plain(run, b, acc) : step_block_general(run, b, acc);
}

/* The merge of a period's counts (tm_run_kernel_step): each thread's
 * tables hold the counts of its blocks, and every sector's cell is the
 * sum over the threads whose blocks reach that sector. The merge runs on
 * the whole team, cells split in units of TM_MERGE_CELLS (integer counts,
 * exact in doubles below 2^53: the same sums in any order, so the results
 * do not depend on the team), and its work per thread shrinks with the team
 * instead of growing with it, as a serial sum over the threads' tables
 * did; a thread reads only the sectors it counted into, and the merge
 * zeroes what it read, so no table is cleared in full each period. */
#define TM_MERGE_CELLS 512

enum { TABLE_HIST, TABLE_TRANS, TABLE_DIED, TABLE_ENTER, TABLE_SPELL, TABLE_JOINT };

typedef struct {
    int table;     /* TABLE_... */
    size_t cells;  /* a sector's cells */
    size_t lanes;  /* counters a cell in the threads' tables */
    double *sum;   /* sector 0's sums */
    size_t stride; /* from one sector's sums to the next's */
} count_table;

static uint32_t *thread_table(const accum *acc, int table)
{
    switch (table) {
    case TABLE_HIST:
        return acc->hist;
    case TABLE_TRANS:
        return acc->trans;
    case TABLE_DIED:
        return acc->died;
    case TABLE_ENTER:
        return acc->enter;
    case TABLE_SPELL:
        return acc->spell;
    default:
        return acc->joint;
    }
}

/* The tables the firm loop of this run counts into (at most 5). */
static int count_tables(const tm_run *run, count_table *out)
{
    const count_sums *sum = &run->sum;
    if (run->joint_cells) {
        out[0] = (count_table){TABLE_JOINT, run->joint_cells, TM_JOINT_LANES, sum->joint, run->joint_cells};
        return 1;
    }
    /* Straight into the period tables, [s][hist | trans | died | enter]. */
    double *hist = run->tables, *trans = hist + run->hist_cells, *died = trans + run->trans_cells;
    double *enter = died + run->n_sets;
    const size_t stride = run->table_cells;
    int n = 0;
    out[n++] = (count_table){TABLE_HIST, run->hist_cells, TM_COUNT_LANES, hist, stride};
    out[n++] = (count_table){TABLE_TRANS, run->trans_cells, TM_COUNT_LANES, trans, stride};
    out[n++] = (count_table){TABLE_DIED, (size_t)run->n_sets, 1, died, stride};
    out[n++] = (count_table){TABLE_ENTER, run->enter_cells, TM_COUNT_LANES, enter, stride};
    if (run->p->spells)
        out[n++] = (count_table){TABLE_SPELL, run->spell_cells, 1, sum->spell, run->spell_cells};
    return n;
}

/* n cells of one thread's table, `lanes` counters a cell, stored into
 * `out` (first) or added to it, and zeroed. `lanes` and `first` are
 * constants at the call sites below, so each loop is built for its case. */
static TM_ALWAYS_INLINE void merge_lanes(double *restrict out, uint32_t *restrict in, size_t n, size_t lanes, int first)
{
    for (size_t c = 0; c < n; c++) {
        uint64_t count = 0;
        for (size_t l = 0; l < lanes; l++) {
            count += in[c * lanes + l];
            in[c * lanes + l] = 0;
        }
        out[c] = first ? (double)count : out[c] + (double)count;
    }
}

/* Cells [c0, c1) of sector s of one table: the sum of the `team` threads'
 * counts, their cells zeroed. */
static void merge_cells(const tm_run *run, int team, const count_table *t, int s, size_t c0, size_t c1)
{
    double *out = t->sum + (size_t)s * t->stride + c0;
    const size_t n = c1 - c0, lanes = t->lanes;
    int first = 1;
    for (int th = 0; th < team; th++) {
        const accum *acc = &run->acc[th];
        if (s < acc->first_sector || s > acc->last_sector)
            continue;
        uint32_t *in = thread_table(acc, t->table) + ((size_t)s * t->cells + c0) * lanes;
        if (lanes == 1)
            first ? merge_lanes(out, in, n, 1, 1) : merge_lanes(out, in, n, 1, 0);
        else if (lanes == 2)
            first ? merge_lanes(out, in, n, 2, 1) : merge_lanes(out, in, n, 2, 0);
        else
            first ? merge_lanes(out, in, n, lanes, 1) : merge_lanes(out, in, n, lanes, 0);
        first = 0;
    }
    if (first) /* no thread counted into this sector */
        memset(out, 0, n * sizeof(double));
}

/* Units of TM_MERGE_CELLS cells in a sector of a table (the last one short). */
static size_t merge_units(const count_table *t)
{
    return (t->cells + TM_MERGE_CELLS - 1) / TM_MERGE_CELLS;
}

/* Called by every thread of the team once all have counted their blocks. */
static TM_NOINLINE void merge_counts(tm_run *run, int team)
{
    count_table tables[5];
    const int n_tables = count_tables(run, tables);
    const size_t sectors = (size_t)run->n_sectors;
    size_t units = 0;
    for (int t = 0; t < n_tables; t++) {
        units += sectors * merge_units(&tables[t]);
    }
    /* Units differ in work (a sector's cells are summed over the threads
     * that counted into it, one for a small sector, many for a large one),
     * so they are handed out as threads come free. */
#pragma omp for schedule(dynamic)
    for (size_t u = 0; u < units; u++) {
        size_t rest = u;
        int t = 0;
        size_t chunks = merge_units(&tables[0]);
        while (rest >= sectors * chunks) {
            rest -= sectors * chunks;
            t++;
            chunks = merge_units(&tables[t]);
        }
        const size_t c0 = rest % chunks * TM_MERGE_CELLS;
        const size_t c1 = c0 + TM_MERGE_CELLS < tables[t].cells ? c0 + TM_MERGE_CELLS : tables[t].cells;
        merge_cells(run, team, &tables[t], (int)(rest / chunks), c0, c1);
    }
}

/* Thread th of a team of team's part of a period (tm_run_kernel_step). */
static void kernel_thread_step(tm_run *run, int th, int team)
{
    accum *acc = &run->acc[th];
    /* The thread's share of the blocks, consecutive (as schedule(static)
     * would give them), so that it counts into one or a few sectors. */
    const size_t lo = run->n_blocks * (size_t)th / (size_t)team;
    const size_t hi = run->n_blocks * (size_t)(th + 1) / (size_t)team;
    acc->first_sector = lo < hi ? run->blocks[lo].sector : 0;
    acc->last_sector = lo < hi ? run->blocks[hi - 1].sector : -1;
    for (size_t b = lo; b < hi; b++)
        step_block(run, &run->blocks[b], acc);
#pragma omp barrier
    merge_counts(run, team);
    tm_run_aggregate_sectors(run, tm_run_count_firms);
}

void tm_run_kernel_step(tm_run *run)
{
    if (run->joint_cells)
        build_joint_codes(run);
    /* The team that measured fastest (engine/team.h); any team gives the
     * same counts. */
    const int team = tm_team_next(&run->team);
    const double start = run->team.n > 1 ? tm_clock_seconds() : 0.0;
    /* On one thread, no parallel region at all: libgomp's team of one
     * costs futex syscalls each period. The barrier and the loops of the
     * merge and the aggregates then bind to no team and run on this thread
     * alone; inside another parallel region, they need a team of their own. */
    if (team == 1 && !omp_in_parallel())
        kernel_thread_step(run, 0, 1);
    else {
#pragma omp parallel num_threads(team)
        kernel_thread_step(run, omp_get_thread_num(), omp_get_num_threads());
    }
    if (run->team.n > 1)
        tm_team_done(&run->team, tm_clock_seconds() - start);
}
