"""The scripted working day, in the order the demo tells it (issue 8)."""

from __future__ import annotations

from casemesh.demo.runner import Chapter
from casemesh.demo.workflows import personalised_services

CHAPTERS: list[Chapter] = [
    personalised_services.CHAPTER,
]
