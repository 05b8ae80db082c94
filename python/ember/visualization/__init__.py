"""Watching training: the TensorBoard callback, the live chart and the chart that
`History.plot()` draws. The callbacks are exported as `ember.callbacks.TensorBoard`
and `ember.callbacks.LiveChart`; their drawing libraries (tensorboardX, Plotly,
matplotlib) are optional and imported only when used."""
