"""Pure ShopDesk domain: tickets, messages, customers, calendars, workflow rules. No AWS, no Chalice."""
