"""Stratified, seeded hold-out splits: every class in its proportion, the same rows for a seed."""

import numpy as np
import pytest

from rnnlab.errors import DataError
from rnnlab.experiments.splits import stratified_split


def test_a_label_sorted_training_part_gives_every_class_its_share():
    y = np.repeat([0, 1, 2], [50, 30, 20])  # sorted by label, as a file often is
    kept, held = stratified_split(y, 0.1, seed=7)
    assert np.bincount(y[held]).tolist() == [5, 3, 2]
    assert np.bincount(y[kept]).tolist() == [45, 27, 18]
    assert sorted(np.r_[kept, held].tolist()) == list(range(100))  # a partition


def test_the_same_seed_gives_the_same_rows_and_another_seed_others():
    y = np.repeat([0, 1], [40, 60])
    first, again = stratified_split(y, 0.25, seed=3), stratified_split(y, 0.25, seed=3)
    other = stratified_split(y, 0.25, seed=4)
    assert np.array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    assert np.bincount(y[other[1]]).tolist() == [10, 15]


def test_the_total_is_exact_when_the_shares_are_not_whole():
    y = np.repeat([0, 1, 2], [7, 7, 7])
    kept, held = stratified_split(y, 0.2, seed=0)
    assert len(held) == round(21 * 0.2) == 4
    assert sorted(np.bincount(y[held], minlength=3).tolist()) == [1, 1, 2]


def test_a_class_seen_once_stays_in_training():
    y = np.array([0] * 10 + [1] * 10 + [2])
    for seed in range(20):
        kept, held = stratified_split(y, 0.5, seed=seed)
        assert 20 in kept and 2 not in y[held].tolist()


def test_a_fraction_that_cannot_be_held_out_is_an_error_naming_the_setting():
    with pytest.raises(DataError, match=r"`train.validation_split`=0.1 of 4 rows .* holds out 0"):
        stratified_split([0, 0, 1, 1], 0.1, seed=0, name="train.validation_split")
    with pytest.raises(DataError, match="each class keeps a training row"):
        stratified_split([0, 1, 2, 3], 0.5, seed=0)
