"""Request and response models of the HTTP API: routes validate with them and /openapi.json is
generated from them, so the document cannot drift from the code."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["new", "open", "pending", "resolved", "closed", "spam"]
Priority = Literal["low", "normal", "high", "urgent"]
Text = Field(min_length=1, max_length=50_000)


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


class NoteBody(Strict):
    body: str = Text


class MergeBody(Strict):
    target_id: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1, le=2**31)


class NewTicketBody(Strict):
    channel: Literal["phone", "email"]
    subject: str = Field(min_length=1, max_length=300)
    body: str = Text
    customer_email: str | None = Field(default=None, max_length=254)
    customer_phone: str | None = Field(default=None, max_length=32)
    customer_name: str = Field(default="", max_length=200)
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


class ContactBody(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    order_number: str | None = Field(default=None, max_length=64)
    subject: str = Field(min_length=1, max_length=200)
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


class TicketOut(BaseModel):
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
    updated_at: str
    last_activity_at: str
    first_response_due_at: str | None = None
    first_responded_at: str | None = None
    linked_ticket_id: str | None = None
    merged_into: str | None = None
    version: int


class AttachmentOut(BaseModel):
    filename: str
    content_type: str
    size: int
    url: str | None = None


class MessageOut(BaseModel):
    id: str
    direction: Literal["inbound", "outbound"]
    channel: str
    from_: str = Field(alias="from")
    from_name: str
    to: list[str]
    subject: str
    body_text: str
    visible_text: str
    body_html: str | None
    attachments: list[AttachmentOut]
    created_at: str
    internal: bool
    automated: bool
    author_id: str | None = None

    model_config = ConfigDict(populate_by_name=True)


class EventOut(BaseModel):
    id: str
    type: str
    actor: str
    at: str
    data: dict[str, object]


class TicketDetailOut(BaseModel):
    ticket: TicketOut
    messages: list[MessageOut]
    events: list[EventOut]
    customer_tickets: list[TicketOut]


class TicketPageOut(BaseModel):
    items: list[TicketOut]
    next: str | None


class CustomerOut(BaseModel):
    id: str
    name: str
    emails: list[str]
    phones: list[str]
    version: int
    tickets: list[TicketOut]


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
