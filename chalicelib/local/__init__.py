"""The local stack behind `make run`: moto, SMTP, SNS delivery, schedules, console, `chalice local` (not deployed)."""
