"""The lowest floor: one home for each small concept every other package shares.

Times, durations, Argo CD tracking, workload kinds, text clipping, JSON Schema checks: each is written once here and
imported everywhere, so two copies can never disagree. Pure functions only; nothing here imports
another ``webhooks`` package except the error hierarchy.
"""
