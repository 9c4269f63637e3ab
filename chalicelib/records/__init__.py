"""Value types and typed records shared by every layer above core: targets, statuses, and the
records the store reads and writes."""
