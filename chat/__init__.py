"""The chat domain apps (conversations, knowledge, assistant, widget, dashboard, analytics), each an
installed Django app of its own, and the interfaces that still span them (consumers, routing, urls,
views, the task index); docs/architecture.md says where each of those will live."""
