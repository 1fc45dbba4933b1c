"""The query catalogue's parts: the declaration types and one module per kind of query."""
