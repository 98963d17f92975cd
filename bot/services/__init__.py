"""Business rules, one module per capability. Plain values in, plain results out; no platform import."""
