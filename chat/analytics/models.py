"""The analytics roll-up: one row per finished local day, so the analytics page reads a few rows
instead of aggregating every message of the period on each request.

A conversation's figures (counted, resolved by the assistant alone, handed off, waits, resolution,
rating, opening question) belong to the local day it started; answers and unanswered answers to the
day the answer was written. A row is computed from scratch for its day (chat/analytics/services.py);
a later change to a conversation started that day marks the row stale, and a stale row is computed
again before it is shown.

Tables keep the chat_* names they had before this app had a label of its own (docs/decisions/0101).
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models


def five_zeros() -> list[int]:
    return [0, 0, 0, 0, 0]


class AnalyticsDay(models.Model):
    day = models.DateField(unique=True)
    # The tenant's time zone when the row was computed: its day boundaries are only right in that zone,
    # so a row from another zone counts as missing.
    time_zone = models.CharField(max_length=64, blank=True)
    # True for a row waiting to be (re)computed: a change touched the day after it was rolled up, or the
    # row is the placeholder such a change leaves for a day not rolled up yet.
    stale = models.BooleanField(default=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    conversations = models.PositiveIntegerField(default=0)
    resolved_by_assistant = models.PositiveIntegerField(default=0)
    handed_off = models.PositiveIntegerField(default=0)
    answers = models.PositiveIntegerField(default=0)
    unanswered = models.PositiveIntegerField(default=0)
    # How many conversations got 1, 2, 3, 4 and 5 stars.
    ratings = ArrayField(models.PositiveIntegerField(), size=5, default=five_zeros)
    # Seconds, one sample per conversation that has one, sorted. Every sample is kept, not a histogram:
    # the page's medians and 90th percentiles over any period are then exact (a day holds as many
    # samples as it had conversations, a few kilobytes at thousands a day).
    assistant_waits = ArrayField(models.FloatField(), default=list, blank=True)
    agent_waits = ArrayField(models.FloatField(), default=list, blank=True)
    resolutions = ArrayField(models.FloatField(), default=list, blank=True)

    class Meta:
        db_table = "chat_analyticsday"
        ordering = ["day"]

    def __str__(self) -> str:
        return f"Analytics for {self.day}{' (stale)' if self.stale else ''}"


class AnalyticsQuestion(models.Model):
    """How many conversations started on `day` opened with the same question, compared without case,
    punctuation or extra spacing (`key`); `example` is one of the texts as a customer wrote it."""

    day = models.DateField()
    key = models.CharField(max_length=300)
    example = models.CharField(max_length=300)
    asked = models.PositiveIntegerField()

    class Meta:
        db_table = "chat_analyticsquestion"
        constraints = [models.UniqueConstraint(fields=["day", "key"], name="analytics_question_once_per_day")]

    def __str__(self) -> str:
        return f"{self.day}: {self.example} ×{self.asked}"
