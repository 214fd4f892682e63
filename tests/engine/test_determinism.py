"""The same seed gives bit-identical weights, optimiser state and history on the CPU."""

import random

import numpy as np
import torch

from rnnlab.engine import EarlyStopping, get_rng_state, seed_everything, set_rng_state
from tests.engine.engine_helpers import BagOfIds, Trainer, blobs, id_data, mlp, same_weights

X, Y = blobs(n=40)


def run(trainer_seed=1, model_seed=0):
    trainer = Trainer(
        mlp(model_seed),
        seed=trainer_seed,
        verbose=0,
        callbacks=[EarlyStopping("val_loss", patience=10, restore_best_weights=True)],
    )
    history = trainer.fit((X, Y), epochs=3, batch_size=8, shuffle=True, validation_split=0.2)
    return trainer, history


def test_two_runs_with_the_same_seed_are_bit_identical():
    a, ha = run()
    b, hb = run()
    for (name, p), q in zip(a.model.named_parameters(), b.model.parameters()):
        assert torch.equal(p, q), name
    assert ha.history == hb.history and ha.epoch == hb.epoch == [0, 1, 2]
    sa, sb = a.optimizer.state_dict()["state"], b.optimizer.state_dict()["state"]
    assert all(torch.equal(sa[i][k], sb[i][k]) for i in sa for k in sa[i])


def test_another_seed_gives_another_run():
    a, ha = run(trainer_seed=1)
    b, hb = run(trainer_seed=2)  # same initial weights, other shuffles and dropout masks
    assert not same_weights(a.model, b.model)
    assert ha.history["loss"] != hb.history["loss"]


def test_without_a_trainer_seed_the_global_seed_decides():
    def unseeded():
        seed_everything(7)
        (ids, lengths), y = id_data()
        trainer = Trainer(BagOfIds(), verbose=0)
        trainer.fit(((ids, lengths), y), epochs=2, batch_size=8)
        return trainer

    assert same_weights(unseeded().model, unseeded().model)


def test_rng_state_round_trip_covers_torch_numpy_and_python():
    seed_everything(11)
    state = get_rng_state()
    first = (torch.rand(3), np.random.rand(3), random.random(), np.random.randn())
    set_rng_state(state)
    second = (torch.rand(3), np.random.rand(3), random.random(), np.random.randn())
    assert torch.equal(first[0], second[0])
    assert np.array_equal(first[1], second[1]) and first[2:] == second[2:]
