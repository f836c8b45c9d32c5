"""The run's task graph: every unit of work of a run as a task keyed by what it reads, decided in one place and
run the same way in one process, on a local pool or on Slurm. ``python -m pipeline`` is what pipeline.sh runs.

run.py       a task, the run it reads its settings from, digests and stamp files (what the two below share)
tasks.py     the kinds of task: what each reads, writes and does; the graph of a request
graph.py     keys and the decision (done = outputs complete and the stamp holds the key asked now)
request.py   pipeline.sh's environment interface
task.py      running one task, and the one generic task entry the pool and Slurm run
runners.py   one process (JOBS=1) and the local pool (JOBS > 1)
slurm.py     LAUNCHER=slurm: the run lock, arrays with dependencies, the report of failed tasks
inner.py     eval.py's inner models (inner-cv) as tasks
stale.py     spot.py's check that a model still matches the run's current config
spot.py      spot.py's inputs as tasks (kind ``spot``), run by the same runners, and their summary
final_results.py, seed_table.py, protocol_table.py, report.py   what pools a run
"""
