/* firms: each sector's firms and the tables they are moved with: alias
 * tables of the productivity chain and of entrants' productivity, death
 * thresholds, the initial population (the stationary law, serving no
 * market) and, with run.aggregation: exact, the distribution instead. */
#include <stdlib.h>
#include <string.h>

#include "engine/run_state.h"

void tm_run_sector_free(sector_state *s)
{
    free(s->rng_state);
    free(s->z);
    free(s->markets);
    free(s->pending);
    free(s->tenure);
    free(s->mass);
    free(s->mass_next);
    free(s->prob);
    free(s->entry_law);
    free(s->type);
    for (int t = 0; s->type_pol && t < s->n_types; t++)
        tm_policy_free(&s->type_pol[t]);
    free(s->type_pol);
    free(s->death_threshold);
    free(s->death);
    free(s->cost);
    free(s->move_threshold);
    free(s->move_alias);
    free(s->joint_code);
    tm_alias_free(&s->entry);
    free(s->flow);
    free(s->revenue);
    free(s->value);
    tm_policy_free(&s->policy);
    free(s->birth);
    free(s->class_of_birth);
    for (int k = 0; s->classes && k < s->n_classes * s->n_types; k++)
        tm_policy_free(&s->classes[k]);
    free(s->classes);
}

int tm_run_sector_init(tm_run *run, int s, tm_error *err)
{
    const tm_params *p = run->p;
    const tm_sector *ps = &p->sector[s];
    sector_state *sec = &run->sec[s];
    int n_z = run->n_z;
    sec->n = tm_params_slots(p, s);
    const int exact = p->exact;
    /* Firms (sampled) or their distribution (exact). */
    size_t n_firm = exact ? 0 : (size_t)sec->n;
    sec->rng_state = malloc((n_firm ? n_firm : 1) * sizeof *sec->rng_state);
    sec->z = malloc((n_firm ? n_firm : 1) * sizeof *sec->z);
    sec->markets = malloc(n_firm ? n_firm : 1);
    sec->z_grid = run->grids.z + (size_t)s * (size_t)n_z;
    sec->P = run->grids.P + (size_t)s * (size_t)n_z * (size_t)n_z;
    sec->pi = run->grids.pi + (size_t)s * (size_t)n_z;
    sec->move_threshold = malloc((size_t)n_z * (size_t)n_z * sizeof(uint32_t));
    sec->move_alias = malloc((size_t)n_z * (size_t)n_z * sizeof(uint32_t));
    if (run->joint_cells)
        sec->joint_code = malloc((size_t)n_z * 2u * (size_t)run->n_sets * sizeof(uint32_t));
    size_t cells = (size_t)n_z * (size_t)run->n_states * (size_t)run->n_types;
    sec->n_types = run->n_types;
    if (run->n_types > 1) {
        sec->type = malloc(n_firm ? n_firm : 1);
        sec->type_pol = calloc((size_t)run->n_types, sizeof *sec->type_pol);
        for (int t = 0; sec->type_pol && t < run->n_types; t++)
            if (tm_policy_alloc_rows(&sec->type_pol[t], n_z, run->n_states, run->n_sets, p->logit_scale > 0.0))
                return tm_error_set(err, TM_ERR_RUNTIME, "out of memory for sector %s types", ps->name);
        if (!sec->type || !sec->type_pol)
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory for sector %s types", ps->name);
    }
    sec->flow = malloc(cells * sizeof(double));
    sec->revenue = malloc(cells * (size_t)run->n_dest * sizeof(double));
    sec->value = malloc(cells * (size_t)run->n_sets * sizeof(double));
    sec->cost = malloc((size_t)run->n_states * (size_t)run->n_sets * sizeof(double));
    sec->death_threshold = malloc((size_t)n_z * sizeof *sec->death_threshold);
    sec->death = malloc((size_t)n_z * sizeof *sec->death);
    if (p->timing == TM_TIMING_NEXT && !exact)
        sec->pending = malloc((size_t)sec->n);
    if (p->spells && !exact)
        sec->tenure = calloc((size_t)sec->n * (size_t)run->n_dest, 1);
    if (exact) {
        /* cells counts every (type, z, state); timing next adds the state chosen. */
        sec->mass_per_z = (size_t)run->n_states * (p->timing == TM_TIMING_NEXT ? (size_t)run->n_states : 1);
        sec->mass_cells = cells * (p->timing == TM_TIMING_NEXT ? (size_t)run->n_states : 1);
        sec->mass = calloc(sec->mass_cells, sizeof(double));
        sec->mass_next = calloc(sec->mass_cells, sizeof(double));
        sec->prob = malloc(cells * (size_t)run->n_sets * sizeof(double));
        sec->entry_law = malloc((size_t)n_z * sizeof(double));
    }
    if (!sec->rng_state || !sec->z || !sec->markets || !sec->move_threshold || !sec->move_alias || !sec->flow ||
        !sec->revenue || !sec->value || !sec->cost || !sec->death_threshold || !sec->death ||
        (p->timing == TM_TIMING_NEXT && !exact && !sec->pending) || (p->spells && !exact && !sec->tenure) ||
        (exact && (!sec->mass || !sec->mass_next || !sec->prob || !sec->entry_law)) ||
        (run->joint_cells && !sec->joint_code) ||
        tm_policy_alloc_rows(&sec->policy, n_z, run->n_states, run->n_sets, p->logit_scale > 0.0)) {
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory for sector %s (%lld firms)", ps->name,
                            (long long)ps->firms);
    }
    const double *stationary = sec->pi; /* tm_grid_tables_init computed it */
    for (int i = 0; i < n_z; i++) {
        tm_alias row;
        if (tm_alias_init(&row, sec->P + (size_t)i * (size_t)n_z, (uint32_t)n_z))
            return tm_error_set(err, TM_ERR_RUNTIME, "sector %s: bad productivity transition row %d", ps->name, i);
        memcpy(sec->move_threshold + (size_t)i * (size_t)n_z, row.threshold, (size_t)n_z * sizeof(uint32_t));
        memcpy(sec->move_alias + (size_t)i * (size_t)n_z, row.alias, (size_t)n_z * sizeof(uint32_t));
        tm_alias_free(&row);
    }
    int rc = tm_alias_init(&sec->entry, stationary, (uint32_t)n_z);
    if (exact) {
        /* Everyone starts serving nothing, spread over the stationary law. */
        memcpy(sec->entry_law, stationary, (size_t)n_z * sizeof(double));
        for (int t = 0; t < run->n_types; t++)
            for (int iz = 0; iz < n_z; iz++)
                sec->mass[((size_t)t * (size_t)n_z + (size_t)iz) * sec->mass_per_z] = (double)sec->n * stationary[iz] /
                                                                                      (double)run->n_types;
    }
    if (rc)
        return tm_error_set(err, TM_ERR_RUNTIME, "sector %s: bad stationary distribution", ps->name);
    if (run->model->belief_classes) {
        sec->n_classes = run->model->belief_classes(run->model_state, NULL, 0, 0, NULL);
        sec->birth = malloc((size_t)sec->n * sizeof *sec->birth);
        sec->class_of_birth = malloc((size_t)(p->burn_in + p->periods) * sizeof *sec->class_of_birth);
        /* One policy per (belief class, demand type): [class * n_types + type]. */
        sec->classes = calloc((size_t)sec->n_classes * (size_t)run->n_types, sizeof *sec->classes);
        if (!sec->birth || !sec->class_of_birth || !sec->classes)
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory for sector %s beliefs", ps->name);
        for (int k = 0; k < sec->n_classes * run->n_types; k++)
            if (tm_policy_alloc_rows(&sec->classes[k], n_z, run->n_states, run->n_sets, p->logit_scale > 0.0))
                return tm_error_set(err, TM_ERR_RUNTIME, "out of memory for sector %s beliefs", ps->name);
        for (int64_t i = 0; i < sec->n; i++)
            sec->birth[i] = -p->burn_in;
    }
    /* A firm's death is drawn against the productivity it had last period. */
    for (int iz = 0; iz < n_z; iz++) {
        double q = tm_econ_death_probability(p, ps, sec->z_grid[iz]);
        sec->death[iz] = q;
        sec->death_threshold[iz] = q >= 1.0 ? (uint64_t)1 << 32 : (uint64_t)tm_rng_threshold(q);
    }
    sec->inc_base = (tm_rng_mix(tm_rng_mix(p->seed, 0x696e63ULL), (uint64_t)s) << 1) | 1u;

    /* Initial population: the stationary law, serving no market. */
    int64_t n = (int64_t)n_firm;
#pragma omp parallel for schedule(static) num_threads(run->threads)
    for (int64_t i = 0; i < n; i++) {
        tm_pcg32 g;
        tm_rng_firm_stream(&g, p->seed, (uint32_t)s, (uint64_t)i);
        uint64_t inc = sec->inc_base + 2u * (uint64_t)i;
        sec->z[i] = (uint16_t)tm_alias_draw(&sec->entry, tm_pcg32_step(&g.state, inc));
        if (sec->type)
            sec->type[i] = (uint8_t)(((uint64_t)tm_pcg32_step(&g.state, inc) * (uint64_t)run->n_types) >> 32);
        sec->rng_state[i] = g.state;
        sec->markets[i] = 0;
        if (sec->pending)
            sec->pending[i] = 0;
    }
    return 0;
}
