"""The OpenAI-compatible endpoint: `/v1/chat/completions` and `/v1/models` (issue #21)."""
