"""Domain-free infrastructure: database, errors, logging, metrics, flags, SSE helpers."""
