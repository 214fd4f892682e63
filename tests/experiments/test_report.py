"""The reproduction report: a row per experiment, the published figure only where there is one."""

from rnnlab.experiments.report import write_report


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
    assert "| tutorial | 0.833 | 0.805 ± 0.007 | -0.028 |" in text
    assert "| variant | - | 0.805 ± 0.007 |  |" in text
    assert (tmp_path / "figures" / "variant_curves.png").stat().st_size > 1000
