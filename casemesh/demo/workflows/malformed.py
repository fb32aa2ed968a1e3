"""One malformed message sent to dead letters (issue 3, error lane a; issue 8).

An upstream system's message is cut off mid-way: it is not JSON, so no handler can read it. The
complaints service neither drops it nor retries it for ever: it puts the original key and bytes on
its dead-letter topic, with headers saying where it came from and why, and goes on with the next.
"""

from __future__ import annotations

from casemesh.demo.driver import Mesh, Story, StoryResult
from casemesh.demo.runner import Chapter
from contracts.topics import DeadLetterHeader, commands_topic

CSID = "300000024"
#: A ``RecordComplaint`` command whose payload never arrived: the bytes end after ``"payload": ``.
TRUNCATED = b'{"message_type": "RecordComplaint", "schema_version": 1, "csid": "300000024", "payload": '


async def malformed(mesh: Mesh) -> StoryResult:
    story = Story(mesh, "Malformed message sent to dead letters", CSID)
    step = await story.send_bytes(
        TRUNCATED,
        "An upstream system sends a complaint cut off mid-message",
        topic=commands_topic("complaints"),
        message_type="(malformed)",
    )
    letter = next((s for s in step.effects if s.is_dead_letter), None)
    if letter is None:
        return story.result(f"not dead-lettered ({step.decision.value})")
    return story.result(
        f"dead-lettered: {step.reason_code}",
        dead_letter_topic=letter.topic,
        reason_code=letter.headers.get(DeadLetterHeader.REASON_CODE),
        original_topic=mesh.host.base(letter.headers.get(DeadLetterHeader.ORIGINAL_TOPIC, "")),
        error_class=letter.headers.get(DeadLetterHeader.ERROR_CLASS),
    )


CHAPTER = Chapter(malformed)
