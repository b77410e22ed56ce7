"""What each template may see: one frozen dataclass of explicit fields per template.

A template never receives a Ticket, a Message or a list of the ticket's messages, only
these fields, chosen by the caller. That is how internal notes stay out of customer mail:
there is no object from which a template could reach them. Dates and durations arrive
already formatted in the recipient's language and time zone ("within 4 business hours",
"lunes 3 de junio, 10:00"), because formatting is the caller's business, not the admin's.

Every template also sees the globals `desk_name` and `desk_address` (TemplateStore globals).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CUSTOMER_TEMPLATES = frozenset({"ack", "update", "closure", "reminder"})
AGENT_TEMPLATES = frozenset({"notify_agent", "confirm", "command_error", "agent_reminder",
                             "escalation", "sla_warning", "collision",
                             "delivery_failed"})
BUILTIN_TEMPLATES = CUSTOMER_TEMPLATES | AGENT_TEMPLATES


# The first line of an agent's answer that is already a greeting ("Hi Alice,", "Hola Ana:"),
# so the template does not add its own on top of it.
_GREETING = re.compile(
    r"^\s*(hi|hello|hey|dear|good (morning|afternoon|evening)|hola|buenos d[ií]as|"
    r"buenas tardes|buenas noches|buenas|estimad[oa]s?|querid[oa]s?)\b[^\n]{0,60}[,:!.]?\s*$",
    re.IGNORECASE)


def opens_with_greeting(text: str) -> bool:
    """Pure: does the first non-empty line of `text` greet the reader?"""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return bool(_GREETING.match(first))


@dataclass(frozen=True, slots=True)
class SurveyLink:
    score: int  # 1..5
    url: str


@dataclass(frozen=True, slots=True)
class ArticleSuggestion:
    """A published knowledge-base article that may already answer the customer."""

    title: str
    excerpt: str


@dataclass(frozen=True, slots=True)
class AckContext:
    """Acknowledgement of a new ticket, to the customer."""

    ticket_ref: str
    subject: str
    customer_name: str = ""
    summary: str = ""  # an excerpt of what they wrote: empty unless the sender is verified
    attachments: tuple[str, ...] = ()  # file names received (same rule as summary)
    first_response: str = ""  # "within 4 business hours"; empty to leave it out
    status_url: str = ""  # the customer's status page; empty when the desk has no web endpoint
    articles: tuple[ArticleSuggestion, ...] = ()  # KB suggestions, when the queue wants them
    received_at: str = ""  # when the mail arrived, in the desk's zone and the ticket's language


@dataclass(frozen=True, slots=True)
class UpdateContext:
    """An agent's public reply to the customer, and optionally a status change."""

    ticket_ref: str
    subject: str
    agent_text: str  # the public reply only; never a note
    agent_name: str
    customer_name: str = ""
    status: str = ""  # "", "pending", "resolved" or "reopened"
    status_url: str = ""  # the customer's status page; empty when the desk has no web endpoint
    agent_greets: bool = field(init=False, default=False)  # the answer opens with a greeting

    def __post_init__(self) -> None:
        object.__setattr__(self, "agent_greets", opens_with_greeting(self.agent_text))


@dataclass(frozen=True, slots=True)
class ClosureContext:
    """The ticket is closed; ask for a 1-5 rating."""

    ticket_ref: str
    subject: str
    customer_name: str = ""
    survey_links: tuple[SurveyLink, ...] = ()  # one-click links, when the desk has a web UI
    status_url: str = ""  # the customer's status page; empty when the desk has no web endpoint


@dataclass(frozen=True, slots=True)
class ReminderContext:
    """The ticket waits for the customer; remind them."""

    ticket_ref: str
    subject: str
    customer_name: str = ""
    waiting_since: str = ""  # "3 days"
    close_after: str = ""  # "in 4 days"; empty when the desk does not auto-close


@dataclass(frozen=True, slots=True)
class NotifyAgentContext:
    """A new ticket or a customer reply, to the assigned agent or the team."""

    ticket_ref: str
    subject: str
    customer_name: str
    customer_email: str
    text: str
    event: str = "new"  # "new" or "reply"
    priority: str = ""
    queue: str = ""
    agent_name: str = ""
    attachments: tuple[str, ...] = ()
    author: str = ""  # who wrote this mail, when not the ticket's customer: "Eve <eve@…>"
    outsider: bool = False  # the author is no party to the ticket and joined by headers
    possible_duplicates: tuple[str, ...] = ()  # refs a weak match would not choose between


@dataclass(frozen=True, slots=True)
class ConfirmContext:
    """An agent's mail command was applied."""

    ticket_ref: str
    subject: str
    applied: tuple[str, ...]  # human descriptions: "status: pending", "assignee: ana@..."
    agent_name: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryFailedContext:
    """Some recipients of a mail on the ticket did not get it (they bounced)."""

    ticket_ref: str
    subject: str
    failed: tuple[str, ...]  # "luis@example.com: 5.1.1 user unknown"
    delivered: tuple[str, ...] = ()  # the recipients it did reach
    agent_name: str = ""


@dataclass(frozen=True, slots=True)
class CommandErrorContext:
    """An agent's mail command could not be applied."""

    errors: tuple[str, ...]
    ticket_ref: str = ""
    subject: str = ""
    agent_name: str = ""
    command: str = ""  # the line the agent wrote


@dataclass(frozen=True, slots=True)
class CollisionContext:
    """An agent's answer is held: another agent answered the ticket while they wrote."""

    ticket_ref: str
    subject: str
    other_agent: str  # who answered first (name, else e-mail)
    other_text: str  # what they answered
    other_ago: str  # "4 min"
    held_text: str  # the held answer, as it would go
    agent_name: str = ""


@dataclass(frozen=True, slots=True)
class AgentReminderContext:
    """A ticket waits for its agent."""

    ticket_ref: str
    subject: str
    customer_name: str
    waiting_since: str
    agent_name: str = ""
    priority: str = ""


@dataclass(frozen=True, slots=True)
class EscalationContext:
    """A ticket is escalated to a team lead."""

    ticket_ref: str
    subject: str
    customer_name: str
    reason: str
    lead_name: str = ""
    priority: str = ""
    queue: str = ""
    assignee: str = ""
    level: int = 1


@dataclass(frozen=True, slots=True)
class SlaWarningContext:
    """An SLA target is near."""

    ticket_ref: str
    subject: str
    target: str  # "first response" / "primera respuesta", already in the right language
    due: str
    remaining: str
    agent_name: str = ""
    priority: str = ""


def samples() -> dict[str, object]:
    """One filled context per built-in template, for `TemplateStore.check`."""
    ref, subject = "MD-1042", "The printer on floor 2 does not print"
    return {
        "ack": AckContext(ref, subject, "María", "It shows error E-13.", ("photo.jpg",),
                          "within 4 business hours", "https://desk.example/status/t",
                          (ArticleSuggestion("Printer shows E-13", "Clear the paper path."),),
                          "Monday 24 November, 13:00"),
        "update": UpdateContext(ref, subject, "Please restart it.", "Ana", "María", "pending",
                                "https://desk.example/status/t"),
        "closure": ClosureContext(ref, subject, "María",
                                  (SurveyLink(1, "https://desk.example/s/1"),),
                                  "https://desk.example/status/t"),
        "reminder": ReminderContext(ref, subject, "María", "3 days", "in 4 days"),
        "notify_agent": NotifyAgentContext(ref, subject, "María", "maria@example.com", "E-13",
                                           "new", "P2", "it", "Ana", ("photo.jpg",)),
        "confirm": ConfirmContext(ref, subject, ("status: pending",), "Ana"),
        "command_error": CommandErrorContext(("unknown command: #frobnicate",), ref, subject,
                                             "Ana", "#frobnicate"),
        "collision": CollisionContext(ref, subject, "Bruno", "E-13: OK.", "4 min", "E-13.",
                                      "Ana"),
        "agent_reminder": AgentReminderContext(ref, subject, "María", "2 days", "Ana", "P2"),
        "escalation": EscalationContext(ref, subject, "María", "first response overdue",
                                        "Luis", "P1", "it", "ana@example.com", 1),
        "delivery_failed": DeliveryFailedContext(ref, subject, ("luis@example.com: 5.1.1",),
                                                 ("maria@example.com",), "Ana"),
        "sla_warning": SlaWarningContext(ref, subject, "resolution", "today 17:00", "45 min",
                                         "Ana", "P2"),
    }
