"""Views: records in, the REST and Slack shapes of the contract out (never the store's job)."""
