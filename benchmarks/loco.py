"""Leave-one-group-out (LOCO) choice of tunables, shared by ``nab.py`` (groups = NAB categories)
and ``forecast.py`` (groups = series groups).

A *grid* is a dict of named tunables -> candidate values; a *setting* is one value per tunable.
For each held-out group the setting is chosen on the other groups only (by an objective the
caller computes from results it caches), then applied to the held-out group. The product's
defaults come first in the candidate list and win ties, so a tunable that makes no difference
on the held-in groups stays at its default.
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


def choose(candidates: Sequence[Setting], objective: Callable[[Setting], float]) -> tuple[Setting, float]:
    """The candidate with the highest objective; the earliest wins ties (defaults come first)."""
    best, best_value = candidates[0], objective(candidates[0])
    for cand in candidates[1:]:
        value = objective(cand)
        if value > best_value + 1e-9:
            best, best_value = cand, value
    return best, best_value


def leave_one_out(
    groups: Sequence[str],
    candidates: Sequence[Setting],
    objective: Callable[[Setting, tuple[str, ...]], float],
) -> dict[str, tuple[Setting, float]]:
    """For each group: the setting chosen on all the *other* groups, and its objective there.

    ``objective(setting, groups)`` scores a setting on a set of groups (higher is better); it is
    called with every held-in set, so it should read cached results, not recompute them.
    """
    out = {}
    for held_out in groups:
        held_in = tuple(g for g in groups if g != held_out)
        out[held_out] = choose(candidates, lambda s, held_in=held_in: objective(s, held_in))
    return out
