"""The kinds of task of a run and what each one reads, writes and does; :func:`build_graph` lays them out.

Each kind lists the config keys it reads as they are (``config_keys``: where a stage's settings object declares
what it reads, its ``CONFIG_KEYS``, so the two cannot drift) and adds what else it reads (:meth:`Kind.reads`): file contents as digests, subjects, the seed, the thread count and
device, and the keys of the tasks whose outputs it consumes. :data:`INDIRECT_KEYS` names the config keys
that reach a key through what they point at or decide, :data:`UNREAD_KEYS` those no task reads; a test
checks that every key of the config's schema is in one of the three, so a new key cannot be forgotten.

Feature tasks:   prepare (render the demo's videos) -> extract k/n (a shard of raw_root into the cache) -> merge
Per seed:        train (a fold's model), inner (one inner model of a fold under inner-cv: trained, then
                 evaluated on its group) -> evaluate (a fold) -> pool (tables, MEGC files, plots) -> report
                 (the run report and its previews); final (FINAL=1: the final model) -> final-info (its record)
Over the seeds:  seeds (the seed table)

A new kind of work (e.g. spotting one recording) is one more :class:`Kind` here and a line in
:func:`build_graph`: the decision (pipeline/graph.py) looks a task's kind up in :data:`KINDS`, and neither it nor
the runners know any kind by name.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from dataset.settings import DataSettings, ExtractionSettings, RenderSettings
from model.settings import (EvaluationSettings, FinalModelSettings, InnerModelSettings, PoolingSettings,
                            TrainingSettings)
from model.spotting.settings import SpotSettings
from utils.errors import UserError
from utils.layout import FoldLayout, raw_stamp
from utils.selection import SelectionSettings

from pipeline.report import ReportSettings, preview_keys, write_report
from pipeline.run import Run, Task, digest, extraction_settings, raw_videos

TRAINING_KEYS = TrainingSettings.CONFIG_KEYS
# What proposals, NMS and matching read (utils/proposals.py: the macro length bound is macro_average_len's,
# so macro_max and micro_average_len are read by nothing).
EVALUATION_KEYS = EvaluationSettings.CONFIG_KEYS
RENDER_KEYS = RenderSettings.CONFIG_KEYS
EXTRACTION_KEYS = ExtractionSettings.CONFIG_KEYS
INDIRECT_KEYS = {
    "segment_feat_root": "the content of the feature files a task trains or evaluates on",
    "anno_csv": "the annotation rows of the subjects evaluated, and the adjacency built from it",
    "adjacency": "the content of the matrix a model trains with",
    "adjacency_scope": "the content of the matrix a model trains with",
    "subject_list": "the subjects a model trains on",
    "inner_folds": "the inner groups of a fold under inner-cv (its inner tasks)",
    "selection": "which tasks an evaluation reads (inner models) and the fixed epoch",
    "abfcm_best_epoch": "the fixed epoch of fixed-epoch selection",
    "device": "the device a model trains and is evaluated on, as resolved (cpu or cuda)",
    "raw_root": "the fingerprints of the raw videos extracted",
    "raw_anno": "the content of the annotation sheet the merge reads",
}
UNREAD_KEYS = {
    "macro_max": "published but unused: the macro length bound is int(macro_average_len * 3 / 2)",
    "micro_average_len": "published but unused: the micro length bound is micro_max",
    "SEGMENT_LENTH": "fixed at 256 by the config checker",
    "RECEPTIVE_FILED": "fixed at 15 by the config checker",
}


def _torch_version() -> str:
    return version("torch")


def _run_facts(run: Run) -> dict:
    """How a model's numbers are computed besides its inputs: the same threads and device give the same bytes."""
    return {"threads": run.request.threads, "device": run.device.type, "torch": _torch_version()}


class Kind:
    """A kind of task. ``forced``: FORCE=1 redoes it; ``writes_inputs``: other tasks read its outputs as
    content (what was read from them is forgotten once it has run)."""

    name = ""
    config_keys: tuple[str, ...] = ()
    forced = True
    writes_inputs = False

    def label(self, task: Task) -> str:
        raise NotImplementedError

    def reads(self, run: Run, task: Task, key_of: Callable[[str], str]) -> dict:
        """What the task reads besides ``config_keys`` (digests, subjects, upstream keys)."""
        return {}

    def stamp(self, run: Run, task: Task) -> Path:
        raise NotImplementedError

    def complete(self, run: Run, task: Task, reads: dict) -> bool:
        raise NotImplementedError

    def refuse(self, run: Run, task: Task) -> None:
        """A UserError when the task's folder holds what it must not touch (checked before anything is written)."""

    def clear(self, run: Run, task: Task) -> None:
        """Remove the outputs of an earlier run of the task (the stamp is gone already)."""

    def run(self, run: Run, task: Task, reads: dict) -> None:
        raise NotImplementedError


def key_reads(run: Run, task: Task, key_of: Callable[[str], str]) -> dict:
    """Everything ``task`` reads: its kind's config values as resolved, then what :meth:`Kind.reads` adds."""
    kind = KINDS[task.kind]
    config = run.config_of(task.seed)
    return {"config": {name: config.get(name) for name in kind.config_keys}, **kind.reads(run, task, key_of)}


def _named(task: Task, what: str) -> str:
    """``subj_a (seed 1): training``, ``seed 1: pooling``: who, then what."""
    who = task.subject or ""
    who += f" inner {task.group}" if task.group is not None else ""
    seed = "" if task.seed == "-" else f"seed {task.seed}"
    who = f"{who} ({seed})" if who and seed else who or seed
    return f"{who}: {what}" if who else what


# --------------------------------------------------------------------------- what tasks read


def feature_digest(run: Run, split: str, subject: str) -> str:
    """The content digest of a subject's window files of one split; none is a one-line error (before work)."""
    folder = run.features.split(split, subject)
    found = run.content.folder(folder, root=run.features.root, manifest=run.features.manifest)
    if found is None:
        raise UserError(f"{folder}: no segment files (*.npz) for subject '{subject}'")
    return found


def features_of(run: Run, split: str, subjects) -> dict[str, str]:
    return {subject: feature_digest(run, split, subject) for subject in subjects}


def annotation_digests(run: Run, subjects) -> dict[str, str]:
    """Per subject, a digest of its annotation rows as evaluation reads them (ground truth, MEGC files)."""
    from utils.annotations import read_annotation_table

    path = DataSettings.from_config(run.config).annotations
    if not path.is_file():
        raise UserError(f"{path}: annotation file not found (anno_csv in {run.config.source})")
    memo_key = ("annotations", path, run.content.file(path))
    if memo_key not in run.memo:
        run.memo[memo_key] = read_annotation_table(path)
    table = run.memo[memo_key]
    return {subject: digest(table[table["subject"] == subject].to_csv(index=False, lineterminator="\n"))
            for subject in subjects}


def adjacency_digest(run: Run, left_out: list[str]) -> str:
    """The digest of the matrix a model trained without ``left_out`` uses (given, or built in memory)."""
    from model.adjacency import adjacency_matrix

    return digest(adjacency_matrix(run.config, left_out).tobytes().hex())


def _shard_videos(run: Run, task: Task) -> list:
    from feature_extraction.batch import select_shard

    fingerprints = {video.video_name: fingerprint for video, fingerprint in raw_videos(run)}
    return [(video, fingerprints[video.video_name])
            for video in select_shard([video for video, _ in raw_videos(run)], *task.shard)]


def _jobs(run: Run) -> int:
    """Worker processes of the rendering and the extraction (at least 2, as they always had)."""
    return max(run.request.jobs, 2)


# --------------------------------------------------------------------------- the feature tasks


class Prepare(Kind):
    name, config_keys, forced, writes_inputs = "prepare", RENDER_KEYS, False, True

    def label(self, task):
        return "demo videos"

    def stamp(self, run, task):
        return raw_stamp(RenderSettings.from_config(run.config).raw_root, self.name)

    def complete(self, run, task, reads):
        from dataset.mesynth.generate import COMPLETE_MARKER

        return (RenderSettings.from_config(run.config).raw_root / COMPLETE_MARKER).is_file()

    def clear(self, run, task):
        from dataset.mesynth.generate import COMPLETE_MARKER
        from dataset.prepare import remove_rendered

        settings = RenderSettings.from_config(run.config)
        marker = settings.raw_root / COMPLETE_MARKER
        if marker.is_file() and json.loads(marker.read_text()) != settings.parameters():
            remove_rendered(settings.raw_root)  # rendered with other parameters: the generator's own

    def run(self, run, task, reads):
        from dataset.prepare import render

        render(RenderSettings.from_config(run.config), _jobs(run))


class Extract(Kind):
    name, config_keys, forced = "extract", EXTRACTION_KEYS, False

    def label(self, task):
        k, n = task.shard
        return f"extraction shard {k}/{n}" if n > 1 else "extraction"

    def reads(self, run, task, key_of):
        layout, _, settings_key = extraction_settings(run)
        return {"layout": layout, "settings": settings_key, "shard": list(task.shard),
                "videos": {video.video_name: fingerprint for video, fingerprint in _shard_videos(run, task)}}

    def stamp(self, run, task):
        return run.features.stamp(f"extract-{task.shard[0]}-of-{task.shard[1]}")

    def complete(self, run, task, reads):
        from feature_extraction.batch import cached_results

        _, settings, _ = extraction_settings(run)
        videos = [video for video, _ in _shard_videos(run, task)]
        found, failed = cached_results(videos, settings, run.features.root)
        return len(found) + len(failed) == len(videos)

    def run(self, run, task, reads):
        from dataset.prepare import extract_shard

        extract_shard(ExtractionSettings.from_config(run.config), _jobs(run), *task.shard)


class Merge(Kind):
    name, config_keys, forced, writes_inputs = "merge", EXTRACTION_KEYS, False, True

    def label(self, task):
        return "feature archive (merge)"

    def reads(self, run, task, key_of):
        layout, _, settings_key = extraction_settings(run)
        sheet = ExtractionSettings.from_config(run.config).sheet
        return {"layout": layout, "settings": settings_key,
                "sheet": run.content.file(sheet) if sheet and sheet.is_file() else None,
                "videos": {video.video_name: fingerprint for video, fingerprint in raw_videos(run)}}

    def stamp(self, run, task):
        return run.features.stamp(self.name)

    def complete(self, run, task, reads):
        archive = run.features
        if not (archive.annotations.is_file() and archive.record.is_file() and archive.manifest.is_file()):
            return False
        try:
            files = json.loads(archive.manifest.read_text(encoding="utf-8"))["files"]
        except (OSError, ValueError, KeyError):
            return False
        return all((archive.root / name).is_file() for name in files)

    def clear(self, run, task):
        for path in (run.features.record, run.features.manifest):
            path.unlink(missing_ok=True)

    def run(self, run, task, reads):
        from dataset.prepare import merge

        merge(ExtractionSettings.from_config(run.config), _jobs(run))


# --------------------------------------------------------------------------- a fold's models


def _fold(run: Run, task: Task) -> FoldLayout:
    return run.output(task.seed).fold(task.subject)


def _checkpoints_complete(layout: FoldLayout, epochs: int) -> bool:
    return set(range(epochs)) <= set(layout.checkpoints())


class Train(Kind):
    name, config_keys = "train", TRAINING_KEYS

    def label(self, task):
        return _named(task, "training")

    def reads(self, run, task, key_of):
        from model.adjacency import fold_left_out

        config = run.config_of(task.seed)
        trained_on = [s for s in DataSettings.from_config(config).subjects if s != task.subject]
        return {"subjects": trained_on, "train features": features_of(run, "train", trained_on),
                "adjacency": adjacency_digest(run, fold_left_out(config, task.subject)), **_run_facts(run)}

    def stamp(self, run, task):
        return _fold(run, task).stamp(self.name)

    def complete(self, run, task, reads):
        return _checkpoints_complete(_fold(run, task), TrainingSettings.from_config(run.config).epochs)

    def clear(self, run, task):
        layout = _fold(run, task)
        layout.clear_run()
        for matrix in (layout.adjacency, run.output(task.seed).shared_adjacency):  # rebuilt when still built
            matrix.unlink(missing_ok=True)

    def run(self, run, task, reads):
        from model.training import train_fold

        train_fold(run.config_of(task.seed), task.subject, run.output(task.seed).root, run.device,
                   show_progress=run.request.jobs == 1)


class Inner(Kind):
    name, config_keys = "inner", InnerModelSettings.CONFIG_KEYS

    def label(self, task):
        return _named(task, "training and evaluating")

    def _layout(self, run, task) -> FoldLayout:
        return _fold(run, task).inner_run(task.group)

    def reads(self, run, task, key_of):
        inner = InnerModelSettings.from_config(run.config_of(task.seed))
        held_out = inner.groups(task.subject)[task.group]
        trained_on = inner.training_subjects(task.subject, held_out)
        return {"held out": held_out, "subjects": trained_on,
                "train features": features_of(run, "train", trained_on),
                "test features": features_of(run, "test", held_out),
                "annotations": annotation_digests(run, held_out),
                "adjacency": adjacency_digest(run, [task.subject, *held_out]), **_run_facts(run)}

    def stamp(self, run, task):
        return self._layout(run, task).stamp(self.name)

    def complete(self, run, task, reads):
        layout = self._layout(run, task)
        return (_checkpoints_complete(layout, TrainingSettings.from_config(run.config).epochs)
                and layout.eval_info.is_file()
                and layout.epoch_metrics.is_file())

    def clear(self, run, task):
        root = self._layout(run, task).root
        for path in root.iterdir() if root.is_dir() else ():
            if path.name != self.stamp(run, task).parent.name:
                shutil.rmtree(path) if path.is_dir() else path.unlink()

    def run(self, run, task, reads):
        from model.inner_cv import run_inner

        run_inner(run.config_of(task.seed), run.output(task.seed).root, task.subject, task.group, run.device,
                  run.segment_cache, show_progress=run.request.jobs == 1)


class Evaluate(Kind):
    name, config_keys = "evaluate", EVALUATION_KEYS + SelectionSettings.CONFIG_KEYS

    def label(self, task):
        return _named(task, "evaluating")

    def reads(self, run, task, key_of):
        config = run.config_of(task.seed)
        found = {"test features": feature_digest(run, "test", task.subject),
                 "annotations": annotation_digests(run, [task.subject])[task.subject],
                 "fixed epoch": SelectionSettings.from_config(config).fixed_epoch, **_run_facts(run)}
        trained = [dep for dep in task.deps if dep.startswith(f"{Train.name}/")]
        if trained:
            found["training"] = key_of(trained[0])
        else:  # EVAL_ONLY or a read-only archive: the checkpoints themselves
            source = run.output(task.seed).fold(task.subject, run.request.checkpoints)
            first = EvaluationSettings.from_config(config).epoch_begin
            checkpoints = {e: p for e, p in source.checkpoints().items() if e >= first}
            found["checkpoints"] = {str(e): run.content.file(p) for e, p in checkpoints.items()}
        inner = [dep for dep in task.deps if dep.startswith(f"{Inner.name}/")]
        if inner:
            found["inner models"] = [key_of(dep) for dep in inner]
        return found

    def stamp(self, run, task):
        return _fold(run, task).stamp(self.name)

    def complete(self, run, task, reads):
        layout = _fold(run, task)
        return layout.eval_info.is_file() and layout.best_res.is_file() and layout.epoch_metrics.is_file()

    def refuse(self, run, task):
        layout = _fold(run, task)
        if layout.has_foreign_results():  # never overwritten nor taken as this run's
            raise UserError(f"{layout.root}: holds results this project did not write (best_res.csv without "
                            "eval_info.json, e.g. a published archive); it is left alone: use "
                            "CHECKPOINTS=<archive> OUTPUT=<new folder>")

    def clear(self, run, task):
        _fold(run, task).clear_evaluation()

    def run(self, run, task, reads):
        from model.evaluation import evaluate_fold

        config = run.config_of(task.seed)
        output = run.output(task.seed).root
        inner = None
        if SelectionSettings.from_config(config).protocol.uses_inner_models:
            from model.inner_cv import choose_inner_epoch

            inner = choose_inner_epoch(config, output, task.subject)
        info = evaluate_fold(config, task.subject, output, run.device, show_progress=run.request.jobs == 1,
                             checkpoints_root=run.request.checkpoints, inner=inner)
        if info["note"]:
            print(f"note: {info['note']}")


# --------------------------------------------------------------------------- a seed's pooled outputs


def _fold_keys(run: Run, task: Task, key_of) -> dict[str, str]:
    return {dep.rsplit("/", 1)[-1]: key_of(dep) for dep in task.deps if dep.startswith(f"{Evaluate.name}/")}


class Pool(Kind):
    name, config_keys = "pool", PoolingSettings.CONFIG_KEYS

    def label(self, task):
        return _named(task, "pooling")

    def reads(self, run, task, key_of):
        return {"folds": _fold_keys(run, task, key_of), "annotations": annotation_digests(run, run.subjects),
                "megc frames": run.request.megc_frames}

    def stamp(self, run, task):
        return run.output(task.seed).stamp(self.name)

    def _files(self, run, task) -> list[Path]:
        from utils.megc import GROUND_TRUTH_FILE, PREDICTIONS_FILE

        layout = run.output(task.seed)
        return [layout.final_results_csv, layout.final_results_json, layout.video_counts,
                layout.root / PREDICTIONS_FILE, layout.root / GROUND_TRUTH_FILE]

    def complete(self, run, task, reads):
        # A run pooled before the per-video counts existed lacks video_counts.csv: it is pooled again, alone.
        return all(path.is_file() for path in self._files(run, task))

    def clear(self, run, task):
        for path in self._files(run, task):
            path.unlink(missing_ok=True)
        shutil.rmtree(run.output(task.seed).plots, ignore_errors=True)

    def run(self, run, task, reads):
        from pipeline.final_results import final_results, format_table
        from utils.plots import plot_run

        layout = run.output(task.seed)
        settings = PoolingSettings.from_config(run.config_of(task.seed))
        table, document = final_results(layout.root, list(run.subjects), settings.annotations, settings.ratio_scale,
                                        run.request.megc_frames)
        print(format_table(table, document))
        plot_run(layout.root, list(run.subjects), settings.annotations)


class Report(Kind):
    name, config_keys = "report", ReportSettings.CONFIG_KEYS

    def label(self, task):
        return _named(task, "run report")

    def reads(self, run, task, key_of):
        return {"pooled": key_of(task.deps[0]), "previews": preview_keys(run, task.seed)}

    def stamp(self, run, task):
        return run.output(task.seed).stamp(self.name)

    def complete(self, run, task, reads):
        return run.output(task.seed).report.is_file()

    def clear(self, run, task):
        run.output(task.seed).report.unlink(missing_ok=True)

    def run(self, run, task, reads):
        write_report(run, task.seed, reads["previews"])


class Final(Kind):
    name, config_keys = "final", FinalModelSettings.CONFIG_KEYS

    def label(self, task):
        return _named(task, "final model")

    def reads(self, run, task, key_of):
        from model.final_model import loso_epoch

        config = run.config_of(task.seed)
        epoch, _ = loso_epoch(config, run.output(task.seed).root, list(run.subjects))
        subjects = list(FinalModelSettings.from_config(config).data.subjects)
        return {"epoch": epoch, "subjects": subjects, "train features": features_of(run, "train", subjects),
                "adjacency": adjacency_digest(run, []), **_run_facts(run)}

    def stamp(self, run, task):
        return run.output(task.seed).final.stamp(self.name)

    def complete(self, run, task, reads):
        return _checkpoints_complete(run.output(task.seed).final, reads["epoch"] + 1)

    def clear(self, run, task):
        final = run.output(task.seed).final
        final.clear_run()
        final.adjacency.unlink(missing_ok=True)

    def run(self, run, task, reads):
        from model.final_model import train_final

        train_final(run.config_of(task.seed), run.output(task.seed).root, reads["epoch"], run.device,
                    show_progress=run.request.jobs == 1)


class FinalInfo(Kind):
    name = "final-info"

    def label(self, task):
        return _named(task, "final model's record")

    def reads(self, run, task, key_of):
        return {"final model": key_of(task.deps[0]), "folds": _fold_keys(run, task, key_of)}

    def stamp(self, run, task):
        return run.output(task.seed).final.stamp(self.name)

    def complete(self, run, task, reads):
        return run.output(task.seed).final_info.is_file()

    def clear(self, run, task):
        run.output(task.seed).final_info.unlink(missing_ok=True)

    def run(self, run, task, reads):
        from model.final_model import final_info, write_final_info

        output = run.output(task.seed).root
        info = final_info(run.config_of(task.seed), output, list(run.subjects))
        write_final_info(output, info)
        print(f"final model: every subject ({len(info['subjects'])}), epoch {info['epoch']} (summed LOSO all_f1 "
              f"{info['all_f1']:.4f}) in {run.output(task.seed).final.models}")


class Seeds(Kind):
    name = "seeds"

    def label(self, task):
        return "seed table"

    def reads(self, run, task, key_of):
        return {"seeds": {dep.split("/")[1]: key_of(dep) for dep in task.deps}}

    def stamp(self, run, task):
        return run.layout.stamp(self.name)

    def complete(self, run, task, reads):
        return run.layout.seed_results_csv.is_file() and run.layout.seed_results_json.is_file()

    def clear(self, run, task):
        run.layout.seed_results_csv.unlink(missing_ok=True)
        run.layout.seed_results_json.unlink(missing_ok=True)

    def run(self, run, task, reads):
        from pipeline.seed_table import format_seed_table, seed_table

        print(format_seed_table(*seed_table(run.layout.root, list(run.request.seeds))))


# --------------------------------------------------------------------------- spot.py's inputs (pipeline/spot.py)

# What spotting reads of the config as it is: proposals, NMS and matching (the review's ground truth), at the
# model's rate.
SPOT_KEYS = SpotSettings.CONFIG_KEYS
SPOT_JOB = "spot job"  # run.memo: the command's model.spotting.job.SpotJob


def spot_job(run: Run):
    """The command's SpotJob: the one spot.py resolved and put in ``run.memo`` in its own process, else (a pool
    worker, a Slurm task) resolved here from the request, once per process; the models were checked by then."""
    if SPOT_JOB not in run.memo:
        from model.spotting.job import resolve_job
        from model.spotting.options import SpotOptions

        run.memo[SPOT_JOB] = resolve_job(SpotOptions.from_json(run.request.spot["options"]))
    return run.memo[SPOT_JOB]


def spot_failure(run: Run, task: Task) -> Path:
    """Where a spot task that failed leaves its one line, for the command's summary (removed once it succeeds)."""
    return run.layout.root / "failed" / f"{task.file_name}.txt"


class Spot(Kind):
    """One input of spot.py (``task.subject``: its output folder's name under ``--out``), spotted into that
    folder by model/spotting/. Its key: the input's fingerprint (read without decoding it), the content of the
    chosen checkpoints and everything else the command applies (extraction settings, the cap's stretch, the
    face choice, outputs asked, the ground truth read, the device). Its stamp lies in the command's task folder
    (pipeline/spot.py); its outputs are replaced as a set, so nothing is cleared first and an edited
    ``spots.eaf`` is kept (utils/spot_outputs.py)."""

    name, config_keys = "spot", SPOT_KEYS

    def label(self, task):
        return f"{task.subject}: spotting"

    def reads(self, run, task, key_of):
        from feature_extraction.record import record_dict
        from feature_extraction.recording import input_fingerprint

        job = spot_job(run)
        truth = job.anno
        # as a digest, so that a change reads "input changed"
        return {"input": digest(input_fingerprint(Path(run.request.spot["inputs"][task.subject]))),
                "models": {model.subject: {"epoch": model.epoch, "checkpoint": run.content.file(model.path)}
                           for model in job.models},
                "extraction": record_dict(job.settings),
                "spot": {"dataset": job.config.name, "fps": job.fps, "face": job.face, "video": job.video,
                         "report": job.report, "stretch_windows": job.stretch.windows,
                         "truth": None if truth is None else truth.problem if truth.table is None else
                         digest(truth.table.to_csv(index=False, lineterminator="\n"))},
                "device": job.device.type, "torch": _torch_version()}

    def stamp(self, run, task):
        return run.layout.stamp(task.file_name)

    def complete(self, run, task, reads):
        from model.spotting.batch import outputs_complete

        job = spot_job(run)
        return outputs_complete(job.out / task.subject, job)

    def run(self, run, task, reads):
        from model.spotting.batch import attempt
        from utils.io import atomic_write_text

        job = spot_job(run)
        outcome = attempt(Path(run.request.spot["inputs"][task.subject]), job.out / task.subject, job)
        failure = spot_failure(run, task)
        if outcome.table is None:
            atomic_write_text(failure, outcome.reason + "\n")
            raise UserError(outcome.reason)
        failure.unlink(missing_ok=True)


KINDS: dict[str, Kind] = {kind.name: kind for kind in (Prepare(), Extract(), Merge(), Train(), Inner(), Evaluate(),
                                                        Pool(), Report(), Final(), FinalInfo(), Seeds(), Spot())}


# --------------------------------------------------------------------------- the graph


def build_graph(run: Run) -> dict[str, Task]:
    """Every task of the request, in an order where each comes after the tasks it reads (the order one
    process runs them in)."""
    request, config = run.request, run.config
    tasks: list[Task] = []
    features: tuple[str, ...] = ()
    if request.trains:
        if RenderSettings.from_config(config) is not None:
            tasks.append(Task(Prepare.name))
        if ExtractionSettings.from_config(config) is not None:
            shards = request.extract_shards if request.launcher == "slurm" and request.extract_shards else 1
            extracts = [Task(Extract.name, shard=(k, shards), deps=tuple(t.id for t in tasks))
                        for k in range(1, shards + 1)]
            tasks += extracts
            tasks.append(Task(Merge.name, deps=tuple(t.id for t in extracts)))
            features = (tasks[-1].id,)
    for seed in request.seeds:
        evaluations = []
        for subject in run.subjects:
            before = list(features)
            if request.trains:
                tasks.append(Task(Train.name, seed, subject, deps=features))
                before.append(tasks[-1].id)
            if SelectionSettings.from_config(config).protocol.uses_inner_models:
                for group in range(len(InnerModelSettings.from_config(config).groups(subject))):
                    tasks.append(Task(Inner.name, seed, subject, group, deps=features))
                    before.append(tasks[-1].id)
            tasks.append(Task(Evaluate.name, seed, subject, deps=tuple(before)))
            evaluations.append(tasks[-1].id)
        tasks.append(Task(Pool.name, seed, deps=tuple(evaluations)))
        tasks.append(Task(Report.name, seed, deps=(tasks[-1].id,)))
        if request.final:
            tasks.append(Task(Final.name, seed, deps=tuple(evaluations) + features))
            tasks.append(Task(FinalInfo.name, seed, deps=(tasks[-1].id, *evaluations)))
    if request.seeded:
        tasks.append(Task(Seeds.name, deps=tuple(Task(Pool.name, seed).id for seed in request.seeds)))
    return {task.id: task for task in tasks}
