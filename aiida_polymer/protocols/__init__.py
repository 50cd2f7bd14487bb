"""Protocol files (YAML): fast, moderate and precise settings for each workflow."""
