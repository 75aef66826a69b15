"""Rego policy engines behind one small interface (embedded regorus, or an OPA server)."""
