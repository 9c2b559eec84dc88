"""Storm: a workflow orchestrator for render farms and compute-heavy pipelines."""

__version__ = "0.1.0"
