from gluepy.exec import DAG

from .evaluation import ComputeAccuracyTask
from .tasks import PredictTask, PrepareDataTask, TrainModelTask


class ForecastDAG(DAG):
    label = "forecast"
    tasks = [PrepareDataTask, TrainModelTask, PredictTask]
    eval_tasks = [ComputeAccuracyTask]
