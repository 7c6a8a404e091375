"""Licence text to SPDX: normalisation shared by every analyzer, and (later) licence policy."""
