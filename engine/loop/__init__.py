"""The parts of the training loop (:func:`engine.train.train`), one idea per module.

* :mod:`~engine.loop.batches`: which rows each update sees (shuffled epochs,
  the full batch, or batches drawn with replacement);
* :mod:`~engine.loop.update`: what happens to a gradient before the optimizer
  step (clipping), the running loss and accuracy of an epoch, and the one
  divergence check;
* :mod:`~engine.loop.stopping`: early stopping as explicit state;
* :mod:`~engine.loop.evaluation`: loss and metric of the parameters on one
  split, from preallocated buffers;
* :mod:`~engine.loop.history`: one history row with its diagnostics.
"""
