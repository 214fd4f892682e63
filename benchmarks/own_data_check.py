"""The own-data default on corpora nobody tuned it on, beside the strongest linear line.

Builds labelled CSVs from the shared raw data, with label sets the recipes were never
chosen on, then for each runs exactly what a new user runs,
``rnnlab train --data train.csv data.test_path=test.csv`` (no --config: the
``text/default`` recipe), and the strongest linear baseline on the same split:

- ``reuters21578-places``: Reuters-21578 wires (the SGML files) labelled by their one
  PLACES entry (countries), the places with at least 40 such wires;
- ``imdb-ratings``: raw IMDB reviews labelled by their star rating (1-4, 7-10: eight
  classes), a seeded sample;
- ``imdb-sentiment-small``: 2,000 raw IMDB reviews, positive / negative.

Each corpus is split 80 / 20, stratified and seeded. Prints one row per corpus:
documents, classes, rnnlab's and the linear line's accuracy, macro-F1 and seconds.

    RNNLAB_DATA=../shared/datasets python benchmarks/own_data_check.py [--only NAME] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from rnnlab.atomic import write_text_atomic
from rnnlab.cli import main as rnnlab_main
from rnnlab.experiments.baselines import describe, strongest_linear_baseline
from rnnlab.experiments.splits import stratified_split

REUTERS = re.compile(r"<REUTERS.*?</REUTERS>", re.S)


def _tag(block: str, name: str) -> str:
    found = re.search(rf"<{name}>(.*?)</{name}>", block, re.S)
    return html.unescape(found.group(1)).strip() if found else ""


def reuters_places(data: Path, min_docs: int = 40) -> tuple[list[str], list[str]]:
    """Wires with exactly one PLACES entry and a body, for places with >= ``min_docs`` wires."""
    docs = []
    for sgm in sorted((data / "reuters21578").glob("reut2-*.sgm")):
        for block in REUTERS.findall(sgm.read_text(encoding="latin-1")):
            places = re.findall(r"<D>(.*?)</D>", _tag(block, "PLACES"))
            body = _tag(block, "BODY")
            if len(places) == 1 and body:
                docs.append((f"{_tag(block, 'TITLE')}. {body}", places[0]))
    counts = Counter(label for _, label in docs)
    kept = [(t, label) for t, label in docs if counts[label] >= min_docs]
    return [t for t, _ in kept], [label for _, label in kept]


def imdb_sample(data: Path, n: int, seed: int, by: str) -> tuple[list[str], list[str]]:
    """``n`` seeded raw reviews labelled by ``by`` ('sentiment' or 'rating')."""
    with open(data / "imdb_reviews.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    picked = np.random.RandomState(seed).choice(len(rows), size=n, replace=False)
    return [rows[i]["review"] for i in picked], [rows[i][by] for i in picked]


CORPORA = {
    "reuters21578-places": lambda d: reuters_places(d),
    "imdb-ratings": lambda d: imdb_sample(d, 4000, 1, "rating"),
    "imdb-sentiment-small": lambda d: imdb_sample(d, 2000, 2, "sentiment"),
}


def _write(path: Path, texts: list[str], labels: list[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels))


def check(name: str, data: Path, work: Path, quick: bool) -> dict:
    texts, labels = CORPORA[name](data)
    classes = sorted(set(labels))
    y = np.array([classes.index(label) for label in labels])
    train_rows, test_rows = stratified_split(y, 0.2, 0, name="test fraction")
    split = {}
    for part, rows in (("train", train_rows), ("test", test_rows)):
        split[part] = ([texts[i] for i in rows], y[rows])
        _write(work / f"{name}-{part}.csv", split[part][0], [classes[k] for k in y[rows]])
    run_dir = work / f"{name}-run"
    start = time.perf_counter()
    argv = ["train", "--data", str(work / f"{name}-train.csv"), "--out", str(run_dir), "--quiet"]
    argv += [f"data.test_path={work / f'{name}-test.csv'}"] + (["--quick"] if quick else [])
    if rnnlab_main(argv) != 0:
        raise SystemExit(f"rnnlab train failed on {name}")
    wall = time.perf_counter() - start
    metrics = json.loads((run_dir / "metrics.json").read_text())
    linear = strongest_linear_baseline(*split["train"], *split["test"], seed=0)
    return {
        "corpus": name,
        "documents": len(texts),
        "classes": len(classes),
        "rnnlab": metrics["test"],
        "rnnlab_seconds": metrics["seconds"],
        "rnnlab_wall_seconds": wall,
        "blend_share": (metrics.get("hybrid") or {}).get("blend_share"),
        "linear": {k: linear[k] for k in ("model", "C", "accuracy", "macro_f1", "seconds")}
        | {"described": describe(linear)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(CORPORA), action="append")
    parser.add_argument("--quick", action="store_true", help="rnnlab's --quick (a smoke run)")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    data = Path(os.environ.get("RNNLAB_DATA", "../shared/datasets"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or sorted(CORPORA):
            rows.append(check(name, data, Path(tmp), args.quick))
            r = rows[-1]
            print(
                f"{name}: {r['documents']} docs, {r['classes']} classes | rnnlab default "
                f"{r['rnnlab']['accuracy']:.3f} (macro-F1 {r['rnnlab']['macro_f1']:.3f}, "
                f"{r['rnnlab_seconds']:.0f} s, linear share {r['blend_share']}) | linear "
                f"{r['linear']['described']} {r['linear']['accuracy']:.3f} (macro-F1 "
                f"{r['linear']['macro_f1']:.3f}, {r['linear']['seconds']:.1f} s)",
                flush=True,
            )
    if args.json:
        write_text_atomic(args.json, json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
