"""Scoring a block of consecutive samples with the very arithmetic of streaming them, for less work.

``PluginDetector.update_many`` runs the per-sample sequence of ``update`` (score, calibrate, fuse, judge, learn),
but each metric's detectors read their statistics from structures kept across the block instead of recomputing them
from the whole history at every sample: sorted windows give medians, MADs and the nearest past value in O(log n);
the nearest past shape of the m=8 discord is found for the whole block with matrix products and confirmed with the
detector's own distance formula; calibrators count past scores in a sorted list. Every number is produced by the
same floating-point operations on the same values as in streaming, so the verdicts and the final state are bit-for-
bit those of calling ``update`` once per sample.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .calibration import _REFRESH_EVERY, _TAIL_FRACTION, TailCalibrator
from .channel import MAX_SURPRISE, MetricChannel, MetricReading, _mean, fisher_surprise
from .detectors import _MAD_TO_SIGMA, LevelShift, SeasonalBaseline, SubsequenceDiscord, robust_location_scale

__all__ = ["CalibratorSteps", "ChannelSteps", "SortedWindow", "discord_min_d2", "supports_block"]

_LOG10_2 = math.log10(2.0)
# The dot-product estimate of a squared distance and the detector's own formula each differ from
# the exact value by at most ~50 roundings (~1e-14) of the two windows' energies; a window whose
# estimate exceeds the best one by twice this tolerance (1000 times that) cannot be the nearest.
_CANDIDATE_TOLERANCE = 1e-11
# Multiply-adds per matrix product of the candidate search: below OpenBLAS's threshold for
# running a product on several threads (2**18), whose workers would then spin on a core for
# ~0.1 CPU-s after each product (measured), for products that take ~50 us.
_PRODUCT_SIZE = 200_000
_NEAREST, _SHAPE, _LEVEL, _SEASONAL = range(4)  # the detectors ChannelSteps reproduces


def _has_negative_zero(values: np.ndarray) -> bool:
    return bool(np.any(np.signbit(values) & (values == 0.0)))


_LGAMMA = [math.lgamma(i + 1) for i in range(16)]  # log(i!) for Fisher's terms


def _fisher_surprise(surprises: list[float]) -> float:
    """``channel.fisher_surprise``, the same operations (log(i!) and log(y) computed once)."""
    y = math.log(10.0) * sum(surprises)
    if y <= 0.0:
        return 0.0
    if len(surprises) > len(_LGAMMA):
        return fisher_surprise(surprises)
    log_y = math.log(y)
    terms = [i * log_y - _LGAMMA[i] for i in range(len(surprises))]
    top = max(terms)
    log_tail = -y + top + math.log(sum([math.exp(t - top) for t in terms]))
    return max(0.0, -log_tail / math.log(10.0))


class SortedWindow:
    """``seq[lo:hi]`` kept sorted while the window slides forward over a growing sequence.

    ``robust()`` returns what ``robust_location_scale(seq[lo:hi])`` returns: the median and the
    MAD are order statistics, read here from the sorted values (the MAD as an order statistic of
    the distances, which decrease then increase along the sorted values) instead of partitioning
    the window again. The detector's fallback for a zero MAD (the mean distance, whose sum
    depends on the order) is computed on the window in its order, and a window holding a -0.0
    (whose median could be either zero) is handed to ``robust_location_scale`` itself.
    ``seq`` is the sequence as a list (fast to read one value at a time) and ``arr`` the same
    values as an array, at least up to ``hi``.
    """

    __slots__ = ("seq", "arr", "lo", "hi", "values", "signed_zero", "split")

    def __init__(self, seq: list[float], arr: np.ndarray, lo: int, hi: int) -> None:
        self.seq, self.arr = seq, arr
        self.lo, self.hi = lo, hi
        window = arr[lo:hi]
        self.values = np.sort(window).tolist()
        self.signed_zero = _has_negative_zero(window)
        self.split = 0  # where the last MAD was found: the next one is near

    def __len__(self) -> int:
        return self.hi - self.lo

    def move(self, lo: int, hi: int) -> None:
        """Slide to ``seq[lo:hi]`` (both ends only move forward)."""
        if lo >= self.hi or (lo - self.lo) + (hi - self.hi) > len(self.values):
            self.__init__(self.seq, self.arr, lo, hi)  # type: ignore[misc]
            return
        values, seq = self.values, self.seq
        for v in seq[self.lo : lo]:
            del values[bisect_left(values, v)]
        for v in seq[self.hi : hi]:
            if v == 0.0 and math.copysign(1.0, v) < 0.0:
                self.signed_zero = True
            insort(values, v)
        self.lo, self.hi = lo, hi

    def robust(self) -> tuple[float, float]:
        if self.signed_zero:
            return robust_location_scale(self.arr[self.lo : self.hi])
        s = self.values
        n = len(s)
        k = n // 2
        med = s[k] if n % 2 else 0.5 * (s[k - 1] + s[k])
        mad, self.split = _median_distance(s, med, self.split)
        scale = _MAD_TO_SIGMA * mad
        if scale <= 0.0:  # robust_location_scale's fallbacks, on the window in its order
            scale = float(np.abs(self.arr[self.lo : self.hi] - med).mean())
            if scale <= 0.0:
                scale = 1e-6 * max(abs(med), 1.0)
        return med, scale

    def nearest_distance(self, x: float) -> float:
        """min |v - x| over the window (the distances are a valley along the sorted values)."""
        s = self.values
        p = bisect_left(s, x)
        d = abs(s[p] - x) if p < len(s) else math.inf
        if p > 0:
            d = min(d, abs(s[p - 1] - x))
        return d


def _median_distance(s: list[float], med: float, guess: int) -> tuple[float, int]:
    """``median(|s - med|)`` for sorted ``s``, and where it was found (the next call's ``guess``).

    The distances of the values below ``med``, read downwards, and of the others, read upwards,
    are two sorted runs; the wanted order statistic of their union is found by searching how
    many of the smallest distances come from the first run (galloping from ``guess``, since
    consecutive windows differ by a value or two).
    """
    n = len(s)
    r = n // 2 - 1 if n % 2 == 0 else n // 2  # even: the (n/2 - 1)th and (n/2)th distances
    p = bisect_left(s, med)
    below, above = p, n - p
    # takes(i): the r + 1 smallest can hold i distances from below (true up to the answer).
    lo, hi = max(0, r + 1 - above), min(r + 1, below)
    i = min(max(guess, lo), hi)
    if i == lo or r + 1 - i == above or abs(s[p - i] - med) <= abs(s[p + r + 1 - i] - med):
        lo, step = i, 1
        while i + step <= hi:
            t = i + step
            if r + 1 - t == above or abs(s[p - t] - med) <= abs(s[p + r + 1 - t] - med):
                lo, step = t, 2 * step
            else:
                hi = t - 1
                break
    else:
        hi, step = i - 1, 1
        while i - step > lo:
            t = i - step
            if r + 1 - t == above or abs(s[p - t] - med) <= abs(s[p + r + 1 - t] - med):
                lo = t
                break
            hi, step = t - 1, 2 * step
    while lo < hi:
        mid = (lo + hi + 1) // 2
        j = r + 1 - mid
        if j == above or abs(s[p - mid] - med) <= abs(s[p + j] - med):
            lo = mid
        else:
            hi = mid - 1
    i, j = lo, r + 1 - lo
    last = max(abs(s[p - i] - med) if i > 0 else -math.inf, abs(s[p + j - 1] - med) if j > 0 else -math.inf)
    if n % 2:
        return last, i
    following = min(abs(s[p - 1 - i] - med) if i < below else math.inf, abs(s[p + j] - med) if j < above else math.inf)
    return 0.5 * (last + following), i


class CalibratorSteps:
    """``TailCalibrator.surprise(raw)`` then ``learn_one(raw)``, counting past scores in a sorted list.

    The calibrator's own ring, counters and tail estimate are updated as ``learn_one`` updates
    them (the tail is re-estimated by the calibrator's own ``_refresh``), so it is left exactly
    as streaming leaves it.
    """

    __slots__ = ("cal", "ring", "values")

    def __init__(self, cal: TailCalibrator) -> None:
        self.cal = cal
        self.ring = cal._scores
        self.values = np.sort(self.ring.unordered()).tolist()

    def step(self, raw: float) -> float:
        cal, ring = self.cal, self.ring
        n = ring.count
        finite = math.isfinite(raw)
        if n < cal.min_count or not finite:
            p = 1.0
        else:
            if cal._since_refresh >= _REFRESH_EVERY:
                cal._refresh()
            if raw <= cal._u:
                p = (n - bisect_left(self.values, raw) + 1) / (n + 1)
            else:
                tail_mass = max(int(n * _TAIL_FRACTION), 5) / (n + 1)
                p = tail_mass * math.exp(-(raw - cal._u) / cal._beta)
        surprise = -math.log10(max(p, 1e-300))
        if finite:
            cal._seen += 1
            if n < cal.capacity or cal._seen % cal.stride == 0:
                values = self.values
                if n == ring.capacity:  # the oldest score is overwritten
                    del values[bisect_left(values, float(ring._data[ring._pos]))]
                insort(values, raw)
                ring.append(raw)
                cal._since_refresh += 1
        return surprise


def discord_min_d2(seq: np.ndarray, positions: np.ndarray, m: int, capacity: int) -> np.ndarray:
    """For each position g, what ``SubsequenceDiscord(m)._score`` minimises: the squared distance
    (``einsum`` over ``window - query``, as the detector computes it) from ``seq[g-m+1 : g+1]`` to
    the nearest window of its history ``seq[max(0, g - capacity) : g]`` ending m samples before g.

    Candidates come from the dot-product form on centred values (one matrix product for several
    positions); only windows within its rounding error of the best estimate are measured with
    the detector's formula, and the least of those is the detector's minimum, to the bit.
    NaN where the history is too short to score (fewer than 3m values).
    """
    out = np.full(len(positions), np.nan)
    n_hist = positions - np.maximum(0, positions - capacity)
    ready = np.flatnonzero(n_hist >= 3 * m)
    if not len(ready):
        return out
    seq = np.ascontiguousarray(seq, dtype=float)
    offsets = np.arange(m)
    first_all = positions - n_hist  # candidate windows start from here ...
    last_all = positions - 2 * m + 1  # ... to here
    centred = seq - float(np.median(seq))
    if not np.abs(centred).max() < 1e100:  # squares could overflow the estimates: measure everything
        for r in ready:
            g = int(positions[r])
            j = np.arange(first_all[r], last_all[r] + 1)
            diff = seq[j[:, None] + offsets] - seq[g - m + 1 : g + 1]
            out[r] = np.einsum("ij,ij->i", diff, diff).min()
        return out
    stride = seq.strides[0]
    cwin = as_strided(centred, shape=(len(seq) - m + 1, m), strides=(stride, stride))
    energy = np.einsum("ij,ij->i", cwin, cwin)
    groups: np.ndarray | None = None  # windows of identical values share a group (found when needed)
    first_of = np.empty(0, dtype=int)
    # r positions x at most (capacity + r) windows x m multiply-adds per product
    per_product = max(1, int((math.sqrt(capacity**2 + 4 * _PRODUCT_SIZE / m) - capacity) / 2))
    for start in range(0, len(ready), per_product):
        rows = ready[start : start + per_product]
        first, last = first_all[rows], last_all[rows]
        q = positions[rows] - m + 1
        lo, hi = int(first.min()), int(last.max()) + 1
        # |w - q|^2 = |w|^2 - 2 w.q + |q|^2; |q|^2 is the same along a row, so it is left out.
        estimate = (-2.0 * cwin[q]) @ cwin[lo:hi].T
        estimate += energy[lo:hi]
        for i in range(len(rows)):
            estimate[i, : first[i] - lo] = np.inf
            estimate[i, last[i] - lo + 1 :] = np.inf
        slack = _CANDIDATE_TOLERANCE * (float(energy[lo:hi].max()) + energy[q])
        nearest = estimate.argmin(axis=1)
        near = estimate <= (estimate[np.arange(len(rows)), nearest] + 2.0 * slack)[:, None]
        ties = np.flatnonzero(np.count_nonzero(near, axis=1) > 1)
        if len(ties):  # usually the best estimate is the only candidate
            tie_r, tie_c = np.nonzero(near[ties])
            single = np.ones(len(rows), dtype=bool)
            single[ties] = False
            r = np.concatenate([np.flatnonzero(single), ties[tie_r]])
            c = np.concatenate([nearest[single], tie_c])
        else:
            r, c = np.arange(len(rows)), nearest
        j = lo + c
        if len(r) > 4 * len(rows):  # many near-ties (flat stretches): identical windows measure the same
            if groups is None:
                _, groups = np.unique(
                    as_strided(seq, shape=cwin.shape, strides=(stride, stride)), axis=0, return_inverse=True
                )
                groups = groups.ravel()
                first_of = np.full(int(groups.max()) + 1, len(groups))
                np.minimum.at(first_of, groups, np.arange(len(groups)))
            key = np.unique(r * len(first_of) + groups[j])
            r, j = key // len(first_of), first_of[key % len(first_of)]
        diff = seq[j[:, None] + offsets] - seq[q[r][:, None] + offsets]
        d2 = np.einsum("ij,ij->i", diff, diff)
        best = np.full(len(rows), np.inf)
        np.minimum.at(best, r, d2)
        out[rows] = best
    return out


def supports_block(channel: MetricChannel) -> bool:
    """Whether ``ChannelSteps`` reproduces this channel: the default kinds of detectors, the
    discords sharing the first detector's history (the layout every channel is built with)."""
    dets = channel.detectors
    if not dets or not isinstance(dets[0], SubsequenceDiscord) or not dets[0]._owns_history:
        return False
    kinds = [type(d) for d in dets]
    if kinds.count(LevelShift) > 1 or kinds.count(SeasonalBaseline) > 1:
        return False
    for det in dets:
        if isinstance(det, SubsequenceDiscord):
            if det.history is not dets[0].history:
                return False
        elif isinstance(det, SeasonalBaseline):
            if det.lags > 8:
                return False
        elif not isinstance(det, LevelShift) or det.recent > 8:
            return False
    return True


def _median_small(values: list[float]) -> float:
    """``detectors.median`` of at most 8 values (it sorts a list there too)."""
    ordered = sorted(values)
    k = len(ordered) // 2
    return float(ordered[k]) if len(ordered) % 2 else 0.5 * (float(ordered[k - 1]) + float(ordered[k]))


class ChannelSteps:
    """One metric's ``MetricChannel.update`` / ``skip`` over a block, with the block's values known.

    ``values`` are the metric's values at the samples of the block where it is present, in order
    (the discords and the level shift see those only). The channel's own objects (histories,
    residuals, calibrators, recent ring) are updated sample by sample as streaming updates them.
    """

    def __init__(self, channel: MetricChannel, values: np.ndarray) -> None:
        self.channel = channel
        dets = channel.detectors
        self.names = channel._names()
        self.owner = dets[0]
        self.cap = self.owner.history.capacity
        disc = np.concatenate([self.owner.history.view(), values])
        self.disc: list[float] = disc.tolist()
        self.disc_arr = disc
        self.g = self.owner.history.count  # index in ``disc`` of the next value
        self.disc_window = SortedWindow(self.disc, disc, max(0, self.g - self.cap), self.g)
        self.band_window: SortedWindow | None = None
        self.kinds: list[str] = []
        self.min_d2: dict[int, np.ndarray] = {}
        positions = np.arange(self.g, self.g + len(values))
        self.level: LevelShift | None = None
        self.seasonal: SeasonalBaseline | None = None
        for det in dets:
            if isinstance(det, SubsequenceDiscord):
                self.kinds.append("nearest" if det.m == 1 else "shape")
                if det.m > 1 and det.m not in self.min_d2:
                    self.min_d2[det.m] = discord_min_d2(disc, positions, det.m, self.cap)
            elif isinstance(det, LevelShift):
                self.kinds.append("level")
                self.level = det
            else:
                self.kinds.append("seasonal")
                self.seasonal = det
        if self.level is not None:
            hist = self.level.history
            self.lev_cap = hist.capacity
            lev = np.concatenate([hist.view(), values])
            self.lev: list[float] = lev.tolist()
            self.gl = hist.count
            llo = max(0, self.gl - hist.capacity)  # the reference: all but the newest recent - 1
            self.lev_window = SortedWindow(self.lev, lev, llo, max(llo, self.gl - self.level.recent + 1))
        if self.seasonal is not None:
            self.season_cap = self.seasonal.history.capacity
            self.resid_cap = self.seasonal.residuals.capacity
            self.season: list[float] = self.seasonal.history.view().tolist()
            resid = self.seasonal.residuals.view()
            self.resid: list[float] = resid.tolist()
            self.resid_arr = np.empty(len(resid) + len(values))  # room for a residual per update
            self.resid_arr[: len(resid)] = resid
            self.resid_window = SortedWindow(self.resid, self.resid_arr, 0, len(resid))
        self.cals = [CalibratorSteps(c) for c in channel.calibrators]
        self.sustained = CalibratorSteps(channel.sustained)
        self.recent = channel.recent.view().tolist()
        self.recent_cap = channel.recent.capacity
        self.u = 0  # updates done
        # Per detector, in order: what it is, its one parameter, its calibrator.
        codes = {"nearest": _NEAREST, "shape": _SHAPE, "level": _LEVEL, "seasonal": _SEASONAL}
        params = [getattr(d, "m", None) or getattr(d, "recent", None) for d in dets]
        self.plan = [(codes[k], p, c) for k, p, c in zip(self.kinds, params, self.cals, strict=True)]

    # -- the seasonal baseline --------------------------------------------------------------

    def _seasonal_expected(self) -> float:
        det = self.seasonal
        assert det is not None
        period, s = det.period, self.season
        n = min(len(s), det.history.capacity)
        return _median_small([s[len(s) - k * period] for k in range(1, det.lags + 1) if n - k * period >= 0])

    def skip(self) -> None:
        """``MetricChannel.skip``: the seasonal slot of a missing sample holds its expected value."""
        det = self.seasonal
        if det is None:
            return
        n = min(len(self.season), det.history.capacity)
        if n >= det.period + 1:
            v = self._seasonal_expected()
        elif n:
            v = self.season[-1]
        else:
            return
        self.season.append(v)
        det.history.append(v)

    # -- one sample ---------------------------------------------------------------------------

    def update(self, x: float) -> MetricReading:
        """``MetricChannel.update(x)``: score with everything learned so far, then learn ``x``."""
        g = self.g
        lo = g - self.cap if g > self.cap else 0
        det_s = self.seasonal
        expected = resid_scale = None
        band = None
        if det_s is not None and min(len(self.season), self.season_cap) > det_s.period:  # seasonal ready
            expected = self._seasonal_expected()
            resid = self.resid
            rlo = max(0, len(resid) - self.resid_cap)
            if len(resid) - rlo >= 10:
                self.resid_window.move(rlo, len(resid))
                resid_scale = self.resid_window.robust()[1]
                band = (expected, expected - 3.0 * resid_scale, expected + 3.0 * resid_scale)
        if band is None:
            blo = max(0, g - 256)
            if g - blo >= 10:
                if self.band_window is None:
                    self.band_window = SortedWindow(self.disc, self.disc_arr, blo, g)
                else:
                    self.band_window.move(blo, g)
                med, scale = self.band_window.robust()
                band = (med, med - 3.0 * scale, med + 3.0 * scale)

        n_disc = g - lo
        disc_scale, novel = 0.0, True  # novel: outside the remembered range (``MetricChannel._novel``)
        if n_disc >= 3:
            self.disc_window.move(lo, g)
            disc_scale = self.disc_window.robust()[1]
            novel = x < self.disc_window.values[0] or x > self.disc_window.values[-1]
        surprises = []
        for kind, param, steps in self.plan:
            if kind == _NEAREST:
                if n_disc < 3:
                    surprises.append(0.0)
                    continue
                d = self.disc_window.nearest_distance(x)
                raw = math.sqrt(d * d) / disc_scale
            elif kind == _SHAPE:
                if n_disc < 3 * param:
                    surprises.append(0.0)
                    continue
                raw = math.sqrt(float(self.min_d2[param][self.u]) / param) / disc_scale
            elif kind == _LEVEL:
                lev, gl = self.lev, self.gl
                llo = gl - self.lev_cap if gl > self.lev_cap else 0
                if gl - llo < 4 * param:
                    surprises.append(0.0)
                    continue
                self.lev_window.move(llo, gl - param + 1)
                med, scale = self.lev_window.robust()
                raw = abs(_median_small([*lev[gl - param + 1 : gl], x]) - med) / scale
            else:
                if expected is None:  # not ready
                    surprises.append(0.0)
                    continue
                raw = 0.0 if resid_scale is None else abs(x - expected) / resid_scale
            s = steps.step(raw)
            surprises.append(s if s < MAX_SURPRISE else MAX_SURPRISE)

        # Learn x (the discords' shared history once, by its owner).
        self.owner.history.append(x)
        self.g += 1
        if self.level is not None:
            self.level.history.append(x)
            self.gl += 1
        if det_s is not None:
            if expected is not None:
                r = x - expected
                self.resid_arr[len(self.resid)] = r
                self.resid.append(r)
                det_s.residuals.append(r)
            self.season.append(x)
            det_s.history.append(x)
        self.u += 1

        top = max(surprises)
        base = min(_fisher_surprise(surprises), MAX_SURPRISE)
        self.channel.recent.append(base)
        recent = self.recent
        recent.append(base)
        if len(recent) > self.recent_cap:
            del recent[0]
        mean_recent = _mean(recent)
        sustained = min(self.sustained.step(mean_recent), MAX_SURPRISE)
        self.channel.last_value = x
        return MetricReading(
            surprise=max(0.0, max(base, sustained) - _LOG10_2),
            detector="sustained" if sustained > base else self.names[surprises.index(top)],
            expected=band[0] if band else None,
            lower=band[1] if band else None,
            upper=band[2] if band else None,
            novel=novel,
        )
