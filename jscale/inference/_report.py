"""Reports of results, in one place: the readable `summary` tables and the JSON-ready `to_dict`."""

from __future__ import annotations

import numpy as np

from jscale.inference._uncertainty import check_level, natural_covariance, wald_interval


def _curvature_bands(result, level) -> dict:
    """name -> (se, low, high) of every natural parameter at `level` (NaN where the Hessian is
    singular)."""
    level = check_level(level)
    free = result.free_covariance()  # once: `se` and each `interval` would each rebuild it
    se = np.sqrt(np.diag(natural_covariance(result.law, result.theta, free)))
    return {name: (float(s), *map(float, wald_interval(result.law, result.theta, free, name, level)))
            for name, s in zip(result.law.param_names, se)}


def fit_summary(result, level: float | None = None) -> str:
    """A readable table of a FitResult: objective, convergence and every parameter (with `level`,
    its standard error and curvature interval)."""
    bands = None if level is None else _curvature_bands(result, level)
    counts = ", ".join(f"{k} {v}" for k, v in result.status_counts().items() if v)
    fitted = "" if (result.target, result.residual) == ("loss", "log") else \
        f", target {result.target} ({result.residual} residuals)"
    lines = [
        f"jscale fit: {result.law.name} law, {result.n_rows} rows, loss {result.loss_function}{fitted}",
        f"  objective     {result.objective:.10g}  (best of {result.n_starts} starts, start #{result.best_index}, "
        f"{result.best_status})",
        f"  starts        {counts}; {result.n_at_best} ({100 * result.n_at_best / result.n_starts:.1f}%) within 1e-8 "
        "of the best",
        "",
        f"  {'parameter':<10} {'value':>14} {'free':>10} {'free value':>14}"
        + ("" if bands is None else f" {'std err':>11}   {f'{100 * level:g}% curvature interval'}"),
    ]
    for (name, value), (free, fv) in zip(result.params.items(), result.free_params.items()):
        band = "" if bands is None else \
            f" {bands[name][0]:>11.4g}   ({bands[name][1]:.6g}, {bands[name][2]:.6g})"
        lines.append(f"  {name:<10} {value:>14.6g} {free:>10} {fv:>14.8g}{band}")
    if result.notes:
        lines += ["", "  notes:"] + [f"  - {m}" for m in result.notes]
    return "\n".join(lines)


def fit_to_dict(result, level: float | None = None) -> dict:
    """A FitResult as a JSON-ready dict: law, loss, target, estimates, objective, convergence (with
    `level`, the standard errors and curvature intervals)."""
    out = {
        "kind": "fit", "law": result.law.name, "loss_function": str(result.loss_function), "target": result.target,
        "residual": result.residual, "n_rows": result.n_rows, "params": result.params,
        "free_params": result.free_params, "objective": result.objective, "best_status": result.best_status,
        "n_starts": result.n_starts, "status_counts": result.status_counts(), "n_at_best": result.n_at_best,
        "notes": list(result.notes),
    }
    if level is not None:
        bands = _curvature_bands(result, level)
        out.update(level=float(level), covariance="sandwich", se={k: v[0] for k, v in bands.items()},
                   interval={k: [v[1], v[2]] for k, v in bands.items()})
    return out


def _notes(boot) -> list[str]:
    """The bootstrap's findings that concern its intervals, as plain messages."""
    return [d.message for d in boot.diagnostics() if d.kind in ("resamples", "draws", "bound", "correlation",
                                                                   "configurations")]


def bootstrap_summary(boot, level: float = 0.95, method: str = "percentile") -> str:
    """A table of a BootstrapResult: estimate, standard error and interval of every parameter."""
    level = check_level(level)
    se = boot.se
    pct = f"{100 * level:g}%"
    lines = [
        f"jscale bootstrap: {boot.law.name} law, {boot.n_resamples} resamples by {boot.unit} "
        f"({boot.n_units} units), {boot.n_starts} start{'s' if boot.n_starts > 1 else ''} each",
        f"  converged     {boot.n_converged} of {boot.n_resamples} draws "
        f"({100 * boot.n_converged / boot.n_resamples:.1f}%)",
        *([f"  starts        the full fit's other basins, fitted on {boot.basins_checked} resamples, never ended "
           "lower: the rest started from the optimum"] if boot.basins_checked else []),
        "",
        f"  {'parameter':<10} {'estimate':>12} {'std err':>12}   {pct + ' ' + method + ' interval':<30}",
    ]
    for name, value in boot.estimate.items():
        low, high = boot.interval(name, level, method)
        lines.append(f"  {name:<10} {value:>12.6g} {se[name]:>12.4g}   ({low:.6g}, {high:.6g})")
    notes = _notes(boot)
    if notes:
        lines += ["", "  notes:"] + [f"  - {m}" for m in notes]
    return "\n".join(lines)


def bootstrap_to_dict(boot, level: float = 0.95, method: str = "percentile") -> dict:
    """A BootstrapResult as a JSON-ready dict: the fit, and per parameter estimate, se, interval."""
    intervals = {n: list(boot.interval(n, level, method)) for n in boot.law.param_names}
    return {
        "kind": "bootstrap", "fit": fit_to_dict(boot.fit), "unit": boot.unit, "n_resamples": boot.n_resamples,
        "n_converged": boot.n_converged, "level": level, "method": method, "estimate": boot.estimate,
        "se": boot.se, "interval": intervals, "warnings": _notes(boot), "basins_checked": boot.basins_checked,
    }
