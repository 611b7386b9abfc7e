"""Modules kiln's tasks import under Databricks' names (``databricks.feature_engineering``):
``SHIMS`` is put first on a task's ``sys.path``. ``databricks`` here has no
``__init__``: it joins the ``databricks`` namespace package (``databricks.sdk``) instead
of hiding it."""

import os

SHIMS = os.path.dirname(os.path.abspath(__file__))
