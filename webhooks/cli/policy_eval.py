"""``truthgate policy eval``: what the webhook would answer for a review or a manifest, offline.

Each INPUT is an AdmissionReview (v1) or a manifest (YAML or JSON, several documents, ``-`` for
standard input). A manifest becomes the review the API server would send for it
(``webhooks.admission.manifest``); every review then goes through the server's own decision
(``decide`` with the same engine and enforcement configuration ``truthgate serve`` would load),
and the answer is printed with the policy package behind each message and the intent that
would be recorded. Nothing is written: no ledger is opened.

Exit codes: 0 every review allowed; 1 at least one denied; 2 bad input or policies that do not
load (one line on stderr).
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from webhooks.admission.config import ARGOCD_CONTROLLER, AdmissionConfig, FailureMode
from webhooks.admission.decide import Decision, decide
from webhooks.admission.manifest import (
    MANIFEST_OPERATIONS,
    Document,
    documents,
    find_old,
    review_for,
)
from webhooks.admission.review import AdmissionRequest, check_depth, parse_review, request_object
from webhooks.checks.kube import display_ref
from webhooks.cli.options import admission_options, admission_settings
from webhooks.errors import BadRequestError, TruthgateError
from webhooks.evidence.model import ResourceRef

# Who ``--as-human`` is: a person, as an OIDC login reaches the API server.
HUMAN = "someone@example.com"
# Options that shape a review made from a manifest; a given AdmissionReview already says them.
MANIFEST_OPTIONS = ("operation", "old", "user", "groups", "as_human", "dry_run", "namespace")


@dataclass(frozen=True)
class Evaluated:
    where: str
    request: AdmissionRequest
    decision: Decision


def _read(name: str, stdin_used: list[bool]) -> str:
    if name == "-":
        if stdin_used:
            raise BadRequestError("standard input (-) can be read only once")
        stdin_used.append(True)
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise BadRequestError(f"cannot read {name}: {reason}") from e


def read_documents(name: str, stdin_used: list[bool]) -> list[Document]:
    """The objects of one INPUT. A JSON file is read as the server reads a request body."""
    text = _read(name, stdin_used)
    source = "stdin" if name == "-" else name
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            pass  # a YAML flow mapping, or JSON with several documents: YAML reads both
        else:
            if isinstance(doc, dict):
                check_depth(doc)
                return [Document(source, doc)]
    return documents(text, source)


def default_user(config: AdmissionConfig) -> str:
    """Argo CD's application controller, as the configuration names it."""
    names = config.argocd_usernames
    return ARGOCD_CONTROLLER if ARGOCD_CONTROLLER in names or not names else sorted(names)[0]


def _request(
    doc: Document, olds: Sequence[Document], config: AdmissionConfig, opts: dict[str, Any]
) -> AdmissionRequest:
    if doc.is_review:
        if opts["given"]:
            raise BadRequestError(
                f"{doc.where} is an AdmissionReview: it already says the operation and the user; "
                f"{', '.join(opts['given'])} apply to manifests only"
            )
        return parse_review(doc.obj)  # depth already checked, as the server does
    operation = opts["operation"] or ("UPDATE" if olds else "CREATE")
    old = find_old(doc.obj, olds, doc.where) if operation == "UPDATE" and olds else None
    if opts["as_human"]:
        username, groups = HUMAN, None
    else:
        username, groups = opts["user"] or default_user(config), opts["groups"] or None
    review = review_for(
        doc.obj,
        where=doc.where,
        uid=str(uuid.uuid4()),
        operation=operation,
        old=old,
        username=username,
        groups=groups,
        dry_run=opts["dry_run"],
        namespace=opts["namespace"],
    )
    return parse_review(review)


def object_name(request: AdmissionRequest) -> str:
    obj = request_object(request)
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = request.get("name") or f"{(meta or {}).get('generateName') or ''}*"
    ref: ResourceRef = {
        "kind": request["kind"]["kind"],
        "namespace": request.get("namespace") or None,
        "name": name,
    }
    return display_ref(ref)


def not_recorded(e: Evaluated) -> str | None:
    """Why no intent would be recorded, or None when one would."""
    if e.decision.intent is not None:
        return None
    if e.request.get("dryRun"):
        return "a dry-run request (it gets the same answer, nothing is recorded)"
    return (
        "no Argo CD application manages the object (no matching "
        "argocd.argoproj.io/tracking-id annotation or app.kubernetes.io/instance label)"
    )


def as_json(e: Evaluated) -> dict[str, Any]:
    d = e.decision
    context = d.context
    return {
        "input": e.where,
        "object": object_name(e.request),
        "operation": e.request["operation"],
        "dryRun": bool(e.request.get("dryRun", False)),
        "actor": context["actor"] if context else None,
        "app": context["app"] if context else None,
        "allowed": d.allowed,
        "response": d.review()["response"],
        "evaluated": [o.package for o in d.outcomes],
        "messages": [
            {
                "package": m.package,
                "rule": m.rule,
                "action": m.action,
                "effect": m.effect,
                "message": m.text,
            }
            for m in d.messages
        ],
        "policyError": d.policy_error,
        "intent": d.intent,
        "notRecorded": not_recorded(e),
    }


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _intent_lines(intent: dict[str, Any]) -> list[str]:
    """One line per field as the ledger stores it, one per JSON Patch operation."""
    lines = []
    for key, value in intent.items():
        if key == "patch" and isinstance(value, list) and value:
            lines.append("    patch:")
            lines.extend(f"      {_compact(op)}" for op in value)
        else:
            lines.append(f"    {key}: {_compact(value)}")
    return lines


def as_text(e: Evaluated) -> str:
    d = e.decision
    actor = d.context["actor"] if d.context else None
    who = f"{actor['username']} ({actor['class']})" if actor else "?"
    app = d.context["app"] if d.context else None
    head = f"{e.where}: {e.request['operation']} {object_name(e.request)} by {who}"
    head += f"; Argo CD app {app}" if app else "; no Argo CD app"
    if e.request.get("dryRun"):
        head += "; dry run"
    lines = [head]
    code = (d.review()["response"].get("status") or {}).get("code")
    lines.append("  ALLOWED" if d.allowed else f"  DENIED ({code})")
    for m in d.messages:
        source = m.package or "truthgate (policy evaluation failed)"
        how = f"{m.rule} rule, action {m.action}" if m.rule else f"failure mode {m.action}"
        lines.append(f"  {m.effect:<8} {source} ({how})")
        lines.append(f"           {m.text}")
    evaluated = ", ".join(o.package for o in d.outcomes) or "none (no policy targets this kind)"
    lines.append(f"  policies evaluated: {evaluated}")
    reason = not_recorded(e)
    if reason is None:
        lines.append("  intent that would be recorded (nothing was written):")
        lines.extend(_intent_lines(dict(d.intent or {})))
    else:
        lines.append(f"  no intent would be recorded: {reason}")
    return "\n".join(lines)


@click.command("eval")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@admission_options
@click.option(
    "--operation",
    type=click.Choice(MANIFEST_OPERATIONS, case_sensitive=False),
    help="What the manifest is for [default: CREATE; UPDATE with --old].",
)
@click.option(
    "--old",
    "old_file",
    metavar="FILE",
    help="The object(s) as they are now (YAML or JSON): the manifest is an UPDATE of them.",
)
@click.option(
    "--user",
    metavar="NAME",
    help="Who asks [default: Argo CD's application controller service account].",
)
@click.option(
    "--group",
    "groups",
    multiple=True,
    metavar="GROUP",
    help="The user's groups (repeatable) [default: what the API server gives the user].",
)
@click.option(
    "--as-human",
    is_flag=True,
    help=f"Ask as a person ({HUMAN}): the out-of-band case.",
)
@click.option("--dry-run", is_flag=True, help="A dry-run request (kubectl --dry-run=server).")
@click.option(
    "-n",
    "--namespace",
    metavar="NS",
    help="Namespace for manifests that name none (as kubectl -n).",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for scripts.",
)
@click.pass_context
def eval_command(
    ctx: click.Context,
    *,
    inputs: tuple[str, ...],
    policy_dir: Path | None,
    enforcement: Path | None,
    engine_spec: str,
    failure_mode: FailureMode | None,
    operation: str | None,
    old_file: str | None,
    user: str | None,
    groups: tuple[str, ...],
    as_human: bool,
    dry_run: bool,
    namespace: str | None,
    output: str,
) -> None:
    """What the webhook would answer for each INPUT: an AdmissionReview or a manifest.

    Prints allowed or denied, every message with the policy package that produced it and its
    enforcement action, and the intent that would be recorded; writes nothing. Exit 0: all
    allowed; 1: a review is denied; 2: bad input.
    """
    given = [
        "--" + name.replace("_", "-")
        for name in MANIFEST_OPTIONS
        if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
    ]
    try:
        if as_human and (user or groups):
            raise BadRequestError(
                "--as-human stands for a person; give either it or --user/--group"
            )
        evaluated = _evaluate(
            inputs,
            policy_dir=policy_dir,
            enforcement=enforcement,
            engine_spec=engine_spec,
            failure_mode=failure_mode,
            old_file=old_file,
            opts={
                "given": given,
                "operation": operation.upper() if operation else None,
                "user": user,
                "groups": list(groups),
                "as_human": as_human,
                "dry_run": dry_run,
                "namespace": namespace,
            },
        )
    except TruthgateError as e:
        click.echo(f"truthgate: error: {e}", err=True)
        sys.exit(2)
    allowed = all(e.decision.allowed for e in evaluated)
    if output == "json":
        doc = {"allowed": allowed, "reviews": [as_json(e) for e in evaluated]}
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        click.echo("\n\n".join(as_text(e) for e in evaluated))
        if len(evaluated) > 1:
            denied = sum(not e.decision.allowed for e in evaluated)
            click.echo(
                f"\n{len(evaluated)} reviews: {len(evaluated) - denied} allowed, {denied} denied"
            )
    sys.exit(0 if allowed else 1)


def _evaluate(
    inputs: Sequence[str],
    *,
    policy_dir: Path | None,
    enforcement: Path | None,
    engine_spec: str,
    failure_mode: FailureMode | None,
    old_file: str | None,
    opts: dict[str, Any],
) -> list[Evaluated]:
    from webhooks.policy.factory import open_engine

    if opts["operation"] not in (None, "UPDATE") and old_file is not None:
        raise BadRequestError(f"--old is only for UPDATE, not {opts['operation']}")
    stdin_used: list[bool] = []
    docs = [doc for name in inputs for doc in read_documents(name, stdin_used)]
    olds = read_documents(old_file, stdin_used) if old_file is not None else []
    if opts["operation"] == "UPDATE" and not olds and not all(d.is_review for d in docs):
        raise BadRequestError("--operation UPDATE needs --old FILE: the object as it is now")

    policy_dir, config = admission_settings(policy_dir, enforcement, failure_mode)
    requests = [(doc.where, _request(doc, olds, config, opts)) for doc in docs]
    engine = open_engine(engine_spec, policy_dir)
    now = datetime.now(UTC)
    return [
        Evaluated(where, request, decide(request, engine, config, now))
        for where, request in requests
    ]
