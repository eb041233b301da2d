"""The REST API on each business's own domain, `/api/v1/` (issue #21): API keys, the conventions every
endpoint follows, and the business-side endpoints. See docs/api.md."""
