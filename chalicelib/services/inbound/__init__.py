"""Inbound work: every message a customer sends, on any channel, takes one path.

Read in this order:
- `message.py`: `InboundMessage`, the one shape every channel's input becomes, and `InboundOutcome`.
- `email_channel.py`, `sms_channel.py`, `web_form.py`: thin channel modules that validate their input,
  quarantine what cannot be read, and build an `InboundMessage` (`sms_keywords.py`: STOP/START/HELP).
- `pipeline.py`: one batch read, resume of a half-done delivery, the thread decision
  (`domain.threading.decide_thread`), the customer-message rule (`domain.customer_messages`), one
  transaction per message; `bounces.py` for delivery reports.
- `acknowledge.py`: the one acknowledgement step (email or text), recorded exactly once.
- `intake.py`: delivery records, quarantine with a reason, bounded retries."""
