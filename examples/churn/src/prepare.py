"""Prepare the churn training table (runs as a spark_python_task)."""
import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--catalog", required=True)
args = parser.parse_args()
print(f"preparing {args.catalog}.ml.churn_features")
