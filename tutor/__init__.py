"""Adaptive tutoring for the national digital competency framework."""

__version__ = "0.1.0"
