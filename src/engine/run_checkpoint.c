/* run_checkpoint: everything a run carries from one period to the next,
 * saved into and restored from a checkpoint's buffer (src/io/checkpoint.h
 * writes the file). The tables rebuilt every period (profits, values,
 * policies) and the results of the last period are not saved; the model
 * is prepared again by tm_run_open (its solve depends only on the
 * parameters). */
#include <string.h>

#include "engine/run_state.h"

static const char run_state_tag[8] = {'s', 'i', 'm', 's', 't', 'a', 't', '1'};
static const char model_state_tag[8] = {'m', 'o', 'd', 'e', 'l', 's', 't', '1'};

int tm_run_checkpointable(const tm_run *run, tm_error *err)
{
    if (run->model->belief_classes && !run->model->save)
        return tm_error_set(err, TM_ERR_INPUT,
                            "--checkpoint-every: the %s model keeps state that evolves during a run and cannot "
                            "save it yet; run without checkpoints",
                            run->model->name);
    return 0;
}

int tm_run_save(const tm_run *run, tm_ckbuf *b, tm_error *err)
{
    if (tm_run_checkpointable(run, err))
        return -1;
    size_t sd = (size_t)run->n_sectors * (size_t)run->n_dest;
    int32_t dims[4] = {run->period, run->n_sectors, run->n_dest, run->n_z};
    /* Cohorts born so far: -burn_in .. period (the classes of later
     * cohorts are not computed yet). */
    size_t cohorts = (size_t)(run->p->burn_in + run->period + 1);
    tm_ckbuf_put(b, run_state_tag, sizeof run_state_tag);
    tm_ckbuf_put(b, dims, sizeof dims);
    for (int s = 0; s < run->n_sectors; s++) {
        const sector_state *sec = &run->sec[s];
        int64_t n = sec->n;
        tm_ckbuf_put(b, &n, sizeof n);
        if (sec->mass) {
            tm_ckbuf_put(b, sec->mass, sec->mass_cells * sizeof(double));
            continue;
        }
        tm_ckbuf_put(b, sec->rng_state, (size_t)n * sizeof *sec->rng_state);
        tm_ckbuf_put(b, sec->z, (size_t)n * sizeof *sec->z);
        tm_ckbuf_put(b, sec->markets, (size_t)n);
        if (sec->pending)
            tm_ckbuf_put(b, sec->pending, (size_t)n);
        if (sec->tenure)
            tm_ckbuf_put(b, sec->tenure, (size_t)n * (size_t)run->n_dest);
        if (sec->type)
            tm_ckbuf_put(b, sec->type, (size_t)n);
        if (sec->birth) {
            tm_ckbuf_put(b, sec->birth, (size_t)n * sizeof *sec->birth);
            tm_ckbuf_put(b, sec->class_of_birth, cohorts * sizeof *sec->class_of_birth);
        }
    }
    tm_ckbuf_put(b, run->share_serving, sd * sizeof(double));
    if (run->stock)
        tm_ckbuf_put(b, run->stock, sd * sizeof(double));
    if (run->resid) /* only then, so other checkpoints keep their layout */
        tm_ckbuf_put(b, run->resid, 4 * sd * sizeof(double));
    tm_env_save(&run->env, b);
    /* The model's section: its name, its size, then what its save hook
     * wrote (nothing for models without one). */
    tm_ckbuf_put(b, model_state_tag, sizeof model_state_tag);
    tm_ckbuf_put_string(b, run->model->name);
    size_t size_at = b->len;
    uint64_t size = 0;
    tm_ckbuf_put(b, &size, sizeof size);
    if (run->model->save && run->model->save(run->model_state, b, err))
        return -1;
    if (!b->failed) {
        size = (uint64_t)(b->len - size_at - sizeof size);
        memcpy(b->data + size_at, &size, sizeof size);
    }
    if (b->failed)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory saving the run state (%zu bytes)", b->len);
    return 0;
}

int tm_run_restore(tm_run *run, tm_ckbuf *b, tm_error *err)
{
    size_t sd = (size_t)run->n_sectors * (size_t)run->n_dest;
    char tag[8];
    int32_t dims[4];
    if (tm_ckbuf_get(b, tag, sizeof tag) || memcmp(tag, run_state_tag, sizeof tag) != 0 ||
        tm_ckbuf_get(b, dims, sizeof dims) || dims[1] != run->n_sectors || dims[2] != run->n_dest ||
        dims[3] != run->n_z || dims[0] < -run->p->burn_in || dims[0] >= run->p->periods)
        goto bad;
    for (int s = 0; s < run->n_sectors; s++) {
        sector_state *sec = &run->sec[s];
        int64_t n;
        if (tm_ckbuf_get(b, &n, sizeof n) || n != sec->n)
            goto bad;
        if (sec->mass) {
            if (tm_ckbuf_get(b, sec->mass, sec->mass_cells * sizeof(double)))
                goto bad;
            for (size_t c = 0; c < sec->mass_cells; c++)
                if (!(sec->mass[c] >= 0.0) || sec->mass[c] > (double)n * (1.0 + 1e-9))
                    goto bad;
            continue;
        }
        if (tm_ckbuf_get(b, sec->rng_state, (size_t)n * sizeof *sec->rng_state) ||
            tm_ckbuf_get(b, sec->z, (size_t)n * sizeof *sec->z) || tm_ckbuf_get(b, sec->markets, (size_t)n))
            goto bad;
        if ((sec->pending && tm_ckbuf_get(b, sec->pending, (size_t)n)) ||
            (sec->tenure && tm_ckbuf_get(b, sec->tenure, (size_t)n * (size_t)run->n_dest)) ||
            (sec->type && tm_ckbuf_get(b, sec->type, (size_t)n)))
            goto bad;
        for (int64_t i = 0; i < n; i++)
            if (sec->z[i] >= run->n_z || (int)(sec->markets[i] & TM_SET_MASK) >= run->n_states ||
                (sec->pending && sec->pending[i] >= run->n_states) || (sec->type && sec->type[i] >= run->n_types))
                goto bad;
        if (sec->birth) {
            /* Every firm's birth period lies in -burn_in .. period, and its
             * cohort's class indexes one of the policies. */
            const int first_birth = -run->p->burn_in;
            size_t cohorts = (size_t)(run->p->burn_in + dims[0] + 1);
            if (tm_ckbuf_get(b, sec->birth, (size_t)n * sizeof *sec->birth) ||
                tm_ckbuf_get(b, sec->class_of_birth, cohorts * sizeof *sec->class_of_birth))
                goto bad;
            for (size_t c = 0; c < cohorts; c++)
                if (sec->class_of_birth[c] >= sec->n_classes)
                    goto bad;
            for (int64_t i = 0; i < n; i++)
                if (sec->birth[i] < first_birth || sec->birth[i] > dims[0])
                    goto bad;
        }
    }
    if (tm_ckbuf_get(b, run->share_serving, sd * sizeof(double)) ||
        (run->stock && tm_ckbuf_get(b, run->stock, sd * sizeof(double))) ||
        (run->resid && tm_ckbuf_get(b, run->resid, 4 * sd * sizeof(double))) || tm_env_restore(&run->env, b))
        goto bad;
    char name[64];
    uint64_t size;
    if (tm_ckbuf_get(b, tag, sizeof tag) || memcmp(tag, model_state_tag, sizeof tag) != 0 ||
        tm_ckbuf_get_string(b, name, sizeof name) || strcmp(name, run->model->name) != 0 ||
        tm_ckbuf_get(b, &size, sizeof size) || size > b->len - b->pos || (size > 0 && !run->model->restore))
        goto bad;
    size_t model_start = b->pos;
    if (run->model->restore && run->model->restore(run->model_state, b, err))
        return -1;
    if (b->pos - model_start != size)
        goto bad;
    run->period = dims[0];
    run->res.period = dims[0];
    for (int d = 0; d < run->n_dest; d++)
        run->res.regime[d] = run->env.regime[d];
    return 0;
bad:
    return tm_error_set(err, TM_ERR_INPUT, "the checkpoint's engine state does not match its parameters (corrupt?)");
}
