"""The scripted working day, in the order the demo tells it (issue 8)."""

from __future__ import annotations

from casemesh.demo.runner import Chapter
from casemesh.demo.workflows import complaints_and_compliments, managed_service_plan, personalised_services

CHAPTERS: list[Chapter] = [
    personalised_services.CHAPTER,
    managed_service_plan.CHAPTER,
    complaints_and_compliments.COMPLAINT_CHAPTER,
    complaints_and_compliments.COMPLIMENT_CHAPTER,
]
