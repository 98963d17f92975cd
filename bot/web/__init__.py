"""The one HTTP server of a process and the pages it serves itself: health, metrics, check-in pages.
Front ends add their own routes (Slack events, Telegram webhook); bot.bootstrap puts them together."""
