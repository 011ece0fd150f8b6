"""Reference transcription of the AKKRS exporter model, written from the
equations of docs/replication.md (A1-A7) and docs/model.md (sections 2-4
and 8), independently of the engine: it reads no run file and calls no part
of tradeabm. tests/cli/test_replication.py compares the engine with it.

What it computes (for params/replications/akkrs_steady_state.yaml and
akkrs_tariff_cut.yaml, the one-industry model of params/replications/
akkrs_us_china.yaml):

- the productivity chain: Tauchen (1986) on N_Z equally spaced points over
  +-WIDTH unconditional s.d. of z, the two edge cells reaching to infinity,
  each row renormalised (docs/model.md sec. 2; docs/replication.md A1);
  entrants draw z from the stationary law of that chain;
- flow profit of an exporter at experience level k, tariff t (A2; model.md
  eqs. 3 and 14): pi = B Z xi_k^(1 - sigma) (1 + t)^(-sigma), Z =
  exp((sigma - 1) z); export value sigma pi;
- death (A5; model.md eq. 19): d(z) = clip(exp(-delta0 Z) + delta1, 0, 1),
  drawn at last year's z, the firm replaced by a non-exporter with z from
  the entrant law;
- the Bellman equation with timing "next" (A3-A4; model.md eqs. 17, 18,
  21): state m = 0 (not exporting), 1 (new, iceberg xi), 2 (established);
  choosing to export costs kappa0 = F + f from m = 0 (next year m = 1) and
  kappa1 = f from m = 1, 2 (next year's level by the rows of RHO_EXP):

      V(z, m) = pi(z, m) + max{ bd(z) EV(z, 0),
                                -kappa(m) + bd(z) sum_m' L(m' | m) EV(z, m') }
      EV(z, m') = sum_z' P(z, z') V(z', m'),   bd(z) = beta (1 - d(z))

  solved exactly by policy iteration (each policy's value by a linear
  solve), ties going to not exporting;
- exact aggregation (A7; model.md "Exact aggregates"): the mass of firms
  over (served last year, state chosen for this year, z) moved year by
  year through death, the productivity draw, service and the choice, from
  the all-non-exporter start at the stationary law, over the burn-in and
  logged years of the parameter file;
- the moments of analysis/dynamics.py (participation, exit rate with
  exporters' deaths, new-exporter relative size, level shares, death
  rate), averaged over logged years 1.. as steady_state_moments does;
- completed spell lengths by following one entry cohort (in a steady state
  the completed spells of a year have the cohort's length law);
- the tariff-cut path: the column-2 policy and tariff until the cut year,
  the NTR policy and tariff from it (both regimes absorbing: firms see each
  as permanent).

Run `python3 tests/reference/akkrs.py` to print the numbers and rewrite
tests/reference/akkrs_reference.json (about a second).
"""

import json
import math
import os
import sys

import numpy as np

# Parameters of params/replications/akkrs_us_china.yaml (keys in comments);
# test_replication.py checks them against the file.
SIGMA = 3.55                # demand.elasticity (theta)
BETA = 0.96                 # decision.discount (Q)
N_Z = 201                   # productivity.grid
WIDTH = 6.397127578         # productivity.tauchen_width
RHO_Z = 0.65                # sectors.china.persistence
VOL_Z = 0.5176470588        # sectors.china.volatility (innovation s.d. of log productivity)
DELTA0 = 21.04284098        # sectors.china.death_slope
DELTA1 = 0.02258301         # sectors.china.death_shift
DEMAND = 0.1481481481       # destinations.US.market.demand (B)
ICEBERG = 1.0               # destinations.US.market.iceberg
FIXED = 0.3                 # destinations.US.market.fixed_cost (f = kappa1)
SUNK = 0.2                  # destinations.US.market.sunk_cost (F = kappa0 - kappa1)
XI = (2.6, 1.0)             # experience.iceberg, levels 1 and 2
LEVEL_DEMAND = (1.0, 1.0)   # experience.demand
LEVEL_FIXED = (1.0, 1.0)    # experience.fixed_cost
RHO_EXP = ((0.87, 0.13), (0.13, 0.87))  # experience.transition
TARIFF = {"ntr": 0.04, "column2": 0.37}  # destinations.US.regimes.*.tariff

# Run shapes of the two scenario files.
STEADY = {"burn_in": 100, "periods": 40}                         # akkrs_steady_state.yaml
CUT = {"burn_in": 100, "periods": 33, "cut_index": 2}            # akkrs_tariff_cut.yaml (1998..2030, cut 2000)

HERE = os.path.dirname(os.path.abspath(__file__))
JSON_PATH = os.path.join(HERE, "akkrs_reference.json")


def normal_mass(lo, hi):
    """P(lo < X <= hi), X standard normal, from the tail nearer the cell so
    that far-out cells keep their precision (erfc of an infinite argument
    is 0 or 2)."""
    if lo > 0.0:
        return 0.5 * (math.erfc(lo / math.sqrt(2.0)) - math.erfc(hi / math.sqrt(2.0)))
    return 0.5 * (math.erfc(-hi / math.sqrt(2.0)) - math.erfc(-lo / math.sqrt(2.0)))


def tauchen(n, rho, sigma, width):
    """Grid and transition matrix (row i: law of z' given z_i)."""
    sd = sigma / math.sqrt(1.0 - rho * rho)
    z = np.linspace(-width * sd, width * sd, n)
    half = (z[1] - z[0]) / 2.0
    P = np.empty((n, n))
    for i in range(n):
        # Cell edges as standard scores of z' given z_i; the end cells are open.
        edges = [-math.inf] + [(z[j] + half - rho * z[i]) / sigma for j in range(n - 1)] + [math.inf]
        row = np.array([max(normal_mass(edges[j], edges[j + 1]), 0.0) for j in range(n)])
        P[i] = row / row.sum()
    return z, P


def stationary(P):
    """pi = pi P, sum pi = 1, by a linear solve."""
    n = P.shape[0]
    A = P.T - np.eye(n)
    A[-1, :] = 1.0
    b = np.zeros(n)
    b[-1] = 1.0
    pi = np.linalg.solve(A, b)
    return np.maximum(pi, 0.0) / np.maximum(pi, 0.0).sum()


class Model:
    """Tables that do not depend on the tariff."""

    def __init__(self):
        self.z, self.P = tauchen(N_Z, RHO_Z, VOL_Z, WIDTH)
        self.pi = stationary(self.P)
        self.Z = np.exp((SIGMA - 1.0) * self.z)
        self.death = np.clip(np.exp(-DELTA0 * self.Z) + DELTA1, 0.0, 1.0)
        self.bd = BETA * (1.0 - self.death)
        # Law of next year's state when exporting, by current state m.
        self.law_in = np.array([[0.0, 1.0, 0.0],
                                [0.0, RHO_EXP[0][0], RHO_EXP[0][1]],
                                [0.0, RHO_EXP[1][0], RHO_EXP[1][1]]])
        self.cost_in = np.array([SUNK + FIXED * LEVEL_FIXED[0], FIXED * LEVEL_FIXED[0], FIXED * LEVEL_FIXED[1]])

    def profit(self, tariff):
        """[3, N_Z]: operating profit at state m (0 for m = 0)."""
        out = np.zeros((3, N_Z))
        for k in (1, 2):
            weight = (LEVEL_DEMAND[k - 1] * DEMAND * (ICEBERG * XI[k - 1]) ** (1.0 - SIGMA)
                      * (1.0 + tariff) ** (-SIGMA))
            out[k] = weight * self.Z
        return out

    def policy(self, tariff):
        """Exporting choice go[m, z] of the stationary problem at a constant
        tariff, the value V[m, z] and the smallest gap between the two
        choices' values over all (m, z)."""
        flow = self.profit(tariff)
        n = N_Z
        go = np.zeros((3, n), dtype=bool)
        for _ in range(200):
            # Value of the policy: V = flow - cost + bd * (continuation under go).
            M = np.zeros((3 * n, 3 * n))
            r = flow.copy()
            for m in range(3):
                for mn in range(3):
                    w = np.where(go[m], self.law_in[m, mn], 1.0 if mn == 0 else 0.0)
                    if not w.any():
                        continue
                    M[m * n:(m + 1) * n, mn * n:(mn + 1) * n] += (self.bd * w)[:, None] * self.P
                r[m] -= np.where(go[m], self.cost_in[m], 0.0)
            V = np.linalg.solve(np.eye(3 * n) - M, r.ravel()).reshape(3, n)
            EV = V @ self.P.T                      # EV[m', z] = sum_z' P(z, z') V(m', z')
            stay_out = self.bd * EV[0]
            export = -self.cost_in[:, None] + self.bd[None, :] * (self.law_in @ EV)
            new_go = export > stay_out[None, :]
            if np.array_equal(new_go, go):
                return go, V, float(np.min(np.abs(export - stay_out[None, :])))
            go = new_go
        raise RuntimeError("policy iteration did not converge")


def year(model, mass, go):
    """One year of exact aggregation from mass[prev, m, z] (served last year,
    state chosen for this year, last year's z): deaths at last year's z,
    entrants at pi serving nothing, survivors' productivity draw, service,
    then the choice go[m, z] for next year. Returns the deaths, the
    survivors after their draw [prev, m, z], the firms now [m, z] and the
    mass for next year."""
    dead = float((mass * model.death).sum())
    moved = (mass * (1.0 - model.death)) @ model.P
    now = moved.sum(axis=0)
    now[0] += dead * model.pi
    nxt = np.zeros_like(mass)
    for m in range(3):
        prev = 1 if m > 0 else 0
        nxt[prev, 0] += np.where(go[m], 0.0, now[m])
        for mn in (1, 2):
            nxt[prev, mn] += np.where(go[m], now[m] * model.law_in[m, mn], 0.0)
    return dead, moved, now, nxt


def run_path(model, policies, tariffs, burn_in):
    """Exact aggregation over len(policies) years (burn-in first) from the
    all-non-exporter start at pi; returns the logged years' series (counts
    as shares of the firms) and the entrants' productivity law [z] of the
    last year."""
    mass = np.zeros((2, 3, N_Z))
    mass[0, 0] = model.pi
    names = ("serving", "entrants", "exiters", "deaths", "export_value", "entrant_export_value", "level1", "level2")
    out = {k: [] for k in names}
    for t, (go, tariff) in enumerate(zip(policies, tariffs)):
        dead, moved, now, nxt = year(model, mass, go)
        value = SIGMA * model.profit(tariff)
        if t >= burn_in:
            out["serving"].append(float(now[1:].sum()))
            out["entrants"].append(float(moved[0, 1:].sum()))
            # Served last year and not this year: stopped, or died.
            out["exiters"].append(float(mass[1].sum()) - float(moved[1, 1:].sum()))
            out["deaths"].append(dead)
            out["export_value"].append(float((now * value).sum()))
            out["entrant_export_value"].append(float((moved[0] * value).sum()))
            out["level1"].append(float(now[1].sum()))
            out["level2"].append(float(now[2].sum()))
        entrants_z = moved[0, 1]
        mass = nxt
    return {k: np.array(v) for k, v in out.items()}, entrants_z


def moments(s):
    """analysis.dynamics.steady_state_moments over logged years 1.."""
    sl = slice(1, None)
    exit_rate = s["exiters"][1:] / s["serving"][:-1]
    size = (s["entrant_export_value"] / s["entrants"]) / (s["export_value"] / s["serving"])
    level_total = s["level1"] + s["level2"]
    return {
        "participation": float(np.mean(s["serving"][sl])),
        "exit_rate": float(np.mean(exit_rate)),
        "new_exporter_relative_size": float(np.mean(size[sl])),
        "share_level1": float(np.mean((s["level1"] / level_total)[sl])),
        "share_level2": float(np.mean((s["level2"] / level_total)[sl])),
        "death_rate": float(np.mean(s["deaths"][sl])),
        "export_value_per_firm": float(np.mean(s["export_value"][sl])),
    }


def spell_lengths(model, go, entrants_z, max_length=200):
    """P(length = l), l = 1..max_length, of an export spell begun by entrants
    at productivity law entrants_z: each year the exporter chooses (go) and,
    continuing, survives d(z) and draws z'."""
    serving = np.zeros((3, N_Z))
    serving[1] = entrants_z / entrants_z.sum()
    law = []
    for _ in range(max_length):
        total = serving.sum()
        nxt = np.zeros_like(serving)
        for m in (1, 2):
            cont = np.where(go[m], serving[m], 0.0) * (1.0 - model.death)
            for mn in (1, 2):
                nxt[mn] += (cont * model.law_in[m, mn]) @ model.P
        law.append(total - nxt.sum())
        serving = nxt
    return np.array(law)


def compute():
    model = Model()
    go_ntr, _, gap_ntr = model.policy(TARIFF["ntr"])
    go_col2, _, gap_col2 = model.policy(TARIFF["column2"])

    years = STEADY["burn_in"] + STEADY["periods"]
    # The last year's entrants give the spells' starting law (a steady state
    # repeats itself).
    steady, entrants_z = run_path(model, [go_ntr] * years, [TARIFF["ntr"]] * years, STEADY["burn_in"])
    ss = moments(steady)

    spells = spell_lengths(model, go_ntr, entrants_z)
    cum = np.cumsum(spells) / spells.sum()

    cut = CUT["cut_index"]
    years = CUT["burn_in"] + CUT["periods"]
    first = CUT["burn_in"] + cut
    pol = [go_col2] * first + [go_ntr] * (years - first)
    tar = [TARIFF["column2"]] * first + [TARIFF["ntr"]] * (years - first)
    path, _ = run_path(model, pol, tar, CUT["burn_in"])
    x = path["export_value"]

    return {
        "source": "tests/reference/akkrs.py (numpy transcription of docs/replication.md A1-A7)",
        "smallest_choice_gap": {"ntr": gap_ntr, "column2": gap_col2},
        "steady_state": ss,
        "spells": {
            "share_by_length": [float(v) for v in spells[:10] / spells.sum()],
            "cumulative_by_length": [float(v) for v in cum[:10]],
            "median": int(np.searchsorted(cum, 0.5)) + 1,
            "mean": float(np.sum(np.arange(1, len(spells) + 1) * spells) / spells.sum()),
        },
        "tariff_cut": {
            "cut_index": cut,
            "export_value_per_firm": [float(v) for v in x],
            "participation": [float(v) for v in path["serving"]],
            "impact_ratio": float(x[cut] / x[cut - 1]),
            "share_of_long_run_change": [float(v) for v in np.log(x[cut:] / x[cut - 1]) / np.log(x[-1] / x[cut - 1])],
        },
    }


def main(argv):
    ref = compute()
    text = json.dumps(ref, indent=1, sort_keys=True) + "\n"
    if "--check" not in argv:
        with open(JSON_PATH, "w") as f:
            f.write(text)
    print(json.dumps({k: ref[k] for k in ("steady_state", "smallest_choice_gap")}, indent=1))
    print("spells", ref["spells"]["share_by_length"][:4], "median", ref["spells"]["median"])
    print("cut shares", np.round(ref["tariff_cut"]["share_of_long_run_change"][:11], 6))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
