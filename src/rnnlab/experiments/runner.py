"""Experiments: config -> data -> model -> Trainer -> metrics, saved model and report.

The three steps read like the IMDB tutorial's data / model / run classes::

    cfg = load_config(resolve_config("imdb/lstm"))  # a shipped config, or any .yaml path
    data = prepare_data(cfg.data)              # data
    model = build_model(cfg, data)             # model
    result = run(cfg, data, model, seed=0)     # run: fit, evaluate, save

`reproduce` runs several configs over several seeds and writes the report.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch.optim.lr_scheduler import CosineAnnealingLR
from tqdm import tqdm

from rnnlab.atomic import write_text_atomic
from rnnlab.engine import (
    Checkpoint,
    EarlyStopping,
    GradientClipping,
    LRScheduler,
    ReduceLROnPlateau,
    TerminateOnNaN,
    Trainer,
    build_optimizer,
    seed_everything,
)
from rnnlab.engine.buckets import BucketedData
from rnnlab.engine.launch import available_cores
from rnnlab.errors import ConfigError, check_int
from rnnlab.experiments.baselines import strongest_linear_baseline
from rnnlab.experiments.catalog import reproduced_configs, resolve_config
from rnnlab.experiments.config import (
    DataConfig,
    ExperimentConfig,
    apply_overrides,
    dump_config,
    load_config,
)
from rnnlab.experiments.evaluation import (
    bag_of_words_baseline,
    classification_metrics,
    confusion,
    log_loss,
    majority_baseline,
    per_class_table,
)
from rnnlab.experiments.hybrid_fit import fit_hybrid, ngram_part_predictions
from rnnlab.experiments.prepare import (
    OWN_DATA_SOURCES,
    PreparedData,
    corpus_name,
    prepare_data,
    validation_rows,
)
from rnnlab.experiments.report import validation_accuracy, write_report
from rnnlab.experiments.run_pool import run_in_pool
from rnnlab.experiments.streamed import StreamedData, prepare_streamed
from rnnlab.input_encoder import InputEncoder
from rnnlab.models import RecurrentClassifier
from rnnlab.pipeline import Pipeline

METRIC_KEYS = ("seed", "test", "seconds", "epochs_run", "confusion", "per_class")


def finished_run(cfg: ExperimentConfig, run_dir: Path) -> dict[str, Any] | None:
    """The result of a run already completed in ``run_dir`` with exactly ``cfg``, else None.

    This is what lets an interrupted `reproduce` continue: finished (experiment,
    seed) runs are read back instead of trained again.
    """
    try:
        if (
            load_config(run_dir / "config.yaml") != cfg
            or not (run_dir / "model" / "manifest.json").is_file()
        ):
            return None
        metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
        history = json.loads((run_dir / "history.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if any(k not in metrics for k in METRIC_KEYS):
        return None
    # Runs written before metrics.json recorded its validation validated own data on the
    # last fraction: they are not the run this config now gives.
    recorded = metrics.get("validation")
    if recorded != validation_note(cfg) and (recorded is not None or _stratified(cfg)):
        return None
    return {**metrics, "history": history, "dir": str(run_dir)}


def _write_json(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1))


def build_model(cfg: ExperimentConfig, data: PreparedData | StreamedData) -> RecurrentClassifier:
    """The config's model spec, sized by the data (vocabulary, classes) and its padding side."""
    return RecurrentClassifier(
        cfg.model,
        vocab_size=data.vocab_size,
        num_classes=data.num_classes,
        padding=cfg.data.padding,
    )


def balanced_class_weight(y: np.ndarray, num_classes: int) -> list[float]:
    """scikit-learn's 'balanced' weights, ``n / (classes present * count)``; 1 for absent classes.

    >>> balanced_class_weight(np.array([0, 0, 0, 1]), 3)
    [0.6666666666666666, 2.0, 1.0]
    """
    counts = np.bincount(np.asarray(y, np.int64), minlength=num_classes)
    present = int((counts > 0).sum())
    return [len(y) / (present * c) if c else 1.0 for c in counts.tolist()]


def make_trainer(
    cfg: ExperimentConfig,
    model: RecurrentClassifier,
    seed: int,
    verbose: int,
    y_train: np.ndarray | None = None,
    distributed: bool = False,
) -> Trainer:
    """The config's Trainer; ``y_train`` (the rows it trains on) sizes `train.class_weight`."""
    t = cfg.train
    # A non-finite loss, or a step that overflows the weights, stops the run with the weights
    # of the last finite step (and, with a run directory, checkpoints that state) instead of
    # training on NaN weights. The copy per step that check_weights costs is small next to
    # a recurrent layer's step.
    callbacks: list[Any] = [TerminateOnNaN(check_weights=True)]
    if t.early_stopping_patience is not None:
        callbacks.append(
            EarlyStopping(
                monitor=t.monitor, patience=t.early_stopping_patience, restore_best_weights=True
            )
        )
    if t.clipnorm is not None:
        callbacks.append(GradientClipping(clipnorm=t.clipnorm))
    if t.lr_schedule == "plateau":
        callbacks.append(ReduceLROnPlateau(monitor=t.monitor, factor=t.lr_factor, patience=1))
    elif t.lr_schedule == "cosine":
        epochs = t.epochs
        callbacks.append(LRScheduler(lambda opt: CosineAnnealingLR(opt, T_max=epochs)))
    extra = {"eps": t.epsilon} if t.optimizer in ("adam", "rmsprop") else {}
    optimizer = build_optimizer(
        t.optimizer, model.parameters(), lr=t.lr, weight_decay=t.weight_decay, **extra
    )
    loss = "binary_crossentropy" if model.config["num_classes"] == 2 else "cross_entropy"
    class_weight = None
    if t.class_weight == "balanced":
        if y_train is None:
            raise ConfigError("`train.class_weight: balanced` needs the training labels")
        class_weight = balanced_class_weight(y_train, int(model.config["num_classes"]))
    return Trainer(
        model,
        class_weight=class_weight,
        loss=loss,
        optimizer=optimizer,
        metrics=["accuracy"],
        callbacks=callbacks,
        seed=seed,
        verbose=verbose,
        device=t.device,
        distributed=distributed,
    )


def run(
    cfg: ExperimentConfig,
    data: PreparedData | StreamedData,
    model: RecurrentClassifier,
    seed: int = 0,
    out_dir: str | Path | None = None,
    quick: bool = False,
    verbose: int = 1,
    distributed: bool = False,
) -> dict[str, Any]:
    """Fit ``model`` on ``data`` as ``cfg.train`` says, evaluate on test, save everything.

    With ``distributed`` (one worker of ``rnnlab train --nproc N`` / torchrun) every
    worker trains and evaluates its shard, and rank 0 alone writes; the other
    workers return ``{"writer": False}``.

    Writes into ``out_dir`` (when given): config.yaml (resolved), history.json,
    metrics.json and model/ (a saved model: `rnnlab.load` reads it). While the fit
    runs, ``out_dir/checkpoints`` holds its checkpoints; the same call with the same
    ``out_dir`` resumes from them, and they are deleted once the model is saved
    (kept when a non-finite loss stopped the run: they hold its last good state).
    """
    t = cfg.train
    train, fit_kwargs = fit_data(cfg, data)
    # Class weights come from the labels the model trains on (a streamed store's are on disk).
    labels = train[1] if isinstance(train, tuple) else None
    if isinstance(train, BucketedData):
        labels = train.target.numpy()
    trainer = make_trainer(cfg, model, seed, verbose, y_train=labels, distributed=distributed)
    checkpoints = None
    if out_dir is not None:
        # Checkpoints of the run live in its directory: rerunning the same command after a
        # kill, a crash or Ctrl-C / SIGTERM resumes the fit where it stopped.
        checkpoints = Path(out_dir) / CHECKPOINTS
        if trainer.is_writer:
            identity = {"config": cfg.to_dict(), "seed": seed, "quick": quick}
            _claim_checkpoints(checkpoints, identity)
    start = time.perf_counter()
    history = trainer.fit(
        train,
        epochs=1 if quick else t.epochs,
        batch_size=t.batch_size,
        checkpoint_dir=checkpoints,
        # A run of many short epochs (the Reuters tutorials train 200 of about 0.1 s) must not
        # spend its time writing checkpoints; a kill loses at most this many seconds.
        callbacks=[Checkpoint(checkpoints, min_interval_s=CHECKPOINT_INTERVAL_S)]
        if checkpoints is not None
        else None,
        **fit_kwargs,
    )
    seconds = time.perf_counter() - start
    nan_stop = bool(trainer.stop_reason and trainer.stop_reason.startswith("TerminateOnNaN"))
    if nan_stop:
        warnings.warn(
            f"training stopped early: {trainer.stop_reason}", RuntimeWarning, stacklevel=2
        )
    streamed = isinstance(data, StreamedData)
    test_data = data.test if streamed else ((data.x_test, data.len_test), data.y_test)
    # A hybrid's test loss is that of its blend (below): no pass of the recurrent part alone
    # for it, which costs as much as a prediction over the whole test set (distributed,
    # every worker evaluates its shard together, so they all still do).
    test_eval = None
    if cfg.model_kind != "hybrid" or distributed:
        test_eval = trainer.evaluate(test_data, batch_size=256)
    if not trainer.is_writer:  # distributed: rank 0 predicts, reports and saves
        assert test_eval is not None
        return {"writer": False, "seed": seed, "test": {"loss": float(test_eval["loss"])}}
    hybrid = None
    if cfg.model_kind == "hybrid":
        # The recurrent part alone is a purely recurrent model of its own: record how it
        # does, so the report can weigh it (on validation) against the blend.
        recurrent_pred = Pipeline(model, data.label_names, InputEncoder("ids", maxlen=1))
        recurrent_pred = recurrent_pred.predict_proba_encoded(data.x_test, data.len_test)
        fit_rows, val_rows = fit_and_validation_rows(cfg, data)
        model, hybrid = fit_hybrid(
            model,
            fit_rows,
            val_rows,
            seed=seed,
            min_df=cfg.linear.min_df,
            orders=cfg.linear.ngram_orders,
            weightings=cfg.linear.weightings,
        )
        hybrid["recurrent_part"] = {
            "test": classification_metrics(data.y_test, recurrent_pred.argmax(1)),
            "validation_accuracy": validation_accuracy({"history": history.history}),
        }
        # And the n-gram part alone: how much of the blend is NBSVM's own.
        hybrid["linear_part"] = {
            "test": classification_metrics(data.y_test, ngram_part_predictions(model, data.x_test)),
        }
        seconds += hybrid["seconds"]
    inputs = InputEncoder(
        "text" if data.vocabulary is not None else "ids",
        maxlen=data.maxlen if streamed else data.x_train.shape[1],
        padding=cfg.data.padding,
        truncating=cfg.data.truncating,
        vocabulary=data.vocabulary,
    )
    pipeline = Pipeline(
        model,
        data.label_names,
        inputs,
        architecture="HybridClassifier" if hybrid is not None else "RecurrentClassifier",
    )
    if streamed:  # the test part batch by batch from the store, in its order
        proba = trainer.predict_proba(data.test, batch_size=256)
    else:
        proba = pipeline.predict_proba_encoded(data.x_test, data.len_test)
    y_pred = proba.argmax(1)
    # The hybrid's loss is that of its blended probabilities, not of its recurrent part.
    if hybrid is not None:
        loss = log_loss(proba, data.y_test)
    else:
        assert test_eval is not None
        loss = float(test_eval["loss"])
    test = {**classification_metrics(data.y_test, y_pred), "loss": loss}
    result = {
        "seed": seed,
        "test": test,
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
        "seconds": seconds,
        "epochs_run": len(history.history.get("loss", [])),
        "stop_reason": trainer.stop_reason,
        "confusion": confusion(data.y_test, y_pred, data.num_classes).tolist(),
        "per_class": per_class_table(data.y_test, y_pred, data.label_names),
        **({"hybrid": hybrid} if hybrid is not None else {}),
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        dump_config(cfg, out / "config.yaml")
        _write_json(out / "history.json", result["history"])
        _write_json(
            out / "metrics.json",
            {
                **{k: result[k] for k in (*METRIC_KEYS, "hybrid") if k in result},
                "validation": validation_note(cfg),
            },
        )
        pipeline.parts["training"] = {
            "name": cfg.name,
            "seed": seed,
            "config": cfg.to_dict(),
            "test": test,
            "epochs_run": result["epochs_run"],
        }
        pipeline.save(out / "model")
        result["dir"] = str(out)
        if checkpoints is not None and not nan_stop:
            shutil.rmtree(checkpoints, ignore_errors=True)  # finished: nothing left to resume
    return result


def _stratified(cfg: ExperimentConfig) -> bool:
    """Whether the run validates on a stratified split of own data (else Keras's last fraction)."""
    return bool(cfg.train.validation_split) and cfg.data.source in OWN_DATA_SOURCES


def fit_data(
    cfg: ExperimentConfig, data: PreparedData | StreamedData
) -> tuple[Any, dict[str, Any]]:
    """The training data `Trainer.fit` gets, and its validation keyword.

    Keras arrays: all of the training arrays and ``validation_split`` (the engine holds
    out the last fraction, as Keras). Own data: the training rows of `validation_rows`
    and ``validation_data`` (its stratified held-out rows). The tutorial's
    ``validate_on_test`` passes the test set for the printout only.
    """
    t = cfg.train
    if isinstance(data, StreamedData):  # the store holds its own validation part
        return data.train, ({} if data.val is None else {"validation_data": data.val})

    def engine_data(x: np.ndarray, lengths: np.ndarray, y: np.ndarray) -> Any:
        if t.bucket_by_length:
            return BucketedData.from_pair(((x, lengths), y), padding=cfg.data.padding)
        return (x, lengths), y

    whole = engine_data(data.x_train, data.len_train, data.y_train)
    if t.validation_split:
        rows = validation_rows(cfg.data, data.y_train, t.validation_split)
        if rows is None:
            return whole, {"validation_split": t.validation_split}
        kept, held = rows
        return (
            engine_data(data.x_train[kept], data.len_train[kept], data.y_train[kept]),
            {
                "validation_data": engine_data(
                    data.x_train[held], data.len_train[held], data.y_train[held]
                )
            },
        )
    if t.validate_on_test:  # the tutorial's printout only; nothing is selected on it
        return whole, {"validation_data": ((data.x_test, data.len_test), data.y_test)}
    return whole, {}


def model_kind(cfg: ExperimentConfig) -> str:
    """'recurrent' or 'hybrid' (the config's `model_kind`)."""
    return cfg.model_kind


def fit_and_validation_rows(cfg: ExperimentConfig, data: PreparedData) -> tuple[tuple, tuple]:
    """``(ids, lengths, labels)`` of the rows the model trains on and of its validation rows.

    The same split `fit_data` gives `Trainer.fit`: stratified rows for own data, the
    last fraction (Keras's ``validation_split``) for the Keras arrays.
    """
    t = cfg.train
    rows = validation_rows(cfg.data, data.y_train, t.validation_split)
    if rows is None:
        split_at = math.floor(len(data.y_train) * (1.0 - t.validation_split))
        kept, held = np.arange(split_at), np.arange(split_at, len(data.y_train))
    else:
        kept, held = rows
    return tuple(  # type: ignore[return-value]
        (data.x_train[r], data.len_train[r], data.y_train[r]) for r in (kept, held)
    )


def _corpus_key(cfg: DataConfig) -> DataConfig:
    """The data settings that decide the documents and labels (not their padding)."""
    return dataclasses.replace(cfg, maxlen=None, padding="pre", truncating="pre")


CHECKPOINTS = "checkpoints"
CHECKPOINT_INTERVAL_S = 30.0
RUN_IDENTITY = "run.json"


def _claim_checkpoints(directory: Path, identity: dict[str, Any]) -> None:
    """Make ``directory`` this run's checkpoint directory; refuse one that belongs to another.

    A checkpoint resumes only the run that wrote it: the same config, seed and
    --quick. Anything else in the same run directory would mix two runs.
    """
    marker = directory / RUN_IDENTITY
    if marker.is_file():
        try:
            theirs = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            theirs = None
        if theirs != json.loads(json.dumps(identity)):
            raise ConfigError(
                f"{str(directory.parent)!r} holds checkpoints of another run (a different "
                f"config, seed or --quick, see {str(marker)!r}); pass another --out, or delete "
                f"{str(directory)!r} to start this run over"
            )
        return
    directory.mkdir(parents=True, exist_ok=True)
    _write_json(marker, identity)


def validation_note(cfg: ExperimentConfig) -> str:
    t = cfg.train
    if t.validation_split:
        if _stratified(cfg):
            note = (
                f"a stratified {t.validation_split:.0%} of the training part, every class in "
                f"its proportion, drawn with data.seed={cfg.data.seed} (never the test set)"
            )
        else:
            note = f"the last {t.validation_split:.0%} of the training set (never the test set)"
        if t.early_stopping_patience:
            note += (
                f"; early stopping on {t.monitor} with patience {t.early_stopping_patience}, "
                "best weights restored"
            )
        return note
    if t.validate_on_test:
        return (
            "none for model selection. As in the tutorial, the test set is evaluated after "
            "each epoch for the printout only (the dashed curves); nothing is chosen on it."
        )
    return "none (fixed number of epochs, as in the tutorial)"


def reproduce(
    names: Sequence[str] = (),
    seeds: Sequence[int] = (0, 1, 2),
    out_dir: str | Path = "runs/reproduce",
    quick: bool = False,
    overrides: Sequence[str] = (),
    command: str = "rnnlab reproduce",
    jobs: int = 1,
) -> Path:
    """Run experiments over seeds; write per-run outputs and `report.md`; return its path.

    Runs already finished in ``out_dir`` with the same config are reused, so an
    interrupted reproduction continues where it stopped. ``jobs`` > 1 trains that
    many runs at once, each in its own process with an equal share of the cores.
    """
    if not seeds:
        raise ConfigError("`seeds` must list at least one seed, got []; e.g. seeds=(0, 1, 2)")
    jobs = check_int("jobs", jobs, minimum=1)
    paths = [resolve_config(n) for n in names] if names else reproduced_configs()
    if not paths:
        raise ConfigError(
            "no experiment to reproduce: this rnnlab install ships no reuters/ or "
            "imdb/ config; name the experiments or .yaml files to run"
        )
    configs = [load_config(p, list(overrides)) for p in paths]  # validate all before running
    kinds = [model_kind(cfg) for cfg in configs]
    out = Path(out_dir)
    results = []
    linear: dict[DataConfig, dict[str, Any]] = {}  # experiments on one corpus share it
    bar = tqdm(total=len(configs) * len(seeds), desc="reproduce", unit="run", disable=None)
    trained: dict[tuple[str, int], dict[str, Any]] = {}
    if jobs > 1:
        pending = [
            (path, seed, out / cfg.name / f"seed{seed}")
            for path, cfg in zip(paths, configs)
            for seed in seeds
            if quick or finished_run(cfg, out / cfg.name / f"seed{seed}") is None
        ]
        bar.set_postfix_str(f"{len(pending)} runs in {jobs} processes")
        trained = run_in_pool(
            pending,
            overrides,
            jobs=jobs,
            threads=max(1, available_cores() // jobs),
            quick=quick,
            on_done=lambda key: bar.update(1),
        )
        bar.reset()
    for cfg, kind in zip(configs, kinds):
        data = prepare_data(cfg.data, quick=quick)
        key = _corpus_key(cfg.data)
        if key not in linear:
            bar.set_postfix_str(f"{cfg.name} linear baseline")
            linear[key] = strongest_linear_baseline(
                data.seq_train, data.y_train, data.seq_test, data.y_test, seed=cfg.data.seed
            )
        result: dict[str, Any] = {
            "name": cfg.name,
            "description": cfg.description,
            "corpus": corpus_name(cfg.data),
            "model_kind": kind,
            "quick": quick,
            "published": {k: v for k, v in cfg.published.__dict__.items()},
            "split": data.summary(),
            "label_names": data.label_names,
            "baselines": {
                "majority": majority_baseline(data.y_train, data.y_test),
                "bag_of_words": bag_of_words_baseline(
                    data.seq_train, data.y_train, data.seq_test, data.y_test
                ),
                "linear": linear[key],
            },
            "validation_note": validation_note(cfg),
            "val_name": "test (printout only)" if cfg.train.validate_on_test else "validation",
            "runs": [],
        }
        for seed in seeds:
            bar.set_postfix_str(f"{cfg.name} seed {seed}")
            run_dir = out / cfg.name / f"seed{seed}"
            done = trained.get((cfg.name, seed))
            if done is None and not quick:
                done = finished_run(cfg, run_dir)
            if done is None:
                seed_everything(seed)
                model = build_model(cfg, data)
                done = run(cfg, data, model, seed=seed, out_dir=run_dir, quick=quick, verbose=0)
            result["runs"].append(done)
            bar.update(1)
        result["confusion"] = result["runs"][0]["confusion"]
        results.append(result)
        _write_json(out / "results.json", results)
    bar.close()
    return write_report(results, out, command, quick=quick)


def train_one(
    config: str,
    overrides: Sequence[str] = (),
    seed: int | None = None,
    out_dir: str | Path | None = None,
    quick: bool = False,
    verbose: int = 1,
    distributed: bool = False,
) -> dict[str, Any]:
    """`rnnlab train`: one config, one seed (``distributed``: as one worker of several)."""
    cfg = apply_overrides(load_config(resolve_config(config)), list(overrides))
    seed = cfg.train.seed if seed is None else seed
    out = Path(out_dir) if out_dir else Path("runs") / cfg.name / time.strftime("%Y%m%d-%H%M%S")
    if cfg.data.stream:  # larger than memory: a token store beside the run, reused by reruns
        data: PreparedData | StreamedData = prepare_streamed(cfg, out, quick=quick)
    else:
        data = prepare_data(cfg.data, quick=quick)
    seed_everything(seed)
    model = build_model(cfg, data)
    result = run(
        cfg,
        data,
        model,
        seed=seed,
        out_dir=out,
        quick=quick,
        verbose=verbose,
        distributed=distributed,
    )
    if result.get("writer") is False:
        return result
    result["split"] = data.summary()
    result["baseline_majority"] = majority_baseline(data.y_train, data.y_test)
    return result


__all__ = ["build_model", "fit_data", "make_trainer", "model_kind", "reproduce", "run", "train_one"]
