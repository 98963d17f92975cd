"""Platform adapters: translate events into Incoming and Replies into the platform's format. Nothing else."""
