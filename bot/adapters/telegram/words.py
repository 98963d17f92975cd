"""Telegram's words: the platform name on every `Incoming` and sender, and the command prefix."""

PLATFORM = "telegram"
COMMAND_PREFIX = "/"
