"""``truthgate replay --html OUT.html``: write the report page next to printing the Verdict.

The page itself is built by :mod:`webhooks.verdict.report` (pure); this only writes it, whole
or not at all (a temporary file renamed into place), and turns a write failure into the CLI's
one-line error.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from webhooks.errors import BadRequestError, short
from webhooks.evidence.model import Evidence, Verdict
from webhooks.verdict.report import render_report


def write_report(path: Path, evidence: Evidence, verdict: Verdict) -> None:
    try:
        page = render_report(evidence, verdict)
    except Exception as e:  # evidence the judge could read but the page cannot show
        raise BadRequestError(f"cannot render the report: {type(e).__name__}: {short(e)}") from e
    target = path.expanduser()
    try:
        fd, tmp = tempfile.mkstemp(prefix=".truthgate-report-", dir=target.parent or Path())
    except OSError as e:
        raise BadRequestError(f"cannot write {path}: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(page)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise BadRequestError(f"cannot write {path}: {e.strerror or e}") from e
