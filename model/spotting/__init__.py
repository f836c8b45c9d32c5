"""Spotting expressions in new recordings (spot.py): each module one job, in the order of the work.

options.py    what spot.py was asked (:class:`~model.spotting.options.SpotOptions`), the ``--folds`` flag
run_facts.py  what the run applies: its config section and its extraction settings, the flags' changes
models.py     the run's models: its folds, one checkpoint per fold (or the final model)
plan.py       what the inputs are extracted with, and the first input's request, resolved without torch
job.py        everything checked and resolved once per command, before any extraction (:class:`SpotJob`)
extract.py    one input's extraction request, its features and preview from one decoding, with progress bars
helper.py     the first input's extraction in a process forked at spot.py's start, beside its imports
scores.py     a recording's windows, and its ensemble scores with the lost frames' rows set to 0
caps.py       the published per-video NMS cap, applied per stretch of a long recording
spots.py      scores -> proposals, NMS and apex -> the ``spots.csv`` table in the input's own frames
review.py     ``spots.eaf``, ``preview.webm`` and ``report.html``, with the ``--anno`` ground truth
outputs.py    one input's (or face's) outputs written as a set, with ``spots.json``
one_input.py  one input's flow: open, extract, score, spot and write each chosen face
batch.py      every input of a command: each attempted, failures turned into one line, the summary

Scoring windows with checkpoints (loading, forward, fold ensemble) is model/scoring.py, shared with the
evaluation; frames <-> rows <-> windows, stitching included, is utils/indexing.py. Running many inputs as tasks
of the run's runners (local pool, Slurm) is pipeline/spot.py.
"""
