"""Trainer: pinned steps, the data convention, evaluate / predict, class weights, errors."""

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from rnnlab.engine import seed_everything
from rnnlab.errors import DataError
from tests.engine.engine_helpers import (
    BagOfIds,
    Recorder,
    Trainer,
    blobs,
    id_data,
    mlp,
    same_weights,
)


def one_weight(w0: float = 0.0) -> nn.Linear:
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(w0)
    return model


def test_three_sgd_steps_on_one_weight_match_hand_computation():
    # loss (w*1 - 2)^2, gradient 2(w - 2), w <- w - 0.1 * gradient: 0 -> 0.4 -> 0.72 -> 0.976
    model = one_weight()
    rec = Recorder()
    trainer = Trainer(
        model, loss="mse", optimizer="sgd", lr=0.1, metrics=[], callbacks=[rec], verbose=0
    )
    history = trainer.fit((np.ones((1, 1)), np.full((1, 1), 2.0)), epochs=3, batch_size=1)
    weights = [w["weight"].item() for w in rec.weights]
    assert weights == pytest.approx([0.4, 0.72, 0.976], rel=1e-6)
    assert history.history["loss"] == pytest.approx([4.0, 2.56, 1.6384], rel=1e-6)
    assert history.history["learning_rate"] == [0.1, 0.1, 0.1]
    assert history.epoch == [0, 1, 2]


def test_batches_average_gradients_over_the_batch_and_the_last_batch_is_partial():
    # x = [1, 2, 3], y = 0, batch 2 then 1, SGD lr 0.1 on loss w^2 x^2:
    # batch 1: grad = mean(2 w x^2) over x in {1, 2} = 5w -> w = 1 - 0.5 = 0.5
    # batch 2: grad = 2 w 9 = 9 -> w = 0.5 - 0.9 = -0.4
    model = one_weight(1.0)
    trainer = Trainer(model, loss="mse", optimizer="sgd", lr=0.1, metrics=[], verbose=0)
    trainer.fit(
        (np.array([[1.0], [2.0], [3.0]]), np.zeros((3, 1))), epochs=1, batch_size=2, shuffle=False
    )
    assert model.weight.item() == pytest.approx(-0.4, rel=1e-6)
    assert trainer.step == 2 and trainer.num_batches == 2


def test_tuple_inputs_are_unpacked_and_a_dataloader_trains_identically():
    # No dropout: a DataLoader draws its worker seed from the global generator every
    # epoch, so with dropout the two runs would (rightly) see different masks.
    (ids, lengths), y = id_data()
    seed_everything(0)
    a = Trainer(BagOfIds(dropout=0.0), seed=3, verbose=0)
    ha = a.fit(((ids, lengths), y), epochs=2, batch_size=8, shuffle=False)
    seed_everything(0)
    b = Trainer(BagOfIds(dropout=0.0), seed=3, verbose=0)
    loader = DataLoader(
        TensorDataset(torch.from_numpy(ids), torch.from_numpy(lengths), torch.from_numpy(y)),
        batch_size=8,
        shuffle=False,
    )
    hb = b.fit(loader, epochs=2)
    assert same_weights(a.model, b.model)
    assert ha.history == hb.history
    assert set(ha.history) == {"loss", "accuracy", "learning_rate"}


def test_loader_batches_may_nest_the_inputs():
    (ids, lengths), y = id_data(n=8)
    dataset = TensorDataset(torch.from_numpy(ids), torch.from_numpy(lengths), torch.from_numpy(y))

    def nested(items):  # ((ids, lengths), y) instead of the flat (ids, lengths, y)
        ids_, lengths_, y_ = (torch.stack(column) for column in zip(*items))
        return (ids_, lengths_), y_

    seed_everything(0)
    trainer = Trainer(BagOfIds(), verbose=0)
    from_loader = trainer.evaluate(DataLoader(dataset, batch_size=3, collate_fn=nested))
    assert from_loader == trainer.evaluate(((ids, lengths), y), batch_size=3)


def test_validation_split_takes_the_last_fraction_before_shuffling():
    x, y = blobs(n=40)
    trainer = Trainer(mlp(), seed=0, verbose=0)
    history = trainer.fit((x, y), epochs=2, batch_size=8, validation_split=0.25)
    assert trainer.num_batches == 4  # 30 training samples
    assert (
        history.history["val_loss"][-1] == trainer.evaluate((x[30:], y[30:]), batch_size=8)["loss"]
    )
    assert (
        history.history["val_accuracy"][-1]
        == trainer.evaluate((x[30:], y[30:]), batch_size=8)["accuracy"]
    )
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"}


def test_evaluate_computes_loss_and_accuracy_over_all_samples():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))  # logits = x
    x = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    y = np.array([0, 0, 0])
    logs = Trainer(model, verbose=0).evaluate((x, y), batch_size=2)
    expected = (math.log(1 + math.exp(-2)) + math.log(1 + math.e) + math.log(1 + math.exp(-3))) / 3
    assert logs["loss"] == pytest.approx(expected, rel=1e-6)
    assert logs["accuracy"] == pytest.approx(2 / 3)


def test_one_hot_targets_with_categorical_crossentropy_match_integer_targets():
    x, y = blobs(n=16)
    model = mlp()
    sparse = Trainer(model, loss="cross_entropy", verbose=0).evaluate((x, y))
    dense = Trainer(model, loss="categorical_crossentropy", verbose=0).evaluate((x, np.eye(3)[y]))
    assert dense["loss"] == pytest.approx(sparse["loss"], rel=1e-6)
    assert dense["accuracy"] == sparse["accuracy"]


def test_binary_crossentropy_with_one_logit_and_flat_targets():
    x, y = blobs(n=32)
    target = (y == 0).astype(np.float32)
    seed_everything(0)
    model = nn.Sequential(nn.Linear(4, 1))
    trainer = Trainer(
        model, loss="binary_crossentropy", optimizer="adam", lr=0.05, seed=0, verbose=0
    )
    history = trainer.fit((x, target), epochs=15, batch_size=8)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.8
    proba = trainer.predict_proba(x)
    assert proba.shape == (32, 2) and ((proba > 0) & (proba < 1)).all()
    logit = trainer.predict(x)[:, 0].astype(np.float64)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-logit)), rtol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)


def test_predict_returns_numpy_logits_in_eval_mode_and_predict_proba_softmax():
    x, _ = blobs(n=10)
    model = mlp()
    trainer = Trainer(model, verbose=0)
    out = trainer.predict(x, batch_size=4)
    assert isinstance(out, np.ndarray) and out.shape == (10, 3) and out.dtype == np.float32
    model.eval()
    expected = model(torch.tensor(x, dtype=torch.float32)).detach().numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert model.training is False  # restored to what it was
    np.testing.assert_allclose(trainer.predict_proba(x).sum(axis=1), 1.0, rtol=1e-6)
    (ids, lengths), _ = id_data(n=5)
    seed_everything(0)
    assert Trainer(BagOfIds(), verbose=0).predict((ids, lengths)).shape == (5, 3)


def test_class_weights_scale_the_training_loss_as_computed_by_hand():
    # Constant logits [0, ln 3]: p = [1/4, 3/4]; loss is ln 4 for class 0 and ln(4/3) for class 1.
    def constant_model():
        model = nn.Linear(1, 2)
        with torch.no_grad():
            model.weight.zero_()
            model.bias.copy_(torch.tensor([0.0, math.log(3.0)]))
        return model

    data = (np.zeros((2, 1)), np.array([0, 1]))
    plain = Trainer(constant_model(), optimizer="sgd", lr=0.0, metrics=[], verbose=0)
    weighted = Trainer(
        constant_model(),
        optimizer="sgd",
        lr=0.0,
        metrics=[],
        class_weight={0: 2.0, 1: 1.0},
        verbose=0,
    )
    h_plain = plain.fit(data, epochs=1, batch_size=2, validation_data=data)
    h_weighted = weighted.fit(data, epochs=1, batch_size=2, validation_data=data)
    ln4, ln43 = math.log(4.0), math.log(4.0 / 3.0)
    assert h_plain.history["loss"][0] == pytest.approx((ln4 + ln43) / 2, rel=1e-6)
    # Keras semantics: divided by the batch size, not by the sum of the weights (torch's `weight=`).
    assert h_weighted.history["loss"][0] == pytest.approx((2 * ln4 + ln43) / 2, rel=1e-6)
    assert h_weighted.history["loss"][0] != pytest.approx((2 * ln4 + ln43) / 3, rel=1e-3)
    # Validation is never weighted.
    assert h_weighted.history["val_loss"][0] == pytest.approx((ln4 + ln43) / 2, rel=1e-6)


def test_class_weights_change_the_gradient():
    x, y = blobs(n=24)
    plain = Trainer(mlp(), seed=0, verbose=0)
    plain.fit((x, y), epochs=1, batch_size=8)
    weighted = Trainer(mlp(), seed=0, class_weight=[1.0, 1.0, 5.0], verbose=0)
    weighted.fit((x, y), epochs=1, batch_size=8)
    assert not same_weights(plain.model, weighted.model)


def test_default_metrics_follow_the_loss():
    assert list(Trainer(mlp(), loss="categorical_crossentropy").metrics) == ["accuracy"]
    assert list(Trainer(one_weight(), loss="mse").metrics) == []
    assert list(Trainer(one_weight(), loss=lambda o, t: o.sum()).metrics) == []


def test_float64_arrays_become_float32_and_integer_targets_int64():
    x, y = blobs(n=8)
    trainer = Trainer(mlp(), verbose=0)
    trainer.fit((x.astype(np.float64), y.astype(np.int32)), epochs=1, batch_size=4)
    assert next(trainer.model.parameters()).dtype == torch.float32


def test_callable_loss_and_optimizer_factory_and_metric_callable():
    def mean_abs(outputs, target):
        return (outputs - target).abs().mean()  # a scalar: fine without class weights

    def hit(outputs, target):
        return ((outputs - target).abs() < 10).float().squeeze(1)

    trainer = Trainer(
        one_weight(),
        loss=mean_abs,
        optimizer=lambda p: torch.optim.SGD(p, lr=0.5),
        metrics=[hit],
        verbose=0,
    )
    history = trainer.fit((np.ones((2, 1)), np.full((2, 1), 2.0)), epochs=1, batch_size=2)
    assert history.history["loss"] == [2.0] and history.history["hit"] == [1.0]
    assert trainer.model.weight.item() == pytest.approx(0.5)  # gradient of |w - 2| at 0 is -1


def test_device_auto_is_the_cpu_here_and_unknown_devices_fail_clearly():
    if not torch.cuda.is_available():
        assert Trainer(mlp(), device="auto", verbose=0).device == torch.device("cpu")
        with pytest.raises(ValueError, match="no CUDA GPU"):
            Trainer(mlp(), device="cuda", verbose=0)
    with pytest.raises(ValueError, match="`device` must be one of"):
        Trainer(mlp(), device="tpu", verbose=0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"loss": "cross_entropi"}, ValueError, "did you mean `cross_entropy`"),
        ({"metrics": "accuracy"}, TypeError, "list of metric names"),
        ({"metrics": ["acuracy"]}, ValueError, "did you mean `accuracy`"),
        ({"optimizer": "adamm"}, ValueError, "did you mean `adam`"),
        ({"verbose": 3}, ValueError, "`verbose` must be one of"),
        ({"seed": -1}, ValueError, "`seed` must be an integer >= 0"),
        ({"class_weight": {0: -1.0}}, ValueError, "finite weights >= 0"),
        ({"callbacks": [print]}, TypeError, "Callback instances"),
    ],
)
def test_constructor_validates_its_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Trainer(mlp(), **kwargs)


def test_fit_validates_data_and_arguments():
    x, y = blobs(n=10)
    trainer = Trainer(mlp(), verbose=0)
    with pytest.raises(DataError, match="same number of samples"):
        trainer.fit((x, y[:9]))
    with pytest.raises(TypeError, match=r"pair \(x, y\)"):
        trainer.fit(x)
    with pytest.raises(ValueError, match="not both"):
        trainer.fit((x, y), validation_data=(x, y), validation_split=0.2)
    with pytest.raises(ValueError, match="empty split"):
        trainer.fit((x[:2], y[:2]), validation_split=0.6)
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer, got 0"):
        trainer.fit((x, y), batch_size=0)
    with pytest.raises(DataError, match="pad ragged sequences"):
        trainer.fit(([[1, 2], [3]], [0, 1]))
    scalar = Trainer(mlp(), loss=lambda o, t: o.sum(), class_weight=[1.0, 2.0, 1.0], verbose=0)
    with pytest.raises(ValueError, match="per-sample losses"):
        scalar.fit((x, y))
    with pytest.raises(ValueError, match="only to an optimiser given by name"):
        model = mlp()
        Trainer(model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), lr=0.1)


def test_predict_proba_needs_a_classification_loss():
    with pytest.raises(ValueError, match="predict_proba needs a classification loss"):
        Trainer(mlp(), loss="mse", verbose=0).predict_proba(np.zeros((2, 4)))
