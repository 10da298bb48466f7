"""Benchmarks: ratios measured in one run on this machine, printed as a Markdown table.

    python -m benchmarks                  # every figure (about 20 minutes on 2 cores)
    python -m benchmarks --quick          # tiny sizes: checks that every row runs
    python -m benchmarks --only 4,6       # some figures
    python -m benchmarks --write benchmarks/RESULTS.md
    python -m benchmarks.presets --write models/README.md   # the preset table

Absolute times on a shared 2-core machine drift, so each figure compares A with B measured
in the same run, interleaved (A, B, A, B, …), and reports medians. Nothing here asserts a
time: the table says whether each target was met. One module per figure (``fig1_worker``
… ``fig8_codelab``); the programs a figure runs in a fresh process are functions of its
module, run with ``python -m benchmarks.figN_… NAME ARGS`` (``common.child``).
"""
