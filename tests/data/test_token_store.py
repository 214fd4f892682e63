"""The token store: streamed encoding equals in-memory encoding, reuse, bucketed batches."""

import csv
import os
import random

import numpy as np
import pytest
import torch

from rnnlab.data.token_store import StoreSettings, TokenStore, open_store
from rnnlab.data.tokenize import Tokenizer
from rnnlab.data.vocab import Vocabulary
from rnnlab.experiments.streamed import StoreData

WORDS = "the plot actor film was and it good bad great awful".split()


def _csv(path, rows=300, seed=0):
    rng = random.Random(seed)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "label"])
        for i in range(rows):
            w.writerow([i, " ".join(rng.choices(WORDS, k=rng.randint(0, 25))), rng.choice("abc")])
    return path


def _rows(path):
    with open(path, newline="") as fh:
        return [(r["text"], r["label"]) for r in csv.DictReader(fh)]


SETTINGS = StoreSettings(test_fraction=0.2, validation_fraction=0.1, seed=5)


def test_the_store_holds_every_row_once_encoded_with_a_vocabulary_of_the_training_part(tmp_path):
    src = _csv(tmp_path / "d.csv")
    meta, reused = open_store([src], tmp_path / "store", SETTINGS)
    assert not reused and sum(meta["rows"].values()) == 300
    assert meta["label_names"] == ["a", "b", "c"]
    parts = {p: TokenStore(tmp_path / "store", p) for p in ("train", "val", "test")}
    assert [len(parts[p]) for p in ("train", "val", "test")] == [
        meta["rows"]["train"],
        meta["rows"]["val"],
        meta["rows"]["test"],
    ]
    assert 0.1 < meta["rows"]["test"] / 300 < 0.3 and meta["rows"]["val"] > 0
    # The same row assignment as the store's seeded draw, recomputed here in memory.
    u = np.random.default_rng(5).random(300)
    part = np.where(u < 0.2, 2, np.where(u < 0.2 + 0.8 * 0.1, 1, 0))
    rows = _rows(src)
    train_texts = [t for (t, _), p in zip(rows, part) if p < 2]
    vocab = Vocabulary.fit(train_texts, tokenizer=Tokenizer())
    assert Vocabulary.from_json(tmp_path / "store" / "vocabulary.json") == vocab
    for k, name in enumerate(("train", "val", "test")):
        mine = [r for r, p in zip(rows, part) if p == k]
        store = parts[name]
        for i in (0, len(mine) // 2, len(mine) - 1):
            got = store.ids[store.offsets[i] : store.offsets[i + 1]].tolist()
            assert got == vocab.encode_one(mine[i][0])
            assert ["a", "b", "c"][store.labels[i]] == mine[i][1]


def test_a_rerun_reuses_the_store_until_its_source_changes(tmp_path):
    src = _csv(tmp_path / "d.csv")
    open_store([src], tmp_path / "s", SETTINGS)
    before = os.stat(tmp_path / "s" / "meta.json").st_mtime_ns
    assert open_store([src], tmp_path / "s", SETTINGS)[1] is True
    assert os.stat(tmp_path / "s" / "meta.json").st_mtime_ns == before
    other = StoreSettings(test_fraction=0.3, validation_fraction=0.1, seed=5)
    assert open_store([src], tmp_path / "s", other)[1] is False  # other settings: rebuilt
    _csv(src, rows=310, seed=1)  # the source changed: rebuilt again
    meta, reused = open_store([src], tmp_path / "s", other)
    assert not reused and sum(meta["rows"].values()) == 310


def test_batches_are_padded_truncated_and_bucketed_by_length(tmp_path):
    src = _csv(tmp_path / "d.csv", rows=400)
    open_store([src], tmp_path / "s", SETTINGS)
    store = TokenStore(tmp_path / "s", "train")
    data = StoreData(store, maxlen=10, padding="post", truncating="pre")
    (ids, lengths), y = data.take(torch.tensor([0, 1, 2]))
    assert ids.shape == (3, int(lengths.max()))
    for r in range(3):
        full = store.ids[store.offsets[r] : store.offsets[r + 1]].tolist()
        kept = full[-10:]  # truncating='pre' keeps the end
        assert ids[r, : len(kept)].tolist() == kept and lengths[r] == len(kept)
        assert ids[r, len(kept) :].eq(0).all()
    order = data.order(torch.Generator().manual_seed(0), batch_size=8)
    assert sorted(order.tolist()) == list(range(data.num_samples))
    assert not torch.equal(order, data.order(torch.Generator().manual_seed(1), batch_size=8))
    # Bucketing: a batch's rows have similar lengths, far closer than random rows.
    full = len(order) // 8 * 8
    spread = data.lengths[order[:full].numpy().reshape(-1, 8)]
    shuffled = data.lengths[torch.randperm(full).numpy().reshape(-1, 8)]
    assert np.ptp(spread, axis=1).mean() < np.ptp(shuffled, axis=1).mean() / 2
    batches = list(data.batches(8, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert sum(len(t) for _, t in batches) == data.num_samples
    fixed = StoreData(store, maxlen=10, padding="pre", fixed_width=True)
    assert fixed.take(torch.tensor([0]))[0][0].shape == (1, 10)


def test_a_store_source_without_its_columns_is_one_clear_error(tmp_path):
    src = tmp_path / "d.csv"
    src.write_text("body,label\nx,a\n")
    with pytest.raises(ValueError, match="columns `text` and `label` are not both in the header"):
        open_store([src], tmp_path / "s", SETTINGS)
