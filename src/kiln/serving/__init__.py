"""Model serving: endpoints, routing, micro-batching, capture to inference tables."""

import os as _os


def log_dir(workspace_dir: str) -> str:
    """Where a workspace's servers keep their logs (``server.log``, a front's children's)."""
    return _os.path.join(workspace_dir, "serving")
