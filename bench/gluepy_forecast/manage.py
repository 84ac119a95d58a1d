#!/usr/bin/env python
"""Gluepy 1.6.0 + pandas version of the forecast pipeline (benchmark reference).

    ../.venv/bin/python manage.py dag forecast
"""
import os
import sys


def main():
    os.environ.setdefault("GLUEPY_SETTINGS_MODULE", "configs.settings")
    from gluepy.exec.boot import bootstrap
    from gluepy.commands import cli

    bootstrap()
    cli()


if __name__ == "__main__":
    sys.exit(main())
