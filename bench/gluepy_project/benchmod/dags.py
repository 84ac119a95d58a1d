from gluepy.exec import DAG

from .tasks import (
    ProbeMetricsTask,
    ProbeNumpyIntTask,
    ProbeWorkTask,
    ReadNoteTask,
    ScoreNoteTask,
    WriteNoteTask,
)


class BenchDAG(DAG):
    label = "bench"
    tasks = [WriteNoteTask, ReadNoteTask]
    eval_tasks = [ScoreNoteTask]


class NoEvalDAG(DAG):
    label = "noeval"
    tasks = [WriteNoteTask, ReadNoteTask]


class ProbeDAG(DAG):
    label = "probe"
    tasks = [ProbeWorkTask]
    eval_tasks = [ProbeMetricsTask]


class ProbeNumpyIntDAG(DAG):
    label = "probe_np_int"
    tasks = []
    eval_tasks = [ProbeNumpyIntTask]
