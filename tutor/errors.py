"""What can go wrong in the domain, said without HTTP.

Domain code raises these; `tutor.app` maps each kind to one status in a single table, so a router
never decides a status for a domain failure and the same failure reads the same on every route.

>>> try:
...     raise NotFound("No lesson 'x'; GET /v1/skills lists the lessons.")
... except DomainError as exc:
...     print(type(exc).__name__, exc)
NotFound No lesson 'x'; GET /v1/skills lists the lessons.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every failure the service reports to its caller; the message is for a person."""


class NotFound(DomainError):
    """The learner, lesson, key or artefact asked for does not exist (or is not visible)."""


class Conflict(DomainError):
    """The request is well formed but clashes with what is stored (a finished quiz, a reused id)."""


class Invalid(DomainError, ValueError):
    """The request or a file is well formed but its content breaks a rule (an unknown goal, a broken artefact)."""


class Forbidden(DomainError):
    """The caller is known but may not do this (a learner key reading another learner)."""


class Unavailable(DomainError):
    """A part the service needs (the database) does not answer now; retrying later may work."""
