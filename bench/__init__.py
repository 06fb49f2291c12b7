"""Optimizer Lab's benchmark harness: ``python -m bench`` (``--quick`` for a smoke run).

The engine (through ``engine.train``, the app's own path, and its bare core
loop), scikit-learn's ``MLPClassifier`` and a plain PyTorch CPU loop train the
same MLPs on the same number of samples with the same batch sizes, in one
process, interleaved round-robin per repetition so machine drift hits every
contender alike; medians over repetitions go to ``bench/results.md``.

Modules: :mod:`bench.problems` (data and cells), :mod:`bench.contenders`
(one timing function per contender), :mod:`bench.roofline` (matmul GFLOP/s),
:mod:`bench.machine`, :mod:`bench.report` (tables, targets, markdown),
:mod:`bench.run` (the schedule), :mod:`bench.app_timings` (the Compare page
through Streamlit's AppTest) and :mod:`bench.hotspots` (pyinstrument profiles).
"""
