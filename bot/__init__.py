"""fieldcrm: a chat-bot front end for field-sales CRM work."""
