"""Command line: one module per command group; parsing and wiring only, no logic."""
