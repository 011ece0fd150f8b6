#include "params/params.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"
#include "params/ytree.h"

/* ------------------------------------------------------------------------
 * The parameter table. Each scope (a YAML mapping) is an array of
 * descriptors; adding a parameter is adding one line here plus its field.
 * ---------------------------------------------------------------------- */

typedef enum { P_INT, P_INT64, P_UINT64, P_DOUBLE, P_BOOL, P_ENUM, P_PERIOD, P_NAME, P_TEXT } ptype;

enum {
    P_MIN_OPEN = 1u << 0, /* lower bound excluded */
    P_MAX_OPEN = 1u << 1, /* upper bound excluded */
    P_OPTIONAL = 1u << 2, /* absent means unset (NaN, or empty text) */
    P_REQUIRED = 1u << 3, /* must be given */
    P_NODUMP = 1u << 4,   /* resolved elsewhere; not in the canonical text */
    P_QUIET = 1u << 5,    /* in the canonical text only when not at its default, so that
                           * files written before the parameter existed keep their digests */
};

typedef struct {
    const char *key;
    ptype type;
    size_t offset;
    const char *def; /* default, as YAML text; NULL when optional/required */
    double min, max;
    unsigned flags;
    const char *unit;
    const char *symbol;
    const char *doc;
    const char *source;
    const char *const *choices; /* P_ENUM */
} pdesc;

static const char *const model_choices[] = {"myopic", "dynamic", "learning", NULL};
static const char *const grid_choices[] = {"rouwenhorst", "tauchen", NULL};
static const char *const sunk_choices[] = {"full", "annuity", NULL};
static const char *const aggregation_choices[] = {"firms", "exact", NULL};
static const char *const solver_choices[] = {"auto", "joint", NULL};
static const char *const acceleration_choices[] = {"anderson", "none", NULL};
static const char *const timing_choices[] = {"current", "next", NULL};
static const char *const death_choices[] = {"constant", "productivity", "profitability", NULL};
static const char *const belief_interp_choices[] = {"nearest", "linear", NULL};

#define F(field) offsetof(tm_params, field)
#define NOSRC "-"

static const pdesc run_desc[] = {
    {"model", P_ENUM, F(model), "myopic", 0, 0, 0, "", "", "decision model of firms (models/)", NOSRC, model_choices},
    {"seed", P_UINT64, F(seed), "20240101", 0, 0, 0, "", "", "run seed; every random stream derives from it", NOSRC,
     NULL},
    {"start", P_PERIOD, F(start), "2024Q1", 1900, 2200, 0, "period", "", "label of the first logged period", NOSRC,
     NULL},
    {"periods", P_INT, F(periods), "12", 1, 100000, 0, "periods", "T", "number of logged periods", NOSRC, NULL},
    {"periods_per_year", P_INT, F(periods_per_year), "4", 1, 12, 0, "1/year", "", "periods per year: 1, 2, 4 or 12",
     NOSRC, NULL},
    {"burn_in", P_INT, F(burn_in), "80", 0, 100000, 0, "periods", "",
     "unlogged periods before start, regimes held at their initial state", NOSRC, NULL},
    {"aggregation", P_ENUM, F(exact), "firms", 0, 0, P_QUIET, "", "",
     "firms: simulate every firm; exact: iterate the distribution of firms over (productivity, market state) under the "
     "same policies, giving noise-free aggregates (counts become expected numbers of firms)",
     NOSRC, aggregation_choices},
    {"spells", P_BOOL, F(spells), "false", 0, 0, P_QUIET, "", "",
     "count completed export spells by length (series completed_spells; 1 byte a firm per destination)", NOSRC, NULL},
    {"resolution", P_INT, F(resolution), "1", 1, 64, P_QUIET, "slots per firm", "K",
     "simulate each of a sector's firms in K independent slots, each weighing 1/K in every aggregate (docs/model.md "
     "eq. 37): the same expected aggregates with about 1/sqrt(K) of the sampling noise, for K times the firm loop's "
     "work; run.aggregation: exact has no sampling noise and ignores it",
     NOSRC, NULL},
};

static const pdesc productivity_desc[] = {
    {"grid", P_INT, F(grid_points), "41", 2, 4001, 0, "points", "N_z", "points of the log-productivity grid", NOSRC,
     NULL},
    {"method", P_ENUM, F(grid_method), "rouwenhorst", 0, 0, 0, "", "", "AR(1) discretisation",
     "Rouwenhorst (1995); Tauchen (1986)", grid_choices},
    {"tauchen_width", P_DOUBLE, F(tauchen_width), "3", 0, 10, P_MIN_OPEN, "s.d.", "m",
     "Tauchen grid half-width in unconditional s.d.", NOSRC, NULL},
};

static const pdesc demand_desc[] = {
    {"elasticity", P_DOUBLE, F(elasticity), "3.8", 1, 20, P_MIN_OPEN, "", "sigma", "CES elasticity of substitution",
     "docs/sources.md: sigma about 3.8 [M]", NULL},
    {"impact_elasticity", P_DOUBLE, F(demand_impact_elasticity), NULL, 0, 20, P_OPTIONAL | P_QUIET, "", "e_0",
     "partial adjustment: elasticity of a market's demand to 1 + tariff in the period of a change (absent: sigma; "
     "absent with long_run_elasticity too: no adjustment)",
     "docs/sources.md: about 0.76 at one year (Boehm, Levchenko and Pandalai-Nayar 2023) [P]", NULL},
    {"long_run_elasticity", P_DOUBLE, F(demand_long_run_elasticity), NULL, 0, 20, P_OPTIONAL | P_QUIET, "", "e_L",
     "partial adjustment: elasticity once the customer stock has adjusted (absent: sigma)",
     "docs/sources.md: about 2 after 7-10 years (Boehm, Levchenko and Pandalai-Nayar 2023) [P]", NULL},
    {"adjustment", P_DOUBLE, F(demand_adjustment), "1", 0, 1, P_MIN_OPEN | P_QUIET, "per period", "lambda_c",
     "partial adjustment: share of the gap between the customer stock and 1 + tariff closed each period",
     "Drozd and Nosal (2012), Arkolakis (2010): demand builds with time in a market [M]", NULL},
};

static const pdesc decision_desc[] = {
    {"myopic_sunk", P_ENUM, F(myopic_sunk), "full", 0, 0, 0, "", "",
     "myopic firms weigh the sunk cost in full or as an annuity", NOSRC, sunk_choices},
    {"logit_scale", P_DOUBLE, F(logit_scale), "0", 0, 1e6, 0, "model money", "lambda",
     "scale of logit choice noise; 0 = exact argmax", NOSRC, NULL},
    {"timing", P_ENUM, F(timing), "current", 0, 0, P_QUIET, "", "",
     "current: a market choice takes effect this period; next: firms decide and pay the entry or continuation cost now "
     "for next period's market state",
     NOSRC, timing_choices},
    {"discount", P_DOUBLE, F(discount), "0.985", 0, 1, P_MAX_OPEN, "per period", "beta", "discount factor per period",
     NOSRC, NULL},
    {"tolerance", P_DOUBLE, F(dp_tolerance), "1e-7", 0, 1, P_MIN_OPEN, "model money", "epsilon",
     "dynamic models: value iteration stops when its sup-norm error bound is below this", NOSRC, NULL},
    {"solver", P_ENUM, F(dp_solver), "auto", 0, 0, P_QUIET, "", "",
     "dynamic models: auto solves one programme per destination when markets are independent (capacity.elasticity 0), "
     "the same solution far faster; joint always solves over all destinations together",
     NOSRC, solver_choices},
    {"acceleration", P_ENUM, F(dp_acceleration), "anderson", 0, 0, P_QUIET, "", "",
     "dynamic models: anderson accelerates the value iteration of joint programmes (more than one destination solved "
     "together) with a safeguarded Anderson mixing of the last 10 iterates, to the same error bound; none iterates "
     "plainly",
     NOSRC, acceleration_choices},
    {"max_iterations", P_INT, F(dp_max_iterations), "20000", 1, 10000000, 0, "iterations", "",
     "dynamic models: value iteration cap; reaching it is an error", NOSRC, NULL},
    {"belief_points", P_INT, F(belief_points), "5", 2, 64, 0, "points", "G",
     "learning: points of each destination's hazard grid h_k = hazard_max k / (G - 1)", NOSRC, NULL},
    {"hazard_max", P_DOUBLE, F(hazard_max), "0.5", 0, 1, P_MIN_OPEN, "per period", "h_max",
     "learning: top of the hazard grid", NOSRC, NULL},
    {"forgetting", P_DOUBLE, F(forgetting), "1", 0, 1, P_MIN_OPEN, "", "omega",
     "learning: weight kept on past evidence each observation (1 = none forgotten)", NOSRC, NULL},
    {"belief_interpolation", P_ENUM, F(belief_interpolation), "nearest", 0, 0, P_QUIET, "", "",
     "learning: a belief between hazard grid points acts on the nearest point's policy (nearest), or on the "
     "continuation values of the two neighbouring points interpolated linearly in the hazard (linear; multilinear "
     "over destinations)",
     NOSRC, belief_interp_choices},
    {"peer_weight", P_DOUBLE, F(peer_weight), "0", 0, 1e6, P_QUIET, "observations per unit share", "w_p",
     "learning: a fall (rise) in the share of the sector's firms serving d counts as w_p x its size escalations "
     "(non-escalations) of d; 0 = beliefs ignore peers",
     NOSRC, NULL},
};

static const pdesc types_desc[] = {
    {"points", P_INT, F(type_points), "1", 1, TM_MAX_TYPE_POINTS, P_QUIET, "points", "",
     "firm-by-destination demand types: equally likely multipliers per destination, drawn at birth for life (1 = "
     "none); points^destinations types, at most 256",
     "Eaton, Kortum and Kramarz (2011): firm-destination demand shocks [P]", NULL},
    {"dispersion", P_DOUBLE, F(type_dispersion), "0", 0, 5, P_QUIET, "log points", "sigma_a",
     "log s.d. of the firm-by-destination demand multiplier (lognormal, mean 1)", NOSRC, NULL},
};

static const pdesc capacity_desc[] = {
    {"elasticity", P_DOUBLE, F(capacity_elasticity), "0", 0, 10, 0, "", "gamma",
     "marginal cost elasticity in total output; > 0 makes markets substitutes", NOSRC, NULL},
};

static const pdesc interactions_desc[] = {
    {"spillover", P_DOUBLE, F(spillover), "0", 0, 1, 0, "", "kappa",
     "sunk cost falls by kappa x share of sector peers serving d last period", NOSRC, NULL},
    {"crowding", P_DOUBLE, F(crowding), "0", 0, 100, 0, "", "eta",
     "demand divided by 1 + eta x share of sector peers serving d last period", NOSRC, NULL},
};

static const pdesc exchange_rate_desc[] = {
    {"elasticity", P_DOUBLE, F(exchange_elasticity), "0", 0, 10, P_QUIET, "", "eta_e",
     "real exchange rate channel: ln e_t = -eta_e ln(X_t / Xbar), X_t the economy's export value at the rate e_t and "
     "Xbar that of the last burn-in period; foreign demand is multiplied by e^sigma (0 = off, e = 1)",
     "docs/model.md section 11: eta_e = 1 / (epsilon_m - 1) with balanced trade and import elasticity epsilon_m; 0.5 "
     "is epsilon_m = 3 [E]",
     NULL},
};
#undef F

#define F(field) offsetof(tm_sector, field)
static const pdesc sector_desc[] = {
    {"firms", P_INT64, F(firms), "2000", 1, TM_MAX_SLOTS, 0, "firms", "n_s",
     "number of firm slots (constant: deaths are replaced)", NOSRC, NULL},
    {"persistence", P_DOUBLE, F(persistence), "0.95", 0, 1, P_MAX_OPEN, "per period", "rho_s",
     "AR(1) persistence of log productivity", NOSRC, NULL},
    {"volatility", P_DOUBLE, F(volatility), "0.1", 0, 5, P_MIN_OPEN, "log points", "sigma_s",
     "s.d. of log-productivity innovations", NOSRC, NULL},
    {"death_rate", P_DOUBLE, F(death_rate), "0.01", 0, 1, P_MAX_OPEN, "per period", "delta_s",
     "probability a firm dies (and is replaced by an entrant); death_rule constant", NOSRC, NULL},
    {"death_rule", P_ENUM, F(death_rule), "constant", 0, 0, P_QUIET, "", "",
     "constant: death_rate; productivity: clip(exp(-a z) + b, 0, 1) at log productivity z; profitability: clip(exp(-a "
     "exp((sigma - 1) z)) + b, 0, 1)",
     NOSRC, death_choices},
    {"death_slope", P_DOUBLE, F(death_slope), "0", -100, 100, P_QUIET, "1/log point", "a",
     "death_rule productivity or profitability: slope a of clip(exp(-a x) + b, 0, 1), x = z or exp((sigma - 1) z)",
     NOSRC, NULL},
    {"death_shift", P_DOUBLE, F(death_shift), "0", -1, 1, P_QUIET, "per period", "b",
     "death_rule productivity or profitability: shift b of clip(exp(-a x) + b, 0, 1)", NOSRC, NULL},
    {"hazard_prior_mean", P_DOUBLE, F(hazard_prior_mean), "0.05", 0, 1, 0, "per period", "m_s",
     "learning: prior mean of the hazard of an escalation, every destination", NOSRC, NULL},
    {"hazard_prior_strength", P_DOUBLE, F(hazard_prior_strength), "10", 0, 1e12, P_MIN_OPEN, "observations", "n_s",
     "learning: prior Beta(m n, (1 - m) n) is worth n observations", NOSRC, NULL},
    {"capacity_elasticity", P_DOUBLE, F(capacity_elasticity), NULL, 0, 10, P_OPTIONAL | P_QUIET, "", "gamma_s",
     "marginal cost elasticity in total output for this sector; overrides capacity.elasticity (absent: that value)",
     "docs/sources.md: convex marginal costs make markets substitutes (Vannoorenberghe 2012; Almunia et al. 2021) [M]",
     NULL},
};
#undef F

#define F(field) offsetof(tm_market, field)
static const pdesc market_desc[] = {
    {"demand", P_DOUBLE, F(demand), "1", 0, 1e12, P_MIN_OPEN, "model money", "B",
     "demand shifter: market size times price index", NOSRC, NULL},
    {"iceberg", P_DOUBLE, F(iceberg), "1", 1, 100, 0, "", "tau", "iceberg trade cost", NOSRC, NULL},
    {"fixed_cost", P_DOUBLE, F(fixed_cost), "0.1", 0, 1e12, 0, "model money", "f",
     "fixed cost per period of serving the market", NOSRC, NULL},
    {"sunk_cost", P_DOUBLE, F(sunk_cost), "0.3", 0, 1e12, 0, "model money", "F",
     "sunk cost paid in a period the firm enters", NOSRC, NULL},
    {"tariff_absorption", P_DOUBLE, F(tariff_absorption), "0", 0, 1, P_QUIET, "fraction", "alpha",
     "share of the duty the exporter absorbs: producer price (1+t)^(-alpha) times the duty-free price, buyer price "
     "(1+t)^(1-alpha) times it (0 = full pass-through to buyers, 1 = buyers pay the duty-free price)",
     "docs/sources.md: US 2018-19 duties passed almost fully into import prices (Amiti, Redding and Weinstein 2019; "
     "Fajgelbaum et al. 2020) [M]",
     NULL},
    {"preferential_share", P_DOUBLE, F(preferential_share), "0", 0, 1, P_QUIET, "fraction", "p",
     "share of the sector's exports to the destination that qualifies for a preference (CUSMA) and is exempt from "
     "duties marked exempts_preferential: the sector pays the uniform rate with the same long-run market weight "
     "(docs/model.md eq. 32)",
     "docs/sources.md: about 90% of exports to the US qualified for CUSMA from 7 Mar 2025 [P/N]", NULL},
    {"market_share", P_DOUBLE, F(market_share), "0", 0, 0.99, P_QUIET, "fraction", "mu",
     "the home country's share of the destination's market for the sector's goods: while a regime closes the "
     "destination to some of the sector's firms, the open firms' demand moves towards 1 / ((1 - mu) + mu nu), nu "
     "the sector's supply there relative to before the closure (docs/model.md eq. 36); 0: off",
     "docs/sources.md: Canada held 100.0% of China's canola seed import market in 2023 (Agriculture and Agri-Food "
     "Canada) [P]",
     NULL},
    {"switching_rate", P_DOUBLE, F(switching_rate), NULL, 0, 1, P_OPTIONAL | P_MIN_OPEN | P_QUIET, "per period",
     "lambda_r",
     "how fast the destination's buyers switch to the sector's open firms under a partial closure: the share of the "
     "gap to eq. 36's target that ln m closes each period (docs/model.md eq. 36); absent: demand.adjustment; needs "
     "market_share",
     "fitted where it is set (params/scenarios/canola_ban_2019.yaml: to the 2020 canola seed exports) [E]", NULL},
};
#undef F

#define F(field) offsetof(tm_destination, field)
static const pdesc dest_desc[] = {
    {"initial_regime", P_NAME, F(initial_regime_name), "", 0, 0, 0, "", "r_0",
     "regime at the start (default: the first listed)", NOSRC, NULL},
    {"perceived_escalation_scale", P_DOUBLE, F(perceived_escalation_scale), "1", 0, 1e6, P_QUIET, "", "k_d",
     "forward-looking firms perceive the hazards of moving to more restrictive regimes as k_d times the true ones "
     "(dynamic: their matrices; learning: their posterior mean); the environment follows the true process",
     NOSRC, NULL},
};
#undef F

#define F(field) offsetof(tm_regime, field)
static const pdesc regime_desc[] = {
    {"tariff", P_DOUBLE, F(tariff), "0", 0, 10, P_NODUMP, "fraction", "t",
     "ad-valorem tariff for sectors not in sector_tariffs", NOSRC, NULL},
    {"closed", P_BOOL, F(closed), "false", 0, 0, 0, "", "",
     "market closed to all firms of every sector (a ban; closed_sectors: one sector only)", NOSRC, NULL},
    {"closed_above_quantile", P_DOUBLE, F(closed_above_quantile), "0", 0, 1, P_QUIET, "fraction", "q(d,r)",
     "partial closure: the sectors in closed_sectors are closed only to firms at grid points z_i whose stationary mass "
     "below, F_s(z_i) = sum_{j<i} pi_s(z_j), is at least q (the top 1 - q of the mass); 0 = every firm (a total "
     "closure), 1 = none (docs/model.md eq. 26a)",
     NOSRC, NULL},
    {"exempts_preferential", P_BOOL, F(exempts_preferential), "false", 0, 0, P_QUIET, "", "",
     "the regime's tariff and sector_tariffs are statutory rates that spare each sector's preferential_share: firms "
     "pay the uniform rate with the same long-run market weight (docs/model.md eq. 32)",
     NOSRC, NULL},
};
#undef F

#define F(field) offsetof(tm_event, field)
static const pdesc event_desc[] = {
    {"at", P_PERIOD, F(at), NULL, 1900, 2200, P_REQUIRED, "period", "", "period the event takes effect", NOSRC, NULL},
    {"destination", P_NAME, F(destination_name), NULL, 0, 0, P_REQUIRED, "", "d", "destination it applies to", NOSRC,
     NULL},
    {"sector", P_NAME, F(sector_name), NULL, 0, 0, P_OPTIONAL, "", "s", "sector (tariff events; default every sector)",
     NOSRC, NULL},
    {"regime", P_NAME, F(regime_name), NULL, 0, 0, P_OPTIONAL, "", "r", "force this regime", NOSRC, NULL},
    {"hold", P_BOOL, F(hold), "true", 0, 0, 0, "", "", "regime events: hold the regime until a release event", NOSRC,
     NULL},
    {"tariff", P_DOUBLE, F(tariff), NULL, 0, 10, P_OPTIONAL, "fraction", "t",
     "override the tariff in every regime from this date", NOSRC, NULL},
    {"statutory_tariff", P_DOUBLE, F(statutory_tariff), NULL, 0, 10, P_OPTIONAL, "fraction", "t^stat",
     "tariff events: the statutory rate beside the effective `tariff` (reporting only; default: the same)", NOSRC,
     NULL},
    {"exempts_preferential", P_BOOL, F(exempts_preferential), "false", 0, 0, P_QUIET, "", "",
     "tariff events: `tariff` is the statutory rate and spares each sector's preferential_share (firms pay the "
     "uniform rate with the same long-run market weight, docs/model.md eq. 32)",
     NOSRC, NULL},
    {"escalation_scale", P_DOUBLE, F(escalation_scale), NULL, 0, 1e6, P_OPTIONAL, "", "",
     "scale the hazards of moving to more restrictive regimes", NOSRC, NULL},
    {"perceived_escalation_scale", P_DOUBLE, F(perceived_escalation_scale), NULL, 0, 1e6, P_OPTIONAL, "", "k_d(t)",
     "from this date firms perceive the escalation hazards as this multiple of the true ones; the true process is "
     "unchanged",
     NOSRC, NULL},
    {"sunk_cost_scale", P_DOUBLE, F(sunk_cost_scale), NULL, 0, 100, P_OPTIONAL, "", "",
     "from this date multiply the sunk cost of entering the destination (one sector or all) by this", NOSRC, NULL},
    {"release", P_BOOL, F(release), "false", 0, 0, 0, "", "", "let a held regime follow its Markov chain again", NOSRC,
     NULL},
    {"demand_scale", P_DOUBLE, F(demand_scale), NULL, 0, TM_MAX_DEMAND_SCALE, P_OPTIONAL | P_MIN_OPEN, "", "b_d(t)",
     "from this date the demand shifter B of the destination (one sector or all) is B times this", NOSRC, NULL},
    {"price_scale", P_DOUBLE, F(price_scale), NULL, 0, 10, P_OPTIONAL | P_MIN_OPEN, "", "x_d(t)",
     "from this date the world price of the good in the destination (one sector or all) is x times its level, the "
     "world's volume unchanged: the demand shifter B is B times x^sigma (docs/model.md eq. 29b), so a price-taker's "
     "price rises by x",
     NOSRC, NULL},
    {"iceberg_scale", P_DOUBLE, F(iceberg_scale), NULL, 0, 100, P_OPTIONAL | P_MIN_OPEN, "", "i_d(t)",
     "from this date the iceberg cost tau is tau times this (tau times this at least 1)", NOSRC, NULL},
    {"fixed_cost_scale", P_DOUBLE, F(fixed_cost_scale), NULL, 0, 100, P_OPTIONAL, "", "c_d(t)",
     "from this date the fixed cost f of serving the destination is f times this", NOSRC, NULL},
    {"demand_growth", P_DOUBLE, F(demand_growth), NULL, -1, 1, P_OPTIONAL | P_MIN_OPEN, "per period", "g",
     "the demand multiplier grows by the factor 1 + g in every period from `at` to `until` (both included), then "
     "stays",
     NOSRC, NULL},
    {"until", P_PERIOD, F(until), NULL, 1900, 2200, P_OPTIONAL, "period", "",
     "demand_growth: last period of the growth path (the path is stationary after it)", NOSRC, NULL},
    {"hazard_intercept", P_DOUBLE, F(hazard_intercept), NULL, -50, 50, P_OPTIONAL, "log odds", "a",
     "hazard_index events: h_t = logistic(a + b ln(I_t / mean I)) is the escalation hazard of the destination", NOSRC,
     NULL},
    {"hazard_slope", P_DOUBLE, F(hazard_slope), NULL, -50, 50, P_OPTIONAL, "log odds per log point", "b",
     "hazard_index events: response of the log odds of an escalation to the log of the index (0: constant hazard)",
     "docs/model.md section 12: Caldara et al. (2020) trade policy uncertainty index [M]", NULL},
    {"fraction", P_DOUBLE, F(fraction), NULL, 0, 1, P_OPTIONAL | P_MAX_OPEN, "period", "x",
     "the event takes effect at this point of its period (0: its start); the period's flows are the time-weighted mix",
     NOSRC, NULL},
    {"date", P_NAME, F(date), NULL, 0, 0, P_OPTIONAL, "", "",
     "calendar day YYYY-MM-DD within the period `at` on which the event takes effect (sets `fraction`)", NOSRC, NULL},
    {"anticipated", P_BOOL, F(anticipated), "false", 0, 0, 0, "", "",
     "dynamic models: firms know the event and its date from the start of the run", NOSRC, NULL},
    {"note", P_TEXT, F(note), NULL, 0, 0, P_OPTIONAL, "", "", "free text (source, legal basis)", NOSRC, NULL},
};
#undef F

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
    const char *name;
    const pdesc *desc;
    size_t n;
    const char *const *structural; /* keys the section's loader reads itself */
} section;

static const char *const types_structural[] = {"destinations", NULL};

static const section root_sections[] = {
    {"run", run_desc, COUNT(run_desc), NULL},
    {"productivity", productivity_desc, COUNT(productivity_desc), NULL},
    {"demand", demand_desc, COUNT(demand_desc), NULL},
    {"demand_types", types_desc, COUNT(types_desc), types_structural},
    {"decision", decision_desc, COUNT(decision_desc), NULL},
    {"capacity", capacity_desc, COUNT(capacity_desc), NULL},
    {"interactions", interactions_desc, COUNT(interactions_desc), NULL},
    {"exchange_rate", exchange_rate_desc, COUNT(exchange_rate_desc), NULL},
};

static const char *const root_structural[] = {"sectors", "destinations", "events", "experience", NULL};

/* ------------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------- */

static int fail_at(tm_error *err, const tm_ynode *node, const char *path, const char *fmt, ...) TM_PRINTF(4, 5);

static int fail_at(tm_error *err, const tm_ynode *node, const char *path, const char *fmt, ...)
{
    char detail[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (node)
        tm_error_set(err, TM_ERR_INPUT, "%s:%d:%d: %s: %s", node->file, node->line, node->col, path, detail);
    else
        tm_error_set(err, TM_ERR_INPUT, "%s: %s", path, detail);
    return -1;
}

/* Where a key itself stands (for "unknown key" and "missing" messages). */
static tm_ynode key_node(const tm_ynode *map, size_t i)
{
    tm_ynode k = {0};
    /* A key may come from another file than its map (`extends:` merges,
     * `--set` creations); the map records each key's file. */
    k.file = map->key_file[i];
    k.line = map->key_line[i];
    k.col = map->key_col[i];
    return k;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    size_t row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t sub = prev + (a[i - 1] != b[j - 1]);
            size_t best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            prev = cur;
        }
    }
    return row[lb];
}

/* "expected one of: a, b, c (did you mean `b`?)" */
static void describe_choices(char *buf, size_t size, const char *found, const char *const *names, size_t n)
{
    size_t used = (size_t)snprintf(buf, size, "expected one of: ");
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < n && used < size; i++) {
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
        size_t d = edit_distance(found, names[i]);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    if (best && used < size)
        snprintf(buf + used, size - used, " (did you mean `%s`?)", best);
}

static void describe_expected(const pdesc *d, char *buf, size_t size)
{
    const char *lo = d->flags & P_MIN_OPEN ? "(" : "[";
    const char *hi = d->flags & P_MAX_OPEN ? ")" : "]";
    switch (d->type) {
    case P_INT:
    case P_INT64:
        snprintf(buf, size, "an integer in [%.0f, %.0f]", d->min, d->max);
        break;
    case P_UINT64:
        snprintf(buf, size, "a non-negative integer below 2^64");
        break;
    case P_DOUBLE:
        snprintf(buf, size, "a number in %s%g, %g%s", lo, d->min, d->max, hi);
        break;
    case P_BOOL:
        snprintf(buf, size, "true or false");
        break;
    case P_ENUM: {
        size_t used = (size_t)snprintf(buf, size, "one of ");
        for (size_t i = 0; d->choices[i] && used < size; i++)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", d->choices[i]);
        break;
    }
    case P_PERIOD:
        snprintf(buf, size, "a period label like 2024Q1 (quarters), 2024M03 (months), 2024H2 or 2024");
        break;
    case P_NAME:
        snprintf(buf, size, "a name of letters, digits, '_' or '-' (at most %d characters)", TM_NAME_MAX - 1);
        break;
    case P_TEXT:
        snprintf(buf, size, "text of at most %d characters", TM_NOTE_MAX - 1);
        break;
    }
}

/* ------------------------------------------------------------------------
 * Scalars
 * ---------------------------------------------------------------------- */

static int parse_double(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v))
        return -1;
    /* strtod accepts hexadecimal and "infinity"/"nan" spellings; YAML numbers
     * are decimal, so insist on a digit. */
    if (!strpbrk(s, "0123456789") || strpbrk(s, "xXnN"))
        return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, long long *out)
{
    if (!*s || isspace((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= TM_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return 0;
    return 1;
}

int tm_period_parse(const char *label, int periods_per_year, int *index)
{
    int year = 0, digits = 0;
    const char *p = label;
    while (isdigit((unsigned char)*p) && digits < 5) {
        year = year * 10 + (*p - '0');
        p++;
        digits++;
    }
    if (digits != 4)
        return -1;
    int sub = 1;
    char want = periods_per_year == 4 ? 'Q' : periods_per_year == 12 ? 'M' : periods_per_year == 2 ? 'H' : 0;
    if (*p) {
        if (*p != want)
            return -1;
        p++;
        long long v;
        if (parse_int(p, &v) || v < 1 || v > periods_per_year || !isdigit((unsigned char)*p))
            return -1;
        sub = (int)v;
    } else if (periods_per_year != 1) {
        return -1;
    }
    *index = year * periods_per_year + (sub - 1);
    return 0;
}

void tm_period_label(int index, int periods_per_year, char *buf, size_t size)
{
    int year = index / periods_per_year, sub = index % periods_per_year + 1;
    switch (periods_per_year) {
    case 4:
        snprintf(buf, size, "%dQ%d", year, sub);
        break;
    case 12:
        snprintf(buf, size, "%dM%02d", year, sub);
        break;
    case 2:
        snprintf(buf, size, "%dH%d", year, sub);
        break;
    default:
        snprintf(buf, size, "%d", year);
        break;
    }
}

/* Parse one scalar into its field. `ppy` is needed for period labels. */
static int parse_field(const pdesc *d, const tm_ynode *node, void *obj, const char *path, int ppy, tm_error *err)
{
    char expected[400];
    describe_expected(d, expected, sizeof expected);
    if (node->kind != TM_Y_SCALAR)
        return fail_at(err, node, path, "found a %s, expected %s", node->kind == TM_Y_MAP ? "mapping" : "list",
                       expected);
    const char *s = node->value;
    char *field = (char *)obj + d->offset;
    int out_of_range = 0;
    switch (d->type) {
    case P_INT:
    case P_INT64: {
        long long v;
        if (parse_int(s, &v))
            return fail_at(err, node, path, "found \"%s\", expected %s", s, expected);
        if ((double)v < d->min || (double)v > d->max)
            out_of_range = 1;
        else if (d->type == P_INT64)
            *(int64_t *)field = v;
        else
            *(int *)field = (int)v;
        break;
    }
    case P_UINT64: {
        if (!isdigit((unsigned char)s[0]))
            return fail_at(err, node, path, "found \"%s\", expected %s", s, expected);
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (*end || errno == ERANGE)
            return fail_at(err, node, path, "found \"%s\", expected %s", s, expected);
        *(uint64_t *)field = (uint64_t)v;
        break;
    }
    case P_DOUBLE: {
        double v;
        if (parse_double(s, &v))
            return fail_at(err, node, path, "found \"%s\", expected %s", s, expected);
        int below = (d->flags & P_MIN_OPEN) ? v <= d->min : v < d->min;
        int above = (d->flags & P_MAX_OPEN) ? v >= d->max : v > d->max;
        if (below || above)
            out_of_range = 1;
        else
            *(double *)field = v;
        break;
    }
    case P_BOOL:
        if (strcmp(s, "true") == 0)
            *(int *)field = 1;
        else if (strcmp(s, "false") == 0)
            *(int *)field = 0;
        else
            return fail_at(err, node, path, "found \"%s\", expected %s", s, expected);
        break;
    case P_ENUM: {
        int i;
        for (i = 0; d->choices[i]; i++)
            if (strcmp(s, d->choices[i]) == 0)
                break;
        if (!d->choices[i]) {
            size_t n = 0;
            while (d->choices[n])
                n++;
            describe_choices(expected, sizeof expected, s, d->choices, n);
            return fail_at(err, node, path, "found \"%s\", %s", s, expected);
        }
        *(int *)field = i;
        break;
    }
    case P_PERIOD: {
        int index;
        if (tm_period_parse(s, ppy, &index))
            return fail_at(err, node, path, "found \"%s\", expected a period label like %s with %d periods per year", s,
                           ppy == 4    ? "2024Q1"
                           : ppy == 12 ? "2024M01"
                           : ppy == 2  ? "2024H1"
                                       : "2024",
                           ppy);
        if (index / ppy < d->min || index / ppy > d->max)
            out_of_range = 1;
        else /* the label as the canonical text writes it ("2025M001" is 2025M01) */
            tm_period_label(index, ppy, field, TM_LABEL_MAX);
        break;
    }
    case P_NAME:
        if (!valid_name(s))
            return fail_at(err, node, path, "found \"%s\", expected %s", s, expected);
        snprintf(field, TM_NAME_MAX, "%s", s);
        break;
    case P_TEXT:
        if (strlen(s) >= TM_NOTE_MAX)
            return fail_at(err, node, path, "found text of %zu characters, expected %s", strlen(s), expected);
        snprintf(field, TM_NOTE_MAX, "%s", s);
        break;
    }
    if (out_of_range)
        return fail_at(err, node, path, "found %s, out of range: expected %s", s, expected);
    return 0;
}

static void set_unset(const pdesc *d, void *obj)
{
    char *field = (char *)obj + d->offset;
    if (d->type == P_DOUBLE)
        *(double *)field = NAN;
    else if (d->type == P_NAME || d->type == P_TEXT || d->type == P_PERIOD)
        field[0] = '\0';
}

static int is_set(const pdesc *d, const void *obj)
{
    const char *field = (const char *)obj + d->offset;
    if (d->type == P_DOUBLE)
        return !isnan(*(const double *)field);
    if (d->type == P_NAME || d->type == P_TEXT || d->type == P_PERIOD)
        return field[0] != '\0';
    return 1;
}

static int set_defaults(const pdesc *desc, size_t n, void *obj, int ppy, tm_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const pdesc *d = &desc[i];
        if (!d->def || (d->type == P_NAME && d->def[0] == '\0')) {
            set_unset(d, obj);
            continue;
        }
        tm_ynode node = {.kind = TM_Y_SCALAR, .file = "built-in default", .line = 0, .col = 0, .value = (char *)d->def};
        /* A default date means the first period of its year at whatever
         * frequency the run uses ("2024Q1" is "2024M01" for monthly runs). */
        char label[TM_LABEL_MAX];
        if (d->type == P_PERIOD) {
            tm_period_label(atoi(d->def) * ppy, ppy, label, sizeof label);
            node.value = label;
        }
        if (parse_field(d, &node, obj, d->key, ppy, err))
            return -1;
    }
    return 0;
}

static int in_list(const char *key, const char *const *list)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(key, list[i]) == 0)
            return 1;
    return 0;
}

/* Apply a mapping to one scope: every key must be a parameter of the scope
 * or one of its structural keys (handled by the caller). */
static int apply_scope(const pdesc *desc, size_t n, const tm_ynode *map, void *obj, const char *prefix,
                       const char *const *structural, int fill_defaults, int ppy, tm_error *err)
{
    if (fill_defaults && set_defaults(desc, n, obj, ppy, err))
        return -1;
    if (!map)
        map = NULL;
    else if (map->kind != TM_Y_MAP)
        return fail_at(err, map, prefix, "found a %s, expected a mapping of key: value lines",
                       map->kind == TM_Y_SEQ ? "list" : "single value");
    for (size_t k = 0; map && k < map->n; k++) {
        const char *key = map->keys[k];
        if (in_list(key, structural))
            continue;
        const pdesc *d = NULL;
        for (size_t i = 0; i < n; i++)
            if (strcmp(desc[i].key, key) == 0)
                d = &desc[i];
        char path[300];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", key);
        if (!d) {
            const char *names[32];
            size_t m = 0;
            for (size_t i = 0; i < n && m < 28; i++)
                names[m++] = desc[i].key;
            for (size_t i = 0; structural && structural[i] && m < 32; i++)
                names[m++] = structural[i];
            char expected[600];
            describe_choices(expected, sizeof expected, key, names, m);
            tm_ynode where = key_node(map, k);
            return fail_at(err, &where, path, "unknown key; %s", expected);
        }
        if (parse_field(d, map->items[k], obj, path, ppy, err))
            return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(desc[i].flags & P_REQUIRED))
            continue;
        if (!map || !tm_ytree_get(map, desc[i].key, NULL)) {
            char path[300];
            snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", desc[i].key);
            char expected[400];
            describe_expected(&desc[i], expected, sizeof expected);
            return fail_at(err, map, path, "missing; expected %s", expected);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Structure: sectors, destinations, regimes, events
 * ---------------------------------------------------------------------- */

static int require_map(const tm_ynode *node, const char *path, tm_error *err)
{
    if (node->kind != TM_Y_MAP)
        return fail_at(err, node, path, "found a %s, expected a mapping",
                       node->kind == TM_Y_SEQ ? "list" : "single value");
    return 0;
}

static int check_key_name(const tm_ynode *map, size_t k, const char *prefix, const char *what, tm_error *err)
{
    if (valid_name(map->keys[k]))
        return 0;
    tm_ynode where = key_node(map, k);
    char path[300];
    snprintf(path, sizeof path, "%s.%s", prefix, map->keys[k]);
    return fail_at(err, &where, path, "invalid %s name; expected letters, digits, '_' or '-' (at most %d characters)",
                   what, TM_NAME_MAX - 1);
}

/* A name that a file extending another (or a --set) adds to sectors,
 * destinations or a destination's regimes, where the base already defines
 * that collection, is a typo unless the entry declares it with `new: true`
 * (README, "Parameters"). Without
 * this, `sectors.enrgy.firms=200` would add a sector of template defaults. */
static int check_declared(const tm_ynode *map, size_t k, const char *prefix, const char *what, tm_error *err)
{
    const tm_ynode *entry = map->items[k];
    const tm_ynode *mark = entry->kind == TM_Y_MAP ? tm_ytree_get(entry, "new", NULL) : NULL;
    char path[300];
    snprintf(path, sizeof path, "%s.%s", prefix, map->keys[k]);
    tm_ynode where = key_node(map, k);
    if (mark && (mark->kind != TM_Y_SCALAR || (strcmp(mark->value, "true") && strcmp(mark->value, "false")))) {
        char mpath[340];
        snprintf(mpath, sizeof mpath, "%s.new", path);
        return fail_at(err, mark, mpath, "expected true (a %s the base does not define) or false", what);
    }
    int declared = mark && strcmp(mark->value, "true") == 0;
    if (!map->key_added[k]) {
        /* `new: true` written over a name the base defines would merge into
         * the base's entry, not replace it: say so rather than mislead. */
        size_t at;
        tm_ytree_get(entry, "new", &at);
        if (declared && entry->key_file[at] != map->key_file[k]) {
            tm_ynode mark_where = key_node(entry, at);
            return fail_at(err, &mark_where, path,
                           "`new: true`, but %s \"%s\" is already defined at %s:%d; remove `new: true` to change "
                           "that %s, or choose another name",
                           what, map->keys[k], map->key_file[k], map->key_line[k], what);
        }
        return 0;
    }
    if (declared)
        return 0;
    const char *names[4096];
    size_t n = 0;
    for (size_t i = 0; i < map->n && n < 4096; i++)
        if (!map->key_added[i])
            names[n++] = map->keys[i];
    char expected[600];
    describe_choices(expected, sizeof expected, map->keys[k], names, n);
    return fail_at(err, &where, path,
                   "unknown %s \"%s\"; %s. To add a %s, write `new: true` in its entry (keys left out take the "
                   "defaults of `tradeabm params --doc`)",
                   what, map->keys[k], expected, what);
}

static int find_sector(const tm_params *p, const char *name)
{
    for (int s = 0; s < p->n_sectors; s++)
        if (strcmp(p->sector[s].name, name) == 0)
            return s;
    return -1;
}

static int find_dest(const tm_params *p, const char *name)
{
    for (int d = 0; d < p->n_dest; d++)
        if (strcmp(p->dest[d].name, name) == 0)
            return d;
    return -1;
}

int tm_params_us_index(const tm_params *p)
{
    int d = find_dest(p, "US");
    return d >= 0 ? d : 0;
}

static int find_regime(const tm_destination *dest, const char *name)
{
    for (int r = 0; r < dest->n_regimes; r++)
        if (strcmp(dest->regime[r].name, name) == 0)
            return r;
    return -1;
}

static int unknown_name(tm_error *err, const tm_ynode *node, const char *path, const char *what, const char *found,
                        const char *const *names, size_t n)
{
    char expected[600];
    describe_choices(expected, sizeof expected, found, names, n);
    return fail_at(err, node, path, "unknown %s \"%s\"; %s", what, found, expected);
}

static int load_sectors(tm_params *p, const tm_ynode *root, tm_error *err)
{
    const tm_ynode *node = tm_ytree_get(root, "sectors", NULL);
    if (!node)
        return fail_at(err, root, "sectors", "missing; expected a mapping of sector names to their parameters");
    if (require_map(node, "sectors", err))
        return -1;
    if (node->n == 0)
        return fail_at(err, node, "sectors", "empty; expected at least one sector");
    if (node->n > 4096)
        return fail_at(err, node, "sectors", "%zu sectors; at most 4096 are supported", node->n);
    p->sector = calloc(node->n, sizeof *p->sector);
    if (!p->sector)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    p->n_sectors = (int)node->n;
    static const char *const structural[] = {"markets", "new", NULL};
    for (size_t k = 0; k < node->n; k++) {
        if (check_key_name(node, k, "sectors", "sector", err) || check_declared(node, k, "sectors", "sector", err))
            return -1;
        tm_sector *s = &p->sector[k];
        snprintf(s->name, sizeof s->name, "%s", node->keys[k]);
        char prefix[200];
        snprintf(prefix, sizeof prefix, "sectors.%s", s->name);
        if (apply_scope(sector_desc, COUNT(sector_desc), node->items[k], s, prefix, structural, 1, p->periods_per_year,
                        err))
            return -1;
    }
    return 0;
}

/* A regime transition matrix of `dest` into out (rows sum to 1). */
static int load_matrix(const tm_destination *dest, double (*out)[TM_MAX_REGIMES], const tm_ynode *node,
                       const char *path, tm_error *err)
{
    int n = dest->n_regimes;
    if (!node) {
        if (n == 1) {
            out[0][0] = 1.0;
            return 0;
        }
        return fail_at(
            err, NULL, path,
            "missing; expected a %d x %d transition matrix (one list per regime, in the order the regimes are listed)",
            n, n);
    }
    if (node->kind != TM_Y_SEQ || (int)node->n != n)
        return fail_at(err, node, path, "expected a list of %d rows (one per regime), found %s", n,
                       node->kind == TM_Y_SEQ ? "a different number of rows" : "no list");
    for (int i = 0; i < n; i++) {
        const tm_ynode *row = node->items[i];
        char rpath[300];
        snprintf(rpath, sizeof rpath, "%s[%d]", path, i);
        if (row->kind != TM_Y_SEQ || (int)row->n != n)
            return fail_at(err, row, rpath, "expected a row of %d probabilities, one per regime (from regime %s)", n,
                           dest->regime[i].name);
        double sum = 0;
        for (int j = 0; j < n; j++) {
            const tm_ynode *cell = row->items[j];
            double v;
            if (cell->kind != TM_Y_SCALAR || parse_double(cell->value, &v) || v < 0 || v > 1)
                return fail_at(err, cell, rpath, "found \"%s\", expected a probability in [0, 1]",
                               cell->kind == TM_Y_SCALAR ? cell->value : "(not a number)");
            out[i][j] = v;
            sum += v;
        }
        if (fabs(sum - 1.0) > 1e-9)
            return fail_at(err, row, rpath, "row sums to %.12g, expected 1 (probabilities of moving from regime %s)",
                           sum, dest->regime[i].name);
    }
    return 0;
}

/* A regime's map of sector names to rates (`sector_tariffs` or
 * `statutory_tariffs`) into rate[n_sectors]; sectors not named keep theirs.
 * Statutory rates are the announced ones and may not be below the
 * effective rate firms pay (rate holds the effective rates on entry). */
static int load_sector_rates(const tm_params *p, const tm_ynode *regime, const char *key, const char *rpath,
                             double *rate, tm_error *err)
{
    const tm_ynode *st = tm_ytree_get(regime, key, NULL);
    if (!st)
        return 0;
    char spath[400];
    snprintf(spath, sizeof spath, "%s.%s", rpath, key);
    if (require_map(st, spath, err))
        return -1;
    const int statutory = strcmp(key, "statutory_tariffs") == 0;
    for (size_t j = 0; j < st->n; j++) {
        int s = find_sector(p, st->keys[j]);
        char epath[500];
        snprintf(epath, sizeof epath, "%s.%s", spath, st->keys[j]);
        if (s < 0) {
            const char *names[4096];
            for (int i = 0; i < p->n_sectors; i++)
                names[i] = p->sector[i].name;
            tm_ynode where = key_node(st, j);
            return unknown_name(err, &where, epath, "sector", st->keys[j], names, (size_t)p->n_sectors);
        }
        double effective = rate[s];
        pdesc d = regime_desc[0];
        d.offset = 0;
        if (parse_field(&d, st->items[j], &rate[s], epath, p->periods_per_year, err))
            return -1;
        if (statutory && rate[s] < effective)
            return fail_at(err, st->items[j], epath,
                           "statutory rate %g is below the effective rate %g of sector %s; expected at least %g",
                           rate[s], effective, st->keys[j], effective);
    }
    return 0;
}

/* `closed_sectors: [canola, ...]`: the regime closes the destination to
 * the named sectors only; `closed: true` closes it to every sector, so the
 * two together are a conflict. */
static int load_closed_sectors(const tm_params *p, const tm_ynode *regime, const char *rpath, tm_regime *reg,
                               tm_error *err)
{
    for (int s = 0; s < p->n_sectors; s++)
        reg->sector_closed[s] = reg->closed;
    const tm_ynode *list = tm_ytree_get(regime, "closed_sectors", NULL);
    const tm_ynode *quantile = tm_ytree_get(regime, "closed_above_quantile", NULL);
    char path[400];
    if (reg->closed_above_quantile > 0.0) {
        snprintf(path, sizeof path, "%s.closed_above_quantile", rpath);
        if (!list || list->kind != TM_Y_SEQ || list->n == 0)
            return fail_at(err, quantile ? quantile : regime, path,
                           "has no effect without closed_sectors; expected a non-empty closed_sectors list too, or "
                           "no closed_above_quantile");
        if (p->timing == TM_TIMING_NEXT)
            return fail_at(err, quantile ? quantile : regime, path,
                           "is not available with decision.timing: next; expected decision.timing: current or no "
                           "closed_above_quantile");
    }
    if (!list)
        return 0;
    snprintf(path, sizeof path, "%s.closed_sectors", rpath);
    if (list->kind != TM_Y_SEQ)
        return fail_at(err, list, path, "expected a list of sector names, e.g. [canola] (or [] for none)");
    if (reg->closed)
        return fail_at(err, list, path,
                       "conflicts with `closed: true` (closed to every sector); expected one of the two");
    for (size_t i = 0; i < list->n; i++) {
        const tm_ynode *item = list->items[i];
        int s = item->kind == TM_Y_SCALAR ? find_sector(p, item->value) : -1;
        if (s < 0) {
            const char *names[4096];
            for (int k = 0; k < p->n_sectors; k++)
                names[k] = p->sector[k].name;
            return unknown_name(err, item, path, "sector", item->kind == TM_Y_SCALAR ? item->value : "(not a name)",
                                names, (size_t)p->n_sectors);
        }
        if (reg->sector_closed[s])
            return fail_at(err, item, path, "sector %s is listed twice", item->value);
        reg->sector_closed[s] = 1;
    }
    return 0;
}

static int load_destinations(tm_params *p, const tm_ynode *root, tm_error *err)
{
    const tm_ynode *node = tm_ytree_get(root, "destinations", NULL);
    if (!node)
        return fail_at(err, root, "destinations", "missing; expected a mapping of destination names (US, CN, ...)");
    if (require_map(node, "destinations", err))
        return -1;
    if (node->n == 0 || node->n > TM_MAX_DEST)
        return fail_at(err, node, "destinations", "%zu destinations; expected 1 to %d", node->n, TM_MAX_DEST);
    p->n_dest = (int)node->n;
    static const char *const structural[] = {"market", "regimes", "transition", "new", NULL};
    static const char *const regime_structural[] = {"sector_tariffs", "statutory_tariffs", "closed_sectors", "new",
                                                    NULL};
    for (size_t k = 0; k < node->n; k++) {
        if (check_key_name(node, k, "destinations", "destination", err) ||
            check_declared(node, k, "destinations", "destination", err))
            return -1;
        tm_destination *dest = &p->dest[k];
        snprintf(dest->name, sizeof dest->name, "%s", node->keys[k]);
        char prefix[200];
        snprintf(prefix, sizeof prefix, "destinations.%s", dest->name);
        const tm_ynode *dn = node->items[k];
        if (apply_scope(dest_desc, COUNT(dest_desc), dn, dest, prefix, structural, 1, p->periods_per_year, err))
            return -1;
        char path[300];
        snprintf(path, sizeof path, "%s.market", prefix);
        if (apply_scope(market_desc, COUNT(market_desc), tm_ytree_get(dn, "market", NULL), &dest->defaults, path, NULL,
                        1, p->periods_per_year, err))
            return -1;

        snprintf(path, sizeof path, "%s.regimes", prefix);
        const tm_ynode *rn = tm_ytree_get(dn, "regimes", NULL);
        if (!rn)
            return fail_at(err, dn, path, "missing; expected a mapping of regime names, least restrictive first");
        if (require_map(rn, path, err))
            return -1;
        if (rn->n == 0 || rn->n > TM_MAX_REGIMES)
            return fail_at(err, rn, path, "%zu regimes; expected 1 to %d", rn->n, TM_MAX_REGIMES);
        dest->n_regimes = (int)rn->n;
        for (size_t r = 0; r < rn->n; r++) {
            if (check_key_name(rn, r, path, "regime", err) || check_declared(rn, r, path, "regime", err))
                return -1;
            tm_regime *reg = &dest->regime[r];
            snprintf(reg->name, sizeof reg->name, "%s", rn->keys[r]);
            char rpath[300];
            snprintf(rpath, sizeof rpath, "%s.%s", path, reg->name);
            if (apply_scope(regime_desc, COUNT(regime_desc), rn->items[r], reg, rpath, regime_structural, 1,
                            p->periods_per_year, err))
                return -1;
            reg->sector_tariff = malloc((size_t)p->n_sectors * sizeof(double));
            reg->sector_statutory = malloc((size_t)p->n_sectors * sizeof(double));
            reg->sector_closed = calloc((size_t)p->n_sectors, sizeof(int));
            if (!reg->sector_tariff || !reg->sector_statutory || !reg->sector_closed)
                return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
            for (int s = 0; s < p->n_sectors; s++)
                reg->sector_tariff[s] = reg->tariff;
            if (load_sector_rates(p, rn->items[r], "sector_tariffs", rpath, reg->sector_tariff, err))
                return -1;
            memcpy(reg->sector_statutory, reg->sector_tariff, (size_t)p->n_sectors * sizeof(double));
            const tm_ynode *st = tm_ytree_get(rn->items[r], "statutory_tariffs", NULL);
            if (reg->exempts_preferential && st) {
                char spath[400];
                snprintf(spath, sizeof spath, "%s.statutory_tariffs", rpath);
                return fail_at(err, st, spath,
                               "conflicts with `exempts_preferential: true` (the written rates are then the "
                               "statutory ones); expected one of the two");
            }
            if (load_sector_rates(p, rn->items[r], "statutory_tariffs", rpath, reg->sector_statutory, err) ||
                load_closed_sectors(p, rn->items[r], rpath, reg, err))
                return -1;
        }
        snprintf(path, sizeof path, "%s.transition", prefix);
        size_t ti;
        const tm_ynode *tn = tm_ytree_get(dn, "transition", &ti);
        for (size_t r = 0; tn && r < rn->n; r++) {
            /* A regime added over a base whose matrix no longer fits: blame
             * the line that added it, not the base's matrix. */
            if (!rn->key_added[r] || dn->key_file[ti] == rn->key_file[r] ||
                (tn->kind == TM_Y_SEQ && (int)tn->n == dest->n_regimes))
                continue;
            tm_ynode where = key_node(rn, r);
            char rpath[340];
            snprintf(rpath, sizeof rpath, "%s.regimes.%s", prefix, rn->keys[r]);
            return fail_at(err, &where, rpath,
                           "a new regime, so %s (from %s:%d) no longer fits: give the whole %d x %d matrix here too "
                           "(one row per regime, in the order they are listed)",
                           path, dn->key_file[ti], dn->key_line[ti], dest->n_regimes, dest->n_regimes);
        }
        if (load_matrix(dest, dest->transition, tn, path, err))
            return -1;
        dest->initial_regime = 0;
        if (dest->initial_regime_name[0]) {
            dest->initial_regime = find_regime(dest, dest->initial_regime_name);
            if (dest->initial_regime < 0) {
                const char *names[TM_MAX_REGIMES];
                for (int r = 0; r < dest->n_regimes; r++)
                    names[r] = dest->regime[r].name;
                snprintf(path, sizeof path, "%s.initial_regime", prefix);
                return unknown_name(err, tm_ytree_get(dn, "initial_regime", NULL), path, "regime",
                                    dest->initial_regime_name, names, (size_t)dest->n_regimes);
            }
        }
        /* Through a copy: GCC cannot tell the two arrays apart (-Wrestrict). */
        char initial[sizeof dest->initial_regime_name];
        snprintf(initial, sizeof initial, "%s", dest->regime[dest->initial_regime].name);
        memcpy(dest->initial_regime_name, initial, sizeof initial);
    }
    return 0;
}

double tm_params_preferential_rate(const tm_params *p, double share, double statutory)
{
    if (share <= 0.0)
        return statutory;
    if (share >= 1.0)
        return 0.0;
    double e = isnan(p->demand_long_run_elasticity) ? p->elasticity : p->demand_long_run_elasticity;
    double weight = share + (1.0 - share) * exp(-e * log1p(statutory));
    return expm1(-log(weight) / e);
}

/* Regimes whose duties spare the preferential share (eq. 32): the rates
 * as written become the statutory ones and firms pay the uniform rate
 * with the same long-run market weight. Needs every sector's markets and
 * the elasticities. */
static void apply_preferences(tm_params *p)
{
    for (int d = 0; d < p->n_dest; d++)
        for (int r = 0; r < p->dest[d].n_regimes; r++) {
            tm_regime *reg = &p->dest[d].regime[r];
            if (!reg->exempts_preferential)
                continue;
            for (int s = 0; s < p->n_sectors; s++) {
                reg->sector_statutory[s] = reg->sector_tariff[s];
                reg->sector_tariff[s] = tm_params_preferential_rate(p, p->sector[s].market[d].preferential_share,
                                                                    reg->sector_statutory[s]);
            }
        }
}

/* A destination-wide market key (destinations.D.market.K) is the default
 * of every sector that does not set markets.D.K itself. Where every sector
 * sets it, the destination's value reaches no firm; written after every
 * sector's own value (in a file that extends theirs, or by --set, which
 * is how a sweep sets its paths) it would change nothing, so it is refused
 * with the sector key that does. Written in the same file as a sector's
 * value (the baseline writes the base level its sectors' factors
 * multiply), or before one (a --set of the sector's key over a file's
 * destination default), it is left alone. */
static int check_inert_market_keys(const tm_params *p, const tm_ypool *pool, const tm_ynode *root, tm_error *err)
{
    const tm_ynode *dests = tm_ytree_get(root, "destinations", NULL);
    const tm_ynode *sectors = tm_ytree_get(root, "sectors", NULL);
    for (int d = 0; d < p->n_dest; d++) {
        const tm_ynode *market = tm_ytree_get(dests->items[d], "market", NULL);
        for (size_t k = 0; market && market->kind == TM_Y_MAP && k < market->n; k++) {
            int after_all = 1;
            size_t s;
            for (s = 0; s < (size_t)p->n_sectors; s++) {
                const tm_ynode *own = tm_ytree_get(sectors->items[s], "markets", NULL);
                own = tm_ytree_get(own, p->dest[d].name, NULL);
                size_t at;
                if (!tm_ytree_get(own, market->keys[k], &at))
                    break;
                after_all = after_all && tm_ypool_overrides(pool, market->key_file[k], own->key_file[at]);
            }
            if (s < (size_t)p->n_sectors || !after_all)
                continue;
            tm_ynode where = key_node(market, k);
            char path[300];
            snprintf(path, sizeof path, "destinations.%s.market.%s", p->dest[d].name, market->keys[k]);
            return fail_at(err, &where, path,
                           "every sector sets its own markets.%s.%s, so this destination-wide value would change "
                           "nothing; expected a sector's key, sectors.SECTOR.markets.%s.%s (for example "
                           "sectors.%s.markets.%s.%s)",
                           p->dest[d].name, market->keys[k], p->dest[d].name, market->keys[k],
                           p->sector[p->n_sectors - 1].name, p->dest[d].name, market->keys[k]);
        }
    }
    return 0;
}

static int load_markets(tm_params *p, const tm_ynode *root, tm_error *err)
{
    const tm_ynode *sectors = tm_ytree_get(root, "sectors", NULL);
    for (int s = 0; s < p->n_sectors; s++) {
        tm_sector *sec = &p->sector[s];
        for (int d = 0; d < p->n_dest; d++)
            sec->market[d] = p->dest[d].defaults;
        const tm_ynode *mn = tm_ytree_get(sectors->items[s], "markets", NULL);
        if (!mn)
            continue;
        char path[300];
        snprintf(path, sizeof path, "sectors.%s.markets", sec->name);
        if (require_map(mn, path, err))
            return -1;
        for (size_t k = 0; k < mn->n; k++) {
            int d = find_dest(p, mn->keys[k]);
            char mpath[400];
            snprintf(mpath, sizeof mpath, "%s.%s", path, mn->keys[k]);
            if (d < 0) {
                const char *names[TM_MAX_DEST];
                for (int i = 0; i < p->n_dest; i++)
                    names[i] = p->dest[i].name;
                tm_ynode where = key_node(mn, k);
                return unknown_name(err, &where, mpath, "destination", mn->keys[k], names, (size_t)p->n_dest);
            }
            if (apply_scope(market_desc, COUNT(market_desc), mn->items[k], &sec->market[d], mpath, NULL, 0,
                            p->periods_per_year, err))
                return -1;
            const tm_ynode *rate = tm_ytree_get(mn->items[k], "switching_rate", NULL);
            if (rate && !(sec->market[d].market_share > 0.0)) {
                char rpath[440];
                snprintf(rpath, sizeof rpath, "%s.switching_rate", mpath);
                return fail_at(err, rate, rpath,
                               "has no effect without market_share (docs/model.md eq. 36); expected "
                               "%s.market_share above 0 too, or no switching_rate",
                               mpath);
            }
        }
    }
    /* A destination-wide switching rate needs some sector with a share. */
    const tm_ynode *dests = tm_ytree_get(root, "destinations", NULL);
    for (int d = 0; dests && d < p->n_dest; d++) {
        const tm_ynode *rate = tm_ytree_get(tm_ytree_get(dests->items[d], "market", NULL), "switching_rate", NULL);
        int shared = 0;
        for (int s = 0; s < p->n_sectors; s++)
            shared |= p->sector[s].market[d].market_share > 0.0;
        if (rate && !shared) {
            char rpath[300];
            snprintf(rpath, sizeof rpath, "destinations.%s.market.switching_rate", p->dest[d].name);
            return fail_at(err, rate, rpath,
                           "has no effect: no sector has a market_share in %s (docs/model.md eq. 36); expected a "
                           "market_share above 0 too, or no switching_rate",
                           p->dest[d].name);
        }
    }
    return 0;
}

/* A list of numbers, each in [lo, hi] (lo excluded when lo_open). */
static int load_numbers(const tm_ynode *node, const char *path, int n, double lo, int lo_open, double hi,
                        const char *what, double *out, tm_error *err)
{
    if (node->kind != TM_Y_SEQ || (int)node->n != n)
        return fail_at(err, node, path, "expected a list of %d %s (one per experience level, level 1 first)", n, what);
    for (int k = 0; k < n; k++) {
        const tm_ynode *cell = node->items[k];
        double v;
        if (cell->kind != TM_Y_SCALAR || parse_double(cell->value, &v) || (lo_open ? v <= lo : v < lo) || v > hi)
            return fail_at(err, cell, path, "item %d: found \"%s\", expected %s in %s%g, %g]", k + 1,
                           cell->kind == TM_Y_SCALAR ? cell->value : "(not a number)", what, lo_open ? "(" : "[", lo,
                           hi);
        out[k] = v;
    }
    return 0;
}

static int load_experience(tm_params *p, const tm_ynode *root, tm_error *err)
{
    tm_experience *x = &p->experience;
    memset(x, 0, sizeof *x);
    x->levels = 1;
    for (int k = 0; k < TM_MAX_LEVELS; k++) {
        x->demand[k] = x->iceberg[k] = x->fixed_cost[k] = 1.0;
        x->transition[k][k] = 1.0;
    }
    const tm_ynode *node = tm_ytree_get(root, "experience", NULL);
    if (node) {
        if (require_map(node, "experience", err))
            return -1;
        static const char *const keys[] = {"levels", "demand", "iceberg", "fixed_cost", "transition", NULL};
        for (size_t k = 0; k < node->n; k++)
            if (!in_list(node->keys[k], keys)) {
                char path[300], expected[400];
                snprintf(path, sizeof path, "experience.%s", node->keys[k]);
                describe_choices(expected, sizeof expected, node->keys[k], keys, 5);
                tm_ynode where = key_node(node, k);
                return fail_at(err, &where, path, "unknown key; %s", expected);
            }
        const tm_ynode *ln = tm_ytree_get(node, "levels", NULL);
        long long levels = 1;
        if (ln && (ln->kind != TM_Y_SCALAR || parse_int(ln->value, &levels) || levels < 1 || levels > TM_MAX_LEVELS))
            return fail_at(err, ln, "experience.levels", "found \"%s\", expected an integer in [1, %d]",
                           ln->kind == TM_Y_SCALAR ? ln->value : "(not a number)", TM_MAX_LEVELS);
        x->levels = (int)levels;
        int K = x->levels;
        const tm_ynode *v;
        if ((v = tm_ytree_get(node, "demand", NULL)) &&
            load_numbers(v, "experience.demand", K, 0, 1, 1e6, "demand multipliers", x->demand, err))
            return -1;
        if ((v = tm_ytree_get(node, "iceberg", NULL)) &&
            load_numbers(v, "experience.iceberg", K, 0, 1, 100, "iceberg multipliers", x->iceberg, err))
            return -1;
        if ((v = tm_ytree_get(node, "fixed_cost", NULL)) &&
            load_numbers(v, "experience.fixed_cost", K, 0, 0, 1e6, "fixed-cost multipliers", x->fixed_cost, err))
            return -1;
        if ((v = tm_ytree_get(node, "transition", NULL))) {
            if (v->kind != TM_Y_SEQ || (int)v->n != K)
                return fail_at(
                    err, v, "experience.transition",
                    "expected %d rows of %d probabilities (row k: next level of a firm that keeps serving at level k)",
                    K, K);
            for (int i = 0; i < K; i++) {
                char path[64];
                snprintf(path, sizeof path, "experience.transition[%d]", i);
                if (load_numbers(v->items[i], path, K, 0, 0, 1, "probabilities", x->transition[i], err))
                    return -1;
                double sum = 0;
                for (int j = 0; j < K; j++)
                    sum += x->transition[i][j];
                if (fabs(sum - 1.0) > 1e-9)
                    return fail_at(err, v->items[i], path, "row sums to %.12g, expected 1", sum);
            }
        } else if (K > 1) {
            return fail_at(err, node, "experience.transition",
                           "missing; expected %d rows of %d probabilities (row k: next level of a firm that keeps "
                           "serving at level k)",
                           K, K);
        }
    }
    int states = tm_params_n_states(p);
    if (states > TM_MAX_STATES)
        return fail_at(
            err, node, "experience.levels",
            "%d levels and %d destinations make %d market states ((levels + 1)^destinations); at most %d are supported",
            x->levels, p->n_dest, states, TM_MAX_STATES);
    return 0;
}

/* Learning keys that depend on others: peers' participation is compared
 * with the period before (the burn-in's last one at the first logged
 * period), and an interpolated belief keeps one policy per distinct belief
 * (at most run.periods + 1 of them, uint16 indices in the engine). */
static int check_learning(const tm_params *p, const tm_ynode *root, tm_error *err)
{
    const tm_ynode *dec = tm_ytree_get(root, "decision", NULL);
    if (!dec || dec->kind != TM_Y_MAP)
        return 0;
    if (p->peer_weight > 0.0 && p->burn_in < 1)
        return fail_at(err, tm_ytree_get(dec, "peer_weight", NULL), "decision.peer_weight",
                       "%g needs run.burn_in >= 1 (peers' participation is compared with the period before), found "
                       "run.burn_in %d",
                       p->peer_weight, p->burn_in);
    if (p->belief_interpolation != TM_BELIEF_NEAREST && p->periods + 1 > 65535)
        return fail_at(err, tm_ytree_get(dec, "belief_interpolation", NULL), "decision.belief_interpolation",
                       "keeps one policy per distinct belief, at most run.periods + 1 = %d; expected run.periods <= "
                       "65534 or nearest",
                       p->periods + 1);
    return 0;
}

/* Slots are counted in 32-bit cells: a sector's firms times
 * run.resolution stays within the bound on sectors.<name>.firms. */
static int check_resolution(const tm_params *p, const tm_ynode *root, tm_error *err)
{
    for (int s = 0; !p->exact && s < p->n_sectors; s++)
        if (p->sector[s].firms * (int64_t)p->resolution > TM_MAX_SLOTS) {
            const tm_ynode *run = tm_ytree_get(root, "run", NULL);
            return fail_at(err, run && run->kind == TM_Y_MAP ? tm_ytree_get(run, "resolution", NULL) : NULL,
                           "run.resolution",
                           "%d times sectors.%s.firms %lld is %lld slots; expected at most %lld slots a sector",
                           p->resolution, p->sector[s].name, (long long)p->sector[s].firms,
                           (long long)(p->sector[s].firms * (int64_t)p->resolution), (long long)TM_MAX_SLOTS);
        }
    return 0;
}

/* The real exchange rate is measured against the economy's export value
 * in the last burn-in period (docs/model.md section 11). */
static int check_exchange_rate(const tm_params *p, const tm_ynode *root, tm_error *err)
{
    if (p->exchange_elasticity > 0.0 && p->burn_in < 1) {
        const tm_ynode *fx = tm_ytree_get(root, "exchange_rate", NULL);
        return fail_at(err, fx && fx->kind == TM_Y_MAP ? tm_ytree_get(fx, "elasticity", NULL) : NULL,
                       "exchange_rate.elasticity",
                       "%g needs run.burn_in >= 1 (the reference export value Xbar is that of the last burn-in "
                       "period), found run.burn_in %d",
                       p->exchange_elasticity, p->burn_in);
    }
    return 0;
}

static int resolve_types(tm_params *p, const tm_ynode *root, tm_error *err)
{
    /* Which destinations the types vary over: demand_types.destinations
     * (a list of names), every destination by default. */
    const tm_ynode *sec = tm_ytree_get(root, "demand_types", NULL);
    const tm_ynode *list = sec && sec->kind == TM_Y_MAP ? tm_ytree_get(sec, "destinations", NULL) : NULL;
    int n_typed = 0;
    for (int d = 0; d < p->n_dest; d++)
        p->type_dest[d] = list ? -1 : n_typed++;
    if (list) {
        if (list->kind != TM_Y_SEQ || list->n == 0)
            return fail_at(err, list, "demand_types.destinations", "expected a list of destination names");
        for (size_t i = 0; i < list->n; i++) {
            const tm_ynode *item = list->items[i];
            int d = item->kind == TM_Y_SCALAR ? find_dest(p, item->value) : -1;
            if (d < 0) {
                const char *names[TM_MAX_DEST];
                for (int e = 0; e < p->n_dest; e++)
                    names[e] = p->dest[e].name;
                return unknown_name(err, item, "demand_types.destinations", "destination",
                                    item->kind == TM_Y_SCALAR ? item->value : "(not a name)", names, (size_t)p->n_dest);
            }
            if (p->type_dest[d] >= 0)
                return fail_at(err, item, "demand_types.destinations", "%s is listed twice", item->value);
            p->type_dest[d] = n_typed++;
        }
    }
    int n = 1;
    for (int i = 0; i < n_typed && n <= TM_MAX_TYPES; i++)
        n *= p->type_points;
    if (n > TM_MAX_TYPES) {
        return fail_at(
            err, sec ? tm_ytree_get(sec, "points", NULL) : NULL, "demand_types.points",
            "%d points and %d destinations make more than %d types (points^destinations); expected fewer points",
            p->type_points, n_typed, TM_MAX_TYPES);
    }
    p->n_types = n;
    return 0;
}

int tm_params_has_statutory(const tm_params *p)
{
    for (int d = 0; d < p->n_dest; d++)
        for (int r = 0; r < p->dest[d].n_regimes; r++)
            for (int s = 0; s < p->n_sectors; s++)
                if (p->dest[d].regime[r].sector_statutory[s] != p->dest[d].regime[r].sector_tariff[s])
                    return 1;
    for (int e = 0; e < p->n_events; e++) {
        const tm_event *ev = &p->event[e];
        if (!isnan(ev->statutory_tariff) && ev->statutory_tariff != ev->tariff)
            return 1;
        for (int s = 0; ev->exempts_preferential && s < p->n_sectors; s++)
            if ((ev->sector < 0 || ev->sector == s) && ev->tariff > 0 &&
                p->sector[s].market[ev->destination].preferential_share > 0)
                return 1;
    }
    return 0;
}

int tm_params_n_states(const tm_params *p)
{
    int n = 1;
    for (int d = 0; d < p->n_dest; d++) {
        n *= p->experience.levels + 1;
        if (n > 1 << 20)
            break;
    }
    return n;
}

/* Whether scaling the escalation hazards (j > i) of `base` by `scale`
 * leaves every row a probability of staying; the first row that it does
 * not, or -1. */
static int escalation_overflows(int n, const double (*base)[TM_MAX_REGIMES], double scale)
{
    for (int i = 0; i < n; i++) {
        double up = 0, stay_budget = 1;
        for (int j = 0; j < n; j++) {
            if (j > i)
                up += base[i][j] * scale;
            else if (j < i)
                stay_budget -= base[i][j];
        }
        if (up > stay_budget + 1e-12)
            return i;
    }
    return -1;
}

/* The perceived matrices, esc(base, escalation x perceived scale) of
 * section 10 of docs/model.md, must be transition matrices whenever they are
 * in force: at the start and after each event, in period order. */
static int check_perceived(const tm_params *p, const tm_ynode *root, tm_error *err)
{
    const tm_ynode *dests = tm_ytree_get(root, "destinations", NULL);
    const tm_ynode *events = tm_ytree_get(root, "events", NULL);
    for (int d = 0; d < p->n_dest; d++) {
        const tm_destination *dest = &p->dest[d];
        const double(*base)[TM_MAX_REGIMES] = (const double(*)[TM_MAX_REGIMES])dest->transition;
        double escalation = 1.0, perceived = dest->perceived_escalation_scale;
        const tm_ynode *where = tm_ytree_get(tm_ytree_get(dests, dest->name, NULL), "perceived_escalation_scale", NULL);
        char path[300];
        snprintf(path, sizeof path, "destinations.%s.perceived_escalation_scale", dest->name);
        for (int e = -1; e < p->n_events; e++) {
            if (e >= 0) {
                const tm_event *ev = &p->event[e];
                if (ev->destination != d)
                    continue;
                if (ev->kind == TM_EVENT_ESCALATION)
                    escalation = ev->escalation_scale;
                else if (ev->kind == TM_EVENT_TRANSITION)
                    base = (const double(*)[TM_MAX_REGIMES])ev->transition;
                else if (ev->kind == TM_EVENT_PERCEIVED)
                    perceived = ev->perceived_escalation_scale;
                else
                    continue;
                where = events->items[ev->item];
                snprintf(path, sizeof path, "events[%d]", ev->item);
            }
            if (perceived == 1.0)
                continue;
            int row = escalation_overflows(dest->n_regimes, base, escalation * perceived);
            if (row >= 0)
                return fail_at(err, where, path,
                               "the perceived escalation hazards of regime %s (escalation scale %g x perceived scale "
                               "%g) make its row sum above 1; expected a smaller perceived scale",
                               dest->regime[row].name, escalation, perceived);
        }
    }
    return 0;
}

/* Days from 1 Jan of `year` to the first day of month `month` (1-13:
 * 13 is the next 1 Jan). */
static int days_before_month(int year, int month)
{
    static const int cumulative[13] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return cumulative[month - 1] + (month > 2 ? leap : 0);
}

/* The point of its period at which an event takes effect: `fraction`, or
 * from `date` the days from the period's first day to the date over the
 * days of the period (calendar days, leap years counted). */
static int event_within(const tm_params *p, tm_event *ev, const tm_ynode *en, const char *prefix, tm_error *err)
{
    char path[200];
    ev->within = isnan(ev->fraction) ? 0.0 : ev->fraction;
    if (!ev->date[0])
        return 0;
    snprintf(path, sizeof path, "%s.date", prefix);
    const tm_ynode *where = tm_ytree_get(en, "date", NULL);
    if (!isnan(ev->fraction))
        return fail_at(err, where, path, "conflicts with `fraction`; expected one of the two");
    int y, m, d;
    char tail;
    if (strlen(ev->date) != 10 || sscanf(ev->date, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 ||
        d < 1 || d > days_before_month(y, m + 1) - days_before_month(y, m))
        return fail_at(err, where, path, "found \"%s\", expected a calendar day YYYY-MM-DD", ev->date);
    const int ppy = p->periods_per_year, months = 12 / ppy;
    int first_month = (m - 1) / months * months + 1;
    if (y * ppy + (m - 1) / months - p->start_index != ev->period)
        return fail_at(err, where, path, "%s is not in the period `at` (%s); expected a day of that period", ev->date,
                       ev->at);
    int start = days_before_month(y, first_month), end = days_before_month(y, first_month + months);
    ev->within = (double)(days_before_month(y, m) + d - 1 - start) / (double)(end - start);
    return 0;
}

/* Events dated within their periods: one point per period (the period's
 * flows mix two sets of conditions, before and after it), and only with
 * capacity elasticity 0 (the tariff paid of the mix is then exact: revenue
 * is proportional to the market weight, eq. 3). Within a period they apply
 * after the events at its start (sorted so by load_events). */
static int check_within(const tm_params *p, const tm_ynode *list, tm_error *err)
{
    for (int i = 0; i < p->n_events; i++) {
        const tm_event *a = &p->event[i];
        if (a->within <= 0.0)
            continue;
        char path[64];
        snprintf(path, sizeof path, "events[%d]", a->item);
        if (p->capacity_elasticity != 0.0)
            return fail_at(err, list->items[a->item], path,
                           "an event within its period needs capacity.elasticity 0 (found %g); expected no "
                           "`date` or `fraction`",
                           p->capacity_elasticity);
        /* The mix of eq. 31 is derived for full pass-through and demand
         * without partial adjustment; other combinations are refused. */
        if (!isnan(p->demand_impact_elasticity) || !isnan(p->demand_long_run_elasticity))
            return fail_at(err, list->items[a->item], path,
                           "an event within its period cannot be combined with partial adjustment of demand "
                           "(demand.impact_elasticity, demand.long_run_elasticity); expected no `date` or `fraction`");
        for (int s = 0; s < p->n_sectors; s++) {
            const tm_sector *sec = &p->sector[s];
            if (!isnan(sec->capacity_elasticity) && sec->capacity_elasticity != 0.0)
                return fail_at(err, list->items[a->item], path,
                               "an event within its period needs capacity elasticity 0, but sector %s has %g; "
                               "expected no `date` or `fraction`",
                               sec->name, sec->capacity_elasticity);
            for (int d = 0; d < p->n_dest; d++)
                if (sec->market[d].tariff_absorption != 0.0)
                    return fail_at(err, list->items[a->item], path,
                                   "an event within its period needs full pass-through, but sector %s absorbs %g "
                                   "of the duty in %s; expected no `date` or `fraction`",
                                   sec->name, sec->market[d].tariff_absorption, p->dest[d].name);
        }
        for (int j = 0; j < i; j++) {
            const tm_event *b = &p->event[j];
            if (b->period == a->period && b->within > 0.0 && b->within != a->within)
                return fail_at(err, list->items[a->item], path,
                               "takes effect at point %g of period %s but events[%d] at %g; expected one point "
                               "within a period",
                               a->within, a->at, b->item, b->within);
        }
    }
    return 0;
}

/* Demand events act on one multiplier, so two of them may not overlap on
 * the same destination and sector (or all sectors): a growth path and
 * another growth path or a level set within its window would be read in
 * two ways. */
static int check_demand_conflicts(const tm_params *p, const tm_ynode *list, tm_error *err)
{
    for (int i = 0; i < p->n_events; i++) {
        const tm_event *a = &p->event[i];
        if (a->kind != TM_EVENT_GROWTH)
            continue;
        for (int j = 0; j < p->n_events; j++) {
            const tm_event *b = &p->event[j];
            if (j == i || (b->kind != TM_EVENT_GROWTH && b->kind != TM_EVENT_DEMAND) ||
                b->destination != a->destination || (a->sector >= 0 && b->sector >= 0 && a->sector != b->sector))
                continue;
            int b_end = b->kind == TM_EVENT_GROWTH ? b->until_period : b->period;
            if (b->period > a->until_period || b_end < a->period || (b->kind == TM_EVENT_GROWTH && j < i))
                continue;
            char path[64];
            snprintf(path, sizeof path, "events[%d]", b->item);
            return fail_at(err, list->items[b->item], path,
                           "conflicts with events[%d], the demand growth path of %s from %s to %s; expected demand "
                           "events of one destination and sector outside each other's growth windows",
                           a->item, a->destination_name, a->at, a->until);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Index-driven hazards (docs/model.md section 12)
 * ---------------------------------------------------------------------- */

/* h_k = logistic(a + b ln(I_k / mean I)) of the k-th value of the path of
 * event ev (the written event), mean over the whole path. */
static double index_hazard(const tm_params *p, const tm_event *ev, int k)
{
    const double *values = p->index_values + ev->index_first;
    double mean = 0.0;
    for (int i = 0; i < ev->index_count; i++)
        mean += values[i];
    mean /= ev->index_count;
    double x = ev->hazard_intercept + ev->hazard_slope * log(values[k] / mean);
    return 1.0 / (1.0 + exp(-x));
}

static int add_index_value(tm_params *p, double v)
{
    if (p->n_index_values % 256 == 0) {
        double *grown = realloc(p->index_values, ((size_t)p->n_index_values + 256) * sizeof *grown);
        if (!grown)
            return -1;
        p->index_values = grown;
    }
    p->index_values[p->n_index_values++] = v;
    return 0;
}

/* Each value's hazard must leave a probability of staying in every regime
 * below the most restrictive (h + moves to less restrictive regimes <= 1).
 * The k-th value was written at items[k] (a list) or at lines[k] of
 * `file`. Sets the first step's hazard. */
static int check_index_path(const tm_params *p, tm_event *ev, const tm_ynode *const *items, const char *file,
                            const int *lines, const char *path, tm_error *err)
{
    const tm_destination *dest = &p->dest[ev->destination];
    for (int k = 0; k < ev->index_count; k++) {
        double h = index_hazard(p, ev, k);
        for (int i = 0; i + 1 < dest->n_regimes; i++) {
            double down = 0.0;
            for (int j = 0; j < i; j++)
                down += dest->transition[i][j];
            if (h + down > 1.0 + 1e-12) {
                tm_ynode at = {.file = file, .line = lines ? lines[k] : 0, .col = 1};
                char label[TM_LABEL_MAX];
                tm_period_label(p->start_index + ev->period + k, p->periods_per_year, label, sizeof label);
                return fail_at(err, items ? items[k] : &at, path,
                               "the hazard %g of %s leaves regime %s a probability of staying below 0 (moves to "
                               "less restrictive regimes %g); expected a hazard at most %g",
                               h, label, dest->regime[i].name, down, 1.0 - down);
            }
        }
    }
    ev->escalation_hazard = index_hazard(p, ev, 0);
    return 0;
}

/* The index file of a hazard_index event: text lines `PERIOD,VALUE`
 * (2025Q1,143.2) for consecutive periods from the event's `at`, an
 * optional header line `period,index` first, blank lines and lines
 * starting with '#' skipped. Messages name the file and line. */
static int load_index_file(tm_params *p, tm_event *ev, const tm_ynode *hn, const char *path, tm_error *err)
{
    char file[1024];
    const char *slash = hn->file ? strrchr(hn->file, '/') : NULL;
    if (hn->value[0] == '/' || !slash || strcmp(hn->file, "--set") == 0)
        snprintf(file, sizeof file, "%s", hn->value);
    else
        snprintf(file, sizeof file, "%.*s/%s", (int)(slash - hn->file), hn->file, hn->value);
    char *text;
    size_t len;
    tm_error read_err;
    if (tm_ytree_read_file(file, &text, &len, &read_err))
        return fail_at(err, hn, path, "%s", read_err.msg);
    int *lines = NULL;
    tm_ynode at = {.file = file, .line = 1, .col = 1};
    int rc = 0, line = 0, expected = ev->period;
    if (strlen(text) != len)
        rc = fail_at(err, &at, path, "a NUL byte in the index file; expected text lines PERIOD,VALUE");
    for (char *row = text, *next; row && !rc; row = next) {
        next = strchr(row, '\n');
        if (next)
            *next++ = '\0';
        at.line = ++line;
        size_t n = strlen(row);
        if (n && row[n - 1] == '\r')
            row[--n] = '\0';
        if (!n || row[0] == '#')
            continue;
        char *comma = strchr(row, ',');
        if (!comma) {
            rc = fail_at(err, &at, path, "found \"%.60s\", expected PERIOD,VALUE (e.g. %s,100)", row, ev->at);
            break;
        }
        *comma = '\0';
        const char *value = comma + 1;
        if (ev->index_count == 0 && strcmp(row, "period") == 0)
            continue; /* the header */
        int index;
        char want[TM_LABEL_MAX];
        tm_period_label(p->start_index + expected, p->periods_per_year, want, sizeof want);
        if (tm_period_parse(row, p->periods_per_year, &index)) {
            rc = fail_at(err, &at, path, "found period \"%.40s\", expected a period label such as %s", row, want);
            break;
        }
        if (index - p->start_index != expected) {
            rc = fail_at(err, &at, path, "found period %s, expected %s (consecutive periods from the event's `at`)",
                         row, want);
            break;
        }
        double v;
        if (parse_double(value, &v) || !(v > 0.0)) {
            rc = fail_at(err, &at, path, "found value \"%.40s\" for %s, expected a positive number", value, row);
            break;
        }
        if (ev->index_count >= 100000) {
            rc = fail_at(err, &at, path, "more than 100000 values; at most 100000 are supported");
            break;
        }
        int *more = ev->index_count % 256 ? lines : realloc(lines, ((size_t)ev->index_count + 256) * sizeof *lines);
        if (!more || add_index_value(p, v)) {
            rc = tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
            break;
        }
        lines = more;
        lines[ev->index_count++] = line;
        expected++;
    }
    if (!rc && ev->index_count == 0) {
        at.line = 1;
        rc = fail_at(err, &at, path, "no values; expected lines PERIOD,VALUE from %s on", ev->at);
    }
    if (!rc)
        rc = check_index_path(p, ev, NULL, file, lines, path, err);
    free(lines);
    free(text);
    return rc;
}

/* hazard_index: a list of positive values for consecutive periods from
 * `at`, or the name of an index file (relative to the parameter file). */
static int load_hazard_index(tm_params *p, tm_event *ev, const tm_ynode *hn, const char *path, tm_error *err)
{
    ev->index_first = p->n_index_values;
    ev->index_count = 0;
    if (p->dest[ev->destination].n_regimes < 2)
        return fail_at(err, hn, path,
                       "destination %s has one regime, so no escalation; expected a destination with several "
                       "regimes",
                       p->dest[ev->destination].name);
    if (hn->kind == TM_Y_SCALAR)
        return load_index_file(p, ev, hn, path, err);
    if (hn->kind != TM_Y_SEQ || hn->n == 0 || hn->n > 100000)
        return fail_at(err, hn, path,
                       "expected a list of 1 to 100000 index values (one a period from `at`) or the name of an "
                       "index file");
    for (size_t k = 0; k < hn->n; k++) {
        const tm_ynode *cell = hn->items[k];
        double v;
        if (cell->kind != TM_Y_SCALAR || parse_double(cell->value, &v) || !(v > 0.0))
            return fail_at(err, cell, path, "item %zu: found \"%s\", expected a positive number", k,
                           cell->kind == TM_Y_SCALAR ? cell->value : "(not a number)");
        if (add_index_value(p, v))
            return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        ev->index_count++;
    }
    return check_index_path(p, ev, (const tm_ynode *const *)hn->items, hn->file, NULL, path, err);
}

/* A destination with an index-driven hazard takes no other event that
 * sets its hazards (escalation_scale, transition, perceived scales) and at
 * most one index path: the hazard would be set two ways. */
static int check_hazard_conflicts(const tm_params *p, const tm_ynode *node, tm_error *err)
{
    for (int i = 0; i < p->n_events; i++) {
        const tm_event *a = &p->event[i];
        if (a->kind != TM_EVENT_HAZARD)
            continue;
        const tm_destination *dest = &p->dest[a->destination];
        if (dest->perceived_escalation_scale != 1.0)
            return fail_at(err, node->items[a->item], "events",
                           "the hazard index of %s cannot be combined with destinations.%s.perceived_escalation_scale "
                           "%g; expected 1",
                           dest->name, dest->name, dest->perceived_escalation_scale);
        for (int j = 0; j < p->n_events; j++) {
            const tm_event *b = &p->event[j];
            if (j == i || b->destination != a->destination)
                continue;
            if (b->kind == TM_EVENT_HAZARD || b->kind == TM_EVENT_ESCALATION || b->kind == TM_EVENT_TRANSITION ||
                b->kind == TM_EVENT_PERCEIVED)
                return fail_at(err, node->items[b->item], "events",
                               "events[%d] sets the hazards of %s, which the hazard index of events[%d] drives; "
                               "expected no other hazard_index, escalation_scale, transition or "
                               "perceived_escalation_scale event for %s",
                               b->item, dest->name, a->item, dest->name);
        }
    }
    return 0;
}

/* The last period of a path event: `until` of a growth path, the period
 * of the last index value of a hazard path, else its own period. */
static int path_end(const tm_event *ev)
{
    if (ev->kind == TM_EVENT_GROWTH)
        return ev->until_period;
    if (ev->kind == TM_EVENT_HAZARD && !ev->derived)
        return ev->period + ev->index_count - 1;
    return ev->period;
}

/* A growth path from u to v is v - u + 1 steps, one a period, and a hazard
 * path one step per index value: the event as written is the first, and
 * copies marked `derived` are the others, so the environment and the
 * dynamic programme (eq. 11) see one event a period. */
static int expand_growth(tm_params *p, tm_error *err)
{
    size_t extra = 0;
    for (int e = 0; e < p->n_events; e++)
        extra += (size_t)(path_end(&p->event[e]) - p->event[e].period);
    if (!extra)
        return 0;
    if (extra + (size_t)p->n_events > 1000000)
        return tm_error_set(err, TM_ERR_INPUT,
                            "events: growth and hazard paths make %zu period steps; at most 1000000 are supported",
                            extra + (size_t)p->n_events);
    tm_event *grown = realloc(p->event, (extra + (size_t)p->n_events) * sizeof *grown);
    if (!grown)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    p->event = grown;
    int n = p->n_events;
    for (int e = 0; e < p->n_events; e++) {
        const int end = path_end(&p->event[e]);
        for (int t = p->event[e].period + 1; t <= end; t++) {
            tm_event step = p->event[e];
            step.period = t;
            step.derived = 1;
            step.within = 0.0; /* a date within the first period belongs to the first step */
            step.fraction = NAN;
            step.date[0] = '\0';
            if (step.kind == TM_EVENT_HAZARD)
                step.escalation_hazard = index_hazard(p, &p->event[e], t - p->event[e].period);
            tm_period_label(p->start_index + t, p->periods_per_year, step.at, sizeof step.at);
            p->event[n++] = step;
        }
    }
    p->n_events = n;
    return 0;
}

static int load_events(tm_params *p, const tm_ynode *root, tm_error *err)
{
    const tm_ynode *node = tm_ytree_get(root, "events", NULL);
    if (!node)
        return 0;
    if (node->kind != TM_Y_SEQ)
        return fail_at(err, node, "events", "expected a list of events (lines starting with '- ')");
    if (node->n > 100000)
        return fail_at(err, node, "events", "%zu events; at most 100000 are supported", node->n);
    p->event = calloc(node->n ? node->n : 1, sizeof *p->event);
    if (!p->event)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    p->n_events = (int)node->n;
    for (size_t k = 0; k < node->n; k++) {
        tm_event *ev = &p->event[k];
        const tm_ynode *en = node->items[k];
        ev->item = (int)k;
        char prefix[64];
        snprintf(prefix, sizeof prefix, "events[%zu]", k);
        static const char *const structural[] = {"transition", "hazard_index", NULL};
        if (apply_scope(event_desc, COUNT(event_desc), en, ev, prefix, structural, 1, p->periods_per_year, err))
            return -1;
        char path[200];
        int index;
        tm_period_parse(ev->at, p->periods_per_year, &index);
        ev->period = index - p->start_index;
        if (ev->period < 0) {
            snprintf(path, sizeof path, "%s.at", prefix);
            return fail_at(err, tm_ytree_get(en, "at", NULL), path,
                           "%s is before run.start (%s); expected a period from the start on", ev->at, p->start);
        }
        ev->destination = find_dest(p, ev->destination_name);
        if (ev->destination < 0) {
            const char *names[TM_MAX_DEST];
            for (int i = 0; i < p->n_dest; i++)
                names[i] = p->dest[i].name;
            snprintf(path, sizeof path, "%s.destination", prefix);
            return unknown_name(err, tm_ytree_get(en, "destination", NULL), path, "destination", ev->destination_name,
                                names, (size_t)p->n_dest);
        }
        const tm_destination *dest = &p->dest[ev->destination];
        ev->sector = -1;
        if (ev->sector_name[0]) {
            ev->sector = find_sector(p, ev->sector_name);
            if (ev->sector < 0) {
                const char *names[4096];
                for (int i = 0; i < p->n_sectors; i++)
                    names[i] = p->sector[i].name;
                snprintf(path, sizeof path, "%s.sector", prefix);
                return unknown_name(err, tm_ytree_get(en, "sector", NULL), path, "sector", ev->sector_name, names,
                                    (size_t)p->n_sectors);
            }
        }
        const tm_ynode *tn = tm_ytree_get(en, "transition", NULL);
        const tm_ynode *hn = tm_ytree_get(en, "hazard_index", NULL);
        int actions = (ev->regime_name[0] != 0) + !isnan(ev->tariff) + !isnan(ev->escalation_scale) + ev->release +
                      !isnan(ev->sunk_cost_scale) + (tn != NULL) + !isnan(ev->perceived_escalation_scale) +
                      !isnan(ev->demand_scale) + !isnan(ev->price_scale) + !isnan(ev->iceberg_scale) +
                      !isnan(ev->fixed_cost_scale) + !isnan(ev->demand_growth) + (hn != NULL);
        if (actions != 1)
            return fail_at(
                err, en, prefix,
                "%s; expected exactly one of `regime`, `tariff`, `escalation_scale`, `sunk_cost_scale`, "
                "`transition`, `perceived_escalation_scale`, `demand_scale`, `price_scale`, `iceberg_scale`, "
                "`fixed_cost_scale`, `demand_growth`, `hazard_index` or `release: true`",
                actions ? "several actions in one event" : "no action");
        ev->regime = -1;
        ev->escalation_hazard = NAN;
        if ((hn != NULL) != (!isnan(ev->hazard_intercept) && !isnan(ev->hazard_slope))) {
            snprintf(path, sizeof path, "%s.%s", prefix, hn ? "hazard_intercept" : "hazard_index");
            return fail_at(err, en, path,
                           hn ? "missing; expected `hazard_intercept` and `hazard_slope` beside `hazard_index`"
                              : "missing; `hazard_intercept` and `hazard_slope` go with a `hazard_index` event");
        }
        if (hn) {
            ev->kind = TM_EVENT_HAZARD;
            snprintf(path, sizeof path, "%s.hazard_index", prefix);
            if (load_hazard_index(p, ev, hn, path, err))
                return -1;
        } else if (tn) {
            ev->kind = TM_EVENT_TRANSITION;
            snprintf(path, sizeof path, "%s.transition", prefix);
            if (load_matrix(dest, ev->transition, tn, path, err))
                return -1;
        } else if (ev->regime_name[0]) {
            ev->kind = TM_EVENT_REGIME;
            ev->regime = find_regime(dest, ev->regime_name);
            if (ev->regime < 0) {
                const char *names[TM_MAX_REGIMES];
                for (int r = 0; r < dest->n_regimes; r++)
                    names[r] = dest->regime[r].name;
                snprintf(path, sizeof path, "%s.regime", prefix);
                return unknown_name(err, tm_ytree_get(en, "regime", NULL), path, "regime", ev->regime_name, names,
                                    (size_t)dest->n_regimes);
            }
        } else if (!isnan(ev->tariff)) {
            ev->kind = TM_EVENT_TARIFF;
        } else if (!isnan(ev->sunk_cost_scale)) {
            ev->kind = TM_EVENT_SUNK_COST;
        } else if (!isnan(ev->perceived_escalation_scale)) {
            ev->kind = TM_EVENT_PERCEIVED;
        } else if (!isnan(ev->demand_scale)) {
            ev->kind = TM_EVENT_DEMAND;
            ev->demand_factor = ev->demand_scale;
        } else if (!isnan(ev->price_scale)) {
            /* eq. 29b: B = E P^(sigma - 1), E = P Q and P both x times. */
            ev->kind = TM_EVENT_DEMAND;
            ev->demand_factor = pow(ev->price_scale, p->elasticity);
            if (!(ev->demand_factor <= TM_MAX_DEMAND_SCALE)) {
                snprintf(path, sizeof path, "%s.price_scale", prefix);
                return fail_at(err, tm_ytree_get(en, "price_scale", NULL), path,
                               "%g makes the demand shifter %g times its level (x^sigma, sigma %g); expected at most "
                               "%g, a price_scale of at most %g",
                               ev->price_scale, ev->demand_factor, p->elasticity, TM_MAX_DEMAND_SCALE,
                               pow(TM_MAX_DEMAND_SCALE, 1.0 / p->elasticity));
            }
        } else if (!isnan(ev->iceberg_scale)) {
            ev->kind = TM_EVENT_ICEBERG;
            for (int s = 0; s < p->n_sectors; s++) {
                double tau = p->sector[s].market[ev->destination].iceberg;
                if ((ev->sector < 0 || ev->sector == s) && tau * ev->iceberg_scale < 1.0) {
                    snprintf(path, sizeof path, "%s.iceberg_scale", prefix);
                    return fail_at(err, tm_ytree_get(en, "iceberg_scale", NULL), path,
                                   "makes the iceberg cost of %s in %s %g x %g < 1; expected at least %g",
                                   p->sector[s].name, dest->name, tau, ev->iceberg_scale, 1.0 / tau);
                }
            }
        } else if (!isnan(ev->fixed_cost_scale)) {
            ev->kind = TM_EVENT_FIXED_COST;
        } else if (!isnan(ev->demand_growth)) {
            ev->kind = TM_EVENT_GROWTH;
        } else if (!isnan(ev->escalation_scale)) {
            ev->kind = TM_EVENT_ESCALATION;
            /* The scaled hazards must still leave a probability of staying. */
            const double(*T)[TM_MAX_REGIMES] = (const double(*)[TM_MAX_REGIMES])dest->transition;
            int i = escalation_overflows(dest->n_regimes, T, ev->escalation_scale);
            if (i >= 0) {
                double up = 0, stay_budget = 1;
                for (int j = 0; j < dest->n_regimes; j++) {
                    if (j > i)
                        up += T[i][j] * ev->escalation_scale;
                    else if (j < i)
                        stay_budget -= T[i][j];
                }
                snprintf(path, sizeof path, "%s.escalation_scale", prefix);
                return fail_at(err, tm_ytree_get(en, "escalation_scale", NULL), path,
                               "scaling the escalation hazards of regime %s by %g makes its row sum above 1; "
                               "expected at most %g",
                               dest->regime[i].name, ev->escalation_scale, ev->escalation_scale * stay_budget / up);
            }
        } else {
            ev->kind = TM_EVENT_RELEASE;
        }
        if (ev->exempts_preferential && (ev->kind != TM_EVENT_TARIFF || !isnan(ev->statutory_tariff))) {
            snprintf(path, sizeof path, "%s.exempts_preferential", prefix);
            return fail_at(err, tm_ytree_get(en, "exempts_preferential", NULL), path,
                           ev->kind != TM_EVENT_TARIFF
                               ? "only tariff events spare the preferential share; expected `tariff` beside it"
                               : "conflicts with `statutory_tariff` (`tariff` is then the statutory rate); "
                                 "expected one of the two");
        }
        if (!isnan(ev->statutory_tariff) && (ev->kind != TM_EVENT_TARIFF || ev->statutory_tariff < ev->tariff)) {
            snprintf(path, sizeof path, "%s.statutory_tariff", prefix);
            if (ev->kind != TM_EVENT_TARIFF)
                return fail_at(err, tm_ytree_get(en, "statutory_tariff", NULL), path,
                               "only tariff events have a statutory rate; expected `tariff` beside it");
            return fail_at(err, tm_ytree_get(en, "statutory_tariff", NULL), path,
                           "statutory rate %g is below the effective tariff %g; expected at least %g",
                           ev->statutory_tariff, ev->tariff, ev->tariff);
        }
        if (ev->sector >= 0 &&
            (ev->kind == TM_EVENT_REGIME || ev->kind == TM_EVENT_RELEASE || ev->kind == TM_EVENT_ESCALATION ||
             ev->kind == TM_EVENT_TRANSITION || ev->kind == TM_EVENT_PERCEIVED || ev->kind == TM_EVENT_HAZARD)) {
            snprintf(path, sizeof path, "%s.sector", prefix);
            return fail_at(err, tm_ytree_get(en, "sector", NULL), path,
                           "only tariff, cost, demand and growth events apply to one sector; remove `sector`");
        }
        if (event_within(p, ev, en, prefix, err))
            return -1;
        if ((ev->kind == TM_EVENT_GROWTH) != (ev->until[0] != 0)) {
            snprintf(path, sizeof path, "%s.until", prefix);
            return fail_at(err, ev->until[0] ? tm_ytree_get(en, "until", NULL) : en, path,
                           ev->until[0] ? "only demand_growth events have an end; remove `until`"
                                        : "missing; expected the last period of the growth path (demand_growth)");
        }
        if (ev->kind == TM_EVENT_GROWTH) {
            tm_period_parse(ev->until, p->periods_per_year, &index);
            ev->until_period = index - p->start_index;
            if (ev->until_period < ev->period) {
                snprintf(path, sizeof path, "%s.until", prefix);
                return fail_at(err, tm_ytree_get(en, "until", NULL), path,
                               "%s is before `at` (%s); expected a period from `at` on", ev->until, ev->at);
            }
        }
    }
    if (check_demand_conflicts(p, node, err) || check_hazard_conflicts(p, node, err) || expand_growth(p, err) ||
        check_within(p, node, err))
        return -1;
    /* Events of one period apply in file order; keep them sorted by period
     * (stable) so the simulation can walk them once. */
    for (int i = 1; i < p->n_events; i++) {
        tm_event tmp = p->event[i];
        int j = i - 1;
        while (j >= 0 && (p->event[j].period > tmp.period ||
                          (p->event[j].period == tmp.period && p->event[j].within > 0.0 && tmp.within == 0.0))) {
            p->event[j + 1] = p->event[j];
            j--;
        }
        p->event[j + 1] = tmp;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Canonical text
 * ---------------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_printf(sbuf *sb, const char *fmt, ...) TM_PRINTF(2, 3);
static void sb_printf(sbuf *sb, const char *fmt, ...)
{
    if (sb->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        /* The first call has no buffer yet: measure (NULL + 0 is undefined). */
        int n = vsnprintf(sb->buf ? sb->buf + sb->len : NULL, sb->cap - sb->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            sb->failed = 1;
            return;
        }
        if (sb->len + (size_t)n < sb->cap) {
            sb->len += (size_t)n;
            return;
        }
        size_t cap = sb->cap ? sb->cap * 2 : 4096;
        while (cap <= sb->len + (size_t)n)
            cap *= 2;
        char *grown = realloc(sb->buf, cap);
        if (!grown) {
            sb->failed = 1;
            return;
        }
        sb->buf = grown;
        sb->cap = cap;
    }
}

/* Shortest decimal that reads back to exactly the same double. */
static void format_double(double v, char *buf, size_t size)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* A bare integer such as "1" must stay a number, which it does here. */
}

static void format_value(const pdesc *d, const void *obj, char *buf, size_t size)
{
    const char *field = (const char *)obj + d->offset;
    switch (d->type) {
    case P_INT:
        snprintf(buf, size, "%d", *(const int *)field);
        break;
    case P_INT64:
        snprintf(buf, size, "%" PRId64, *(const int64_t *)field);
        break;
    case P_UINT64:
        snprintf(buf, size, "%" PRIu64, *(const uint64_t *)field);
        break;
    case P_DOUBLE:
        format_double(*(const double *)field, buf, size);
        break;
    case P_BOOL:
        snprintf(buf, size, "%s", *(const int *)field ? "true" : "false");
        break;
    case P_ENUM:
        snprintf(buf, size, "%s", d->choices[*(const int *)field]);
        break;
    case P_PERIOD:
    case P_NAME:
        snprintf(buf, size, "%s", field);
        break;
    case P_TEXT: {
        size_t o = 0;
        if (o < size)
            buf[o++] = '"';
        for (const char *c = field; *c && o + 3 < size; c++) {
            if (*c == '"' || *c == '\\')
                buf[o++] = '\\';
            buf[o++] = *c;
        }
        buf[o++] = '"';
        buf[o] = '\0';
        break;
    }
    }
}

static void dump_scope(sbuf *sb, const pdesc *desc, size_t n, const void *obj, int indent, int skip_unset)
{
    for (size_t i = 0; i < n; i++) {
        const pdesc *d = &desc[i];
        if (d->flags & P_NODUMP)
            continue;
        if ((skip_unset || (d->flags & P_QUIET)) && !is_set(d, obj))
            continue;
        char value[TM_NOTE_MAX * 2 + 8];
        format_value(d, obj, value, sizeof value);
        if ((d->flags & P_QUIET) && d->def && strcmp(value, d->def) == 0)
            continue;
        sb_printf(sb, "%*s%s: %s\n", indent, "", d->key, value);
    }
}

/* "key:" then one "- [a, b, ...]" line per row. */
static void dump_rows(sbuf *sb, const char *key, int indent, const double *m, int rows, int cols, int stride)
{
    sb_printf(sb, "%s:\n", key);
    for (int i = 0; i < rows; i++) {
        sb_printf(sb, "%*s- [", indent, "");
        for (int j = 0; j < cols; j++) {
            char v[64];
            format_double(m[i * stride + j], v, sizeof v);
            sb_printf(sb, "%s%s", j ? ", " : "", v);
        }
        sb_printf(sb, "]\n");
    }
}

static void dump_matrix(sbuf *sb, const char *key, int indent, const double (*m)[TM_MAX_REGIMES], int n)
{
    dump_rows(sb, key, indent, &m[0][0], n, n, TM_MAX_REGIMES);
}

/* The experience section, only when there are experience states (files
 * without them keep the canonical text they always had). */
static void dump_experience(sbuf *sb, const tm_experience *x)
{
    if (x->levels <= 1)
        return;
    sb_printf(sb, "experience:\n  levels: %d\n", x->levels);
    const char *names[3] = {"demand", "iceberg", "fixed_cost"};
    const double *rows[3] = {x->demand, x->iceberg, x->fixed_cost};
    for (int i = 0; i < 3; i++) {
        sb_printf(sb, "  %s: [", names[i]);
        for (int k = 0; k < x->levels; k++) {
            char v[64];
            format_double(rows[i][k], v, sizeof v);
            sb_printf(sb, "%s%s", k ? ", " : "", v);
        }
        sb_printf(sb, "]\n");
    }
    dump_rows(sb, "  transition", 4, &x->transition[0][0], x->levels, x->levels, TM_MAX_LEVELS);
}

static char *canonical_text(const tm_params *p)
{
    sbuf sb = {0};
    sb_printf(&sb, "# tradeabm resolved parameters (canonical form)\n");
    for (size_t i = 0; i < COUNT(root_sections); i++) {
        /* A section whose parameters are all quiet defaults is left out. */
        sbuf item = {0};
        dump_scope(&item, root_sections[i].desc, root_sections[i].n, p, 2, 0);
        if (root_sections[i].structural == types_structural) {
            /* The destinations the types vary over, unless all of them. */
            int all = 1;
            for (int d = 0; d < p->n_dest; d++)
                all &= p->type_dest[d] == d;
            if (!all) {
                sb_printf(&item, "  destinations: [");
                for (int k = 0, first = 1; k < p->n_dest; k++)
                    for (int d = 0; d < p->n_dest; d++)
                        if (p->type_dest[d] == k) {
                            sb_printf(&item, "%s%s", first ? "" : ", ", p->dest[d].name);
                            first = 0;
                        }
                sb_printf(&item, "]\n");
            }
        }
        if (item.failed)
            sb.failed = 1;
        if (item.buf && item.len)
            sb_printf(&sb, "%s:\n%s", root_sections[i].name, item.buf);
        free(item.buf);
    }
    dump_experience(&sb, &p->experience);
    sb_printf(&sb, "sectors:\n");
    for (int s = 0; s < p->n_sectors; s++) {
        const tm_sector *sec = &p->sector[s];
        sb_printf(&sb, "  %s:\n", sec->name);
        dump_scope(&sb, sector_desc, COUNT(sector_desc), sec, 4, 0);
        sb_printf(&sb, "    markets:\n");
        for (int d = 0; d < p->n_dest; d++) {
            sb_printf(&sb, "      %s:\n", p->dest[d].name);
            dump_scope(&sb, market_desc, COUNT(market_desc), &sec->market[d], 8, 0);
        }
    }
    sb_printf(&sb, "destinations:\n");
    for (int d = 0; d < p->n_dest; d++) {
        const tm_destination *dest = &p->dest[d];
        sb_printf(&sb, "  %s:\n", dest->name);
        dump_scope(&sb, dest_desc, COUNT(dest_desc), dest, 4, 0);
        sb_printf(&sb, "    regimes:\n");
        for (int r = 0; r < dest->n_regimes; r++) {
            const tm_regime *reg = &dest->regime[r];
            sb_printf(&sb, "      %s:\n", reg->name);
            dump_scope(&sb, regime_desc, COUNT(regime_desc), reg, 8, 0);
            /* A regime sparing the preferential share is written with its
             * statutory rates, from which loading derives the rates paid
             * again (eq. 32). */
            const double *written = reg->exempts_preferential ? reg->sector_statutory : reg->sector_tariff;
            sb_printf(&sb, "        sector_tariffs:\n");
            for (int s = 0; s < p->n_sectors; s++) {
                char v[64];
                format_double(written[s], v, sizeof v);
                sb_printf(&sb, "          %s: %s\n", p->sector[s].name, v);
            }
            /* Sector closures and statutory rates only where used, so files
             * without them keep their canonical text. */
            if (!reg->closed) {
                int first = 1;
                for (int s = 0; s < p->n_sectors; s++)
                    if (reg->sector_closed[s]) {
                        sb_printf(&sb, "%s%s", first ? "        closed_sectors: [" : ", ", p->sector[s].name);
                        first = 0;
                    }
                if (!first)
                    sb_printf(&sb, "]\n");
            }
            int statutory = 0;
            for (int s = 0; s < p->n_sectors && !reg->exempts_preferential; s++)
                statutory |= reg->sector_statutory[s] != reg->sector_tariff[s];
            if (statutory) {
                sb_printf(&sb, "        statutory_tariffs:\n");
                for (int s = 0; s < p->n_sectors; s++) {
                    char v[64];
                    format_double(reg->sector_statutory[s], v, sizeof v);
                    sb_printf(&sb, "          %s: %s\n", p->sector[s].name, v);
                }
            }
        }
        dump_matrix(&sb, "    transition", 6, dest->transition, dest->n_regimes);
    }
    if (p->n_events) {
        sb_printf(&sb, "events:\n");
        for (int e = 0; e < p->n_events; e++) {
            if (p->event[e].derived)
                continue; /* made again from its growth or hazard path event on loading */
            sbuf item = {0};
            dump_scope(&item, event_desc, COUNT(event_desc), &p->event[e], 4, 1);
            if (item.failed || !item.buf) {
                sb.failed = 1;
                free(item.buf);
                break;
            }
            item.buf[2] = '-'; /* "    at: ..." becomes "  - at: ..." */
            sb_printf(&sb, "%s", item.buf);
            free(item.buf);
            const tm_event *ev = &p->event[e];
            if (ev->kind == TM_EVENT_TRANSITION)
                dump_matrix(&sb, "    transition", 6, ev->transition, p->dest[ev->destination].n_regimes);
            if (ev->kind == TM_EVENT_HAZARD) { /* the values, whether written in a file or a list */
                sb_printf(&sb, "    hazard_index: [");
                for (int k = 0; k < ev->index_count; k++) {
                    char v[64];
                    format_double(p->index_values[ev->index_first + k], v, sizeof v);
                    sb_printf(&sb, "%s%s", k ? ", " : "", v);
                }
                sb_printf(&sb, "]\n");
            }
        }
    }
    if (sb.failed) {
        free(sb.buf);
        return NULL;
    }
    return sb.buf;
}

/* ------------------------------------------------------------------------
 * Loading
 * ---------------------------------------------------------------------- */

void tm_params_free(tm_params *p)
{
    if (!p)
        return;
    for (int d = 0; d < p->n_dest; d++)
        for (int r = 0; r < p->dest[d].n_regimes; r++) {
            free(p->dest[d].regime[r].sector_tariff);
            free(p->dest[d].regime[r].sector_statutory);
            free(p->dest[d].regime[r].sector_closed);
        }
    free(p->sector);
    free(p->event);
    free(p->index_values);
    free(p->source);
    free(p->canonical);
    free(p);
}

static int resolve(tm_params *p, const tm_ynode *root, tm_error *err)
{
    if (root->kind != TM_Y_MAP)
        return fail_at(err, root, "(document)", "expected a mapping of parameters");
    /* Unknown top-level keys first: a typo there explains later errors. */
    for (size_t k = 0; k < root->n; k++) {
        const char *key = root->keys[k];
        int known = in_list(key, root_structural);
        for (size_t i = 0; i < COUNT(root_sections) && !known; i++)
            known = strcmp(key, root_sections[i].name) == 0;
        if (!known) {
            const char *names[16];
            size_t m = 0;
            for (size_t i = 0; i < COUNT(root_sections); i++)
                names[m++] = root_sections[i].name;
            for (size_t i = 0; root_structural[i]; i++)
                names[m++] = root_structural[i];
            tm_ynode where = key_node(root, k);
            char expected[600];
            describe_choices(expected, sizeof expected, key, names, m);
            return fail_at(err, &where, key, "unknown section; %s", expected);
        }
    }
    /* run first: period labels elsewhere depend on periods_per_year. */
    const tm_ynode *run = tm_ytree_get(root, "run", NULL);
    const tm_ynode *ppy_node = run && run->kind == TM_Y_MAP ? tm_ytree_get(run, "periods_per_year", NULL) : NULL;
    p->periods_per_year = 4;
    if (ppy_node && parse_field(&run_desc[4], ppy_node, p, "run.periods_per_year", 4, err))
        return -1;
    int ppy = p->periods_per_year;
    if (ppy != 1 && ppy != 2 && ppy != 4 && ppy != 12)
        return fail_at(err, ppy_node, "run.periods_per_year", "found %d, expected 1, 2, 4 or 12", ppy);
    for (size_t i = 0; i < COUNT(root_sections); i++) {
        const section *sec = &root_sections[i];
        if (apply_scope(sec->desc, sec->n, tm_ytree_get(root, sec->name, NULL), p, sec->name, sec->structural, 1, ppy,
                        err))
            return -1;
    }
    p->periods_per_year = ppy;
    tm_period_parse(p->start, ppy, &p->start_index);
    const tm_ynode *demand = tm_ytree_get(root, "demand", NULL);
    const tm_ynode *adjustment = demand && demand->kind == TM_Y_MAP ? tm_ytree_get(demand, "adjustment", NULL) : NULL;
    if (adjustment && isnan(p->demand_impact_elasticity) && isnan(p->demand_long_run_elasticity))
        return fail_at(err, adjustment, "demand.adjustment",
                       "has no effect without demand.impact_elasticity or demand.long_run_elasticity; expected one "
                       "of them too, or no demand.adjustment");
    if (load_sectors(p, root, err) || load_destinations(p, root, err) || load_markets(p, root, err) ||
        load_experience(p, root, err) || load_events(p, root, err) || check_perceived(p, root, err) ||
        resolve_types(p, root, err))
        return -1;
    apply_preferences(p);
    if (check_learning(p, root, err) || check_exchange_rate(p, root, err) || check_resolution(p, root, err))
        return -1;
    return 0;
}

/* A row of a transition matrix set by `--set` (or a sweep) sums to 1 this
 * closely; the looser 1e-9 of load_matrix is for rows written in decimals. */
#define TM_SET_ROW_TOLERANCE 1e-12

/* The regime names of a destination in the tree, in their order. */
static int tree_names(const tm_ynode *map, const char **names, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; map && map->kind == TM_Y_MAP && i < map->n && n < max; i++)
        names[n++] = map->keys[i];
    return (int)n;
}

static int tree_find(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

/* `--set destinations.D.transition.FROM=[p1, ..., pn]` replaces the row of
 * regime FROM, which must sum to 1 within TM_SET_ROW_TOLERANCE;
 * `--set destinations.D.transition.FROM.TO=p` sets the probability of
 * moving from FROM to another regime TO, and the diagonal FROM -> FROM
 * absorbs the change (the two keep their sum), refused when it would go
 * below 0 by more than the tolerance (less is rounding, and reads as 0) (docs/sweeps.md, "Regime transitions"). Rows are named by
 * regime, not by position, so that a sweep's table says what it varied.
 * *handled = 0 for any other path (tm_ytree_set takes it). */
static int set_transition(tm_ypool *pool, tm_ynode *tree, const char *assignment, int *handled, tm_error *err)
{
    *handled = 0;
    const char *eq = strchr(assignment, '=');
    tm_ypath_step st[TM_YTREE_PATH_MAX_STEPS];
    int n = 0;
    char why[300], path[300];
    if (!eq || eq == assignment)
        return 0;
    snprintf(path, sizeof path, "%.*s", (int)(eq - assignment), assignment);
    if (tm_ytree_path_parse(path, st, TM_YTREE_PATH_MAX_STEPS, &n, why, sizeof why) || n < 4 ||
        strcmp(st[0].key, "destinations") || st[1].index >= 0 || strcmp(st[2].key, "transition"))
        return 0;
    *handled = 1;
    const char *value = eq + 1;
    char label[320], at[400];
    snprintf(label, sizeof label, "--set %s", path);
    const tm_ynode where = {.file = label, .line = 1, .col = 1};
    const char *names[TM_MAX_REGIMES + TM_MAX_DEST + 1];

    const tm_ynode *dests = tm_ytree_get(tree, "destinations", NULL);
    const tm_ynode *dn = tm_ytree_get(dests, st[1].key, NULL);
    snprintf(at, sizeof at, "destinations.%s", st[1].key);
    if (!dn) {
        int nd = tree_names(dests, names, TM_MAX_DEST + 1);
        return unknown_name(err, &where, at, "destination", st[1].key, names, (size_t)nd);
    }
    const tm_ynode *rn = tm_ytree_get(dn, "regimes", NULL);
    int nr = tree_names(rn, names, TM_MAX_REGIMES + 1);
    char list[300] = "";
    for (int r = 0, used = 0; r < nr && used < (int)sizeof list; r++)
        used += snprintf(list + used, sizeof list - (size_t)used, "%s%s", r ? ", " : "", names[r]);
    snprintf(at, sizeof at, "destinations.%s.transition", st[1].key);
    if (st[3].index >= 0 || n > 5 || (n == 5 && st[4].index >= 0))
        return fail_at(err, &where, at,
                       "a row is named by its regime: %s.FROM=[...] (the whole row) or %s.FROM.TO=p (one "
                       "probability; the diagonal absorbs the change), with FROM and TO among: %s",
                       at, at, list);
    size_t ti;
    tm_ynode *tn = tm_ytree_get(dn, "transition", &ti);
    int shaped = nr > 0 && tn && tn->kind == TM_Y_SEQ && (int)tn->n == nr;
    for (int r = 0; shaped && r < nr; r++)
        shaped = tn->items[r]->kind == TM_Y_SEQ && (int)tn->items[r]->n == nr;
    int from = tree_find(names, nr, st[3].key);
    snprintf(at, sizeof at, "destinations.%s.transition.%s", st[1].key, st[3].key);
    if (from < 0)
        return unknown_name(err, &where, at, "regime", st[3].key, names, (size_t)nr);
    if (!shaped)
        return fail_at(err, &where, at,
                       "the parameters have no %d x %d transition matrix for %s to edit; set the whole matrix "
                       "(destinations.%s.transition=[[...], ...])",
                       nr, nr, st[1].key, st[1].key);

    double row[TM_MAX_REGIMES];
    tm_ynode *old = tn->items[from];
    if (n == 4) {
        tm_ynode *val = NULL;
        if (tm_ytree_parse(pool, label, value, strlen(value), &val, err))
            return -1;
        double sum = 0;
        int ok = val->kind == TM_Y_SEQ && (int)val->n == nr;
        for (int j = 0; ok && j < nr; j++) {
            const tm_ynode *cell = val->items[j];
            ok = cell->kind == TM_Y_SCALAR && parse_double(cell->value, &row[j]) == 0 && row[j] >= 0 && row[j] <= 1;
            sum += ok ? row[j] : 0;
        }
        if (!ok) {
            tm_ytree_free(val);
            return fail_at(err, &where, at,
                           "found \"%s\", expected a row of %d probabilities in [0, 1], one per regime (%s)", value, nr,
                           list);
        }
        if (fabs(sum - 1.0) > TM_SET_ROW_TOLERANCE) {
            tm_ytree_free(val);
            return fail_at(err, &where, at,
                           "row sums to %.17g, expected 1 within %g (probabilities of moving from regime %s to: %s)",
                           sum, TM_SET_ROW_TOLERANCE, st[3].key, list);
        }
        tm_ytree_free(old);
        tn->items[from] = val;
        return 0;
    }
    int to = tree_find(names, nr, st[4].key);
    char to_at[440];
    snprintf(to_at, sizeof to_at, "%s.%s", at, st[4].key);
    if (to < 0)
        return unknown_name(err, &where, to_at, "regime", st[4].key, names, (size_t)nr);
    if (to == from)
        return fail_at(err, &where, to_at,
                       "the diagonal (staying in %s) absorbs every change to its row; set the probability of moving "
                       "to another regime (%s.TO), or the whole row (%s=[...])",
                       st[3].key, at, at);
    double p;
    if (parse_double(value, &p) || p < 0 || p > 1)
        return fail_at(err, &where, to_at, "found \"%s\", expected a probability in [0, 1]", value);
    for (int j = 0; j < nr; j++) {
        const tm_ynode *cell = old->items[j];
        if (cell->kind != TM_Y_SCALAR || parse_double(cell->value, &row[j]))
            return fail_at(err, cell, at, "found \"%s\", expected a probability in [0, 1]",
                           cell->kind == TM_Y_SCALAR ? cell->value : "(not a number)");
    }
    /* The diagonal takes the change: the pair's total stays, so an entry
     * set to its own value leaves the row bit for bit and the largest
     * allowed value leaves the diagonal at exactly 0. */
    double pair = row[from] + row[to];
    double stay = p == row[to] ? row[from] : pair - p;
    if (stay < -TM_SET_ROW_TOLERANCE) {
        char given[32];
        format_double(p, given, sizeof given);
        return fail_at(err, &where, to_at,
                       "%s -> %s = %s would leave %s -> %s below 0 (the diagonal absorbs the change); expected at "
                       "most %.12g",
                       st[3].key, st[4].key, given, st[3].key, st[3].key, pair);
    }
    /* 0.7 + 0.2 is 0.8999999999999999 in binary: setting 0.9 means an
     * empty diagonal, not a refusal (the row still sums to 1 within the
     * tolerance). */
    if (stay < 0)
        stay = 0;
    row[to] = p;
    row[from] = stay;
    char text[TM_MAX_REGIMES * 32 + 4];
    size_t used = (size_t)snprintf(text, sizeof text, "[");
    for (int j = 0; j < nr; j++) {
        char num[32];
        format_double(row[j], num, sizeof num);
        used += (size_t)snprintf(text + used, sizeof text - used, "%s%s", j ? ", " : "", num);
    }
    snprintf(text + used, sizeof text - used, "]");
    tm_ynode *edited = NULL;
    if (tm_ytree_parse(pool, label, text, strlen(text), &edited, err))
        return -1;
    tm_ytree_free(old);
    tn->items[from] = edited;
    return 0;
}

/* The merged tree of a file (NULL: the built-in baseline) or of text in
 * memory, with the --set overrides applied. */
static int build_tree(const char *path, const char *name, const char *text, const char *const *sets, int n_sets,
                      tm_ypool **pool_out, tm_ynode **tree_out, tm_error *err)
{
    tm_ypool *pool = tm_ypool_new();
    tm_ynode *tree = NULL;
    if (!pool)
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    if (path) {
        if (tm_ytree_load(pool, path, &tree, err))
            goto fail;
    } else {
        if (tm_ytree_parse(pool, name, text, strlen(text), &tree, err))
            goto fail;
        const tm_ynode *ext = tree->kind == TM_Y_MAP ? tm_ytree_get(tree, "extends", NULL) : NULL;
        if (ext) {
            fail_at(err, ext, "extends", "not allowed in built-in or stored parameters (they are already resolved)");
            goto fail;
        }
    }
    for (int i = 0; i < n_sets; i++) {
        int handled = 0;
        if (set_transition(pool, tree, sets[i], &handled, err) || (!handled && tm_ytree_set(pool, tree, sets[i], err)))
            goto fail;
    }
    *pool_out = pool;
    *tree_out = tree;
    return 0;
fail:
    tm_ytree_free(tree);
    tm_ypool_free(pool);
    return -1;
}

/* Resolve a tree into new parameters with their canonical text. */
static int resolve_tree(const char *source, const tm_ypool *pool, const tm_ynode *tree, tm_params **out, tm_error *err)
{
    *out = NULL;
    tm_params *p = calloc(1, sizeof *p);
    if (!p || !(p->source = strdup(source))) {
        tm_params_free(p);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    if (resolve(p, tree, err) || check_inert_market_keys(p, pool, tree, err))
        goto fail;
    p->canonical = canonical_text(p);
    if (!p->canonical) {
        tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    tm_sha256_buffer(p->canonical, strlen(p->canonical), p->sha256);
    *out = p;
    return 0;
fail:
    tm_params_free(p);
    return -1;
}

static const char *const built_in_name = "built-in canada_baseline.yaml";

static int load_any(const char *path, const char *name, const char *text, const char *const *sets, int n_sets,
                    tm_params **out, tm_error *err)
{
    *out = NULL;
    tm_ypool *pool = NULL;
    tm_ynode *tree = NULL;
    if (build_tree(path, name, text, sets, n_sets, &pool, &tree, err))
        return -1;
    int rc = resolve_tree(path ? path : name, pool, tree, out, err);
    tm_ytree_free(tree);
    tm_ypool_free(pool);
    return rc;
}

int tm_params_load_text(const char *name, const char *text, const char *const *sets, int n_sets, tm_params **out,
                        tm_error *err)
{
    return load_any(NULL, name, text, sets, n_sets, out, err);
}

int tm_params_load(const char *path, const char *const *sets, int n_sets, tm_params **out, tm_error *err)
{
    return load_any(path, built_in_name, tm_embedded_baseline, sets, n_sets, out, err);
}

/* The key path an error message names: "file:line:col: PATH: detail" or
 * "PATH: detail" (fail_at's two forms), cut at the first list index. */
static int error_path(const char *msg, char *path, size_t size)
{
    const char *p = msg;
    for (const char *c = msg; *c; c++) {
        int line, col, used = 0;
        if (*c == ':' && sscanf(c, ":%d:%d: %n", &line, &col, &used) == 2 && used > 0) {
            p = c + used;
            break;
        }
    }
    size_t n = strcspn(p, ":[ ");
    if (n == 0 || n >= size || p[n] == ' ')
        return -1;
    memcpy(path, p, n);
    path[n] = '\0';
    return 0;
}

/* Remove the entry at a dotted path; -1 if there is none. */
static int remove_path(tm_ynode *tree, const char *path)
{
    char buf[300];
    snprintf(buf, sizeof buf, "%s", path);
    tm_ynode *node = tree;
    char *save = NULL;
    char *part = strtok_r(buf, ".", &save);
    while (part) {
        char *next = strtok_r(NULL, ".", &save);
        size_t at;
        tm_ynode *child = tm_ytree_get(node, part, &at);
        if (!child)
            return -1;
        if (!next) {
            tm_ytree_remove(node, at);
            return 0;
        }
        node = child;
        part = next;
    }
    return -1;
}

int tm_params_check_all(const char *path, const char *const *sets, int n_sets, tm_params **out, tm_error *errs,
                        int max_errs, int *n_errs)
{
    *out = NULL;
    *n_errs = 0;
    char aside[TM_PARAMS_MAX_CHECK_ERRORS][300];
    int n_aside = 0;
    if (max_errs > TM_PARAMS_MAX_CHECK_ERRORS)
        max_errs = TM_PARAMS_MAX_CHECK_ERRORS;
    for (;;) {
        tm_ypool *pool = NULL;
        tm_ynode *tree = NULL;
        tm_error *err = &errs[*n_errs];
        /* Reading, syntax and --set errors leave no tree to go on with. */
        if (build_tree(path, built_in_name, tm_embedded_baseline, sets, n_sets, &pool, &tree, err)) {
            (*n_errs)++;
            return -1;
        }
        int rc = 0;
        for (int i = 0; i < n_aside && rc == 0; i++)
            rc = remove_path(tree, aside[i]);
        /* A key that cannot be set aside (its absence is the error): stop. */
        if (rc == 0)
            rc = resolve_tree(path ? path : built_in_name, pool, tree, out, err) ? 1 : 0;
        tm_ytree_free(tree);
        tm_ypool_free(pool);
        if (rc == 0)
            return *n_errs ? -1 : 0;
        if (rc < 0)
            return -1;
        (*n_errs)++;
        if (err->status != TM_ERR_INPUT || *n_errs == max_errs || error_path(err->msg, aside[n_aside], sizeof aside[0]))
            return -1;
        for (int i = 0; i < n_aside; i++)
            if (strcmp(aside[i], aside[n_aside]) == 0)
                return -1;
        n_aside++;
    }
}

/* ------------------------------------------------------------------------
 * Documentation
 * ---------------------------------------------------------------------- */

/* Keys with a shape of their own (matrices, lists, maps keyed by names),
 * which their own loaders above parse: their documentation rows, each
 * listed after the scope named by `after` (NULL: at the end). */
#define TM_STR_(x) #x
#define TM_STR(x) TM_STR_(x)
typedef struct {
    const char *after;
    const char *path, *type, *def, *range, *unit, *symbol, *doc;
} doc_row;

static const doc_row structural_doc[] = {
    {"demand_types.", "demand_types.destinations", "list", "every destination", "destination names", "", "",
     "the destinations whose demand varies by type (the first listed varies fastest in the type index)"},
    {"destinations.<dest>.regimes.<regime>.", "destinations.<dest>.regimes.<regime>.sector_tariffs.<sector>", "number",
     "regime tariff", "[0, 10]", "fraction", "t(d,s,r)", "tariff of one sector in this regime"},
    {"destinations.<dest>.regimes.<regime>.", "destinations.<dest>.regimes.<regime>.statutory_tariffs.<sector>",
     "number", "the effective rate", "[0, 10]", "fraction", "t^stat(d,s,r)",
     "statutory (announced) rate beside the effective one firms pay, at least that rate; reporting only "
     "(/environment/statutory_tariff)"},
    {"destinations.<dest>.regimes.<regime>.", "destinations.<dest>.regimes.<regime>.closed_sectors", "list", "none",
     "sector names", "", "",
     "the regime closes the destination to these sectors only (a sector-specific ban); conflicts with `closed: true`"},
    {"destinations.<dest>.regimes.<regime>.", "destinations.<dest>.transition", "matrix", "[[1]] with one regime",
     "rows sum to 1", "per period", "P_d", "regime transition probabilities, rows and columns in regime order"},
    {"events[].", "events[].transition", "matrix", "-", "rows sum to 1", "per period", "P_d(t)",
     "from this date the destination's regime transition matrix (a list of such events is a time-varying process; "
     "`anticipated` says whether firms know it in advance)"},
    {NULL, "experience.levels", "integer", "1", "[1, " TM_STR(TM_MAX_LEVELS) "]", "levels", "K",
     "experience levels per market (1 = none); (K + 1)^destinations <= " TM_STR(TM_MAX_STATES)},
    {NULL, "experience.demand", "list", "[1, ...]", "(0, 1e6]", "", "", "demand multiplier of level k (level 1 first)"},
    {NULL, "experience.iceberg", "list", "[1, ...]", "(0, 100]", "", "", "iceberg-cost multiplier of level k"},
    {NULL, "experience.fixed_cost", "list", "[1, ...]", "[0, 1e6]", "", "", "fixed-cost multiplier of level k"},
    {NULL, "experience.transition", "matrix", "identity", "rows sum to 1", "per period", "Q",
     "row k: law of next period's level of a firm that keeps serving at level k; entry lands in level 1"},
};

/* The scopes of the descriptor tables in the order --doc lists them. */
typedef struct {
    const char *prefix;
    const pdesc *desc;
    size_t n;
} doc_scope_entry;

/* One Markdown table cell: `|` would end the cell, so it is escaped. */
static void md_cell(sbuf *sb, const char *text)
{
    sb_printf(sb, " ");
    for (const char *c = text; *c; c++) {
        if (*c == '|')
            sb_printf(sb, "\\|");
        else
            sb_printf(sb, "%c", *c);
    }
    sb_printf(sb, " |");
}

static void md_row(sbuf *sb, const char *const *cells, size_t n)
{
    sb_printf(sb, "|");
    for (size_t i = 0; i < n; i++)
        md_cell(sb, cells[i]);
    sb_printf(sb, "\n");
}

static void doc_rows_after(sbuf *sb, const char *after)
{
    for (size_t i = 0; i < COUNT(structural_doc); i++) {
        const doc_row *r = &structural_doc[i];
        if ((r->after == NULL) != (after == NULL) || (after && strcmp(r->after, after) != 0))
            continue;
        char path[200];
        snprintf(path, sizeof path, "`%s`", r->path);
        /* These keys have shapes of their own: the baseline file shows them. */
        const char *cells[] = {path, r->type, r->def, "see the file", r->range, r->unit, r->symbol, r->doc, "-"};
        md_row(sb, cells, COUNT(cells));
    }
}

/* The objects a --doc scope describes in parameters p (a sector's fields:
 * every sector, ...); malloc'd, *n of them (0: none, e.g. no events). */
static const void **scope_objects(const tm_params *p, const char *prefix, size_t *n)
{
    size_t cap = (size_t)p->n_sectors * TM_MAX_DEST + TM_MAX_DEST * TM_MAX_REGIMES + (size_t)p->n_events + 1;
    const void **objs = malloc(cap * sizeof *objs);
    *n = 0;
    if (!objs)
        return NULL;
    if (strcmp(prefix, "sectors.<sector>.") == 0) {
        for (int s = 0; s < p->n_sectors; s++)
            objs[(*n)++] = &p->sector[s];
    } else if (strcmp(prefix, "sectors.<sector>.markets.<dest>.") == 0) {
        for (int s = 0; s < p->n_sectors; s++)
            for (int d = 0; d < p->n_dest; d++)
                objs[(*n)++] = &p->sector[s].market[d];
    } else if (strcmp(prefix, "destinations.<dest>.") == 0) {
        for (int d = 0; d < p->n_dest; d++)
            objs[(*n)++] = &p->dest[d];
    } else if (strcmp(prefix, "destinations.<dest>.market.") == 0) {
        for (int d = 0; d < p->n_dest; d++)
            objs[(*n)++] = &p->dest[d].defaults;
    } else if (strcmp(prefix, "destinations.<dest>.regimes.<regime>.") == 0) {
        for (int d = 0; d < p->n_dest; d++)
            for (int r = 0; r < p->dest[d].n_regimes; r++)
                objs[(*n)++] = &p->dest[d].regime[r];
    } else if (strcmp(prefix, "events[].") == 0) {
        for (int e = 0; e < p->n_events; e++)
            objs[(*n)++] = &p->event[e];
    } else {
        objs[(*n)++] = p;
    }
    return objs;
}

/* The baseline's value of a parameter over the objects of its scope: the
 * value when they agree, "lo to hi" for numbers that vary, "varies"
 * otherwise, "-" when the scope is empty and "(unset)" when the value is. */
static void baseline_cell(const pdesc *d, const void *const *objs, size_t n, char *buf, size_t size)
{
    snprintf(buf, size, n == 0 ? "-" : "(unset)");
    if (n == 0 || !is_set(d, objs[0]))
        return;
    char first[TM_NOTE_MAX + 8], other[TM_NOTE_MAX + 8];
    format_value(d, objs[0], first, sizeof first);
    int same = 1;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        format_value(d, objs[i], other, sizeof other);
        same &= strcmp(first, other) == 0;
        double v = strtod(other, NULL);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    int numeric = d->type == P_INT || d->type == P_INT64 || d->type == P_DOUBLE;
    if (same && d->type == P_DOUBLE)
        snprintf(buf, size, "%.6g", lo);
    else if (same)
        snprintf(buf, size, "%s", first);
    else if (numeric && d->type != P_DOUBLE)
        snprintf(buf, size, "%.0f to %.0f", lo, hi);
    else if (numeric)
        snprintf(buf, size, "%.4g to %.4g", lo, hi);
    else
        snprintf(buf, size, "varies");
}

static void doc_scope(sbuf *sb, const char *prefix, const pdesc *desc, size_t n, const tm_params *baseline)
{
    size_t n_objs = 0;
    const void **objs = scope_objects(baseline, prefix, &n_objs);
    if (!objs) {
        sb->failed = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const pdesc *d = &desc[i];
        char range[160] = "";
        static const char *const type_names[] = {"integer", "integer", "integer", "number", "bool",
                                                 "choice",  "period",  "name",    "text"};
        if (d->type == P_INT || d->type == P_INT64 || d->type == P_DOUBLE) {
            if (d->type != P_DOUBLE)
                snprintf(range, sizeof range, "[%.0f, %.0f]", d->min, d->max);
            else
                snprintf(range, sizeof range, "%s%g, %g%s", d->flags & P_MIN_OPEN ? "(" : "[", d->min, d->max,
                         d->flags & P_MAX_OPEN ? ")" : "]");
        } else if (d->type == P_ENUM) {
            size_t used = 0;
            for (size_t c = 0; d->choices[c] && used < sizeof range; c++)
                used += (size_t)snprintf(range + used, sizeof range - used, "%s%s", c ? "|" : "", d->choices[c]);
        }
        const char *def = d->flags & P_REQUIRED ? "(required)"
                          : d->def              ? (d->def[0] ? d->def : "(see doc)")
                                                : "(unset)";
        char path[200], base[TM_NOTE_MAX + 40];
        snprintf(path, sizeof path, "`%s%s`", prefix, d->key);
        baseline_cell(d, objs, n_objs, base, sizeof base);
        const char *cells[] = {path, type_names[d->type], def, base, range, d->unit, d->symbol, d->doc, d->source};
        md_row(sb, cells, COUNT(cells));
    }
    free(objs);
    doc_rows_after(sb, prefix);
}

char *tm_params_doc(void)
{
    static const doc_scope_entry named[] = {
        {"sectors.<sector>.", sector_desc, COUNT(sector_desc)},
        {"sectors.<sector>.markets.<dest>.", market_desc, COUNT(market_desc)},
        {"destinations.<dest>.", dest_desc, COUNT(dest_desc)},
        {"destinations.<dest>.market.", market_desc, COUNT(market_desc)},
        {"destinations.<dest>.regimes.<regime>.", regime_desc, COUNT(regime_desc)},
        {"events[].", event_desc, COUNT(event_desc)},
    };
    tm_params *baseline = NULL;
    tm_error err = {0};
    if (tm_params_load(NULL, NULL, 0, &baseline, &err))
        return NULL;
    sbuf sb = {0};
    sb_printf(&sb,
              "# tradeabm parameters\n\n"
              "Every parameter, as defined in src/params/params.c. `<sector>`, `<dest>` and `<regime>` stand for "
              "names\n"
              "you choose. Destination `market` values are defaults for every sector's `markets.<dest>`.\n"
              "`default` is the engine's default (what a key left out takes); `baseline` is the value in the\n"
              "built-in Canadian baseline (params/canada_baseline.yaml), a range when it differs across\n"
              "sectors, destinations or regimes.\n\n"
              "| path | type | default | baseline | range | unit | symbol | description | source |\n"
              "|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < COUNT(root_sections); i++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s.", root_sections[i].name);
        doc_scope(&sb, prefix, root_sections[i].desc, root_sections[i].n, baseline);
    }
    for (size_t i = 0; i < COUNT(named); i++)
        doc_scope(&sb, named[i].prefix, named[i].desc, named[i].n, baseline);
    doc_rows_after(&sb, NULL);
    tm_params_free(baseline);
    if (sb.failed) {
        free(sb.buf);
        return NULL;
    }
    return sb.buf;
}

/* ------------------------------------------------------------------------
 * Message helpers shared with other input formats (sweep files), so every
 * input error reads the same way.
 * ---------------------------------------------------------------------- */

int tm_params_fail_at(tm_error *err, const tm_ynode *node, const char *path, const char *fmt, ...)
{
    char detail[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return fail_at(err, node, path, "%s", detail);
}

void tm_params_describe_choices(char *buf, size_t size, const char *found, const char *const *names, size_t n)
{
    describe_choices(buf, size, found, names, n);
}

int tm_params_parse_number(const char *text, double *out)
{
    return parse_double(text, out);
}

int tm_params_parse_integer(const char *text, long long *out)
{
    return parse_int(text, out);
}
