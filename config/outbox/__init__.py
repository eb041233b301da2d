"""The transactional outbox: a task's promise stored in the same transaction as the change it serves."""
