"""Researchers' work: log readers and writers, training and evaluation with reports, the pseudonymised export; `tutor train`, `tutor evaluate`."""
