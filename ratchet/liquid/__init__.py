"""Mechanic's Liquid dialect on python-liquid 2, and task rendering."""

from .errors import OutputParseError, RenderLimitError, TaskRenderError
from .output import ActionObject
from .render import RenderRequest, RenderResult, render_task

__all__ = [
    "ActionObject",
    "OutputParseError",
    "RenderLimitError",
    "RenderRequest",
    "RenderResult",
    "TaskRenderError",
    "render_task",
]
