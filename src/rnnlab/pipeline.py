"""`TextPipeline`: a trained classifier with everything it needs to read raw text.

It bundles the network, the vocabulary (and tokenizer) it was trained with, the
padding rule and the class names, so `predict(["some review"])` works on raw
text and `save` / `load` round-trip the whole thing through `rnnlab.saving`
(weights in safetensors, the rest in JSON; nothing is ever unpickled).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnlab.data.sequence import pad_with_lengths
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import DataError, ModelFileError, check_choice, check_int
from rnnlab.models import RecurrentClassifier
from rnnlab.saving import load_model_dir, save_model_dir

KIND = "rnnlab.TextPipeline"


class TextPipeline:
    """Raw text -> ids -> padded batch -> class probabilities.

    Args:
        model: the trained classifier (returns logits).
        label_names: class k is `label_names[k]`.
        maxlen, padding, truncating: how id sequences are padded (as in training).
        vocabulary: turns text into ids; None when only id input is possible.
    """

    def __init__(
        self,
        model: RecurrentClassifier,
        label_names: Sequence[str],
        maxlen: int,
        padding: str = "pre",
        truncating: str = "pre",
        vocabulary: Vocabulary | None = None,
    ) -> None:
        self.model = model
        self.label_names = [str(n) for n in label_names]
        self.maxlen = check_int("maxlen", maxlen, minimum=1)
        self.padding = check_choice("padding", padding, ("pre", "post"))
        self.truncating = check_choice("truncating", truncating, ("pre", "post"))
        self.vocabulary = vocabulary

    def pad(self, sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Ragged ids -> ((n, maxlen) int64 ids, (n,) int64 lengths)."""
        return pad_with_lengths(sequences, self.maxlen, self.padding, self.truncating)

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if self.vocabulary is None:
            raise DataError("this model was trained on id sequences and has no vocabulary; "
                            "pass ids to `predict_proba_ids`")
        if isinstance(texts, str):
            raise TypeError("`texts` must be a list of texts, got a single str; wrap it in a list")
        return self.pad(self.vocabulary.encode(texts))

    @torch.no_grad()
    def predict_proba_ids(self, x: np.ndarray, lengths: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(n, maxlen) ids and (n,) lengths -> (n, num_classes) probabilities."""
        self.model.eval()
        device = next(self.model.parameters()).device
        out = []
        for i in range(0, len(x), batch_size):
            logits = self.model(torch.as_tensor(x[i:i + batch_size], device=device),
                                torch.as_tensor(lengths[i:i + batch_size], device=device))
            if logits.shape[-1] == 1:
                p = torch.sigmoid(logits)
                out.append(torch.cat([1 - p, p], dim=-1).cpu())
            else:
                out.append(torch.softmax(logits, dim=-1).cpu())
        if not out:
            return np.zeros((0, len(self.label_names)))
        return torch.cat(out).double().numpy()

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.predict_proba_ids(*self.encode(texts))

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.label_names[k] for k in self.predict_proba(texts).argmax(1)]

    # ------------------------------------------------------------------ persistence

    def save(self, directory: str | Path) -> Path:
        parts: dict[str, Any] = {
            "pipeline": {
                "kind": KIND,
                "model": self.model.config,
                "label_names": self.label_names,
                "maxlen": self.maxlen,
                "padding": self.padding,
                "truncating": self.truncating,
            }
        }
        if self.vocabulary is not None:
            parts["vocabulary"] = self.vocabulary.to_dict()
        return save_model_dir(directory, self.model.state_dict(), parts)

    @classmethod
    def load(cls, directory: str | Path) -> TextPipeline:
        state, parts = load_model_dir(directory)
        info = parts.get("pipeline")
        if not isinstance(info, dict) or info.get("kind") != KIND:
            raise ModelFileError(f"{str(directory)!r} does not hold an rnnlab text model "
                                 "(pipeline.json is missing or of another kind)")
        try:
            model = RecurrentClassifier(**info["model"])
            model.load_state_dict(state, strict=True)
            vocab = Vocabulary.from_dict(parts["vocabulary"]) if "vocabulary" in parts else None
            return cls(model, info["label_names"], info["maxlen"], info["padding"],
                       info["truncating"], vocab)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{str(directory)!r} holds an inconsistent model: {exc}") from None
