"""Work tasks of the forecast DAG: what an experiment is allowed to change."""
import logging
import os

import numpy as np
import pandas as pd

from gluepy.conf import default_context, default_settings
from gluepy.exec import Task
from gluepy.files.data import data_manager

logger = logging.getLogger(__name__)


def _input_csv() -> str:
    path = default_context.forecast.input_csv
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(default_settings.BASE_DIR, path))


class PrepareDataTask(Task):
    """Load the half-hourly demand series and split off the holdout (last 28 days)."""

    label = "prepare_data"

    def run(self):
        df = pd.read_csv(_input_csv())
        holdout_rows = int(default_context.forecast.holdout_rows)
        train, holdout = df.iloc[:-holdout_rows], df.iloc[-holdout_rows:]
        data_manager.write("train.csv", train, index=False)
        data_manager.write("holdout.csv", holdout.drop(columns=["demand_gw"]), index=False)
        logger.info("train rows: %d, holdout rows: %d", len(train), len(holdout))


class TrainModelTask(Task):
    """Weekly seasonal naive: the model is the last season of the training set."""

    label = "train_model"

    def run(self):
        season_length = int(default_context.forecast.get("season_length", 336))
        train = data_manager.read("train.csv")
        season = train[["timestamp", "demand_gw"]].iloc[-season_length:].reset_index(drop=True)
        data_manager.write("model.csv", season, index=False)


class PredictTask(Task):
    """Repeat the season over every holdout row."""

    label = "predict"

    def run(self):
        season = data_manager.read("model.csv")["demand_gw"].to_numpy()
        holdout = data_manager.read("holdout.csv")
        reps = int(np.ceil(len(holdout) / len(season)))
        pred = np.tile(season, reps)[: len(holdout)]
        out = pd.DataFrame({"timestamp": holdout["timestamp"], "demand_gw_pred": pred})
        data_manager.write("predictions.csv", out, index=False)
