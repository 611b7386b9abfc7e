"""Quality monitors: profile and drift metrics over time windows, alerts."""
