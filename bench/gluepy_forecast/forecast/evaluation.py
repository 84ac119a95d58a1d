"""Evaluation of the forecast DAG: frozen during experiments.

It reads the actual values from the input CSV itself (not from anything the
work tasks wrote), and only the predictions from the run folder.
"""
import os

import numpy as np
import pandas as pd

from gluepy.conf import default_settings
from gluepy.exec import EvaluationTask
from gluepy.files.data import data_manager
from gluepy.ops import default_mlops

INPUT_CSV = os.path.normpath(
    os.path.join(default_settings.BASE_DIR, "..", "..", "..", "shared", "data", "vic_elec_2014.csv")
)
HOLDOUT_ROWS = 1344  # the last 28 days of half hours


class ComputeAccuracyTask(EvaluationTask):
    """Accuracy of the demand forecast over the last 28 days of 2014.

    Metrics:
        forecast_mape (float): mean absolute percentage error, in percent
            (mean(|pred - actual| / actual) * 100). Lower is better.
        forecast_bias (float): mean(pred - actual), in GW. Closer to 0.0 is
            better; positive means the forecast is too high.
    """

    label = "compute_accuracy"

    def run(self):
        actual = pd.read_csv(INPUT_CSV, usecols=["timestamp", "demand_gw"]).iloc[-HOLDOUT_ROWS:]
        pred = data_manager.read("predictions.csv")
        if len(pred) != HOLDOUT_ROWS:
            raise ValueError(f"predictions.csv has {len(pred)} rows, expected {HOLDOUT_ROWS}")
        joined = actual.merge(pred, on="timestamp", how="left", validate="one_to_one")
        if joined["demand_gw_pred"].isna().any():
            raise ValueError("predictions.csv does not cover every holdout timestamp")
        err = joined["demand_gw_pred"].to_numpy() - joined["demand_gw"].to_numpy()
        mape = float(np.mean(np.abs(err) / joined["demand_gw"].to_numpy()) * 100.0)
        bias = float(np.mean(err))
        default_mlops.log_metric("forecast_mape", mape)
        default_mlops.log_metric("forecast_bias", bias)
