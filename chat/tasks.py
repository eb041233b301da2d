"""Celery discovers `chat.tasks`; the chat app's tasks live with their areas and are imported here."""

from chat.assistant.tasks import *  # noqa: F401,F403
from chat.dashboard.tasks import *  # noqa: F401,F403
from chat.knowledge.tasks import *  # noqa: F401,F403
