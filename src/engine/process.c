#include "engine/process.h"

#include <math.h>
#include <string.h>

void tm_process_escalate(int n, const double (*base)[TM_MAX_REGIMES], double scale, double (*out)[TM_MAX_REGIMES])
{
    for (int i = 0; i < n; i++) {
        double stay = 1.0;
        for (int j = 0; j < n; j++) {
            if (j == i)
                continue;
            double q = base[i][j] * (j > i ? scale : 1.0);
            out[i][j] = q;
            stay -= q;
        }
        /* Validation guarantees stay >= 0 up to rounding. */
        out[i][i] = stay > 0.0 ? stay : 0.0;
    }
}

void tm_process_hazard_matrix(int n, const double (*base)[TM_MAX_REGIMES], double h, double (*out)[TM_MAX_REGIMES])
{
    for (int i = 0; i < n; i++) {
        double up = 0.0;
        for (int j = i + 1; j < n; j++)
            up += base[i][j];
        double stay = 1.0;
        for (int j = 0; j < n; j++) {
            if (j == i)
                continue;
            double q;
            if (j < i || isnan(h))
                q = base[i][j];
            else if (up > 0.0)
                q = h * (base[i][j] / up);
            else
                q = j == i + 1 ? h : 0.0;
            out[i][j] = q;
            stay -= q;
        }
        /* Validation guarantees stay >= 0 up to rounding. */
        out[i][i] = stay > 0.0 ? stay : 0.0;
    }
}

/* The true and perceived matrices of d from its base, its index-driven
 * hazard and its scales. */
static void derive(const tm_params *p, tm_process *pr, int d)
{
    int n = p->dest[d].n_regimes;
    const double(*base)[TM_MAX_REGIMES] = pr->base[d];
    double driven[TM_MAX_REGIMES][TM_MAX_REGIMES];
    if (!isnan(pr->hazard[d])) {
        tm_process_hazard_matrix(n, base, pr->hazard[d], driven);
        base = (const double(*)[TM_MAX_REGIMES])driven;
    }
    tm_process_escalate(n, base, pr->escalation[d], pr->transition[d]);
    tm_process_escalate(n, base, pr->escalation[d] * pr->perceived_scale[d], pr->perceived[d]);
}

void tm_process_init(const tm_params *p, tm_process *pr)
{
    memset(pr, 0, sizeof *pr);
    for (int d = 0; d < p->n_dest; d++) {
        pr->base[d] = (const double(*)[TM_MAX_REGIMES])p->dest[d].transition;
        pr->escalation[d] = 1.0;
        pr->hazard[d] = NAN;
        pr->perceived_scale[d] = p->dest[d].perceived_escalation_scale;
        derive(p, pr, d);
        pr->tariff_override[d] = NAN;
        pr->statutory_override[d] = NAN;
        pr->sunk_scale[d] = 1.0;
        pr->demand_scale[d] = pr->iceberg_scale[d] = pr->fixed_scale[d] = 1.0;
    }
}

void tm_process_apply(const tm_params *p, tm_process *pr, const tm_event *ev, int sector)
{
    int d = ev->destination;
    int mine = ev->sector < 0 || ev->sector == sector;
    switch (ev->kind) {
    case TM_EVENT_REGIME:
        pr->held[d] = ev->hold;
        break;
    case TM_EVENT_RELEASE:
        pr->held[d] = 0;
        break;
    case TM_EVENT_TARIFF:
        if (mine && ev->exempts_preferential) {
            /* eq. 32: the written rate is statutory; the preferential
             * share of the sector's sales pays nothing, and the sector
             * pays the uniform rate with the same long-run weight. */
            pr->tariff_override[d] = tm_params_preferential_rate(p, p->sector[sector].market[d].preferential_share,
                                                                 ev->tariff);
            pr->statutory_override[d] = ev->tariff;
        } else if (mine) {
            pr->tariff_override[d] = ev->tariff;
            pr->statutory_override[d] = isnan(ev->statutory_tariff) ? ev->tariff : ev->statutory_tariff;
        }
        break;
    case TM_EVENT_SUNK_COST:
        if (mine)
            pr->sunk_scale[d] = ev->sunk_cost_scale;
        break;
    case TM_EVENT_ESCALATION:
        pr->escalation[d] = ev->escalation_scale;
        derive(p, pr, d);
        break;
    case TM_EVENT_TRANSITION:
        pr->base[d] = (const double(*)[TM_MAX_REGIMES])ev->transition;
        derive(p, pr, d);
        break;
    case TM_EVENT_DEMAND:
        if (mine)
            pr->demand_scale[d] = ev->demand_factor;
        break;
    case TM_EVENT_GROWTH:
        if (mine)
            pr->demand_scale[d] *= 1.0 + ev->demand_growth;
        break;
    case TM_EVENT_ICEBERG:
        if (mine)
            pr->iceberg_scale[d] = ev->iceberg_scale;
        break;
    case TM_EVENT_FIXED_COST:
        if (mine)
            pr->fixed_scale[d] = ev->fixed_cost_scale;
        break;
    case TM_EVENT_HAZARD:
        pr->hazard[d] = ev->escalation_hazard;
        derive(p, pr, d);
        break;
    case TM_EVENT_PERCEIVED:
        pr->perceived_scale[d] = ev->perceived_escalation_scale;
        derive(p, pr, d);
        break;
    }
}

void tm_process_after(const tm_params *p, int sector, int n_applied, tm_process *pr)
{
    tm_process_init(p, pr);
    for (int e = 0; e < n_applied && e < p->n_events; e++)
        tm_process_apply(p, pr, &p->event[e], sector);
}

static int same_double(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

int tm_process_equal(const tm_params *p, const tm_process *a, const tm_process *b)
{
    for (int d = 0; d < p->n_dest; d++) {
        if (a->held[d] != b->held[d] || !same_double(a->tariff_override[d], b->tariff_override[d]) ||
            a->sunk_scale[d] != b->sunk_scale[d] || a->demand_scale[d] != b->demand_scale[d] ||
            a->iceberg_scale[d] != b->iceberg_scale[d] || a->fixed_scale[d] != b->fixed_scale[d])
            return 0;
        int n = p->dest[d].n_regimes;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if (a->transition[d][i][j] != b->transition[d][i][j] || a->perceived[d][i][j] != b->perceived[d][i][j])
                    return 0;
    }
    return 1;
}

tm_market tm_process_market(const tm_params *p, const tm_process *pr, int sector, int d)
{
    tm_market m = p->sector[sector].market[d];
    /* x 1.0 is exact: without events the market is the parameters'. */
    m.demand *= pr->demand_scale[d];
    m.iceberg *= pr->iceberg_scale[d];
    m.fixed_cost *= pr->fixed_scale[d];
    m.sunk_cost *= pr->sunk_scale[d];
    return m;
}

double tm_process_tariff(const tm_params *p, const tm_process *pr, int sector, int d, int r)
{
    double o = pr->tariff_override[d];
    return isnan(o) ? p->dest[d].regime[r].sector_tariff[sector] : o;
}
