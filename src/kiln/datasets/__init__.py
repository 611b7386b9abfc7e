"""Datasets shipped with kiln for templates, demos and tests (generated, never downloaded)."""
