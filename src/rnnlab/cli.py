"""The `rnnlab` command line.

Every error a user can cause (a missing file, a bad column, an unknown key)
ends as one line on stderr and exit code 2; `--debug` shows the traceback. Those
are rnnlab's own errors (`rnnlab.errors.RnnlabError`) and the operating system's
refusals of a path the user named (`OSError`). Any other exception is a bug, and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rnnlab import __version__
from rnnlab.errors import RnnlabError

# Exit code for errors caused by input (bad file, bad argument); 1 stays for crashes.
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def _cmd_data(args: argparse.Namespace) -> int:
    """Load both Keras data sets the way the tutorials do and print a summary."""
    import numpy as np

    from rnnlab.datasets import imdb, reuters
    from rnnlab.datasets.files import data_dirs

    print(f"data directories searched: {', '.join(str(d) for d in data_dirs())}")
    (xr, yr), (xr_test, yr_test) = reuters.load_data(num_words=30000, maxlen=50, test_split=0.3)
    names = reuters.get_label_names()
    counts = np.bincount(yr_test, minlength=len(names))
    print(
        f"reuters (num_words=30000, maxlen=50, test_split=0.3): {len(xr)} train / "
        f"{len(xr_test)} test wires, {len(names)} topics "
        f"({len(set(yr.tolist()))} present in train, {len(set(yr_test.tolist()))} in test); "
        f"majority topic '{names[counts.argmax()]}' is {counts.max() / len(yr_test):.1%} of test"
    )
    (xi, yi), (xi_test, yi_test) = imdb.load_data(num_words=20000)
    lengths = np.array([len(s) for s in xi])
    print(
        f"imdb (num_words=20000): {len(xi)} train / {len(xi_test)} test reviews, "
        f"{yi.mean():.1%} positive in train; review length median {int(np.median(lengths))}, "
        f"{(lengths <= 80).mean():.1%} fit in maxlen=80 without truncation"
    )
    print(f"imdb x_train[0][:10] = {list(xi[0][:10])} ...: {imdb.decode(xi[0][:10])}")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from rnnlab.errors import check_int
    from rnnlab.experiments import reproduce

    if args.seed is None:
        seeds = list(range(check_int("--seeds", args.seeds, minimum=1)))
    else:
        seeds = args.seed
    flags = ["--quick"] if args.quick else []
    flags += [f"--jobs {args.jobs}"] if args.jobs != 1 else []
    command = "rnnlab reproduce " + " ".join(args.names + flags)
    report = reproduce(
        args.names,
        seeds=seeds,
        out_dir=args.out,
        quick=args.quick,
        overrides=args.overrides,
        command=command.strip(),
        jobs=args.jobs,
    )
    print(report.read_text(encoding="utf-8").split("\n## ")[0])
    print(f"report: {report}")
    return 0


def _data_overrides(path: str | None) -> list[str]:
    """`--data FILE_OR_DIR` is shorthand for data.source + data.path."""
    if path is None:
        return []
    from pathlib import Path

    from rnnlab.errors import DataFileError

    p = Path(path)
    if not p.exists():
        raise DataFileError(f"--data {path!r} does not exist")
    return [f"data.source={'folder' if p.is_dir() else 'csv'}", f"data.path={path}"]


def _launch_train(args: argparse.Namespace, overrides: list[str]) -> int:
    """`rnnlab train --nproc N`: N local workers through torch's launcher, one run directory."""
    import time
    from pathlib import Path

    from rnnlab.engine.launch import launch_workers
    from rnnlab.errors import WorkersFailedError
    from rnnlab.experiments.catalog import resolve_config
    from rnnlab.experiments.config import apply_overrides, load_config

    config = args.config or DEFAULT_TEXT_CONFIG
    out = args.out
    if out is None:  # every worker (and every restart) must use the same directory
        name = apply_overrides(load_config(resolve_config(config)), overrides).name
        out = str(Path("runs") / name / time.strftime("%Y%m%d-%H%M%S"))
    worker = ["train", "--config", config, "--out", out, *args.overrides]
    worker += ["--data", args.data] if args.data else []
    worker += ["--seed", str(args.seed)] if args.seed is not None else []
    worker += ["--quick"] * args.quick + ["--quiet"] * args.quiet
    worker += ["--threads", str(args.threads)] if args.threads is not None else []
    try:
        return launch_workers(worker, args.nproc, args.max_restarts, args.threads)
    except WorkersFailedError as exc:
        print(f"rnnlab: error: {exc}", file=sys.stderr)
        return exc.exit_code


DEFAULT_TEXT_CONFIG = "text/default"


def _cmd_train(args: argparse.Namespace) -> int:
    from rnnlab.engine.distributed import launched_world_size, leave_group
    from rnnlab.errors import ConfigError
    from rnnlab.experiments import train_one

    if args.config is None and args.data is None:
        raise ConfigError(
            "rnnlab train needs --config NAME (e.g. imdb/lstm) or --data FILE (your own text, "
            f"trained with the {DEFAULT_TEXT_CONFIG} recipe)"
        )
    overrides = _data_overrides(args.data) + args.overrides
    workers = launched_world_size()
    if args.nproc > 1 and workers == 1:
        return _launch_train(args, overrides)
    if workers > 1 or args.threads is not None:
        import torch

        from rnnlab.engine.launch import default_threads

        torch.set_num_threads(args.threads or default_threads())
    try:
        result = train_one(
            args.config or DEFAULT_TEXT_CONFIG,
            overrides,
            seed=args.seed,
            out_dir=args.out,
            quick=args.quick,
            verbose=0 if args.quiet else 1,
            distributed=workers > 1,
        )
    finally:
        leave_group()
    if result.get("writer") is False:  # a distributed worker other than rank 0: rank 0 reports
        return 0
    test, split = result["test"], result["split"]
    print(f"data: {split['train']} train / {split['test']} test, {split['classes']} classes")
    print(
        f"test accuracy {test['accuracy']:.4f}, macro-F1 {test['macro_f1']:.4f}, "
        f"loss {test['loss']:.4f} (majority baseline "
        f"{result['baseline_majority']['accuracy']:.4f})"
    )
    print(f"run directory: {result['dir']} (model in {result['dir']}/model)")
    return 0


def _read_texts(path: str, text_column: str | None, label_column: str | None):
    """Texts (and labels) from a CSV/TSV file, a folder tree, a .txt file or '-' (stdin)."""
    from pathlib import Path

    from rnnlab.data.text import TextDataset, read_csv, read_folder

    if path == "-":
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
        return TextDataset(texts, None, [str(i) for i in range(1, len(texts) + 1)], source="stdin")
    p = Path(path)
    if p.is_dir():
        return read_folder(p)
    if p.suffix.lower() in (".csv", ".tsv", ".tab"):
        return read_csv(p, text_column=text_column or "text", label_column=label_column)
    from rnnlab.data.text import decode_bytes
    from rnnlab.errors import DataError, DataFileError

    if not p.is_file():
        raise DataFileError(f"input file {path!r} does not exist")
    texts = [
        line for line in decode_bytes(p.read_bytes(), "utf-8", path).splitlines() if line.strip()
    ]
    if not texts:
        raise DataError(f"{path} holds no text (expected one text per line)")
    return TextDataset(texts, None, [str(i) for i in range(1, len(texts) + 1)], source=path)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from rnnlab.errors import DataError
    from rnnlab.experiments.evaluation import classification_metrics, per_class_table
    from rnnlab.pipeline import load

    model = load(args.model)
    data = _read_texts(args.data, args.text_column, args.label_column)
    if data.labels is None:
        raise DataError(
            f"{args.data}: evaluation needs labels; name the label column with --label-column"
        )
    unknown = sorted(set(data.labels) - set(model.label_names))
    if unknown:
        raise DataError(
            f"{args.data}: labels {unknown} were never seen in training; the model "
            f"knows {model.label_names}"
        )
    index = {n: k for k, n in enumerate(model.label_names)}
    y = np.array([index[label] for label in data.labels])
    pred = model.predict_proba(data.texts).argmax(1)
    metrics = classification_metrics(y, pred)
    print(f"{len(y)} texts: accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}")
    print(f"{'label':<20} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}")
    for row in per_class_table(y, pred, model.label_names):
        print(
            f"{row['label']:<20} {row['precision']:>9.3f} {row['recall']:>9.3f} "
            f"{row['f1']:>9.3f} {row['support']:>8d}"
        )
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    import csv
    import json

    from rnnlab.pipeline import load

    model = load(args.model)
    data = _read_texts(args.input, args.text_column, None)
    probs = model.predict_proba(data.texts)
    out = sys.stdout
    if args.format == "jsonl":
        for i, row in zip(data.ids, probs):
            k = int(row.argmax())
            out.write(
                json.dumps(
                    {
                        "id": i,
                        "label": model.label_names[k],
                        "probabilities": dict(zip(model.label_names, map(float, row.round(6)))),
                    }
                )
                + "\n"
            )
    else:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "label", *[f"p_{n}" for n in model.label_names]])
        for i, row in zip(data.ids, probs):
            writer.writerow([i, model.label_names[int(row.argmax())], *[f"{p:.6f}" for p in row]])
    return 0


def _cmd_import_keras(args: argparse.Namespace) -> int:
    from rnnlab.keras_import import from_keras

    lower = {"true": True, "false": False, "ascii": "ascii"}[args.lower]
    pipeline = from_keras(
        args.file,
        labels=args.labels,
        maxlen=args.maxlen,
        padding=args.padding,
        truncating=args.truncating,
        word_index=args.word_index,
        num_words=args.num_words,
        lower=lower,
    )
    out = pipeline.save(args.out)
    reads = pipeline.inputs.kind
    print(
        f"imported {args.file}: {len(pipeline.labels)} classes ({', '.join(pipeline.labels)}), "
        f"reads {reads} (maxlen {pipeline.inputs.maxlen}, padding {pipeline.inputs.padding})"
        if reads != "array"
        else f"imported {args.file}: reads arrays of shape {pipeline.inputs.shape}"
    )
    print(f"saved model: {out} (rnnlab predict {out} FILE)")
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from rnnlab.atomic import write_text_atomic
    from rnnlab.errors import DataError
    from rnnlab.interpret import explain, render_html
    from rnnlab.pipeline import load

    text = sys.stdin.read() if args.text in (None, "-") else args.text
    text = text.strip()
    if not text:
        raise DataError("no text to explain: pass TEXT, or pipe it on stdin")
    model = load(args.model)
    result = explain(
        model,
        text,
        target=args.target,
        steps=args.steps,
        method=args.method,
        occlusion_mode=args.occlusion,
    )
    p = result["probabilities"]
    print(
        f"label: {result['label']} (p={p[result['label']]:.3f}); explaining "
        f"'{result['target']}' (p={p[result['target']]:.3f}) by "
        f"{result['method'].replace('_', ' ')}, in logit space"
    )
    seen = [t for t in result["tokens"] if t["attribution"] is not None]
    top = sorted(seen, key=lambda t: -abs(t["attribution"]))[: args.top]
    print(f"most influential tokens (+ towards '{result['target']}', - away):")
    for t in top:
        print(f"  {t['attribution']:+.4f}  {t['token']}")
    unseen = len(result["tokens"]) - len(seen)
    if unseen:
        print(
            f"({unseen} tokens not seen by the model: truncated to its last "
            f"{model.inputs.maxlen} steps, or unknown words it drops)"
        )
    if "completeness" in result:
        c = result["completeness"]
        print(
            f"completeness: attributions sum to {c['sum']:+.4f}; logit(text) - "
            f"logit(baseline) = {c['difference']:+.4f} (error {c['error']:+.1e})"
        )
    if args.html:
        write_text_atomic(args.html, render_html(result, title=f"rnnlab explain {args.model}"))
        print(f"html: {args.html}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from rnnlab.serving.server import serve
    from rnnlab.serving.settings import ServeSettings

    settings = ServeSettings(
        host=args.host,
        port=args.port,
        max_texts=args.max_texts,
        max_text_chars=args.max_text_chars,
        max_body_bytes=args.max_body_bytes,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        access_log=not args.no_access_log,
        header_timeout_s=args.header_timeout_s,
        body_timeout_s=args.body_timeout_s,
        max_explain_steps=args.max_explain_steps,
        max_explains=args.max_explains,
    )
    serve(args.model, settings)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from rnnlab.export import export_onnx

    result = export_onnx(args.model, args.out, opset=args.opset, verify=not args.no_verify)
    checked = (
        "not checked against rnnlab (--no-verify)"
        if result.max_abs_diff is None
        else f"matches rnnlab on the probe batches: max |probability difference| "
        f"{result.max_abs_diff:.1e}"
    )
    print(
        f"wrote {result.onnx_path} (ONNX opset {result.opset}, "
        f"{result.size_bytes / 1e6:.1f} MB; {checked})"
    )
    print(
        f"wrote {result.sidecar_path} (labels, tokenizer, vocabulary and padding: "
        "see docs/export.md)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnlab", description="Recurrent-network text classifiers with Keras-exact data."
    )
    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    data = sub.add_parser("data", help="load the IMDB and Reuters data sets and print a summary")
    data.set_defaults(func=_cmd_data)

    rep = sub.add_parser(
        "reproduce", help="reproduce the tutorials over several seeds, write a report"
    )
    rep.add_argument(
        "names",
        nargs="*",
        help="experiments (e.g. imdb/lstm) or .yaml files; default: every shipped "
        "reuters/ and imdb/ config",
    )
    rep.add_argument("--seeds", type=int, default=3, help="number of seeds 0..N-1 (default 3)")
    rep.add_argument("--seed", type=int, action="append", help="an explicit seed (repeatable)")
    rep.add_argument("--quick", action="store_true", help="small subset, one epoch: a smoke test")
    rep.add_argument("--out", default="runs/reproduce", help="output directory")
    rep.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs trained at once, each in its own process with cores/JOBS threads "
        "(default 1; on a 2-core machine --jobs 2 finishes sooner)",
    )
    rep.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dotted override applied to every experiment (repeatable)",
    )
    rep.set_defaults(func=_cmd_reproduce)

    train = sub.add_parser("train", help="train one config (dotted key=value overrides)")
    train.add_argument(
        "--config",
        help=f"a YAML file or a name like imdb/lstm (default with --data: {DEFAULT_TEXT_CONFIG})",
    )
    train.add_argument("--data", help="your CSV/TSV file or folder-per-label tree (sets data.*)")
    train.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="e.g. train.epochs=5")
    train.add_argument("--seed", type=int, help="random seed (default: the config's train.seed)")
    train.add_argument("--out", help="run directory (default runs/<name>/<time>)")
    train.add_argument("--quick", action="store_true", help="small subset, one epoch")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="data-parallel worker processes on this machine, started through "
        "torch.distributed.run (see docs/distributed.md)",
    )
    train.add_argument(
        "--max-restarts",
        type=int,
        default=0,
        help="with --nproc: restart the workers this often after a failure (each resumes)",
    )
    train.add_argument(
        "--threads", type=int, help="torch threads per worker (default: cores // workers)"
    )
    train.set_defaults(func=_cmd_train)

    ev = sub.add_parser(
        "evaluate", help="accuracy, macro-F1 and a per-class table on labelled data"
    )
    ev.add_argument("model", help="a saved model directory (a run's model/)")
    ev.add_argument("data", help="CSV/TSV file or folder-per-label tree")
    ev.add_argument("--text-column", default="text")
    ev.add_argument("--label-column", default="label")
    ev.set_defaults(func=_cmd_evaluate)

    pr = sub.add_parser("predict", help="labels and probabilities for texts (file or stdin)")
    pr.add_argument("model", help="a saved model directory (a run's model/)")
    pr.add_argument(
        "input",
        nargs="?",
        default="-",
        help="CSV/TSV (with --text-column), a .txt file (one text per line) or - for "
        "stdin; models trained on ids or numbers read one sequence per line, e.g. "
        "'12 7 431'",
    )
    pr.add_argument("--text-column", default="text")
    pr.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    pr.set_defaults(func=_cmd_predict)

    ik = sub.add_parser("import-keras", help="import a Keras .keras / .h5 model as a saved model")
    ik.add_argument("file", help="the Keras model file (model.save(...)); read without Keras")
    ik.add_argument("out", help="the saved-model directory to write")
    ik.add_argument("--labels", help="class names: a,b,c or a JSON list file (default 0..k-1)")
    ik.add_argument(
        "--maxlen", type=int, help="padded length, for models whose input length is free"
    )
    ik.add_argument(
        "--padding",
        choices=("pre", "post"),
        help="default: pre for ids (pad_sequences), post for numbers (Reuters)",
    )
    ik.add_argument("--truncating", choices=("pre", "post"), default="pre")
    ik.add_argument("--word-index", help="a Keras word index JSON file: the model reads raw text")
    ik.add_argument(
        "--num-words",
        type=int,
        help="with --word-index: ids >= N become oov (default: the Embedding size)",
    )
    ik.add_argument(
        "--lower",
        choices=("true", "false", "ascii"),
        default="true",
        help="with --word-index: lowercasing (ascii: as the Keras IMDB arrays)",
    )
    ik.set_defaults(func=_cmd_import_keras)

    ex = sub.add_parser("explain", help="which words made one prediction (and an HTML view)")
    ex.add_argument("model", help="a saved model directory")
    ex.add_argument("text", nargs="?", help="the text (or ids '12 7 431'); default: stdin")
    ex.add_argument("--target", help="the class to explain (default: the predicted one)")
    ex.add_argument("--steps", type=int, default=64, help="integrated-gradients steps (64)")
    ex.add_argument(
        "--method",
        choices=("auto", "integrated_gradients", "occlusion"),
        default="auto",
        help="auto: integrated gradients if the model has an embedding, else occlusion",
    )
    ex.add_argument(
        "--occlusion",
        choices=("drop", "pad", "oov"),
        default="drop",
        help="how occlusion takes a token out (default: drop it)",
    )
    ex.add_argument("--top", type=int, default=10, help="how many tokens to list (10)")
    ex.add_argument("--html", metavar="FILE", help="also write a coloured HTML page there")
    ex.set_defaults(func=_cmd_explain)

    from rnnlab.serving.settings import DEFAULT_HOST, DEFAULT_PORT, ServeSettings

    defaults = ServeSettings()
    sv = sub.add_parser(
        "serve",
        help="serve a saved model over HTTP: a JSON API and a page "
        "(needs the `serve` extra: pip install 'rnnlab[serve]')",
    )
    sv.add_argument("model", help="a saved model directory (a run's model/)")
    sv.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to bind (default %(default)s: this machine only)",
    )
    sv.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="TCP port (default %(default)s; 0: any free port)",
    )
    sv.add_argument(
        "--max-texts",
        type=int,
        default=defaults.max_texts,
        help="texts per request (default %(default)s)",
    )
    sv.add_argument(
        "--max-text-chars",
        type=int,
        default=defaults.max_text_chars,
        help="characters per text (default %(default)s)",
    )
    sv.add_argument(
        "--max-body-bytes",
        type=int,
        default=defaults.max_body_bytes,
        help="bytes per request body (default %(default)s)",
    )
    sv.add_argument(
        "--max-batch",
        type=int,
        default=defaults.max_batch,
        help="texts in one forward pass; 1 turns batching off (default %(default)s)",
    )
    sv.add_argument(
        "--max-wait-ms",
        type=float,
        default=defaults.max_wait_ms,
        help="longest wait for a batch to fill, ms (default %(default)s)",
    )
    sv.add_argument(
        "--header-timeout-s",
        type=float,
        default=defaults.header_timeout_s,
        help="seconds a connection may take to send a request's headers; then it is closed "
        "(default %(default)s)",
    )
    sv.add_argument(
        "--body-timeout-s",
        type=float,
        default=defaults.body_timeout_s,
        help="seconds a request body may take after its headers; then 408 (default %(default)s)",
    )
    sv.add_argument(
        "--max-explain-steps",
        type=int,
        default=defaults.max_explain_steps,
        help="integration points one POST /v1/explain may ask for (default %(default)s)",
    )
    sv.add_argument(
        "--max-explains",
        type=int,
        default=defaults.max_explains,
        help="explanations computed at once; more wait (default %(default)s)",
    )
    sv.add_argument("--no-access-log", action="store_true", help="no log line per request")
    sv.set_defaults(func=_cmd_serve)

    xp = sub.add_parser(
        "export", help="export a model to ONNX, with a JSON of its inputs beside it"
    )
    xp.add_argument("model", help="a saved model directory (a run's model/)")
    xp.add_argument("out", help="the .onnx file to write; OUT with the suffix .json is the sidecar")
    xp.add_argument("--opset", type=int, default=17, help="ONNX opset, 17 or later (default 17)")
    xp.add_argument(
        "--no-verify",
        action="store_true",
        help="skip running the graph on onnxruntime against rnnlab before writing",
    )
    xp.set_defaults(func=_cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # parse_known_args + this lets `key=value` overrides sit anywhere among the options
    # (argparse alone stops collecting positionals at the first option after them).
    args, extra = parser.parse_known_args(argv)
    stray = [
        e for e in extra if e.startswith("-") or "=" not in e or not hasattr(args, "overrides")
    ]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if extra:
        args.overrides = list(args.overrides) + extra
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        # A fit stopped by SIGINT / SIGTERM says where its checkpoint is (TrainingInterrupted).
        # Data-parallel workers all stop at one batch with one checkpoint: rank 0 says so.
        if os.environ.get("RANK", "0") == "0":
            print(f"rnnlab: {str(exc) or 'interrupted'}", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_INTERRUPTED)
    except (RnnlabError, OSError) as exc:
        # Only errors about the user's input become one line; a plain ValueError from deep
        # inside is a bug, and its traceback is what gets it fixed.
        if args.debug:
            raise
        print(f"rnnlab: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE


def _one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line; an OSError as 'path: reason', like other tools."""
    plain_os_error = isinstance(exc, OSError) and not isinstance(exc, RnnlabError)
    if plain_os_error and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return " ".join(str(exc).split("\n")) or type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
