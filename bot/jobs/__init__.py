"""Scheduled jobs, one module per capability; each declares its jobs with @scheduled and bot.bootstrap
collects them."""
