"""Run several ``dicom-annotator`` commands in one process (a client inside the PACS's network namespace).

Reads a JSON list of ``{"argv": [...], "env": {...}, "stdin": "..."}`` on standard input and writes a
JSON list of ``{"status", "stdout", "stderr"}``: one interpreter start for a whole user session
instead of one per command. Each command runs with its own environment additions (e.g. its user's
config folder) and its own standard input (a password for --password-stdin).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys


def main() -> None:
    from DICOMAnnotatorLib.cli.main import main as cli

    results = []
    for command in json.loads(sys.stdin.read()):
        saved_env, saved_stdin = dict(os.environ), sys.stdin
        os.environ.update(command.get("env", {}))
        sys.stdin = io.StringIO(command.get("stdin", ""))
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    status = cli([str(a) for a in command["argv"]])
                except SystemExit as exit_:
                    status = exit_.code
        finally:
            os.environ.clear()
            os.environ.update(saved_env)
            sys.stdin = saved_stdin
        results.append({"status": status, "stdout": out.getvalue(), "stderr": err.getvalue()})
    sys.stdout.write(json.dumps(results))


if __name__ == "__main__":
    main()
