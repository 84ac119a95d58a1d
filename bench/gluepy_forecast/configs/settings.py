import os

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_PATH = os.path.join(BASE_DIR, "configs")
INSTALLED_MODULES = ["forecast"]
STORAGE_BACKEND = "gluepy.files.storages.local.LocalStorage"
STORAGE_ROOT = os.path.join(BASE_DIR, "data")
DATA_BACKEND = "gluepy.files.data.PandasDataManager"
CONTEXT_BACKEND = "gluepy.conf.context.DefaultContextManager"
MLOPS_BACKEND = "gluepy.ops.backend.LoggingOpsBackend"
START_TASK = "gluepy.exec.tasks.BootstrapTask"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "{levelname} {asctime} {module} - {message}", "style": "{"}},
    "handlers": {"err": {"level": "INFO", "class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "gluepy": {"handlers": ["err"], "level": "INFO", "propagate": False},
        "forecast": {"handlers": ["err"], "level": "INFO", "propagate": False},
    },
}
