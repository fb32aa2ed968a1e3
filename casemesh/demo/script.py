"""The scripted working day, in the order the demo tells it (issue 8)."""

from __future__ import annotations

from casemesh.demo.runner import Chapter
from casemesh.demo.workflows import (
    casework,
    client_contact,
    complaints_and_compliments,
    customer_management,
    malformed,
    managed_service_plan,
    personalised_services,
)

CHAPTERS: list[Chapter] = [
    personalised_services.CHAPTER,
    managed_service_plan.CHAPTER,
    complaints_and_compliments.COMPLAINT_CHAPTER,
    complaints_and_compliments.COMPLIMENT_CHAPTER,
    customer_management.CHAPTER,
    client_contact.MEETING_CHAPTER,
    client_contact.NOTE_CHAPTER,
    client_contact.ATTACHMENT_CHAPTER,
    malformed.CHAPTER,
    casework.CHAPTER,
]
