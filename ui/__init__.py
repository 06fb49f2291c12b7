"""The dashboard's building blocks: spec-rendered widgets, Altair charts,
query-parameter state and the one cached training wrapper."""
