# Databricks notebook source
# MAGIC %md
# MAGIC # Train the churn model

# COMMAND ----------

dbutils.widgets.text("model_name", "")
model_name = dbutils.widgets.get("model_name")
print(f"training {model_name}")
