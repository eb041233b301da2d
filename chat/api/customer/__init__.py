"""The REST API's customer side: tokens bound to one end customer, their conversations, answers
streamed over Server-Sent Events or returned whole (issue #21)."""
