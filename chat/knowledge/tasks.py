"""Knowledge-base tasks (ingestion on `medium`, bulk re-index on `low`)."""
