"""Ops fixtures: the dashboard's businesses (an owner and an agent on a fresh tenant)."""

from tests.dashboard.conftest import Business, business, make_business

__all__ = ["Business", "business", "make_business"]
