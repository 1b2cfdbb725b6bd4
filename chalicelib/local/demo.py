"""`make run DEMO=1`: a few customers write in through the SMTP server, so the stack starts with tickets."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from chalicelib.local.env import HOST

DEMO_MAILS = (
    ("Anna Schmidt <anna.schmidt@customer.example>", "support@shop.example", "Where is my order 5512?",
     "Hello,\n\nmy order 5512 has not arrived yet. Could you check where it is?\n\nAnna"),
    ("Ben Okafor <ben.okafor@customer.example>", "shipping@shop.example", "Parcel arrived damaged",
     "Hi,\n\nthe box was crushed and the mug inside is broken. What can I do?\n\nBen"),
    ("Chloé Martin <chloe.martin@customer.example>", "products@shop.example", "Größe der Jacke?",
     "Bonjour,\n\nla veste « Alpen » taille-t-elle grand ? Je fais du M d'habitude.\n\nChloé"),
)


def demo_messages() -> list[EmailMessage]:
    messages = []
    for sender, to, subject, body in DEMO_MAILS:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = sender, to, subject
        message["Message-ID"] = make_msgid(domain="customer.example")
        message.set_content(body)
        messages.append(message)
    return messages


def seed(smtp_port: int) -> int:
    """Sends the demo mails; returns how many the server accepted."""
    with smtplib.SMTP(HOST, smtp_port, timeout=30) as smtp:
        for message in demo_messages():
            smtp.send_message(message)
    return len(DEMO_MAILS)
