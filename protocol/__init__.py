"""The contract node and coordinator share: the query catalogue's declarative specs,
payload types, limits and the wire encoding of parameter values."""
