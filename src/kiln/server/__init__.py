"""``kiln server``: a workspace over HTTP, in the Databricks REST API's shapes."""
