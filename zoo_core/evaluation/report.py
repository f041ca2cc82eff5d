"""``zoo eval``'s tables for people (JSON is the result dict itself)."""

from __future__ import annotations

import shutil


DASH = "-"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain aligned table; the last column is cut to the terminal width."""
    if not rows:
        return ""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    limit = shutil.get_terminal_size((120, 20)).columns
    used = sum(widths[:-1]) + 2 * (len(widths) - 1)
    widths[-1] = max(20, min(widths[-1], limit - used))

    def line(cells):
        text = "  ".join(str(c).ljust(w) for c, w in zip(cells[:-1], widths))
        last = str(cells[-1])
        if len(last) > widths[-1]:
            last = last[: widths[-1] - 1] + "…"
        return (text + "  " + last if text else last).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _f(value, digits: int = 4) -> str:
    return DASH if value is None else f"{value:.{digits}g}"


def _kid(block: dict, key: str = "value", std: str = "std") -> str:
    spread = block[std] * 1e3
    # One subset holding every image gives the same value each time: a spread of 0, not 1e-13.
    return f"{block[key] * 1e3:.3g} ± {0.0 if spread < 1e-9 else spread:.2g}"


def format_report(result: dict) -> str:
    """One run's results: a metric table with the real-data floor beside
    each number, then the likelihood, notes and where they were saved."""
    lines = [f"{result['run']}: {result['model']} ({result['model_class']}) on {result['dataset']}, "
             f"backend {result['backend']}"]
    metrics = result["metrics"]
    clf = result.get("classifier")
    if clf:
        accuracy = DASH if clf["test_accuracy"] is None else f"{clf['test_accuracy']:.1%}"
        how = "trained now" if clf["trained_now"] else "cached"
        lines.append(f"Feature classifier: test accuracy {accuracy} on {clf['test_images']:,} test images "
                     f"({how}; {clf['epochs']} epoch{'s' if clf['epochs'] != 1 else ''} on {clf['train_images']:,} train images; {clf['path']})")
    rows = []
    if "fd" in metrics:
        fd = metrics["fd"]
        rows.append(["FD (classifier features)", _f(fd["value"]), _f(fd["real_floor"]), "lower is better"])
    if "kid" in metrics:
        kid = metrics["kid"]
        rows.append(["KID x 1000 (± std)", _kid(kid), _kid(kid, "real_floor", "real_floor_std"),
                     f"unbiased; {kid['subsets']} subsets of {kid['subset_size']:,}"])
    if "coverage" in metrics:
        cov, real = metrics["coverage"], metrics["coverage"]["real"]
        rows.append(["classes present", f"{cov['classes_present']}/{cov['classes']}",
                     f"{real['classes_present']}/{real['classes']}", "classifier's arg-max"])
        rows.append(["KL(class histogram || real)", _f(cov["kl_to_real"], 3), _f(real["kl_to_real"], 3),
                     "nats; 0 = the test set's class mix"])
        rows.append([f"classifier score (max {cov['classes']})", _f(cov["classifier_score"], 4),
                     _f(real["classifier_score"], 4), "Inception-score formula, zoo's classifier"])
        if "label_accuracy" in cov:
            rows.append(["label accuracy", f"{cov['label_accuracy']:.1%}", f"{real['label_accuracy']:.1%}",
                         "classifier agrees with the asked-for class"])
    if "reconstruction" in metrics:
        rec = metrics["reconstruction"]
        rows.append(["reconstruction MSE per pixel", f"{rec['mse']:.4g} ± {rec['mse_stderr']:.2g}", "0",
                     f"{rec['images']:,} test images; the mean train image scores {rec['mean_image_mse']:.4g}"])
    if rows:
        sample_blocks = [metrics[m] for m in ("fd", "kid", "coverage") if m in metrics]
        lines += ["", table(["metric", "model", "real data", "notes"], rows)]
        if sample_blocks:
            generated = sample_blocks[0].get("generated")
            floor = metrics.get("fd", metrics.get("kid", {})).get("floor")
            lines.append(f"Model: {generated:,} generated images against "
                         f"{sample_blocks[0].get('reference', 'the test images')}"
                         + (f"; real data: {floor}." if floor else "."))
    if "coverage" in metrics:
        cov = metrics["coverage"]
        lines.append("Generated class histogram: " + " ".join(f"{i}:{c}" for i, c in enumerate(cov["histogram"])))
        lines.append("Test-set class histogram:  " + " ".join(f"{i}:{c}" for i, c in enumerate(cov["real_histogram"])))
    if "likelihood" in metrics:
        lik = metrics["likelihood"]
        elbo = lik["elbo"]
        lines += ["", f"Likelihood, nats per image: {lik['data']}."]
        lik_rows = [["test ELBO", f"{elbo['elbo']:.2f} ± {elbo['elbo_stderr']:.2f}",
                     f"reconstruction {elbo['reconstruction']:.2f} + KL {elbo['kl']:.2f}; "
                     f"{elbo['images']:,} test images, {elbo['samples_per_image']} draw each"]]
        if "iwae" in lik:
            iw = lik["iwae"]
            lik_rows.append([f"NLL (IWAE bound, k={iw['k']:,})", f"{iw['nll']:.2f} ± {iw['nll_stderr']:.2f}",
                             f"{iw['images']:,} random test images; -ELBO on the same images and draws "
                             f"{iw['negative_elbo_same_images']:.2f}"])
        lines.append(table(["", "value", "notes"], lik_rows))
    for note in result.get("notes", []):
        lines.append(f"Note: {note}")
    if result.get("file"):
        lines.append(f"Saved {result['file']}")
    return "\n".join(lines)


def format_comparison(results: list[dict]) -> str:
    """Several runs side by side, one row each; real-data floors in brackets."""
    rows = []
    for r in results:
        m = r["metrics"]
        fd = f"{m['fd']['value']:.4g} ({m['fd']['real_floor']:.3g})" if "fd" in m else DASH
        kid = f"{m['kid']['value'] * 1e3:.3g} ({m['kid']['real_floor'] * 1e3:.2g})" if "kid" in m else DASH
        cov = m.get("coverage")
        classes = f"{cov['classes_present']}/{cov['classes']}" if cov else DASH
        kl = f"{cov['kl_to_real']:.3f}" if cov else DASH
        score = f"{cov['classifier_score']:.3g} ({cov['real']['classifier_score']:.3g})" if cov else DASH
        lik = m.get("likelihood")
        nll = f"{lik['iwae']['nll']:.2f}" if lik and "iwae" in lik else DASH
        elbo = f"{-lik['elbo']['elbo']:.2f}" if lik else DASH
        rec = f"{m['reconstruction']['mse']:.4g}" if "reconstruction" in m else DASH
        acc = r.get("classifier", {}).get("test_accuracy")
        rows.append([r["run"], r["model"], r["dataset"], fd, kid, classes, kl, score, nll, elbo, rec,
                     DASH if acc is None else f"{acc:.1%}"])
    headers = ["run", "model", "dataset", "FD (floor)", "KIDx1e3 (floor)", "classes", "KL hist",
               "score (real)", "NLL", "-ELBO", "recon MSE", "classifier acc"]
    notes = ["FD/KID on zoo's own classifier features (lower is better; floor: real train vs test images); "
             "NLL: IWAE bound, nats per image; recon MSE: per pixel on test images."]
    binarised = {r["metrics"]["likelihood"]["data"] for r in results if "likelihood" in r["metrics"]}
    notes += [f"Likelihood data: {d}." for d in sorted(binarised)]
    if len({r["dataset"] for r in results}) > 1:
        notes.append("The runs use different data sets: their numbers are not comparable.")
    return "\n".join([table(headers, rows), *notes])
