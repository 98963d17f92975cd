"""The person's home screen (Slack's App Home): what a rep or a manager sees at a glance, as data."""
