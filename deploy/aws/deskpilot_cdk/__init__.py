"""Deskpilot on AWS: one stack class, instantiated once per environment (staging, production)."""
