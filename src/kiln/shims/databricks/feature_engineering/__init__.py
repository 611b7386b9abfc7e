"""``databricks.feature_engineering`` inside kiln's tasks: kiln's client, with Databricks'
names. (kiln puts this directory first on a task's path; outside tasks, Databricks' own
package, where installed, is what ``import`` finds.)"""

from kiln.features.client import (
    FeatureEngineeringClient,
    FeatureFunction,
    FeatureLookup,
    TrainingSet,
)

__all__ = ["FeatureEngineeringClient", "FeatureFunction", "FeatureLookup", "TrainingSet"]
