"""Customers as accounts to keep: tiers from what they pay, and how often each tier is revisited."""
