"""The business side of the API: what a business's own systems do with an API key."""
