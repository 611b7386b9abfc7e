"""Spark compute for a workspace: the embedded Spark Connect server (``cluster``,
``process``), the catalog it reads names from (``glue``), and the ``spark`` session task
code gets (``spark``)."""
