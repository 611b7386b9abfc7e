"""MLflow per workspace: registry rules, lifecycle, approvals, promotion, cards, lineage."""
