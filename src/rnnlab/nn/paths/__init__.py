"""The recurrent layers' time-loop implementations (private: use the layers in `rnnlab.nn`).

`fused.py` runs torch's fused kernels, `lstm_kernel.py`, `rnn_kernel.py` and
`gru_kernel.py` are rnnlab's own kernels, `loop.py` is the generic step loop.
"""
