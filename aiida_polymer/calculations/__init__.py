"""CalcJobs of the pipeline."""
