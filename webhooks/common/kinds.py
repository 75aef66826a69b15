"""Workload kinds: which objects run pods from a template, written once.

``APPS_WORKLOAD_KINDS`` are the apps/v1 controllers, whose ``status.observedGeneration`` says
whether their status describes the current spec. ``WORKLOAD_KINDS`` adds Job: every kind a
TruthCheck's ``spec.workloads`` may name (the CRD's enum), whose pods capacity, images and
scoping follow. The order is the order findings are listed in.
"""

from __future__ import annotations

APPS_WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
WORKLOAD_KINDS = (*APPS_WORKLOAD_KINDS, "Job")
