"""Leave-one-group-out (LOCO) choice of tunables, shared by ``nab.py`` (groups = NAB categories)
and ``forecast.py`` (groups = series groups).

A *grid* is a dict of named tunables -> candidate values; a *setting* is one value per tunable.
For each held-out group the setting is chosen on the other groups only (by an objective the
caller computes from results it caches), then applied to the held-out group. Ties go to the
candidate closest to the product's defaults, so a tunable that makes no difference on the
held-in groups stays at its default.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Setting = dict[str, Any]


def settings(grid: Mapping[str, Sequence[Any]], defaults: Mapping[str, Any]) -> list[Setting]:
    """Every combination of the grid's values, the defaults' combination first."""
    names = list(grid)
    default = {n: defaults[n] for n in names}
    combos = [dict(zip(names, values, strict=True)) for values in itertools.product(*(grid[n] for n in names))]
    if default not in combos:
        combos.append(default)
    combos.sort(key=lambda s: s != default)  # stable: the rest keep the grid's order
    return combos


def key(setting: Mapping[str, Any]) -> str:
    """A stable, file-name-safe name for a setting, e.g. ``cooldown=100,sensitivity=0.1``."""
    return ",".join(f"{k}={json.dumps(v, sort_keys=True).replace('/', '_')}" for k, v in sorted(setting.items()))


def describe(setting: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    """Only what differs from the defaults ("defaults" if nothing does)."""
    diff = [f"{k}={v}" for k, v in setting.items() if defaults.get(k, object()) != v]
    return ", ".join(diff) if diff else "defaults"


def choose(
    candidates: Sequence[Setting],
    objective: Callable[[Setting], float],
    defaults: Mapping[str, Any] | None = None,
) -> tuple[Setting, float]:
    """The candidate with the highest objective. Among ties (within 1e-9) the one that moves the
    fewest tunables away from ``defaults`` wins, then the earliest: a tunable that changes nothing
    on the held-in groups stays at its default."""
    defaults = defaults or candidates[0]

    def moved(s: Setting) -> int:
        return sum(1 for k, v in s.items() if defaults.get(k, object()) != v)

    values = [objective(c) for c in candidates]
    best_value = max(values)
    tied = [i for i, v in enumerate(values) if v >= best_value - 1e-9]
    i = min(tied, key=lambda i: (moved(candidates[i]), i))
    return candidates[i], values[i]


def leave_one_out(
    groups: Sequence[str],
    candidates: Sequence[Setting],
    objective: Callable[[Setting, tuple[str, ...]], float],
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, tuple[Setting, float]]:
    """For each group: the setting chosen on all the *other* groups, and its objective there.

    ``objective(setting, groups)`` scores a setting on a set of groups (higher is better); it is
    called with every held-in set, so it should read cached results, not recompute them.
    """
    out = {}
    for held_out in groups:
        held_in = tuple(g for g in groups if g != held_out)
        out[held_out] = choose(candidates, lambda s, held_in=held_in: objective(s, held_in), defaults)
    return out


def choose_staged(
    candidates: Sequence[Setting],
    stages: Sequence[tuple[Sequence[str], Callable[[Setting], float]]],
    defaults: Mapping[str, Any],
) -> tuple[Setting, float]:
    """Tunables chosen in stages, each by its own objective: stage i chooses its names among the
    candidates whose earlier-stage tunables hold the values already chosen and whose later-stage
    tunables are at their defaults (e.g. a forecaster's point model by MASE, then its intervals by
    coverage given that model). Only the candidates a stage looks at are scored, so a caller that
    computes results on demand runs just those. Returns the setting and the last stage's value."""
    fixed: dict[str, Any] = {}
    later = [name for names, _ in stages for name in names]
    value = float("nan")
    chosen: Setting = dict(candidates[0])
    for names, objective in stages:
        later = [n for n in later if n not in names]
        pool = [
            c
            for c in candidates
            if all(c[k] == v for k, v in fixed.items()) and all(c[k] == defaults[k] for k in later)
        ]
        chosen, value = choose(pool, objective, defaults)
        fixed.update({k: chosen[k] for k in names})
    return chosen, value


def leave_one_out_staged(
    groups: Sequence[str],
    candidates: Sequence[Setting],
    stages: Sequence[tuple[Sequence[str], Callable[[Setting, tuple[str, ...]], float]]],
    defaults: Mapping[str, Any],
) -> dict[str, tuple[Setting, float]]:
    """``leave_one_out`` with ``choose_staged``: for each group, every stage chosen on the others."""
    out = {}
    for held_out in groups:
        held_in = tuple(g for g in groups if g != held_out)
        per_stage = [(names, lambda s, f=f, held_in=held_in: f(s, held_in)) for names, f in stages]
        out[held_out] = choose_staged(candidates, per_stage, defaults)
    return out
