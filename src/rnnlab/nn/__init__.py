"""Recurrent layers that compute what the Keras layers compute, in PyTorch.

Layers take Keras's arguments and defaults, store parameters in Keras layout
(`get_keras_weights` / `set_keras_weights` exchange them with Keras), handle
variable-length batches (`lengths` or `mask`) with Keras masking semantics,
draw dropout masks as Keras 3 does, and run on the fastest path that gives the
same numbers: torch's fused kernels, rnnlab's own CPU kernels or a generic step
loop (`implementation=`; see docs/recurrent_layers.md).

>>> import torch
>>> from rnnlab import nn as rnn
>>> torch.manual_seed(0) and None
>>> emb = rnn.Embedding(20000, 128)
>>> lstm = rnn.LSTM(units=128, input_size=128, dropout=0.2, recurrent_dropout=0.2)
>>> lstm(emb(torch.randint(1, 20000, (32, 80)))).shape
torch.Size([32, 128])
"""

from rnnlab.nn.bidirectional import Bidirectional
from rnnlab.nn.cells import GRUCell, LSTMCell, RecurrentCell, SimpleRNNCell
from rnnlab.nn.convert import keras_to_torch, torch_to_keras
from rnnlab.nn.dropout import DropoutMasks, LockedDropout, draw_masks, variational_mask
from rnnlab.nn.embedding import Embedding
from rnnlab.nn.layers import GRU, LSTM, SimpleRNN
from rnnlab.nn.recurrent import Recurrent, lengths_to_mask

__all__ = [
    "GRU",
    "LSTM",
    "Bidirectional",
    "DropoutMasks",
    "Embedding",
    "GRUCell",
    "LSTMCell",
    "LockedDropout",
    "Recurrent",
    "RecurrentCell",
    "SimpleRNN",
    "SimpleRNNCell",
    "draw_masks",
    "keras_to_torch",
    "lengths_to_mask",
    "torch_to_keras",
    "variational_mask",
]
