#!/usr/bin/env python
"""Entry point of the tiny Gluepy 1.6.0 reference project used by bench/ and
docs/gluepy-reference.md. Run with bench/.venv/bin/python manage.py dag bench."""
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
