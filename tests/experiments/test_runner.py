"""Experiments: every shipped config validates and runs in --quick mode; outputs are complete."""

import json

import numpy as np
import pytest

from rnnlab.engine import Callback, ReduceLROnPlateau
from rnnlab.engine.buckets import BucketedData
from rnnlab.errors import ConfigError
from rnnlab.experiments import build_model, reproduce, resolve_config, shipped_configs, train_one
from rnnlab.experiments.baselines import NBSVM_C_GRIDS
from rnnlab.experiments.config import load_config
from rnnlab.experiments.prepare import prepare_data
from rnnlab.pipeline import Pipeline

CONFIGS = shipped_configs()


@pytest.mark.parametrize(
    "path",
    [p for p in CONFIGS if p.parent.name != "text"],
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_every_config_runs_quick(path, tmp_path):
    result = train_one(str(path), out_dir=tmp_path / "run", quick=True, verbose=0)
    assert result["epochs_run"] == 1
    assert 0.0 <= result["test"]["accuracy"] <= 1.0
    for name in ("config.yaml", "history.json", "metrics.json", "model/manifest.json"):
        assert (tmp_path / "run" / name).is_file()


def test_tutorial_configs_are_faithful():
    reuters = load_config(resolve_config("reuters/stacked_lstm"))
    data = prepare_data(reuters.data)
    assert data.x_train.shape == (1395, 49) and data.x_test.shape == (599, 49)
    assert data.num_classes == 46  # from the data set, not from to_categorical on one split
    assert (data.x_train[:, -1] == 0).mean() > 0.5  # post padding
    model = build_model(reuters, data)
    assert model.embedding is None and model.head.out_features == 46
    assert sum(p.numel() for p in model.recurrent.parameters()) == 4 * (50 * 51 + 50) + 4 * (
        100 * 50 + 50
    )
    imdb = load_config(resolve_config("imdb/lstm"))
    assert (
        imdb.model.dropout,
        imdb.model.recurrent_dropout,
        imdb.train.epochs,
        imdb.train.batch_size,
    ) == (0.2, 0.2, 3, 32)
    assert imdb.published.accuracy == 0.833 and imdb.train.epsilon == 1e-7


def test_train_writes_a_model_that_predicts_the_same(tmp_path):
    result = train_one(
        "reuters/lstm", ["train.epochs=2"], out_dir=tmp_path / "r", quick=True, verbose=0
    )
    assert len(json.loads((tmp_path / "r" / "history.json").read_text())["loss"]) == 1
    pipe = Pipeline.load(tmp_path / "r" / "model")
    data = prepare_data(load_config(resolve_config("reuters/lstm")).data, quick=True)
    pred = pipe.predict_proba_encoded(data.x_test, data.len_test).argmax(1)
    assert np.isclose((pred == data.y_test).mean(), result["test"]["accuracy"])


def test_reproduce_quick_writes_report_with_baselines_and_figures(tmp_path):
    report = reproduce(
        ["reuters/simple_rnn", "imdb/lstm"], seeds=[0, 1], out_dir=tmp_path, quick=True
    )
    text = report.read_text()
    assert "| reuters_simple_rnn | reuters-tutorial-split | recurrent | - |" in text
    assert "| imdb_lstm | imdb-keras-arrays | recurrent | 0.833 |" in text
    assert "majority" in text and "bag-of-words" in text and "macro-F1" in text
    assert "strongest linear" in text and "- Strongest linear baseline, selected on" in text
    assert "Quick mode" in text
    assert (tmp_path / "figures" / "imdb_lstm_curves.png").stat().st_size > 1000
    assert (tmp_path / "figures" / "reuters_simple_rnn_confusion.png").is_file()
    results = json.loads((tmp_path / "results.json").read_text())
    assert [len(r["runs"]) for r in results] == [2, 2]
    assert (tmp_path / "imdb_lstm" / "seed1" / "model" / "model.safetensors").is_file()


def test_reproduce_reuses_finished_runs(tmp_path, monkeypatch):
    from rnnlab.experiments import runner

    cfg = load_config(resolve_config("reuters/simple_rnn"), ["train.epochs=1"])
    data = prepare_data(cfg.data, quick=True)
    first = runner.run(cfg, data, build_model(cfg, data), seed=0, out_dir=tmp_path / "r")
    again = runner.finished_run(cfg, tmp_path / "r")
    assert again["test"] == first["test"] and again["history"] == first["history"]
    assert again["confusion"] == first["confusion"]
    changed = load_config(resolve_config("reuters/simple_rnn"), ["train.epochs=2"])
    assert runner.finished_run(changed, tmp_path / "r") is None
    (tmp_path / "r" / "metrics.json").write_text("{broken")
    assert runner.finished_run(cfg, tmp_path / "r") is None


def test_keras_array_models_can_read_raw_text():
    # The saved Reuters/IMDB models carry the Keras word index as a vocabulary:
    # decoding a wire and encoding the text again gives the loader's ids back.
    from rnnlab.datasets import reuters

    data = prepare_data(load_config(resolve_config("reuters/lstm")).data, quick=True)
    text = reuters.decode(data.seq_train[0]).replace("<start> ", "")
    assert data.vocabulary.encode_one(text) == data.seq_train[0]


def test_reproduce_without_an_experiment_or_a_seed_is_an_error(tmp_path, monkeypatch):
    from rnnlab.errors import ConfigError
    from rnnlab.experiments import runner

    monkeypatch.setattr(runner, "reproduced_configs", lambda: [])
    with pytest.raises(ConfigError, match="no experiment to reproduce"):
        reproduce(out_dir=tmp_path, quick=True)
    with pytest.raises(ConfigError, match="at least one seed"):
        reproduce(["reuters/lstm"], seeds=[], out_dir=tmp_path, quick=True)
    assert list(tmp_path.iterdir()) == []  # no empty report


def _sorted_csv(path, counts, seed=0):
    """A labelled CSV sorted by label (as exports often are): class k's rows, then k+1's."""
    rng = np.random.RandomState(seed)
    rows = ["text,label"]
    for label, count in counts.items():
        for _ in range(count):
            words = " ".join(rng.choice(["film", "plot", "actor", "scene", "the", "a"], 6))
            rows.append(f"{words} {label}word {label}word,{label}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _own_data_config(tmp_path, *more):
    train = _sorted_csv(tmp_path / "sorted.csv", {"a": 60, "b": 40, "c": 20})
    test = _sorted_csv(tmp_path / "test.csv", {"a": 6, "b": 4, "c": 2}, seed=1)
    return load_config(
        resolve_config("text/gru"), [f"data.path={train}", f"data.test_path={test}", *more]
    )


def test_own_data_validates_on_a_stratified_seeded_split_of_the_training_part(tmp_path):
    from rnnlab.experiments.runner import fit_data

    cfg = _own_data_config(tmp_path)
    data = prepare_data(cfg.data)
    assert data.y_train.tolist() == [0] * 60 + [1] * 40 + [2] * 20  # file order, sorted
    (x, _), y = fit_data(cfg, data)[0]
    val = fit_data(cfg, data)[1]["validation_data"]
    # Keras's last 10 % would be 12 rows of class c; every class gives its share instead.
    assert np.bincount(val[1]).tolist() == [6, 4, 2]
    assert np.bincount(y).tolist() == [54, 36, 18] and len(x) == 108
    assert val[0][0].shape == (12, data.x_train.shape[1]) and val[0][1].shape == (12,)
    held = lambda c: fit_data(c, prepare_data(c.data))[1]["validation_data"][0][0]  # noqa: E731
    again, other = _own_data_config(tmp_path), _own_data_config(tmp_path, "data.seed=1")
    assert np.array_equal(held(again), val[0][0])
    assert not np.array_equal(held(other), val[0][0])


def runner_run(cfg, data):
    from rnnlab.experiments.runner import run

    return run(cfg, data, build_model(cfg, data), seed=0, verbose=0)


def test_run_gives_the_trainer_the_stratified_split(tmp_path, monkeypatch):
    from rnnlab.engine import Trainer

    seen = {}

    def fit(self, data, **kwargs):
        seen.update(train=data, **kwargs)
        raise KeyboardInterrupt  # stop before any training: the arguments are the point

    monkeypatch.setattr(Trainer, "fit", fit)
    cfg = _own_data_config(tmp_path)
    data = prepare_data(cfg.data)
    with pytest.raises(KeyboardInterrupt):
        runner_run(cfg, data)
    assert "validation_split" not in seen
    assert np.bincount(seen["validation_data"][1]).tolist() == [6, 4, 2]
    assert len(seen["train"][1]) == 108


def test_the_keras_arrays_keep_kerass_last_fraction_validation():
    from rnnlab.engine.data import ArrayData, split_validation
    from rnnlab.experiments.runner import fit_data

    cfg = load_config(resolve_config("reuters/embedding_bilstm"))
    data = prepare_data(cfg.data)
    train, kwargs = fit_data(cfg, data)
    assert kwargs == {"validation_split": 0.1}
    assert train[0][0] is data.x_train and train[1] is data.y_train  # all of it, in order
    fit_part, val = split_validation(ArrayData.from_pair(train, "train"), 0.1)
    # 1,395 wires: the first floor(1395 * 0.9) = 1,255 train, the last 140 validate.
    assert len(fit_part) == 1255 and val.target.tolist() == data.y_train[1255:].tolist()


def test_a_finished_own_data_run_validated_the_old_way_is_run_again(tmp_path):
    from rnnlab.experiments import runner

    cfg = _own_data_config(tmp_path, "train.epochs=1")
    data = prepare_data(cfg.data, quick=True)
    runner.run(cfg, data, build_model(cfg, data), seed=0, out_dir=tmp_path / "r", verbose=0)
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["validation"].startswith("a stratified 10% of the training part")
    assert runner.finished_run(cfg, tmp_path / "r") is not None
    del metrics["validation"]  # as rnnlab wrote it before the stratified split
    (tmp_path / "r" / "metrics.json").write_text(json.dumps(metrics))
    assert runner.finished_run(cfg, tmp_path / "r") is None


def test_results_json_says_the_corpus_the_model_kind_and_the_linear_line(tmp_path):
    train = _sorted_csv(tmp_path / "sorted.csv", {"a": 60, "b": 40, "c": 20})
    reproduce(["reuters/simple_rnn"], seeds=[0], out_dir=tmp_path / "k", quick=True)
    reproduce(
        ["text/gru"],
        seeds=[0],
        out_dir=tmp_path / "o",
        quick=True,
        overrides=[f"data.path={train}"],
    )
    results = [
        *json.loads((tmp_path / "k" / "results.json").read_text()),
        *json.loads((tmp_path / "o" / "results.json").read_text()),
    ]
    assert [(r["corpus"], r["model_kind"], r["quick"]) for r in results] == [
        ("reuters-tutorial-split", "recurrent", True),
        ("own-data:sorted.csv", "recurrent", True),
    ]
    for r in results:
        linear = r["baselines"]["linear"]
        on_validation = {m: v["validation_accuracy"] for m, v in linear["models"].items()}
        assert linear["model"] == max(on_validation, key=on_validation.get)
        assert 0 <= linear["accuracy"] <= 1 and 0 <= linear["macro_f1"] <= 1
        assert linear["seconds"] > 0 and r["runs"][0]["seconds"] > 0
        assert {"majority", "bag_of_words"} <= set(r["baselines"])
    assert results[1]["validation_note"].startswith("a stratified 10% of the training part")
    assert results[0]["baselines"]["linear"]["validation"]["train"] == round(256 * 0.8)


def test_balanced_class_weights_reach_the_trainer_from_the_rows_it_trains_on(tmp_path):
    from rnnlab.experiments.runner import fit_data, make_trainer

    cfg = _own_data_config(tmp_path, "train.class_weight=balanced")
    data = prepare_data(cfg.data)
    train, _ = fit_data(cfg, data)
    trainer = make_trainer(cfg, build_model(cfg, data), seed=0, verbose=0, y_train=train[1])
    counts = np.bincount(train[1], minlength=3)
    expected = len(train[1]) / (3 * counts)
    np.testing.assert_allclose(trainer.class_weight.numpy(), expected, rtol=1e-6)
    assert trainer.class_weight[2] > trainer.class_weight[0]  # the rarest class counts most


def test_bucket_by_length_hands_the_trainer_bucketed_rows_of_the_same_split(tmp_path):
    from rnnlab.experiments.runner import fit_data, run

    plain = _own_data_config(tmp_path, "train.class_weight=balanced")
    cfg = _own_data_config(tmp_path, "train.class_weight=balanced", "train.bucket_by_length=true")
    data = prepare_data(cfg.data)
    (x, lengths), y = fit_data(plain, data)[0]
    train, kwargs = fit_data(cfg, data)
    val = kwargs["validation_data"]
    assert isinstance(train, BucketedData) and isinstance(val, BucketedData)
    assert np.array_equal(train.inputs[0].numpy(), x) and np.array_equal(train.target.numpy(), y)
    held = fit_data(plain, data)[1]["validation_data"]
    assert np.array_equal(val.inputs[0].numpy(), held[0][0])
    result = run(cfg, data, build_model(cfg, data), verbose=0)
    assert 0 <= result["test"]["accuracy"] <= 1 and result["epochs_run"] >= 1
    with pytest.raises(ConfigError, match="set `model.mask: true`"):
        _own_data_config(tmp_path, "train.bucket_by_length=true", "model.mask=false")


@pytest.mark.parametrize(
    "schedule, lrs",
    [(None, [0.001, 0.001]), ("cosine", [0.0005, 0.0])],  # half a cosine over train.epochs=2
)
def test_the_learning_rate_schedule_of_the_config_steps_each_epoch(tmp_path, schedule, lrs):
    from rnnlab.experiments.runner import fit_data, make_trainer

    more = ["train.epochs=2", "train.early_stopping_patience=null", "train.lr=0.001"]
    cfg = _own_data_config(tmp_path, *more, f"train.lr_schedule={schedule or 'null'}")
    data = prepare_data(cfg.data)
    train, fit_kwargs = fit_data(cfg, data)
    trainer = make_trainer(cfg, build_model(cfg, data), seed=0, verbose=0)
    seen = []

    class RecordRate(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            seen.append(trainer.optimizer.param_groups[0]["lr"])

    trainer.fit(train, epochs=2, batch_size=32, callbacks=[RecordRate()], **fit_kwargs)
    np.testing.assert_allclose(seen, lrs, atol=1e-12)


def test_a_plateau_schedule_multiplies_the_rate_when_validation_stalls(tmp_path):
    from rnnlab.experiments.runner import make_trainer

    cfg = _own_data_config(tmp_path, "train.lr_schedule=plateau", "train.lr_factor=0.25")
    trainer = make_trainer(cfg, build_model(cfg, prepare_data(cfg.data)), seed=0, verbose=0)
    (plateau,) = [c for c in trainer.callbacks if isinstance(c, ReduceLROnPlateau)]
    assert (plateau.monitor, plateau.factor, plateau.patience) == ("val_loss", 0.25, 1)
    with pytest.raises(ConfigError, match="plateau` needs a validation set"):
        _own_data_config(
            tmp_path,
            "train.lr_schedule=plateau",
            "train.validation_split=0",
            "train.early_stopping_patience=null",
        )


def test_a_hybrid_experiment_is_recorded_as_hybrid_with_what_validation_chose(tmp_path):
    reproduce(["reuters/hybrid"], seeds=[0], out_dir=tmp_path, quick=True)
    (result,) = json.loads((tmp_path / "results.json").read_text())
    assert (result["corpus"], result["model_kind"]) == ("reuters-tutorial-split", "hybrid")
    chosen = result["runs"][0]["hybrid"]
    assert 0.0 <= chosen["blend_share"] <= 1.0
    assert chosen["linear"]["C"] in NBSVM_C_GRIDS[chosen["linear"]["weighting"]]
    model = json.loads((tmp_path / "reuters_hybrid" / "seed0" / "model" / "model.json").read_text())
    assert model["architecture"] == "HybridClassifier"


def test_reproduce_jobs_trains_every_run_in_worker_processes_like_one_process(tmp_path):
    names = ["reuters/simple_rnn", "reuters/lstm"]
    one = reproduce(names, seeds=[0, 1], out_dir=tmp_path / "one", quick=True)
    two = reproduce(names, seeds=[0, 1], out_dir=tmp_path / "two", quick=True, jobs=2)
    assert one.is_file() and two.is_file()
    runs = {
        out: json.loads((tmp_path / out / "results.json").read_text()) for out in ("one", "two")
    }
    assert [[r["seed"] for r in res["runs"]] for res in runs["two"]] == [[0, 1], [0, 1]]
    for a, b in zip(runs["one"], runs["two"]):
        assert a["name"] == b["name"]
        for ra, rb in zip(a["runs"], b["runs"]):
            # Same seeds and data; only the thread count differs (2 vs 1 per run).
            assert rb["test"]["loss"] == pytest.approx(ra["test"]["loss"], abs=1e-3)
            assert rb["dir"].startswith(str(tmp_path / "two"))
    assert (tmp_path / "two" / "reuters_lstm" / "seed1" / "model" / "manifest.json").is_file()


def test_reproduce_jobs_raises_a_failed_runs_own_error(tmp_path):
    # Configs validate before anything runs; a missing data file is found only by the run.
    missing = tmp_path / "no-such-file.csv"
    errors = []
    for jobs in (1, 2):
        with pytest.raises(Exception) as caught:
            reproduce(
                ["text/gru"],
                seeds=[0],
                out_dir=tmp_path / f"j{jobs}",
                quick=True,
                jobs=jobs,
                overrides=[f"data.path={missing}"],
            )
        errors.append(caught.value)
    assert type(errors[0]) is type(errors[1]) and str(errors[0]) == str(errors[1])
    assert str(missing) in str(errors[1])


def test_reproduce_jobs_must_be_a_positive_integer(tmp_path):
    with pytest.raises(ValueError, match="`jobs` must be a positive integer"):
        reproduce(["reuters/lstm"], seeds=[0], out_dir=tmp_path, quick=True, jobs=0)
