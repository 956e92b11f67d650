"""The launcher's own pages: sign-in (with the reason it is shown again) and the wait while a session starts.

Plain HTML with no script: the form posts to the launcher, never puts the password in a URL, and the
waiting page reloads itself until the user's Slicer session answers.
"""

from __future__ import annotations

from html import escape

_STYLE = ("body{font-family:system-ui,sans-serif;background:#1e1e1e;color:#eee;display:flex;justify-content:center;"
          "margin-top:10vh}main{width:22rem}input,button{width:100%;box-sizing:border-box;margin:.3rem 0;padding:.5rem;"
          "font-size:1rem}button{background:#1976d2;color:#fff;border:0;border-radius:4px}"
          ".error{background:#b71c1c;padding:.6rem;border-radius:4px}.note{background:#2e7d32;padding:.6rem;"
          "border-radius:4px}")


def _page(title: str, body: str, *, refresh: bool = False) -> str:
    meta = '<meta http-equiv="refresh" content="1">' if refresh else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>{meta}'
            f"<style>{_STYLE}</style></head><body><main>{body}</main></body></html>")


def sign_in_page(server_url: str, *, error: str = "", note: str = "", user: str = "") -> str:
    """The sign-in form; ``error`` (red) says why the last attempt failed, ``note`` (green) what just happened."""
    message = (f'<p class="error" id="sign-in-error">{escape(error)}</p>' if error else "") + \
              (f'<p class="note" id="sign-in-note">{escape(note)}</p>' if note else "")
    return _page("DICOMAnnotator: sign in", f"""
<h1>DICOMAnnotator</h1>
<p>Sign in with your account on the team server {escape(server_url)}.</p>
{message}
<form method="post" action="/sign-in">
<label>User <input name="user" id="user" autocomplete="username" value="{escape(user)}" required></label>
<label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
<button type="submit" id="sign-in">Sign in</button>
</form>""")


def starting_page(user: str) -> str:
    return _page("DICOMAnnotator: starting", f"""
<h1>DICOMAnnotator</h1>
<p id="starting">Starting the Slicer session of {escape(user)}&hellip;</p>""", refresh=True)
