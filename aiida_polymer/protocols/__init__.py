"""Protocol files (YAML): fast, screening, moderate and precise settings for each workflow."""
