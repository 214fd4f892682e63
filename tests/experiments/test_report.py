"""The reproduction report: a row per experiment, the published figure only where there is one."""

import pytest

from rnnlab.experiments.report import write_report

LINEAR = {
    "model": "nbsvm",
    "C": 0.01,
    "beta": 0.5,
    "validation_accuracy": 0.9,
    "accuracy": 0.91,
    "macro_f1": 0.905,
    "seconds": 2.5,
    "converged": True,
    "models": {
        "svm": {
            "C": 0.3,
            "validation_accuracy": 0.88,
            "accuracy": 0.93,
            "macro_f1": 0.92,
            "seconds": 1.0,
            "selection_seconds": 3.0,
            "converged": True,
        },
        "logreg": {
            "C": 10.0,
            "validation_accuracy": 0.87,
            "accuracy": 0.9,
            "macro_f1": 0.9,
            "seconds": 2.0,
            "selection_seconds": 6.0,
            "converged": False,
        },
        "nbsvm": {
            "C": 0.01,
            "beta": 0.5,
            "validation_accuracy": 0.9,
            "accuracy": 0.91,
            "macro_f1": 0.905,
            "seconds": 2.5,
            "selection_seconds": 5.0,
            "converged": True,
        },
    },
    "validation": {"fraction": 0.2, "seed": 113, "train": 80, "validation": 20},
    "features": 1234,
}


def _result(name, published, classes=2):
    history = {
        "loss": [0.7, 0.5],
        "accuracy": [0.6, 0.8],
        "val_loss": [0.6, 0.55],
        "val_accuracy": [0.7, 0.75],
    }
    runs = [
        {
            "seed": s,
            "test": {"accuracy": 0.8 + s / 100, "macro_f1": 0.79, "loss": 0.5},
            "seconds": 1.0,
            "epochs_run": 2,
            "history": history,
            "confusion": [[5, 1], [2, 4]],
        }
        for s in (0, 1)
    ]
    return {
        "name": name,
        "description": f"{name} model",
        "corpus": "imdb-keras-arrays",
        "model_kind": "recurrent",
        "published": published,
        "split": {
            "train": 100,
            "test": 12,
            "classes": classes,
            "classes_in_train": 2,
            "classes_in_test": 2,
            "maxlen": 10,
            "vocab_size": 50,
        },
        "label_names": ["neg", "pos"],
        "validation_note": "none",
        "baselines": {
            "majority": {"accuracy": 0.5, "macro_f1": 0.33},
            "bag_of_words": {"accuracy": 0.85, "macro_f1": 0.85},
            "linear": LINEAR,
        },
        "runs": runs,
        "confusion": runs[0]["confusion"],
    }


def _section(text, name):
    return text.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]


def test_published_line_only_where_a_figure_was_published(tmp_path):
    results = [
        _result("tutorial", {"accuracy": 0.833, "loss": 0.423, "source": "the notebook"}),
        _result("loss_only", {"accuracy": None, "loss": 0.5, "source": ""}),
        _result("variant", {"accuracy": None, "loss": None, "source": ""}),
        _result("noted", {"accuracy": None, "loss": None, "source": "no figure printed"}),
    ]
    text = write_report(results, tmp_path, "rnnlab reproduce").read_text(encoding="utf-8")
    assert "None" not in text and "()" not in text
    assert "- Published: 0.833 accuracy, 0.423 loss (the notebook)\n" in _section(text, "tutorial")
    assert "- Published: 0.5 loss\n" in _section(text, "loss_only")
    for name in ("variant", "noted"):
        assert "Published" not in _section(text, name)
        assert "- Baselines: majority 0.500" in _section(text, name)
    assert "| tutorial | imdb-keras-arrays | recurrent | 0.833 | 0.805 ± 0.007 | -0.028 |" in text
    assert "| variant | imdb-keras-arrays | recurrent | - | 0.805 ± 0.007 |  |" in text
    assert (tmp_path / "figures" / "variant_curves.png").stat().st_size > 1000


def test_every_row_shows_the_linear_line_selected_on_validation_and_the_times(tmp_path):
    text = write_report([_result("tutorial", {"accuracy": 0.833})], tmp_path, "c").read_text()
    # seconds per run 1, majority, bag of words, then the linear model, accuracy, macro-F1, s/run
    assert (
        "| 0.790 ± 0.000 | 1 | 0.500 | 0.850 | nbsvm C=0.01 beta=0.5 | 0.910 | 0.905 | 2.5 |"
        in text
    )
    section = _section(text, "tutorial")
    assert "- Time per run: 1.0 s of training (mean over seeds).\n" in section
    assert (
        "- Strongest linear baseline, selected on validation: nbsvm C=0.01 beta=0.5, test "
        "accuracy 0.910 (macro-F1 0.905), 2.5 s per run; 1234 n-grams. On the validation split "
        "(20 of the training documents): svm 0.880 (C=0.3), logreg 0.870 (C=10), nbsvm 0.900 "
        "(C=0.01 beta=0.5). Test accuracies, never used to choose: svm 0.930, logreg 0.900, "
        "nbsvm 0.910. Stopped before converging: logreg.\n"
    ) in section
    assert (
        "It is 0.105 below the strongest linear baseline (0.910, nbsvm C=0.01 beta=0.5)." in section
    )


@pytest.mark.parametrize(
    "missing, shown",
    [("linear", "| 0.850 | - | - | - | - |"), ("corpus", "| old | - | recurrent | - |")],
)
def test_results_written_before_the_linear_line_still_render(tmp_path, missing, shown):
    old = _result("old", {"accuracy": None})
    old["baselines"].pop("linear") if missing == "linear" else old.pop("corpus")
    text = write_report([old], tmp_path, "c").read_text()
    assert shown in text and "None" not in text


def test_the_best_per_corpus_is_chosen_on_validation_never_on_test(tmp_path):
    from rnnlab.experiments.report import best_per_corpus

    plain = _result("plain", {"accuracy": None}) | {"val_name": "validation"}
    better_on_test = _result("lucky", {"accuracy": None}) | {"val_name": "validation"}
    for run in better_on_test["runs"]:  # higher test accuracy, lower validation accuracy
        run["test"] = {**run["test"], "accuracy": 0.99}
        run["history"] = {**run["history"], "val_accuracy": [0.7, 0.6]}
    hybrid = _result("hybrid", {"accuracy": None}) | {"val_name": "validation"}
    hybrid["model_kind"] = "hybrid"
    for run in hybrid["runs"]:
        run["hybrid"] = {
            "blend_share": 0.6,
            "blend_validation_accuracy": 0.8,
            "linear": {"C": 0.01, "beta": 0.5},
            "recurrent_part": {
                "test": {"accuracy": 0.7, "macro_f1": 0.69},
                "validation_accuracy": 0.74,
            },
        }
    printout = _result("tutorial", {"accuracy": None}) | {"val_name": "test (printout only)"}
    for run in printout["runs"]:
        run["history"] = {**run["history"], "val_accuracy": [0.99, 0.99]}
    (row,) = best_per_corpus([plain, better_on_test, hybrid, printout])
    # plain keeps the epoch of the lowest val_loss (0.55): val. accuracy 0.75 > lucky's 0.6.
    assert row["recurrent"][1]["name"] == "plain" and row["recurrent"][0] == 0.75
    assert row["any"][1]["name"] == "hybrid" and row["any"][0] == 0.8
    text = write_report([plain, better_on_test, hybrid, printout], tmp_path, "cmd").read_text()
    assert "| imdb-keras-arrays | plain | 0.750 | 0.805 ± 0.007 | hybrid | 0.800 |" in text
    assert "0: share 0.6, C=0.01 beta=0.5, validation 0.800" in _section(text, "hybrid")
    assert "NBSVM's settings, the blend's" in _section(text, "hybrid")
    for run in hybrid["runs"]:  # few validation rows: the settings came from cross-validation
        run["hybrid"]["linear"]["selected_on"] = "5-fold cross-validation over the training rows"
    text = write_report([hybrid], tmp_path, "cmd").read_text()
    assert "NBSVM's settings (by 5-fold cross-validation over the training rows)" in text
    assert "recurrent part alone: validation accuracy 0.740, test accuracy 0.700 ± 0.000" in text
    # The part is a purely recurrent candidate too, and wins where its validation is best.
    for run in plain["runs"]:
        run["history"] = {**run["history"], "val_accuracy": [0.7, 0.7]}
    (row,) = best_per_corpus([plain, hybrid])
    assert row["recurrent"][1]["name"] == "hybrid (recurrent part)"
