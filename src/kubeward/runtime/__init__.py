"""The Falco-compatible runtime engine: rules, conditions, fields, event sources and outputs."""
