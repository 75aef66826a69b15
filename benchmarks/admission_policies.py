"""Extra admission policies for the benchmark: a policy set the size a platform team runs.

Thirty Rego v1 packages in ten shapes (label, registry, limits, size, probe, namespace, ...),
each shape three times with different parameters, targeting Deployments, ConfigMaps, Secrets or
every kind. None denies the benchmark's reviews: the measured path is evaluate, record, allow.
"""

from __future__ import annotations

import shutil
from pathlib import Path

_HEADER = """# METADATA
# title: Benchmark policy {n}
# description: Generated for benchmarks/admission_bench.py.
# custom:
#   kinds: {kinds}
package truthgate.admission.bench_{n:02d}

import rego.v1

obj := object.get(input.request, "object", {{}})
meta := object.get(obj, "metadata", {{}})
labels := object.get(meta, "labels", {{}})
annotations := object.get(meta, "annotations", {{}})
pod_spec := object.get(object.get(object.get(obj, "spec", {{}}), "template", {{}}), "spec", {{}})
containers := object.get(pod_spec, "containers", [])
"""

_BODIES = [
    # 0: a required label on workloads
    (
        '["Deployment"]',
        """
deny contains msg if {{
	input.request.operation in {{"CREATE", "UPDATE"}}
	not labels["{label}"]
	msg := sprintf("%s lacks label {label}", [meta.name])
}}
""",
    ),
    # 1: images only from approved registries
    (
        '["Deployment"]',
        """
deny contains msg if {{
	some c in containers
	not startswith(c.image, "registry.example.com/")
	not startswith(c.image, "{registry}/")
	msg := sprintf("container %s: image %s is not from an approved registry", [c.name, c.image])
}}
""",
    ),
    # 2: memory limits required
    (
        '["Deployment"]',
        """
deny contains msg if {{
	some c in containers
	not c.resources.limits.memory
	msg := sprintf("container %s has no memory limit ({n})", [c.name])
}}
""",
    ),
    # 3: replica ceiling
    (
        '["Deployment"]',
        """
deny contains msg if {{
	object.get(object.get(obj, "spec", {{}}), "replicas", 1) > {limit}
	msg := sprintf("%s asks for more than {limit} replicas", [meta.name])
}}
""",
    ),
    # 4: ConfigMap size
    (
        '["ConfigMap"]',
        """
deny contains msg if {{
	count(object.get(obj, "data", {{}})) > {limit}
	msg := sprintf("ConfigMap %s has more than {limit} keys", [meta.name])
}}
""",
    ),
    # 5: Secret types people may not create by hand
    (
        '["Secret"]',
        """
deny contains msg if {{
	obj.type == "kubernetes.io/service-account-token"
	input.truthgate.actor["class"] == "human"
	msg := sprintf("Secret %s: service-account tokens are not created by hand ({n})", [meta.name])
}}
""",
    ),
    # 6: a forbidden annotation, any kind
    (
        '["*"]',
        """
deny contains msg if {{
	annotations["{annotation}"]
	msg := sprintf("%s carries forbidden annotation {annotation}", [meta.name])
}}
""",
    ),
    # 7: protected namespaces, any kind
    (
        '["*"]',
        """
deny contains msg if {{
	input.request.namespace in {{"kube-system", "kube-public", "{namespace}"}}
	input.truthgate.actor["class"] == "human"
	msg := sprintf("namespace %s is protected", [input.request.namespace])
}}
""",
    ),
    # 8: literal passwords in env
    (
        '["Deployment"]',
        """
warn contains msg if {{
	some c in containers
	some e in object.get(c, "env", [])
	contains(upper(e.name), "{word}")
	e.value
	msg := sprintf("container %s: env %s holds a literal value", [c.name, e.name])
}}
""",
    ),
    # 9: readiness probes
    (
        '["Deployment"]',
        """
warn contains msg if {{
	some c in containers
	not c.readinessProbe
	msg := sprintf("container %s has no readinessProbe ({n})", [c.name])
}}
""",
    ),
]

_PARAMS = [
    {
        "label": "app.kubernetes.io/name",
        "registry": "ghcr.io/example",
        "limit": 50,
        "annotation": "example.com/forbidden",
        "namespace": "platform",
        "word": "PASSWORD",
    },
    {
        "label": "app.kubernetes.io/name",
        "registry": "quay.io/example",
        "limit": 100,
        "annotation": "example.com/legacy",
        "namespace": "billing",
        "word": "TOKEN",
    },
    {
        "label": "app.kubernetes.io/name",
        "registry": "docker.io/example",
        "limit": 200,
        "annotation": "example.com/unsafe",
        "namespace": "security",
        "word": "SECRET_KEY",
    },
]


def write_policy_dir(target: Path, shipped: Path, extra: int = 30) -> None:
    """Copy the shipped policies to ``target`` and add ``extra`` generated ones."""
    shutil.copytree(shipped, target)
    for n in range(extra):
        kinds, body = _BODIES[n % len(_BODIES)]
        params = {**_PARAMS[(n // len(_BODIES)) % len(_PARAMS)], "n": n}
        (target / f"bench_{n:02d}.rego").write_text(
            _HEADER.format(n=n, kinds=kinds) + body.format(**params)
        )
