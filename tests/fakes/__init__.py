"""Fake external servers (real uvicorn apps on 127.0.0.1) for tests and benches."""
