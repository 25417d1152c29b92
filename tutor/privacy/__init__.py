"""Learner data: pseudonyms, API keys and rate limits, export, erasure and retention, the audit log; `tutor keys`, `tutor retention`."""
