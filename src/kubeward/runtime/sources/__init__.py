"""Event sources for the runtime engine: each yields ``(source_name, event)`` pairs."""
