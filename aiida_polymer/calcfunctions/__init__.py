"""Small provenance-recorded steps (calcfunctions) of the pipeline."""
