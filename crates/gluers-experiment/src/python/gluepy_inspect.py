"""Asks a Gluepy project what one of its DAGs evaluates with.

Run by the gluers engine (never imported) as

    python -I -B -c SCRIPT PROJECT_DIR dag LABEL
    python -I -B -c SCRIPT PROJECT_DIR settings

with the project folder as the working directory. It runs the project's own
`manage.py` the way `python manage.py dag LABEL` does (same settings module,
same `bootstrap()` importing INSTALLED_MODULES, same DAG registry), except
that the Gluepy command line is replaced by a probe that reads the registry
and answers instead of running the DAG.

The answer is one JSON line on the original stdout: {"ok": {...}} or
{"error": "one line"}. Everything the project prints while it is imported
goes to stderr, so it can never be read as the answer.
"""

import inspect
import json
import os
import re
import runpy
import sys
import traceback

PROJECT = os.path.abspath(sys.argv[1])
MODE = sys.argv[2]
LABEL = sys.argv[3] if len(sys.argv) > 3 else None

# `-I` leaves neither the script's folder nor the working directory on
# sys.path; `python manage.py` would have the project folder first.
sys.path.insert(0, PROJECT)

# The reply channel is a private copy of stdout; fd 1 becomes stderr so that
# prints (Python or C level) of project code go there.
_REPLY = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)


class _Answered(BaseException):
    """Unwinds manage.py once the probe has its answer (a BaseException, so a
    project's `except Exception` does not swallow it)."""


class _Refused(Exception):
    """A problem with the DAG to report as one line."""


_ANSWER = {}


def _within(path, base):
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def _locate(path):
    """(project-relative path, None) or (None, absolute path outside the
    project); (None, None) for code that has no file (`exec`, builtins)."""
    if not path or path.startswith("<"):
        return None, None
    absolute = os.path.normpath(os.path.join(PROJECT, path))
    for base, p in ((PROJECT, absolute), (os.path.realpath(PROJECT), os.path.realpath(absolute))):
        if _within(p, base):
            return os.path.relpath(p, base).replace(os.sep, "/"), None
    return None, absolute


def _source_of(obj):
    """The file `inspect` finds a class in: its module's file, which holds
    the class statement or the `type(...)` call that made it."""
    try:
        return inspect.getsourcefile(obj) or inspect.getfile(obj)
    except (TypeError, OSError):
        return None


def _class_files(cls):
    """Files holding the code of `cls`: its source file and the files of the
    code objects its own methods and properties run (a class made with
    `type(...)` may take them from elsewhere)."""
    found = []
    f = _source_of(cls)
    if f:
        found.append(f)
    for value in vars(cls).values():
        if isinstance(value, (staticmethod, classmethod)):
            functions = [value.__func__]
        elif isinstance(value, property):
            functions = [value.fget, value.fset, value.fdel]
        else:
            functions = [value]
        for fn in functions:
            code = getattr(fn, "__code__", None)
            if code is not None:
                found.append(code.co_filename)
    return found


def _name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _label(cls):
    return getattr(cls, "label", None) or cls.__name__.lower()


def _as_class(item, dag_label, attr):
    """Gluepy lists task classes; an instance stands for its class."""
    if isinstance(item, type):
        return item
    if callable(getattr(item, "run", None)):
        return type(item)
    raise _Refused(f"`{attr}` of DAG `{dag_label}` holds {item!r}, which is not a task class")


class _Files:
    """Collects project files, outside files and unlocated classes."""

    def __init__(self):
        self.outside = []
        self.unlocated = []

    def of(self, classes, skip):
        rels = []
        for cls in classes:
            if cls in skip or cls.__module__ == "builtins":
                continue
            paths = _class_files(cls)
            if not paths:
                self.unlocated.append(_name(cls))
            for p in paths:
                rel, outside = _locate(p)
                if rel is not None and rel not in rels:
                    rels.append(rel)
                elif outside is not None and outside not in self.outside:
                    self.outside.append(outside)
                elif rel is None and outside is None and _name(cls) not in self.unlocated:
                    self.unlocated.append(_name(cls))
        return rels


_ENTRY = re.compile(r"^([A-Za-z_][\w.\-]*)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _metric_docs(cls):
    """The `Metrics:` section (Google style) of the class's own docstring:
    `name (type): text` entries, deeper-indented lines continuing the text.
    The raw docstring is read because `inspect.cleandoc` dedents a first
    line differently from the rest."""
    doc = cls.__dict__.get("__doc__")
    if not isinstance(doc, str):
        return []
    out = []
    header = None
    level = None
    for line in doc.expandtabs().splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if header is None:
            if stripped == "Metrics:":
                header = indent
            continue
        if not stripped:
            continue
        if indent <= header:
            break
        match = _ENTRY.match(stripped)
        if match and (level is None or indent <= level):
            level = indent
            out.append({"task": _label(cls), "name": match.group(1), "doc": match.group(2).strip()})
        elif out:
            out[-1]["doc"] = (out[-1]["doc"] + " " + stripped).strip()
    return out


def _settings():
    from gluepy.conf import default_settings

    root = getattr(default_settings, "STORAGE_ROOT", None)
    return {
        "module": os.environ.get("GLUEPY_SETTINGS_MODULE"),
        "storage_root": os.path.abspath(str(root)) if root is not None else None,
        "storage_backend": getattr(default_settings, "STORAGE_BACKEND", None),
    }


def _describe_dag(label):
    from gluepy.exec import dags as gluepy_dags
    from gluepy.exec import tasks as gluepy_tasks

    registry = gluepy_dags.REGISTRY
    if label not in registry:
        known = ", ".join(sorted(registry)) or "none"
        raise _Refused(
            f"DAG `{label}` is not registered by the project (registered: {known}); "
            "check the label and INSTALLED_MODULES in the settings module"
        )
    dag_cls = registry[label]
    # As `manage.py dag` does: the lists are read from an instance, so a
    # property or an `__init__` that builds them is seen too.
    dag = dag_cls()
    files = _Files()
    task_bases = {object, gluepy_tasks.Task, gluepy_tasks.EvaluationTask}
    eval_tasks = []
    docs = []
    for item in list(dag.eval_tasks or []):
        cls = _as_class(item, label, "eval_tasks")
        eval_tasks.append(
            {
                "label": _label(cls),
                "class": cls.__qualname__,
                "module": cls.__module__,
                "source_file": _locate(_source_of(cls))[0],
                "mro_files": files.of(cls.__mro__, task_bases),
            }
        )
        docs.extend(_metric_docs(cls))
    work = [_label(_as_class(t, label, "tasks")) for t in list(dag.tasks or [])]
    wiring = files.of(dag_cls.__mro__, {object, gluepy_dags.DAG})
    return {
        "dag": label,
        "dag_class": _name(dag_cls),
        "wiring_file": _locate(_source_of(dag_cls))[0],
        "wiring_files": wiring,
        "eval_tasks": eval_tasks,
        "work_tasks": work,
        "outside_project": sorted(files.outside),
        "unlocated": files.unlocated,
        "metric_docs": docs,
        "settings": _settings(),
    }


def _probe_cli(*_args, **_kwargs):
    # Errors are kept here rather than raised: manage.py may wrap `cli()` in
    # its own `except Exception`.
    try:
        if MODE == "dag":
            _ANSWER["ok"] = _describe_dag(LABEL)
        else:
            _ANSWER["ok"] = {"settings": _settings()}
    except _Refused as exc:
        _ANSWER["error"] = str(exc)
    except Exception as exc:  # noqa: BLE001 - reported as one line
        _ANSWER["error"] = f"inspecting DAG `{LABEL}` failed: {_one_line(exc)}"
    raise _Answered()


def _probe_bootstrap(*_args, **_kwargs):
    # Settings are known once manage.py has chosen the settings module, which
    # it does before bootstrapping; nothing of the project need be imported.
    try:
        _ANSWER["ok"] = {"settings": _settings()}
    except Exception as exc:  # noqa: BLE001 - reported as one line
        _ANSWER["error"] = f"importing the settings module failed: {_one_line(exc)}"
    raise _Answered()


def _where(tb):
    """`file:line` of the innermost traceback frame inside the project."""
    found = None
    for frame, line in traceback.walk_tb(tb):
        rel, _ = _locate(frame.f_code.co_filename)
        if rel is not None:
            found = f"{rel}:{line}"
    return found


def _one_line(exc):
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    first = last.splitlines()[0] if last else type(exc).__name__
    where = None
    if isinstance(exc, SyntaxError) and exc.filename:
        rel, outside = _locate(exc.filename)
        where = f"{rel or outside}:{exc.lineno}"
    where = where or _where(exc.__traceback__)
    return f"{first} (at {where})" if where else first


def main():
    manage = os.path.join(PROJECT, "manage.py")
    if not os.path.isfile(manage):
        return {"error": f"no manage.py in {PROJECT}"}
    try:
        import gluepy.commands
        import gluepy.exec.boot
    except BaseException as exc:  # noqa: BLE001 - reported as one line
        return {"error": f"this Python cannot import gluepy: {_one_line(exc)}"}
    # manage.py does `from gluepy.commands import cli` (and `from
    # gluepy.exec.boot import bootstrap`) when it runs, so it picks these up.
    gluepy.commands.cli = _probe_cli
    if MODE == "settings":
        gluepy.exec.boot.bootstrap = _probe_bootstrap
    sys.argv = ["manage.py", "dag", LABEL or ""]
    try:
        runpy.run_path(manage, run_name="__main__")
    except _Answered:
        pass
    except SystemExit as exc:
        if not _ANSWER:
            return {"error": f"manage.py exited (status {exc.code}) before reaching Gluepy's command line"}
    except BaseException as exc:  # noqa: BLE001 - reported as one line
        if not _ANSWER:
            return {"error": f"running manage.py failed: {_one_line(exc)}"}
    if not _ANSWER:
        return {"error": "manage.py returned without calling gluepy.commands.cli()"}
    return _ANSWER


try:
    _result = main()
except _Refused as exc:
    _result = {"error": str(exc)}
except BaseException as exc:  # noqa: BLE001 - reported as one line
    _result = {"error": f"inspecting the project failed: {_one_line(exc)}"}
_REPLY.write(json.dumps(_result) + "\n")
_REPLY.flush()
