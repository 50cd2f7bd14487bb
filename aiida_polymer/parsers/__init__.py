"""Parsers of the CalcJobs."""
