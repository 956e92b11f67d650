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

#: State keys of the message line shared by the panels.
MESSAGE, ERROR = "da_message", "da_error"


def perform(state, action: Callable[[], str | None]) -> Any:
    """Run ``action``; its returned text becomes the message line, an error the red one."""
    state[MESSAGE], state[ERROR] = "", ""
    try:
        done = action()
    except DICOMAnnotatorError as error:
        state[ERROR] = str(error)
        return None
    except Exception as error:  # a defect, not the user's doing: the log keeps the traceback
        log.exception("The action failed")
        state[ERROR] = f"The action failed in the session process ({type(error).__name__}); its log says why"
        return None
    if done:
        state[MESSAGE] = done
    return done


def message_lines() -> None:
    """The message lines (inside a layout context): green for what was done, red for what was refused."""
    from trame.widgets.vuetify3 import VAlert

    VAlert(v_if=(ERROR,), text=(ERROR,), type="error", density="compact", id="da-error", classes="my-2")
    VAlert(v_if=(MESSAGE,), text=(MESSAGE,), type="success", density="compact", id="da-message", classes="my-2")
