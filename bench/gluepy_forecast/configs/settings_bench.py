"""Settings used by bench/run.sh: the project's settings with the storage root
taken from GLUEPY_BENCH_STORAGE_ROOT. (Gluepy itself reads no environment
variable for the storage root; a settings module like this one, selected with
GLUEPY_SETTINGS_MODULE=configs.settings_bench, is how a project overrides it.)"""
import os

from configs.settings import *  # noqa: F401,F403

STORAGE_ROOT = os.environ["GLUEPY_BENCH_STORAGE_ROOT"]
