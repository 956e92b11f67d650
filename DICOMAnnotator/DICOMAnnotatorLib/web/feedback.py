"""What the page says after an action: the core's or the server's own message, never a traceback.

Every button of the panels runs through :func:`perform`: a refusal or bad input (any
:class:`DICOMAnnotatorError`, raised here or by the team server) becomes the red message line
with the error's own text; the store is unchanged because the server refused. Anything else is
logged with its traceback in the session's log and the page says so, in one line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..errors import DICOMAnnotatorError

log = logging.getLogger(__name__)

#: State keys of the message line shared by the panels, and of the number of actions finished (the page shows it
#: in ``data-actions`` of its message area, so that a script driving the page sees an action end).
MESSAGE, ERROR, ACTIONS = "da_message", "da_error", "da_actions"


def perform(state, action: Callable[[], str | None]) -> Any:
    """Run ``action``; its returned text becomes the message line, an error the red one."""
    state[MESSAGE], state[ERROR] = "", ""
    try:
        done = action()
    except DICOMAnnotatorError as error:
        state[ERROR], done = str(error), None
    except Exception as error:  # a defect, not the user's doing: the log keeps the traceback
        log.exception("The action failed")
        state[ERROR] = f"The action failed in the session process ({type(error).__name__}); its log says why"
        done = None
    if done:
        state[MESSAGE] = done
    state[ACTIONS] = int(state[ACTIONS] or 0) + 1
    return done


def declare(state) -> None:
    """The message lines' state keys, present before the page is built (trame sends only declared keys)."""
    state.update({MESSAGE: "", ERROR: "", ACTIONS: 0})


def message_lines() -> None:
    """The message lines (inside a layout context): green for what was done, red for what was refused."""
    from trame.widgets import html
    from trame.widgets.vuetify3 import VAlert

    with html.Div(classes="da-messages", raw_attrs=[f':data-actions="{ACTIONS}"']):
        VAlert(v_if=(ERROR,), text=(ERROR,), type="error", density="compact", classes="my-2 da-error")
        VAlert(v_if=(MESSAGE,), text=(MESSAGE,), type="success", density="compact", classes="my-2 da-message")
