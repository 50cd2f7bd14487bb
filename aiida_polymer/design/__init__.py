"""Closed-loop polymer design: featurisation, surrogate models, acquisition functions and batch selection over a
candidate library of repeat units (the pure modules import no AiiDA)."""
