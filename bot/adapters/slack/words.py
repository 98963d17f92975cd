"""Slack's words: the platform name on every `Incoming` and sender, and the command prefix."""

PLATFORM = "slack"
# Every command is a word after the one slash command the app installs.
COMMAND_PREFIX = "/crm "
# Slack cannot share a location: a signed one-time web page asks the browser instead.
LOCATION_ASK = "checkin_page"
