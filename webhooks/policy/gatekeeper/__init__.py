"""Gatekeeper's frame around Rego: ConstraintTemplates and Constraints, evaluated in process.

``load`` reads templates and constraints from YAML, ``match`` decides which constraints apply to
a review (pure), ``review`` builds Gatekeeper's ``input.review``, ``engine`` evaluates them with
regorus behind the ``PolicyEngine`` interface, and ``suite`` runs ``gator verify`` suites.
"""
