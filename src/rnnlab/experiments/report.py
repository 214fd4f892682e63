"""The Markdown report of a `reproduce` run, with its PNG figures.

For each experiment: the corpus and the model kind, the published figure, rnnlab's
mean and standard deviation over seeds and the difference, its time per run, the
majority and bag-of-words baselines on the same split, the strongest linear baseline
(the one selected on validation, with its macro-F1 and time per run), macro-F1, split
sizes and class counts, learning curves, and (for many classes) a confusion matrix;
for a hybrid, what its validation chose. Then, per corpus, rnnlab's best purely
recurrent experiment and its best of any kind, both chosen on validation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.atomic import atomic_path, write_text_atomic
from rnnlab.experiments.baselines import GRIDS, NBSVM_BETAS, describe, settings


def _mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    """Mean / std over seeds of the test metrics of one experiment."""
    runs = result["runs"]
    out = {}
    for key in ("accuracy", "macro_f1", "loss"):
        vals = [r["test"][key] for r in runs if r["test"].get(key) is not None]
        if vals:
            out[key] = _mean_std(vals)
    out["seconds"] = float(np.mean([r["seconds"] for r in runs]))
    return out


def validation_accuracy(run: dict[str, Any]) -> float | None:
    """The accuracy on validation of the model a run kept, or None without a validation split.

    A hybrid: its blend's. A recurrent run: the epoch with the lowest validation loss
    (what early stopping restores). Runs that printed the test set as their
    "validation" (the IMDB tutorial) have none: they cannot be chosen on it.
    """
    if run.get("hybrid") is not None:
        return float(run["hybrid"]["blend_validation_accuracy"])
    history = run.get("history") or {}
    losses, accuracies = history.get("val_loss"), history.get("val_accuracy")
    if not losses or not accuracies:
        return None
    return float(accuracies[int(np.argmin(losses))])


def recurrent_part(res: dict[str, Any]) -> tuple[float, dict[str, Any]] | None:
    """A hybrid experiment's recurrent part as a purely recurrent experiment of its own.

    It is the same trained network the blend starts from, judged alone: (its mean
    validation accuracy, a result whose runs hold its test metrics), or None.
    """
    parts = [(r.get("hybrid") or {}).get("recurrent_part") for r in res["runs"]]
    if not parts or any(p is None or p.get("validation_accuracy") is None for p in parts):
        return None
    runs = [{"test": p["test"], "seconds": r["seconds"]} for p, r in zip(parts, res["runs"])]
    score = float(np.mean([p["validation_accuracy"] for p in parts]))
    return score, {
        "name": f"{res['name']} (recurrent part)",
        "model_kind": "recurrent",
        "runs": runs,
    }


def best_per_corpus(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each corpus: the purely recurrent experiment and the experiment of any kind with
    the highest mean VALIDATION accuracy (never test), beside the corpus's linear line.

    A hybrid's recurrent part counts as a purely recurrent candidate (`recurrent_part`).
    Experiments without a validation split, or run on their test set as validation,
    take no part.
    """
    rows = []
    for corpus in dict.fromkeys(r.get("corpus") for r in results):
        candidates = []
        for res in results:
            if res.get("corpus") != corpus or res.get("val_name") != "validation":
                continue
            scores = [validation_accuracy(r) for r in res["runs"]]
            if scores and all(v is not None for v in scores):
                candidates.append((float(np.mean(scores)), res))  # type: ignore[arg-type]
            part = recurrent_part(res)
            if part is not None:
                candidates.append(part)
        if not candidates:
            continue
        recurrent = [c for c in candidates if c[1].get("model_kind") == "recurrent"]
        rows.append(
            {
                "corpus": corpus,
                "recurrent": max(recurrent, key=lambda c: c[0]) if recurrent else None,
                "any": max(candidates, key=lambda c: c[0]),
                "linear": candidates[0][1]["baselines"].get("linear"),
            }
        )
    return rows


def _best_cells(chosen: tuple[float, dict[str, Any]] | None) -> str:
    if chosen is None:
        return "- | - | -"
    val, res = chosen
    return f"{res['name']} | {val:.3f} | {_fmt(summarize(res).get('accuracy'))}"


def _best_table(results: list[dict[str, Any]]) -> list[str]:
    rows = best_per_corpus(results)
    if not rows:
        return []
    lines = [
        "## rnnlab best per corpus, chosen on validation",
        "",
        "| corpus | best purely recurrent | its val. acc. | its test acc. | rnnlab best "
        "(hybrid allowed) | its val. acc. | its test acc. | strongest linear | linear test acc. |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        linear = row["linear"]
        lines.append(
            f"| {row['corpus']} | {_best_cells(row['recurrent'])} | {_best_cells(row['any'])} | "
            + (f"{describe(linear)} | {linear['accuracy']:.3f} |" if linear else "- | - |")
        )
    lines += [
        "",
        "Each corpus's experiments are compared by their mean validation accuracy over seeds "
        "(a recurrent run: the epoch early stopping kept; a hybrid: its blend); the test "
        "accuracy is shown, never used to choose. Experiments without a validation split "
        "(the tutorials' fixed epochs, the IMDB tutorial's test-set printout) take no part.",
        "",
    ]
    return lines


def _hybrid_line(res: dict[str, Any]) -> list[str]:
    chosen = [r["hybrid"] for r in res["runs"] if r.get("hybrid") is not None]
    if not chosen:
        return []
    per_seed = "; ".join(
        f"{r['seed']}: share {h['blend_share']:.1f}, {_order(h['linear'])}C={h['linear']['C']:g} "
        f"beta={h['linear']['beta']:g}, validation {h['blend_validation_accuracy']:.3f}"
        for r, h in zip(res["runs"], chosen)
    )
    # Few validation rows: NBSVM's settings came from cross-validation over the training rows.
    other = sorted({h["linear"].get("selected_on", "validation") for h in chosen} - {"validation"})
    settings = "NBSVM's settings" + (f" (by {', '.join(other)})" if other else "")
    lines = [
        "- Hybrid: chosen on validation per seed (the linear part's share of the blended "
        f"logits, {settings}, the blend's validation accuracy): {per_seed}."
    ]
    alone = [h.get("linear_part") for h in chosen]
    if all(a is not None for a in alone):
        accuracies = [a["test"]["accuracy"] for a in alone]
        lines.append(
            "- Its n-gram part alone (NBSVM with the chosen settings, refitted on every "
            f"training row): test accuracy {_fmt(_mean_std(accuracies))}."
        )
    part = recurrent_part(res)
    if part is not None:
        lines.append(
            f"- Its recurrent part alone: validation accuracy {part[0]:.3f}, test accuracy "
            f"{_fmt(summarize(part[1]).get('accuracy'))} (macro-F1 "
            f"{_fmt(summarize(part[1]).get('macro_f1'))})."
        )
    return lines


def _order(linear: dict[str, Any]) -> str:
    """'n-grams up to 3, idf, ' where the run chose an order and weighting (older results have none)."""
    text = f"n-grams up to {linear['order']}, " if "order" in linear else ""
    return text + (f"{linear['weighting']}, " if "weighting" in linear else "")


def _fmt(mean_std: tuple[float, float] | None) -> str:
    return "n/a" if mean_std is None else f"{mean_std[0]:.3f} ± {mean_std[1]:.3f}"


def legend_entries(handles: list[Any], labels: list[str]) -> tuple[list[Any], list[str]]:
    """One legend entry per kind of curve, the seeds sharing a colour: 'train (seed 1)' -> 'train'.

    A run without validation has train curves only; naming its second seed's curve
    "validation" would mislabel it.

    >>> legend_entries(["h0", "h1", "h2"], ["train (seed 0)", "train (seed 1)", "test (seed 0)"])
    (['h0', 'h2'], ['train', 'test'])
    """
    first: dict[str, Any] = {}
    for handle, label in zip(handles, labels):
        first.setdefault(label.rsplit(" (seed", 1)[0], handle)
    return list(first.values()), list(first)


def _plot_curves(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for run in result["runs"]:
        hist = run["history"]
        epochs = np.arange(1, len(hist.get("loss", [])) + 1)
        for ax, key in zip(axes, ("loss", "accuracy")):
            if key in hist:
                ax.plot(
                    epochs, hist[key], color="C0", alpha=0.7, label=f"train (seed {run['seed']})"
                )
            if f"val_{key}" in hist:
                ax.plot(
                    epochs,
                    hist[f"val_{key}"],
                    color="C1",
                    alpha=0.7,
                    linestyle="--",
                    label=f"{result.get('val_name', 'validation')} (seed {run['seed']})",
                )
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    handles, names = legend_entries(*axes[0].get_legend_handles_labels())
    if handles:
        axes[0].legend(handles, names, fontsize=8)
    fig.suptitle(result["name"])
    fig.tight_layout()
    with atomic_path(path) as tmp:  # the temporary name has no .png: say the format
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def _plot_confusion(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(result["confusion"])
    names = result["label_names"]
    present = np.where((cm.sum(0) + cm.sum(1)) > 0)[0]  # classes in truth or prediction
    cm = cm[np.ix_(present, present)]
    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(np.log1p(cm), cmap="Blues")
    ax.set_xticks(range(len(present)), [names[i] for i in present], rotation=90, fontsize=6)
    ax.set_yticks(range(len(present)), [names[i] for i in present], fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{result['name']} (seed {result['runs'][0]['seed']}, log counts)")
    fig.colorbar(im, ax=ax, shrink=0.7)
    fig.tight_layout()
    with atomic_path(path) as tmp:  # the temporary name has no .png: say the format
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def _published_line(published: dict[str, Any]) -> list[str]:
    """'- Published: 0.833 accuracy, 0.423 loss (source)', or nothing without a figure."""
    figures = [f"{published[k]} {k}" for k in ("accuracy", "loss") if published.get(k) is not None]
    if not figures:
        return []
    source = f" ({published['source']})" if published.get("source") else ""
    return [f"- Published: {', '.join(figures)}{source}"]


def _verdict(result: dict[str, Any], acc: tuple[float, float]) -> str:
    pub = result["published"].get("accuracy")
    majority = result["baselines"]["majority"]["accuracy"]
    lines = []
    if pub is not None:
        diff = acc[0] - pub
        lines.append(
            f"rnnlab's mean test accuracy is {acc[0]:.3f}, {abs(diff):.3f} "
            f"{'above' if diff >= 0 else 'below'} the published {pub:.3f}."
        )
        if abs(pub - majority) < 0.01:
            lines.append(
                f"The published figure equals the majority baseline ({majority:.3f}) to within "
                f"{abs(pub - majority):.3f}: the tutorial model predicted the majority class."
            )
    if abs(acc[0] - majority) < 0.01:
        lines.append(
            f"rnnlab's figure is within 0.01 of the majority baseline ({majority:.3f}): this "
            "model learns little beyond the class prior (see its macro-F1)."
        )
    linear = result["baselines"].get("linear")
    if linear is not None:
        diff = acc[0] - linear["accuracy"]
        lines.append(
            f"It is {abs(diff):.3f} {'above' if diff >= 0 else 'below'} the strongest linear "
            f"baseline ({linear['accuracy']:.3f}, {describe(linear)})."
        )
    return " ".join(lines)


def _seconds(seconds: float) -> str:
    """Seconds with two significant digits below 10 (a linear fit can take 0.04 s)."""
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.2g}"


def _linear_cells(linear: dict[str, Any] | None) -> str:
    """The table's linear-baseline cells: model, accuracy, macro-F1, seconds per run."""
    if linear is None:  # results written before the linear baseline existed
        return "- | - | - | -"
    return (
        f"{describe(linear)} | {linear['accuracy']:.3f} | {linear['macro_f1']:.3f} | "
        f"{_seconds(linear['seconds'])}"
    )


def _linear_line(linear: dict[str, Any]) -> str:
    """The section's line: the selected model, then every model on validation and on test."""
    models = linear["models"]
    on_validation = ", ".join(
        f"{name} {m['validation_accuracy']:.3f} ({settings(m)})" for name, m in models.items()
    )
    on_test = ", ".join(f"{name} {m['accuracy']:.3f}" for name, m in models.items())
    unconverged = [name for name, m in models.items() if not m.get("converged", True)]
    return (
        f"- Strongest linear baseline, selected on validation: {describe(linear)}, test "
        f"accuracy {linear['accuracy']:.3f} (macro-F1 {linear['macro_f1']:.3f}), "
        f"{_seconds(linear['seconds'])} s per run; {linear['features']} n-grams. On the validation "
        f"split ({linear['validation']['validation']} of the training documents): "
        f"{on_validation}. Test accuracies, never used to choose: {on_test}."
        + (f" Stopped before converging: {', '.join(unconverged)}." if unconverged else "")
    )


def _grid(model: str | None) -> str:
    values = GRIDS[model] if model is not None else NBSVM_BETAS
    return "{" + ", ".join(f"{v:g}" for v in values) + "}"


def write_report(
    results: list[dict[str, Any]], out_dir: str | Path, command: str, quick: bool = False
) -> Path:
    """Write `report.md` and its figures into ``out_dir``; return the report path."""
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    seeds = sorted({r["seed"] for res in results for r in res["runs"]})
    lines = [
        "# rnnlab reproduction report",
        "",
        f"Command: `{command}`  ",
        f"Seeds: {', '.join(map(str, seeds))}. Mean ± standard deviation over seeds; "
        "baselines are deterministic.",
        "",
    ]
    if quick:
        lines += [
            "**Quick mode: a smoke test on a small subset for one epoch. These figures say "
            "nothing about the models; run without --quick for results.**",
            "",
        ]
    lines += [
        "| experiment | corpus | model | published acc. | rnnlab acc. | diff | macro-F1 | s/run "
        "| majority | bag-of-words | strongest linear | linear acc. | linear macro-F1 "
        "| linear s/run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        s = summarize(res)
        pub = res["published"].get("accuracy")
        diff = "" if pub is None else f"{s['accuracy'][0] - pub:+.3f}"
        lines.append(
            f"| {res['name']} | {res.get('corpus', '-')} | {res.get('model_kind', '-')} | "
            f"{pub if pub is not None else '-'} | {_fmt(s.get('accuracy'))} | "
            f"{diff} | {_fmt(s.get('macro_f1'))} | {s['seconds']:.0f} | "
            f"{res['baselines']['majority']['accuracy']:.3f} | "
            f"{res['baselines']['bag_of_words']['accuracy']:.3f} | "
            f"{_linear_cells(res['baselines'].get('linear'))} |"
        )
    lines += [
        "",
        "Majority: always the most frequent training class. Bag-of-words: TF-IDF over the same "
        "token ids + logistic regression (scikit-learn, C=10, not tuned on the test set). "
        "Strongest linear: word unigrams and bigrams of the same token ids (in at least 2 "
        "training documents), tf-idf with sublinear tf for a linear SVM (C in "
        f"{_grid('svm')}) and logistic regression (C in {_grid('logreg')}), binarized for "
        f"NBSVM (C in {_grid('nbsvm')}, beta in {_grid(None)}); each model's settings are "
        "chosen by accuracy on a stratified, seeded 20 % validation split of the training "
        "part, the line is the model best on validation (never the best on test), refitted "
        "on the whole training part and scored once on test; its s/run counts features, fit "
        "and predict. rnnlab's s/run is the mean training time of one run. "
        "Macro-F1 averages over the classes present in the test labels or the predictions.",
        "",
        *_best_table(results),
    ]
    for res in results:
        s = summarize(res)
        split = res["split"]
        name = res["name"]
        _plot_curves(res, out / "figures" / f"{name}_curves.png")
        lines += [
            f"## {name}",
            "",
            res.get("description", ""),
            "",
            f"- Corpus: {res.get('corpus', '-')}; model kind: {res.get('model_kind', '-')}.",
            f"- Split: {split['train']} train / {split['test']} test, {split['classes']} classes "
            f"({split['classes_in_train']} occur in train, {split['classes_in_test']} in test), "
            f"sequences padded to {split['maxlen']}, vocabulary {split['vocab_size']} ids.",
            f"- Validation: {res.get('validation_note', 'none')}",
            f"- Test accuracy {_fmt(s.get('accuracy'))}, macro-F1 {_fmt(s.get('macro_f1'))}, "
            f"loss {_fmt(s.get('loss'))}; per seed: "
            + ", ".join(f"{r['seed']}: {r['test']['accuracy']:.3f}" for r in res["runs"]),
            *_published_line(res["published"]),
            f"- Baselines: majority {res['baselines']['majority']['accuracy']:.3f} "
            f"(macro-F1 {res['baselines']['majority']['macro_f1']:.3f}), bag-of-words "
            f"{res['baselines']['bag_of_words']['accuracy']:.3f} "
            f"(macro-F1 {res['baselines']['bag_of_words']['macro_f1']:.3f})",
            f"- Time per run: {s['seconds']:.1f} s of training (mean over seeds).",
        ]
        lines += _hybrid_line(res)
        if res["baselines"].get("linear") is not None:
            lines.append(_linear_line(res["baselines"]["linear"]))
        verdict = _verdict(res, s["accuracy"])
        if verdict:
            lines.append(f"- {verdict}")
        lines += ["", f"![learning curves](figures/{name}_curves.png)", ""]
        if res.get("confusion") is not None and split["classes"] > 2:
            _plot_confusion(res, out / "figures" / f"{name}_confusion.png")
            lines += [f"![confusion matrix](figures/{name}_confusion.png)", ""]
    path = out / "report.md"
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path
