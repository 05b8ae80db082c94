"""Watching training: the TensorBoard callback, the live chart and the chart that
`History.plot()` draws. The callbacks are exported as `ember.callbacks.TensorBoard`
and `ember.callbacks.LiveChart`; their drawing libraries (tensorboardX, Plotly,
matplotlib) are optional and imported only when used."""

import numpy as np


def check_update_freq(update_freq):
    """Keras's `update_freq` for a watching callback: "epoch", or a batch count ("batch" = 1)."""
    if update_freq == "batch":
        return 1
    if update_freq != "epoch" and (isinstance(update_freq, bool)
                                   or not isinstance(update_freq, (int, np.integer))
                                   or update_freq < 1):
        raise ValueError(f'`update_freq` must be "epoch", "batch" or a positive integer, '
                         f"got {update_freq!r}")
    return update_freq
