"""The verdict: pure Evidence -> Verdict (checks, baseline judge, Rego verdict policy)."""
