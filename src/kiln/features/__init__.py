"""Feature Engineering in Unity Catalog: feature tables (Delta tables with primary keys and
an optional timeseries key), point-in-time training sets, and the client that Databricks'
``databricks.feature_engineering`` code calls (``kiln.features.client``)."""
