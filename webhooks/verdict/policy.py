"""The Rego verdict policy, evaluated in process with regorus.

Loading reads a directory once (the shipped ``policies/verdict`` by default, or any directory a
team points ``--verdict-policy`` at); evaluating is pure compute over one input document. The
policy is the Rego package ``truthgate.verdict`` and must define ``verdict``; ``reasons`` and
``findings`` are optional (without ``findings`` the checks' findings are published as they are).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from webhooks.errors import PolicyError, short
from webhooks.evidence.model import VerdictValue
from webhooks.policy.loader import PolicySource, load_sources
from webhooks.policy.regorus_engine import clean_error, new_engine
from webhooks.shipped import policy_roots, shipped_policy_dir

PACKAGE = "truthgate.verdict"

_VERDICTS: frozenset[str] = frozenset(get_args(VerdictValue))


@dataclass(frozen=True)
class PolicyDecision:
    verdict: VerdictValue
    reasons: tuple[str, ...]
    findings: list[dict[str, Any]] | None  # None: the policy left the findings alone


class VerdictPolicy:
    """One loaded verdict policy, safe to share between threads.

    A regorus engine panics when used (or dropped) on another thread than the one that built
    it, so each thread evaluates with an engine of its own, built from the same sources on its
    first use (the auditor judges from a pool of threads).
    """

    def __init__(self, sources: Sequence[PolicySource], *, origin: str = "") -> None:
        self.origin = origin
        self._sources = list(sources)
        self._local = threading.local()
        if f"data.{PACKAGE}" not in set(self._engine.get_packages()):
            where = f" {origin}" if origin else ""
            raise PolicyError(f"verdict policy{where} defines no package {PACKAGE}")

    @property
    def _engine(self) -> Any:
        engine = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._local.engine = new_engine(self._sources)
        return engine

    @classmethod
    def from_dir(cls, directory: Path | str | None = None) -> VerdictPolicy:
        """Every non-test ``.rego`` under ``directory`` (default: the shipped policy)."""
        path = Path(directory) if directory is not None else _shipped()
        sources = load_sources(path)  # PolicyError when missing or unreadable
        if not sources:
            raise PolicyError(f"verdict policy directory {path} holds no .rego file")
        return cls(sources, origin=str(path))

    def _eval_package(self) -> dict[str, Any]:
        """Every rule of the package at once (an undefined rule is simply absent)."""
        try:
            result = self._engine.eval_query(f"data.{PACKAGE}")
        except BaseException as e:  # pyo3 panics are BaseException
            if isinstance(e, KeyboardInterrupt | SystemExit):
                raise
            raise PolicyError(f"verdict policy: {short(clean_error(e), 300)}") from e
        try:
            value = result["result"][0]["expressions"][0]["value"]
        except (KeyError, IndexError, TypeError):
            return {}
        return value if isinstance(value, dict) else {}

    def evaluate(self, input_doc: Mapping[str, Any]) -> PolicyDecision:
        try:
            self._engine.set_input(dict(input_doc))
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt | SystemExit):
                raise
            raise PolicyError(f"verdict policy input: {short(clean_error(e))}") from e
        package = self._eval_package()
        verdict, reasons, findings = (package.get(r) for r in ("verdict", "reasons", "findings"))
        if verdict is None:
            raise PolicyError(
                f"verdict policy: data.{PACKAGE}.verdict is undefined for this input "
                "(give it a default)"
            )
        if verdict not in _VERDICTS:
            raise PolicyError(
                f"verdict policy: data.{PACKAGE}.verdict is {short(verdict, 60)!r}, "
                f"want one of {', '.join(sorted(_VERDICTS))}"
            )
        if reasons is None:
            reasons = []
        if not isinstance(reasons, list | set | tuple) or not all(
            isinstance(r, str) for r in reasons
        ):
            raise PolicyError(f"verdict policy: data.{PACKAGE}.reasons must be a list of strings")
        if findings is not None and (
            not isinstance(findings, list | set | tuple)
            or not all(isinstance(f, dict) for f in findings)
        ):
            raise PolicyError(f"verdict policy: data.{PACKAGE}.findings must be a list of objects")
        return PolicyDecision(
            verdict=verdict,
            reasons=tuple(reasons),
            findings=None if findings is None else list(findings),
        )


def _shipped() -> Path:
    path = shipped_policy_dir("verdict")
    if path is None:
        raise PolicyError(
            "no verdict policy ships with this installation (looked in "
            + ", ".join(str(r / "verdict") for r in policy_roots())
            + "); pass --verdict-policy DIR or set TRUTHGATE_POLICY_ROOT"
        )
    return path


@functools.cache
def default_policy() -> VerdictPolicy:
    """The shipped policy, loaded once per process."""
    return VerdictPolicy.from_dir(_shipped())
