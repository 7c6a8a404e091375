"""Importers: one module per advisory format, each a function
`(data: bytes, origin: str, on_bad: OnBadRecord) -> Iterator[Advisory]` that never raises
on bad input; detect.py finds which one a file needs."""
