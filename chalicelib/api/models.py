"""Request and response models of the HTTP API: routes validate with them and /openapi.json is
generated from them, so the document cannot drift from the code."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Status = Literal["new", "open", "pending", "resolved", "closed", "spam"]
Priority = Literal["low", "normal", "high", "urgent"]
Text = Field(min_length=1, max_length=50_000)


def _one_line(value: str) -> str:
    from chalicelib.domain.text import is_single_line

    if not is_single_line(value):
        raise ValueError("must be one line, without line breaks or control characters")
    return value


# Subjects, names, order numbers: refused (400 naming the field) when they hold a line break or a
# control character; services check again with domain.text.single_line for callers other than the API.
OneLine = Annotated[str, AfterValidator(_one_line)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# ---- requests --------------------------------------------------------------------------------
class TicketPatch(Strict):
    version: int = Field(ge=1, le=2**31, description="the ticket version you saw")
    status: Literal["open", "pending", "resolved", "closed", "spam"] | None = None
    priority: Priority | None = None
    queue: str | None = Field(default=None, min_length=1, max_length=64)
    assignee: str | None = Field(default=None, max_length=128, description="a user id; null unassigns")
    tags: list[str] | None = Field(default=None, max_length=20)


class ReplyBody(Strict):
    body: str = Field(default="", max_length=50_000)
    version: int = Field(ge=1, le=2**31)
    status_after: Literal["pending", "resolved"] | None = None
    force: bool = False
    macro_id: str | None = Field(default=None, max_length=64, description="render this canned response")


IDEMPOTENCY_HEADER = "Idempotency-Key"


def idempotency_key(headers: Any) -> str | None:
    """The optional Idempotency-Key header of a reply (checked by the service: 1-128 of [A-Za-z0-9._:-]);
    the same key on the same ticket returns the first reply and sends nothing."""
    value = headers.get(IDEMPOTENCY_HEADER.lower()) if headers is not None else None
    return str(value) if value is not None else None


class NoteBody(Strict):
    body: str = Text


class MergeBody(Strict):
    target_id: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1, le=2**31)


class UnmergeBody(Strict):
    version: int = Field(ge=1, le=2**31, description="the version of the merged ticket you saw")


class NewTicketBody(Strict):
    channel: Literal["phone", "email", "sms"]
    subject: OneLine = Field(min_length=1, max_length=300)
    body: str = Text
    customer_email: str | None = Field(default=None, max_length=254)
    customer_phone: str | None = Field(default=None, max_length=32)
    customer_name: OneLine = Field(default="", max_length=200)
    queue: str | None = Field(default=None, max_length=64)


class MacroActions(Strict):
    status: Literal["pending", "resolved"] | None = None
    add_tags: list[str] = Field(default_factory=list, max_length=20)


class MacroBody(Strict):
    name: str = Field(min_length=1, max_length=100)
    body: str = Field(min_length=1, max_length=20_000)
    actions: MacroActions = Field(default_factory=MacroActions)
    version: int | None = Field(default=None, ge=1, le=2**31, description="required to change an existing macro")


class MacroPreviewBody(Strict):
    ticket_id: str = Field(min_length=1, max_length=64)


class CustomerPatch(Strict):
    name: str = Field(min_length=1, max_length=200)
    version: int = Field(ge=1, le=2**31)


class IdentityBody(Strict):
    kind: Literal["email", "phone"]
    value: str = Field(min_length=1, max_length=254, description="an email address, or a phone number (E.164 "
                       "or national, read with SHOPDESK_PHONE_REGION)")
    version: int = Field(ge=1, le=2**31, description="the customer version you saw")


class CustomerMergeBody(Strict):
    target_id: str = Field(min_length=1, max_length=64, description="the customer that remains")
    version: int = Field(ge=1, le=2**31, description="the version of the customer being merged away")


class ContactBody(Strict):
    name: OneLine = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    order_number: OneLine | None = Field(default=None, max_length=64)
    subject: OneLine = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=10_000)
    website: str | None = Field(default=None, max_length=500, description="leave empty (spam trap)")


# ---- responses -------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail


class CustomerRef(BaseModel):
    id: str
    name: str
    email: str | None = None
    phone: str | None = None


class TicketLine(BaseModel):
    """What a ticket and a list line of it both show."""

    id: str
    number: int
    subject: str
    status: Status
    priority: str
    queue: str
    channel: str
    assignee: str | None
    tags: list[str]
    customer: CustomerRef
    created_at: str
    last_activity_at: str
    merged_into: str | None = None
    sla_due_at: str | None = Field(default=None, description="when the soonest running SLA promise falls due")


class TicketOut(TicketLine):
    updated_at: str
    first_response_due_at: str | None = None
    first_responded_at: str | None = None
    linked_ticket_id: str | None = None
    version: int


class TicketSummaryOut(TicketLine):
    """One line of a ticket list: what the list indexes carry (the detail has the rest)."""

    subject: str = Field(description="the first 200 characters")
    waiting_since: str = Field(description="the customer's last message: lists sort by it, newest first")
    sla_state: Literal["running", "warned", "breached"] | None = None


class AttachmentOut(BaseModel):
    filename: str
    content_type: str
    size: int
    url: str | None = None


class MessageOut(BaseModel):
    id: str
    ref: str = Field(description="names the message in /tickets/{ticket_id}/messages/{message_ref}")
    direction: Literal["inbound", "outbound"]
    channel: str
    from_: str = Field(alias="from")
    from_name: str
    to: list[str]
    subject: str
    body_text: str = Field(description="in a page of the thread: at most 8,000 bytes of JSON (see truncated)")
    visible_text: str = Field(description="the text without quoted history; bounded like body_text")
    body_html: str | None = Field(description="only on the message's own route (?part=html or whole); null in "
                                              "a page of the thread")
    has_html: bool = Field(default=False, description="the message has HTML (or a stored body that may hold it)")
    truncated: bool = Field(default=False, description="the whole message holds more: GET its own route")
    attachments: list[AttachmentOut]
    created_at: str
    internal: bool
    automated: bool
    author_id: str | None = None
    from_stranger: bool = False  # cites the thread, but not from the ticket's customer
    delivery_state: Literal["sending", "sent", "unconfirmed"] | None = Field(
        default=None, description="an agent's reply: sending (outcome unknown), sent, or unconfirmed (sent, "
                                  "not recorded on the ticket)")

    model_config = ConfigDict(populate_by_name=True)


class EventOut(BaseModel):
    id: str
    type: str
    actor: str
    at: str
    data: dict[str, object]


class TicketDetailOut(BaseModel):
    ticket: TicketOut
    messages: list[MessageOut] = Field(description="the newest messages first (previews, no HTML)")
    next_cursor: str | None = Field(description="older messages: GET /tickets/{ticket_id}/messages?cursor=")
    customer_tickets: list[TicketSummaryOut] = Field(description="the customer's latest other tickets, newest first")
    customer_tickets_next_cursor: str | None = Field(
        default=None, description="more of the customer's tickets: GET /customers/{customer_id}?cursor=")


class ThreadPageOut(BaseModel):
    messages: list[MessageOut]
    next_cursor: str | None


class EventPageOut(BaseModel):
    events: list[EventOut] = Field(description="newest first")
    next_cursor: str | None


class TicketPageOut(BaseModel):
    items: list[TicketSummaryOut]
    next: str | None


class CustomerOut(BaseModel):
    id: str
    name: str
    emails: list[str]
    phones: list[str]
    version: int
    tickets: list[TicketSummaryOut] = Field(description="a page of the customer's tickets, every channel, newest first")
    next_cursor: str | None = Field(default=None, description="more tickets: GET /customers/{customer_id}?cursor=")
    merged_into: str | None = None


class MacroOut(BaseModel):
    id: str
    name: str
    body: str
    actions: MacroActions
    version: int


class MacroListOut(BaseModel):
    items: list[MacroOut]


class PreviewOut(BaseModel):
    body: str


class ContactOut(BaseModel):
    status: Literal["received"]
    ticket_number: int | None = None


# ---- SLA configuration and reports -----------------------------------------------------------
Minutes = Field(default=None, ge=1, le=366 * 24 * 60, description="business minutes; null: no target")


class CalendarBody(Strict):
    time_zone: str = Field(min_length=1, max_length=64, description="IANA zone, e.g. Europe/Berlin")
    weekly: dict[Literal["0", "1", "2", "3", "4", "5", "6"], list[tuple[str, str]]] | None = Field(
        description='weekday (0 = Monday) -> [["09:00", "12:00"], ["13:00", "17:00"]]; null: open 24/7')
    holiday_country: str | None = Field(default=None, max_length=3, description="ISO 3166 code, e.g. DE")
    holiday_subdivision: str | None = Field(default=None, max_length=10, description="e.g. BY")
    closed_dates: list[str] = Field(default_factory=list, max_length=400, description="YYYY-MM-DD")
    version: int | None = Field(default=None, ge=0, le=2**31, description="the version you saw, to replace")


class WarningBody(Strict):
    minutes_before: int | None = Field(default=None, ge=1, le=366 * 24 * 60)
    percent: int | None = Field(default=None, ge=1, le=99, description="warn when this share of the target is used")


class EscalationBody(Strict):
    raise_priority: bool = True
    queue: str | None = Field(default=None, max_length=64, description="move breached tickets to this queue")
    assignee: str | None = Field(default=None, max_length=128, description="a user id, or on_duty")


class PolicyBody(Strict):
    name: str = Field(min_length=1, max_length=100)
    calendar: str = Field(default="default", min_length=1, max_length=40)
    position: int = Field(default=100, ge=0, le=10_000, description="tried in ascending position")
    queues: list[str] = Field(default_factory=list, max_length=50, description="empty: any queue")
    priorities: list[Priority] = Field(default_factory=list, description="empty: any priority")
    first_response_minutes: int | None = Minutes
    next_response_minutes: int | None = Minutes
    resolution_minutes: int | None = Minutes
    warning: WarningBody | None = None
    escalation: EscalationBody = Field(default_factory=EscalationBody)
    auto_close_days: int = Field(default=5, ge=1, le=90, description="resolved tickets close after this quiet")
    version: int | None = Field(default=None, ge=0, le=2**31, description="the version you saw, to replace")


class CalendarOut(BaseModel):
    name: str
    time_zone: str
    weekly: dict[str, list[list[str]]] | None
    holiday_country: str | None
    holiday_subdivision: str | None
    closed_dates: list[str]
    version: int
    updated_by: str
    updated_at: str


class CalendarListOut(BaseModel):
    items: list[CalendarOut]


class PolicyOut(BaseModel):
    id: str
    name: str
    calendar: str
    position: int
    queues: list[str]
    priorities: list[str]
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    warning: WarningBody
    escalation: EscalationBody
    auto_close_days: int
    version: int
    updated_by: str
    updated_at: str


class PolicyListOut(BaseModel):
    items: list[PolicyOut]


class TargetFigures(BaseModel):
    count: int
    with_target: int
    attained: int
    share_attained: float | None
    business_minutes: dict[str, float | None] = Field(description="p50, p75, p90, p100 (nearest rank)")
    share_within_business_day: float | None


class SlaReportOut(BaseModel):
    from_: str = Field(alias="from")
    to: str
    queue: str | None
    agent: str | None
    percentiles: list[str]
    targets: dict[str, TargetFigures]
    agents: dict[str, dict[str, TargetFigures]] | None = Field(default=None, description="managers only")

    model_config = ConfigDict(populate_by_name=True)


class IdentityOut(BaseModel):
    kind: Literal["email", "phone"]
    value: str
    customer_id: str
    undeliverable: bool  # a mail system's delivery report said mail to it failed: no acknowledgements go there
    sms_opted_out: bool  # the number texted STOP: nothing is texted to it until START


class IdentityListOut(BaseModel):
    items: list[IdentityOut]
