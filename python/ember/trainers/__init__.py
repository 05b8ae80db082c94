"""`ember.trainers`: what Model inherits to compile and train - `Trainer` (compile and
the fit/evaluate/predict loops), `compile_utils` (compile's per-output losses, metrics
and log names) and `data_handler` (x, y and sample weights as the engine's arrays)."""
