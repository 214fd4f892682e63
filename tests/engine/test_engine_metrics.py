"""Metrics and losses: layouts of targets, per-sample values, names and directions."""

import math

import pytest
import torch

from rnnlab.engine.losses import (
    binary_crossentropy,
    categorical_crossentropy,
    class_indices,
    class_weight_tensor,
    cross_entropy,
    mse,
    weighted_mean,
)
from rnnlab.engine.metrics import accuracy, get_metrics, monitor_mode, top_k_accuracy

LOGITS = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 4.0], [0.0, 2.0, 1.0]])


def test_accuracy_with_integer_one_hot_and_probability_targets():
    y = torch.tensor([0, 1, 1, 2])
    assert accuracy(LOGITS, y).tolist() == [1.0, 1.0, 0.0, 0.0]
    assert accuracy(LOGITS, torch.eye(3)[y]).tolist() == [1.0, 1.0, 0.0, 0.0]
    soft = torch.tensor([[0.6, 0.4, 0.0], [0.1, 0.8, 0.1], [0.2, 0.5, 0.3], [0.0, 0.3, 0.7]])
    assert accuracy(LOGITS, soft).tolist() == [1.0, 1.0, 0.0, 0.0]


def test_accuracy_with_one_logit_in_either_shape():
    logits = torch.tensor([-1.0, 0.5, 2.0, -0.1])
    y = torch.tensor([0.0, 1.0, 0.0, 1.0])
    assert accuracy(logits, y).tolist() == [1.0, 1.0, 0.0, 0.0]
    assert accuracy(logits[:, None], y[:, None]).tolist() == [1.0, 1.0, 0.0, 0.0]
    assert accuracy(logits[:, None], y.long()).tolist() == [1.0, 1.0, 0.0, 0.0]


def test_top_k_accuracy():
    y = torch.tensor([1, 0, 0, 2])
    assert top_k_accuracy(2)(LOGITS, y).tolist() == [1.0, 0.0, 1.0, 1.0]
    assert top_k_accuracy(2)(LOGITS, torch.eye(3)[y]).tolist() == [1.0, 0.0, 1.0, 1.0]
    assert top_k_accuracy(3)(LOGITS, y).tolist() == [1.0] * 4


def test_losses_are_per_sample_and_match_the_formulas():
    y = torch.tensor([0, 1, 1, 2])
    ce = cross_entropy(LOGITS, y)
    assert ce.shape == (4,)
    assert ce[0].item() == pytest.approx(
        -math.log(math.exp(2) / (math.exp(2) + math.e + 1)), rel=1e-6
    )
    torch.testing.assert_close(categorical_crossentropy(LOGITS, torch.eye(3)[y]), ce)
    bce = binary_crossentropy(torch.tensor([[0.0], [2.0]]), torch.tensor([1, 0]))
    assert bce.tolist() == pytest.approx([math.log(2), math.log(1 + math.exp(2))], rel=1e-6)
    assert mse(torch.tensor([[1.0, 3.0]]), torch.tensor([[0.0, 0.0]])).tolist() == [5.0]


def test_class_indices_and_weighted_mean():
    y = torch.tensor([0, 1, 1, 2])
    assert class_indices(LOGITS, y).tolist() == [0, 1, 1, 2]
    assert class_indices(LOGITS, torch.eye(3)[y]).tolist() == [0, 1, 1, 2]
    assert class_indices(torch.zeros(3, 1), torch.tensor([0.0, 1.0, 0.9])).tolist() == [0, 1, 1]
    values = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert weighted_mean(values, y, torch.tensor([1.0, 0.5, 2.0])).item() == pytest.approx(
        (1 + 1 + 1.5 + 8) / 4
    )
    with pytest.raises(ValueError, match="targets hold class 2"):
        weighted_mean(values, y, torch.tensor([1.0, 1.0]))
    with pytest.raises(ValueError, match="keys must be class indices"):
        class_weight_tensor({"a": 1.0})


def test_metric_names_and_directions():
    assert list(get_metrics({"hits": accuracy})) == ["hits"]
    assert get_metrics(None) == {}
    with pytest.raises(ValueError, match="reserved"):
        get_metrics({"val_acc": accuracy})
    assert monitor_mode("val_top5_accuracy") == "max" and monitor_mode("mae") == "min"
    with pytest.raises(ValueError, match="`mode` must be one of"):
        monitor_mode("loss", "down")
