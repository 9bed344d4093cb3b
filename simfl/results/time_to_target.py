"""Time to a target accuracy across the runs of a sweep, counting the runs that never get there.

A run that never reaches the target is *right-censored*: all it tells is that its time to
target exceeds the time it was watched. Averaging only the runs that reached the target, or
pairing only seeds where both did, makes a method that often fails look fast; here such runs
count against it. Which summary rows count (``status``):

* ``complete``: reached the target at ``time_to_{t}_s``, or else censored at its end
  (``sim_end_s``; :func:`with_censoring_times` fills it from the last evaluation when missing).
* ``diverged``: never reaches the target, whatever its ``time_to_{t}_s`` says. Its time is taken
  as infinite: it stays at risk at every time, so it counts as "not reached" throughout.
  (Censoring it at its end would instead assume it could still have reached the target like the
  runs that went on.) Its end still bounds a paired ratio (:func:`paired_time_ratios`).
* anything else (``failed``, ``interrupted``, ``running``, ``pending``): excluded, and counted
  (``n_excluded``): an unfinished run is not evidence either way.

Per method and per *world* (combination of the other swept keys, see
:func:`~simfl.results.paired.world_keys`), :func:`survival_table` gives the Kaplan–Meier
median and the restricted mean time to target within a horizon ``τ`` (definitions in
:mod:`simfl.results.survival`). The default ``τ`` of a world is the largest time every
method's estimate is defined at, but no more than the world's longest run: ``min(min over
methods of KaplanMeier.extent_s, max sim_end_s)`` (usually the common ``stop.sim_time_s``).
"""

from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from simfl.results.censored import EXACT, LEFT, RIGHT, fit_censored_normal
from simfl.results.paired import default_reference, world_keys
from simfl.results.summary import target_column
from simfl.results.survival import before_first_event_low, kaplan_meier

__all__ = [
    "COUNTED_STATUSES",
    "NEVER_STATUSES",
    "with_censoring_times",
    "target_events",
    "survival_table",
    "km_curves",
    "paired_time_ratios",
    "summarize_time_ratios",
    "ratio_trend",
    "KM_METHOD",
    "TREND_METHOD",
    "RATIO_METHOD",
]

#: Statuses whose runs count: reached at ``time_to_{t}_s`` or censored at their end.
COUNTED_STATUSES = ("complete",)
#: Statuses of runs that never reach any target (infinite time to target).
NEVER_STATUSES = ("diverged",)

#: How :func:`survival_table` estimates, in words (for report headers and figure captions).
KM_METHOD = (
    "Kaplan–Meier (runs that never reached the target are censored at their end; diverged runs never "
    "reach it): median with Brookmeyer–Crowley interval from log-log pointwise bands; restricted mean "
    "time to target within the horizon τ (area under the KM curve up to τ), Greenwood-type variance × n/(n − 1), "
    "Student-t interval (n − 1 degrees of freedom) on the logit of RMST/τ"
)
#: How :func:`summarize_time_ratios` estimates, in words.
RATIO_METHOD = (
    "paired per seed (same seed = same world): reference time / other time; a seed where only one method "
    "reached the target gives a bound, one where neither did gives nothing (counted, never a ratio of 1); "
    "log-normal accelerated-failure-time fit of the paired ratios with censoring (maximum likelihood): "
    "geometric-mean ratio with a Student-t interval (k − 1 degrees of freedom, k informative pairs; "
    "without bounds, the paired t interval on log ratios); no estimate with fewer than 2 exact pairs"
)
#: How :func:`ratio_trend` estimates, in words.
TREND_METHOD = (
    "log-normal accelerated-failure-time fit of the paired ratios on the swept value with censoring: "
    "factor by which the ratio multiplies per unit, Student-t interval (k − 2 degrees of freedom)"
)


def with_censoring_times(summary: pd.DataFrame, evals: pd.DataFrame | None = None) -> pd.DataFrame:
    """``summary`` with ``sim_end_s`` filled, where missing or NaN, by each run's last evaluation time.

    Args:
        summary: a sweep summary (``run_id`` identifies runs).
        evals: the runs' ``evals`` tables concatenated, with ``run_id`` and ``sim_time_s``.
    """
    out = summary.copy()
    if "sim_end_s" not in out.columns:
        out["sim_end_s"] = math.nan
    if evals is not None and len(evals) and "run_id" in out.columns:
        last = evals.groupby("run_id")["sim_time_s"].max()
        out["sim_end_s"] = out["sim_end_s"].fillna(out["run_id"].map(last))
    return out


def target_events(summary: pd.DataFrame, target: float, censor_column: str = "sim_end_s") -> pd.DataFrame:
    """The runs that count for ``target``, each with its observed time and whether it reached it.

    Returns:
        The counted rows of ``summary`` (see the module docstring) with three more columns:
        ``reached`` (bool), ``time_s`` (time to target if reached, else the censoring time,
        ``inf`` for a diverged run) and ``end_s`` (the run's end, ``censor_column``).

    Raises:
        ValueError: the target or censoring column is missing, or a counted run that did not
            reach the target has no end time.
    """
    col = target_column(target)
    if col not in summary.columns:
        have = [c for c in summary.columns if c.startswith("time_to_")]
        raise ValueError(f"no column {col!r} in the summary; targets there: {', '.join(have) or 'none'}")
    if censor_column not in summary.columns:
        raise ValueError(f"no column {censor_column!r} in the summary: a run that never reached the target is "
                         "censored at its end (fill it with with_censoring_times(summary, evals))")
    if "status" in summary.columns:
        status = summary["status"].astype(str).to_numpy()
    else:
        status = np.full(len(summary), COUNTED_STATUSES[0])
    never_all = np.isin(status, NEVER_STATUSES)
    keep = np.isin(status, COUNTED_STATUSES) | never_all
    df = summary[keep].copy()
    never = never_all[keep]
    hit = pd.to_numeric(df[col], errors="coerce").to_numpy(float)
    end = pd.to_numeric(df[censor_column], errors="coerce").to_numpy(float)
    reached = np.isfinite(hit) & ~never
    missing = ~reached & ~never & ~np.isfinite(end)
    if missing.any():
        first = int(np.argmax(missing))
        who = df["run_id"].iloc[first] if "run_id" in df.columns else df.index[first]
        raise ValueError(f"run {who}: did not reach {target:g} and has no {censor_column} to censor it at")
    df["reached"] = reached
    df["time_s"] = np.where(reached, hit, np.where(never, math.inf, end))
    df["end_s"] = end
    return df


def _excluded(summary: pd.DataFrame) -> pd.DataFrame:
    if "status" not in summary.columns:
        return summary.iloc[:0]
    return summary[~summary["status"].astype(str).isin(COUNTED_STATUSES + NEVER_STATUSES)]


def _worlds(df: pd.DataFrame, keys: Sequence[str]) -> Iterator[tuple[tuple, pd.DataFrame]]:
    if not keys:
        yield (), df
        return
    for key, sub in df.groupby(list(keys), dropna=False, sort=True):
        yield (key if isinstance(key, tuple) else (key,)), sub


def _setup(summary: pd.DataFrame, target: float, by: str, group_on: Sequence[str] | None):
    if by not in summary.columns:
        raise ValueError(f"no column {by!r} in the summary; columns: {', '.join(summary.columns)}")
    events = target_events(summary, target)
    keys = list(world_keys(summary, by) if group_on is None else group_on)
    methods = list(dict.fromkeys(summary[by]))
    return events, keys, methods


def _horizon(arms: dict, world: pd.DataFrame, horizon: float | None) -> float:
    if horizon is not None:
        return float(horizon)
    ends = world["end_s"].to_numpy(float)
    longest = float(np.nanmax(ends)) if np.isfinite(ends).any() else math.inf
    return min(min((km.extent_s for km in arms.values() if km.n), default=math.inf), longest)


def _arms(events: pd.DataFrame, by: str, methods: list, level: float) -> dict:
    out = {}
    for m in methods:
        sub = events[events[by] == m]
        if len(sub):
            out[m] = kaplan_meier(sub["time_s"], sub["reached"], level)
    return out


def survival_table(
    summary: pd.DataFrame,
    target: float,
    by: str = "algorithm.type",
    horizon: float | None = None,
    level: float = 0.95,
    group_on: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Censoring-aware time to ``target``: one row per (world, value of ``by``).

    Args:
        summary: a sweep summary (with ``status``, ``sim_end_s`` and ``time_to_{t}_s``).
        target: the accuracy target.
        by: the compared column (default: the algorithm).
        horizon: ``τ`` of the restricted mean (simulated s); default: per world, see the module docstring.
        level: confidence level of every interval.
        group_on: the columns telling worlds apart; default: :func:`~simfl.results.paired.world_keys`.

    Returns:
        Columns: the world keys, ``by``, ``target``, ``n_runs`` (counted), ``n_reached``,
        ``n_diverged``, ``n_excluded`` (unfinished runs left out), ``follow_up_s`` (largest
        finite observed time), ``extent_s`` (the curve is defined up to it, see
        :class:`~simfl.results.survival.KaplanMeier`), ``horizon_s`` (``τ``), ``km_median_s``
        (NaN: not reached within the extent), ``median_ci_low_s``, ``median_ci_high_s`` (``inf``:
        unbounded within the extent), ``rmst_s``, ``rmst_se_s``, ``rmst_ci_low_s``, ``rmst_ci_high_s`` (restricted
        mean within ``τ``), ``reached_by_horizon`` (``1 − Ŝ(τ)``) and ``level``.
    """
    events, keys, methods = _setup(summary, target, by, group_on)
    excluded = _excluded(summary)
    rows = []
    for key, world in _worlds(events, keys):
        arms = _arms(world, by, methods, level)
        tau = _horizon(arms, world, horizon)
        skipped = excluded
        for k, v in zip(keys, key):
            skipped = skipped[skipped[k].isna()] if pd.isna(v) else skipped[skipped[k] == v]
        for m, km in arms.items():
            sub = world[world[by] == m]
            median, med_lo, med_hi = km.median()
            rmst, se, lo, hi = km.restricted_mean_interval(tau)
            finite = sub["time_s"].to_numpy(float)
            finite = finite[np.isfinite(finite)]
            rows.append({
                **dict(zip(keys, key)), by: m, "target": float(target),
                "n_runs": km.n, "n_reached": km.n_reached,
                "n_diverged": int(sub["status"].astype(str).isin(NEVER_STATUSES).sum()) if "status" in sub else 0,
                "n_excluded": int((skipped[by] == m).sum()),
                "follow_up_s": float(finite.max()) if finite.size else math.nan,
                "extent_s": km.extent_s,
                "horizon_s": tau,
                "km_median_s": median, "median_ci_low_s": med_lo, "median_ci_high_s": med_hi,
                "rmst_s": rmst, "rmst_se_s": se, "rmst_ci_low_s": lo, "rmst_ci_high_s": hi,
                "reached_by_horizon": 1.0 - km.survival_at(tau), "level": level,
            })
    return pd.DataFrame(rows)


def km_curves(
    summary: pd.DataFrame, target: float, by: str = "algorithm.type", level: float = 0.95,
    group_on: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The Kaplan–Meier curves of :func:`survival_table`, as tidy steps for plotting.

    Returns:
        One row per (world, value of ``by``, time): the world keys, ``by``, the columns of
        :attr:`~simfl.results.survival.KaplanMeier.table` (a first row at time 0 with survival 1
        and ``at_risk`` = all runs), ``fraction_reached`` (``1 − survival``, with ``reached_low``
        and ``reached_high`` from the interval) and ``extent_s`` (where the curve ends).
    """
    events, keys, methods = _setup(summary, target, by, group_on)
    parts = []
    for key, world in _worlds(events, keys):
        for m, km in _arms(world, by, methods, level).items():
            table = km.table
            if not len(table) or table["time_s"].iloc[0] > 0:
                start = pd.DataFrame({"time_s": [0.0], "at_risk": [km.n], "reached": [0], "censored": [0],
                                      "survival": [1.0], "ci_low": [before_first_event_low(km.n, level)],
                                      "ci_high": [1.0]})
                table = pd.concat([start, table], ignore_index=True) if len(table) else start
            table = table.assign(**dict(zip(keys, key)), **{by: m}, extent_s=km.extent_s)
            parts.append(table)
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    out["fraction_reached"] = 1.0 - out["survival"]
    out["reached_low"], out["reached_high"] = 1.0 - out["ci_high"], 1.0 - out["ci_low"]
    return out[[*keys, by, *[c for c in out.columns if c not in (*keys, by)]]]


_PER_SEED = ("reference", "seed", "reference_time_s", "other_time_s", "reference_reached", "other_reached",
             "ratio", "bound")
#: How a per-seed ratio relates to the true one, from which runs reached the target.
_BOUNDS = {(True, True): "exact", (False, True): "lower", (True, False): "upper", (False, False): "none"}


def paired_time_ratios(
    summary: pd.DataFrame,
    target: float,
    by: str = "algorithm.type",
    reference: str | None = None,
    pair_on: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per seed, the reference method's time to ``target`` over each other method's, censoring kept.

    Each run is observed until it reached the target or ended (a diverged run never reaches it;
    :func:`target_events`). The per-seed ``ratio`` is the reference's observed time over the
    other's, and ``bound`` says what it is:

    * ``exact``: both reached the target: the true ratio;
    * ``lower``: only the other did: the true ratio is larger (the reference had not reached it
      when it ended);
    * ``upper``: only the reference did: the true ratio is smaller;
    * ``none``: neither did: nothing is known of the ratio (``ratio`` is NaN; such a pair enters
      no estimate and is counted as not informative).

    Returns:
        One row per (world, other value of ``by``, seed) where both runs count: the world keys,
        ``by``, ``reference``, ``seed``, ``reference_time_s``, ``other_time_s`` (the time to
        target, else the run's end), ``reference_reached``, ``other_reached``, ``ratio``, ``bound``.
    """
    events, keys, methods = _setup(summary, target, by, pair_on)
    reference = default_reference(methods) if reference is None else reference
    if reference not in methods:
        raise ValueError(f"reference {reference!r} is not a value of {by}: {methods}")
    events = events.assign(observed=np.where(events["reached"], events["time_s"], events["end_s"]))
    rows = []
    for key, world in _worlds(events, keys):
        ref = world[world[by] == reference].drop_duplicates("seed").set_index("seed")
        for other in methods:
            if other == reference:
                continue
            oth = world[world[by] == other].drop_duplicates("seed").set_index("seed")
            for seed in sorted(set(ref.index) & set(oth.index)):
                r, o = ref.loc[seed], oth.loc[seed]
                bound = _BOUNDS[(bool(r["reached"]), bool(o["reached"]))]
                ratio = float(r["observed"]) / float(o["observed"]) if o["observed"] > 0 else math.nan
                rows.append({
                    **dict(zip(keys, key)), by: other, "reference": reference, "seed": seed,
                    "reference_time_s": float(r["observed"]), "other_time_s": float(o["observed"]),
                    "reference_reached": bool(r["reached"]), "other_reached": bool(o["reached"]),
                    "ratio": math.nan if bound == "none" else ratio, "bound": bound,
                })
    return pd.DataFrame(rows, columns=[*keys, by, *_PER_SEED])


def _censored_logs(group: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The informative pairs of ``group`` as (log ratio or its bound, kind, mask of informative rows)."""
    kind = group["bound"].map({"exact": EXACT, "lower": RIGHT, "upper": LEFT}).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):  # a time of 0 (reached at the start): no ratio
        logs = np.log(group["ratio"].to_numpy(float))
    informative = pd.notna(kind) & np.isfinite(logs)
    return logs[informative], kind[informative].astype(int), informative


def _counts(group: pd.DataFrame, informative: np.ndarray) -> dict:
    counts = group["bound"].value_counts()
    at_start = (group["reference_time_s"] == 0) | (group["other_time_s"] == 0)
    return {"n_pairs": len(group), "n_informative": int(informative.sum()),
            **{f"n_{b}": int(counts.get(b, 0)) for b in ("exact", "lower", "upper", "none")},
            "n_at_start": int((at_start & (group["bound"] != "none")).sum())}


def summarize_time_ratios(per_seed: pd.DataFrame, by: str = "algorithm.type", level: float = 0.95) -> pd.DataFrame:
    """The time ratio of :func:`paired_time_ratios` per world, estimated with censoring kept.

    The log ratios of the informative pairs (exact values, lower and upper bounds) are fitted by a
    normal model with censoring (:func:`~simfl.results.censored.fit_censored_normal`: a log-normal
    accelerated-failure-time model of the paired ratio); ``exp`` of its mean is the estimate (the
    geometric-mean time ratio), with a Student-t interval. Without bounds it is the geometric mean
    with the paired t interval. Pairs where neither run reached the target carry no information
    and are only counted. No estimate (NaN) with fewer than 2 exact pairs: bounds alone do not
    identify the ratio.

    Returns:
        One row per (world, other value of ``by``): the world keys, ``by``, ``reference``,
        ``statistic`` (``ref/other``), ``estimate``, ``ci_low``, ``ci_high``, ``n_pairs`` (seeds),
        ``n_informative`` (pairs that enter the fit: some run reached the target, at a time > 0) and
        per kind ``n_exact``, ``n_lower`` (only the other reached it), ``n_upper`` (only the
        reference did), ``n_none``; ``n_at_start``: pairs left out because a run reached the target
        at time 0 (its first evaluation, before any training: no ratio of times exists).
    """
    keys = [c for c in per_seed.columns if c not in (by, *_PER_SEED)]
    rows = []
    for key, group in per_seed.groupby([*keys, by], dropna=False, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        logs, kind, informative = _censored_logs(group)
        fit = fit_censored_normal(logs, kind)
        mean, lo, hi = fit.interval(0, level) if fit is not None else (math.nan,) * 3
        ref = group["reference"].iloc[0]
        rows.append({
            **dict(zip([*keys, by], key)), "reference": ref, "statistic": f"{ref}/{key[-1]}",
            "estimate": math.exp(mean), "ci_low": math.exp(lo), "ci_high": math.exp(hi), **_counts(group, informative),
        })
    return pd.DataFrame(rows)


def ratio_trend(per_seed: pd.DataFrame, x: str, by: str = "algorithm.type", level: float = 0.95) -> pd.DataFrame:
    """Does the time ratio grow with ``x``? The slope of the log ratio on ``x``, censoring kept.

    Fits ``log ratio = a + b·x + σε`` to the informative pairs of every value of ``x`` (the same
    censored normal model as :func:`summarize_time_ratios`, with ``x`` as covariate). ``exp(b)`` is
    the factor by which the ratio multiplies per unit of ``x``, with its Student-t interval
    (``k − 2`` degrees of freedom). Pairs of one seed at different ``x`` are treated as independent;
    when a seed's worlds are alike across ``x`` (correlated ratios) the interval is conservative.

    Returns:
        One row per (other world keys, other value of ``by``): ``reference``, ``x`` (the column),
        ``slope`` (``b``, per unit of ``x`` on the log scale), ``factor_per_unit`` (``exp(b)``),
        ``ci_low``, ``ci_high`` (of the factor), ``n_values`` (distinct ``x``), ``n_informative``;
        NaN where the exact pairs do not identify a slope (fewer than 3, or one value of ``x``).
    """
    if x not in per_seed.columns:
        raise ValueError(f"no column {x!r} among the paired ratios; columns: {', '.join(per_seed.columns)}")
    keys = [c for c in per_seed.columns if c not in (by, x, *_PER_SEED)]
    rows = []
    for key, group in per_seed.groupby([*keys, by], dropna=False, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        logs, kind, informative = _censored_logs(group)
        values = pd.to_numeric(group[x], errors="coerce").to_numpy(float)[informative]
        fit = fit_censored_normal(logs, kind, np.column_stack([np.ones_like(values), values]))
        b, lo, hi = fit.interval(1, level) if fit is not None else (math.nan,) * 3
        rows.append({
            **dict(zip([*keys, by], key)), "reference": group["reference"].iloc[0], "x": x, "slope": b,
            "factor_per_unit": math.exp(b), "ci_low": math.exp(lo), "ci_high": math.exp(hi),
            "n_values": int(pd.Series(values).nunique()), "n_informative": int(informative.sum()),
        })
    return pd.DataFrame(rows)
