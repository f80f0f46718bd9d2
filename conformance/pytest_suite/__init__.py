"""Run with `pytest --pyargs conformance.pytest_suite`; see conformance.pytest_plugin."""
