"""The embedded regorus engine: loading, METADATA, routing by kind, reload, threads."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.policy.conftest import ADMISSION
from webhooks.errors import PolicyError
from webhooks.policy.engine import PolicyOutcome
from webhooks.policy.factory import open_engine
from webhooks.policy.regorus_engine import RegorusEngine

DEPLOYMENT_ONLY = """# METADATA
# title: Deployments only
# description: Blows up when evaluated, so reaching it at all is visible.
# custom:
#   kinds: [Deployment]
package truthgate.admission.deployments_only

deny contains msg if {
	x := input.request.name + 1
	msg := sprintf("%v", [x])
}
"""

EVERY_KIND = """# METADATA
# title: Every kind
# description: Names what it saw.
package truthgate.admission.every_kind

deny contains msg if {
	input.request.name == "forbidden"
	msg := sprintf("%s is forbidden", [input.request.kind.kind])
}

warn contains "seen"
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def inp(kind: str, name: str = "cfg") -> dict[str, Any]:
    return {"request": {"kind": {"group": "", "version": "v1", "kind": kind}, "name": name}}


def test_metadata_titles_descriptions_and_kinds_are_read() -> None:
    engine = RegorusEngine(ADMISSION)
    metas = {m.package: m for m in engine.policies()}
    assert set(metas) == {
        "truthgate.admission.mutable_images",
        "truthgate.admission.out_of_band_edits",
        "truthgate.admission.pod_security",
    }  # the helper library defines no deny/warn: not a policy
    images = metas["truthgate.admission.mutable_images"]
    assert images.title == "Images of GitOps-managed workloads are pinned"
    assert "Deployment" in images.kinds and "ConfigMap" not in images.kinds
    assert images.source == "mutable_images.rego"
    assert metas["truthgate.admission.out_of_band_edits"].kinds == frozenset()  # ["*"]


def test_a_configmap_review_never_reaches_a_deployment_policy(tmp_path: Path) -> None:
    write(tmp_path, "deployments_only.rego", DEPLOYMENT_ONLY)
    write(tmp_path, "every_kind.rego", EVERY_KIND)
    engine = RegorusEngine(tmp_path)
    assert engine.evaluate("ConfigMap", inp("ConfigMap")) == [
        PolicyOutcome("truthgate.admission.every_kind", (), ("seen",))
    ]
    # The Deployment policy really is evaluated for Deployments (and fails, as written): its
    # error is its own, the other policy still answers.
    failed, seen = engine.evaluate("Deployment", inp("Deployment"))
    assert re.match(
        r"truthgate\.admission\.deployments_only\.deny: deployments_only\.rego:9",
        failed.error or "",
    )
    assert seen == PolicyOutcome("truthgate.admission.every_kind", (), ("seen",))


def test_shipped_image_policy_is_not_evaluated_for_configmaps() -> None:
    engine = RegorusEngine(ADMISSION)
    packages = [o.package for o in engine.evaluate("ConfigMap", inp("ConfigMap"))]
    assert packages == ["truthgate.admission.out_of_band_edits"]


def test_deny_and_warn_sets_come_back_sorted_per_policy(tmp_path: Path) -> None:
    write(tmp_path, "every_kind.rego", EVERY_KIND)
    write(
        tmp_path,
        "objects.rego",
        "package truthgate.admission.objects\n"
        'deny contains {"msg": "gatekeeper style", "details": {}} if true\n'
        'deny contains "b plain" if true\n',
    )
    engine = RegorusEngine(tmp_path)
    outcomes = engine.evaluate("Pod", inp("Pod", "forbidden"))
    assert outcomes == [
        PolicyOutcome("truthgate.admission.every_kind", ("Pod is forbidden",), ("seen",)),
        PolicyOutcome("truthgate.admission.objects", ("b plain", "gatekeeper style"), ()),
    ]


def test_test_files_are_not_loaded_as_policies(tmp_path: Path) -> None:
    write(tmp_path, "every_kind.rego", EVERY_KIND)
    write(
        tmp_path,
        "every_kind_test.rego",
        'package truthgate.admission.every_kind_test\ndeny contains "from a test file" if true\n',
    )
    engine = RegorusEngine(tmp_path)
    assert [m.package for m in engine.policies()] == ["truthgate.admission.every_kind"]


def test_reload_keeps_the_old_set_when_a_file_is_broken(tmp_path: Path) -> None:
    write(tmp_path, "every_kind.rego", EVERY_KIND)
    engine = RegorusEngine(tmp_path)
    write(tmp_path, "sub/broken.rego", "package truthgate.admission.broken\ndeny contains if {\n")
    with pytest.raises(PolicyError, match=r"sub/broken\.rego:2"):
        engine.reload()
    assert [m.package for m in engine.policies()] == ["truthgate.admission.every_kind"]
    assert engine.evaluate("Pod", inp("Pod"))[0].warnings == ("seen",)


def test_reload_picks_up_new_and_removed_policies(tmp_path: Path) -> None:
    first = write(tmp_path, "every_kind.rego", EVERY_KIND)
    engine = RegorusEngine(tmp_path)
    engine.evaluate("Pod", inp("Pod"))  # this thread now holds an engine of the first set
    write(tmp_path, "deployments_only.rego", DEPLOYMENT_ONLY)
    first.unlink()
    engine.reload()
    assert [m.package for m in engine.policies()] == ["truthgate.admission.deployments_only"]
    assert engine.evaluate("Pod", inp("Pod")) == []


def test_bad_metadata_and_missing_directory_are_policy_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        RegorusEngine(tmp_path / "nope")
    write(
        tmp_path,
        "bad.rego",
        '# METADATA\n# custom: [\npackage truthgate.admission.bad\ndeny contains "x" if true\n',
    )
    with pytest.raises(PolicyError, match=r"bad\.rego: METADATA block is not valid YAML"):
        RegorusEngine(tmp_path)


def test_many_threads_evaluate_concurrently_with_correct_answers(tmp_path: Path) -> None:
    write(tmp_path, "every_kind.rego", EVERY_KIND)
    engine = RegorusEngine(tmp_path)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            for i in range(50):
                name = "forbidden" if (n + i) % 2 else f"ok-{n}-{i}"
                [outcome] = engine.evaluate("Secret", inp("Secret", name))
                assert outcome.denials == (("Secret is forbidden",) if (n + i) % 2 else ())
                if n == 0 and i == 25:
                    engine.reload()  # a reload mid-flight does not disturb the others
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors


def test_factory_opens_regorus_by_default_and_rejects_unknown_specs() -> None:
    assert isinstance(open_engine("regorus", ADMISSION), RegorusEngine)
    assert isinstance(open_engine("", ADMISSION), RegorusEngine)
    with pytest.raises(PolicyError, match="unknown policy engine 'wasm'"):
        open_engine("wasm", ADMISSION)


def test_a_kind_evaluated_before_a_reload_sees_the_policies_added_by_it(tmp_path: Path) -> None:
    write(tmp_path, "every_kind.rego", EVERY_KIND)
    engine = RegorusEngine(tmp_path)
    before = engine.evaluate("Deployment", inp("Deployment", "forbidden"))
    assert [o.package for o in before] == ["truthgate.admission.every_kind"]
    write(tmp_path, "deployments_only.rego", DEPLOYMENT_ONLY)
    engine.reload()
    after = engine.evaluate("Deployment", inp("Deployment", "forbidden"))  # now routed to
    assert "deployments_only" in (after[0].error or "")  # and evaluated
    assert after[1].denials == ("Deployment is forbidden",)
    assert [o.package for o in engine.evaluate("Pod", inp("Pod"))] == [
        "truthgate.admission.every_kind"
    ]


def test_forty_policies_with_long_names_for_one_kind_are_answered_together(
    tmp_path: Path,
) -> None:
    for n in range(40):
        package = f"truthgate.admission.a_rather_long_policy_package_name_number_{n:02d}"
        write(
            tmp_path,
            f"p{n:02d}.rego",
            f"# METADATA\n# title: p{n}\n# custom:\n#   kinds: [Deployment]\npackage {package}\n"
            f'deny contains "no {n}" if input.request.name == "no-{n}"\nwarn contains "w" if false\n',
        )
    engine = RegorusEngine(tmp_path)
    outcomes = engine.evaluate("Deployment", inp("Deployment", "no-7"))
    assert len(outcomes) == 40
    assert [o.denials for o in outcomes if o.denials] == [("no 7",)]
    assert engine.evaluate("ConfigMap", inp("ConfigMap")) == []
