"""Telegram's words: the platform name on every `Incoming` and sender, and the command prefix."""

PLATFORM = "telegram"
COMMAND_PREFIX = "/"
# A private chat shares a location natively, from a reply keyboard button.
LOCATION_ASK = "share_button"
