import json
import math
from io import StringIO

from gluepy.conf import default_context
from gluepy.exec import Task, EvaluationTask
from gluepy.files.storages import default_storage
from gluepy.ops import default_mlops


class WriteNoteTask(Task):
    """Writes a small text file to the run folder."""

    label = "write_note"

    def run(self):
        lines = [default_context.bench.message] * default_context.bench.repeat
        default_storage.touch(default_storage.runpath("note.txt"), StringIO("\n".join(lines) + "\n"))


class ReadNoteTask(Task):
    """Reads the file written by write_note and writes a summary next to it."""

    label = "read_note"

    def run(self):
        text = default_storage.open(default_storage.runpath("note.txt"), mode="r")
        summary = {"lines": text.count("\n"), "chars": len(text)}
        default_storage.touch(default_storage.runpath("summary.json"), StringIO(json.dumps(summary)))


class ScoreNoteTask(EvaluationTask):
    """Scores the note.

    Metrics:
        note_lines (int): number of lines in note.txt. Must equal bench.repeat.
        note_ratio (float): characters per line. Higher is better.
    """

    label = "score_note"

    def run(self):
        summary = json.loads(default_storage.open(default_storage.runpath("summary.json"), mode="r"))
        default_mlops.log_metric("note_lines", summary["lines"])
        default_mlops.log_metric("note_ratio", summary["chars"] / summary["lines"])


# ---- probe DAG: used only to observe how metric values are printed/serialised ----

class ProbeWorkTask(Task):
    """A work task that logs a metric itself (is it part of the block?)."""

    label = "probe_work"

    def run(self):
        default_mlops.log_metric("from_work_task", 7)


class ProbeMetricsTask(EvaluationTask):
    """Logs values of many Python types, in a deliberately unsorted key order."""

    label = "probe_metrics"

    def run(self):
        import numpy as np

        values = [
            ("zeta_float_one", 1.0),
            ("relogged", 1),
            ("alpha_int_five", 5),
            ("big_1e20", 1e20),
            ("sum_point1_point2", 0.1 + 0.2),
            ("small_1e-7", 1e-7),
            ("neg_zero", -0.0),
            ("float_1e15", 1e15),
            ("float_1e16", 1e16),
            ("small_1e-4", 1e-4),
            ("small_1e-5", 1e-5),
            ("one_third", 1 / 3),
            ("float_100", 100.0),
            ("int_10_pow_20", 10**20),
            ("float_123456789_123", 123456789.123),
            ("np_float64", np.float64(0.1) + np.float64(0.2)),
            ("bool_true", True),
            ("unicode_\u00e9", 1),
            ("nan", math.nan),
            ("inf", math.inf),
            ("neg_inf", -math.inf),
        ]
        for key, value in values:
            default_mlops.log_metric(key, value)
        default_mlops.log_metric("relogged", 2)
        print("metric:fake_from_task=999")  # any code can print lookalike lines


class ProbeNumpyIntTask(EvaluationTask):
    """Logs a numpy int64 (not JSON serialisable)."""

    label = "probe_np_int"

    def run(self):
        import numpy as np

        default_mlops.log_metric("np_int64", np.int64(3))
