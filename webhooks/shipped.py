"""Where the Rego policies and the CRDs that ship with truthgate are found.

The policies live at the top of the source tree (``policies/admission``, ``policies/verdict``),
not inside the import package, because users read and fork them as Rego, not as Python. A
wheel installs them as data files under ``<prefix>/share/truthgate/policies``; an editable
install or a checkout finds them beside the package. ``TRUTHGATE_POLICY_ROOT`` overrides both.

The CRDs (``charts/truthgate/crds``) are found the same way, as ``<prefix>/share/truthgate/crds``
in a wheel: the chart's file is the only description of a TruthCheck's shape, and truthgate
validates specs against it rather than against a copy.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

PolicySet = Literal["admission", "verdict"]


def policy_roots() -> list[Path]:
    """Candidate roots, most specific first."""
    roots = []
    if env := os.environ.get("TRUTHGATE_POLICY_ROOT"):
        roots.append(Path(env))
    roots.append(Path(__file__).resolve().parents[1] / "policies")  # checkout, editable install
    roots.append(Path(sys.prefix) / "share" / "truthgate" / "policies")  # wheel data files
    return roots


def shipped_policy_dir(name: PolicySet) -> Path | None:
    """The shipped policy directory ``name``, or None when this installation has none."""
    for root in policy_roots():
        if (root / name).is_dir():
            return root / name
    return None


def crd_roots() -> list[Path]:
    """Candidate directories holding the shipped CRD files, most specific first."""
    return [
        Path(__file__).resolve().parents[1] / "charts" / "truthgate" / "crds",  # checkout
        Path(sys.prefix) / "share" / "truthgate" / "crds",  # wheel data files
    ]


def shipped_crd(filename: str) -> Path | None:
    """The shipped CRD file ``filename`` (like ``truthchecks.truthgate.dev.yaml``), or None."""
    for root in crd_roots():
        if (root / filename).is_file():
            return root / filename
    return None
