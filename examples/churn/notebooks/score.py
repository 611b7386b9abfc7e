# Databricks notebook source
# MAGIC %md
# MAGIC # Score customers with the champion

# COMMAND ----------

dbutils.widgets.text("model_uri", "")
print(dbutils.widgets.get("model_uri"))
