"""Model serving: endpoints, routing, micro-batching, capture to inference tables."""


def log_dir(workspace_dir: str) -> str:
    """Where a workspace's servers keep their logs (``server.log``, a front's children's)."""
    from kiln.workspace.layout import serving_dir

    return serving_dir(workspace_dir)
