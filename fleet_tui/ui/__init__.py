"""The Textual command center. Nothing outside this package imports Textual."""

import os

# Textual draws at most 60 frames a second: while busy panes keep it drawing, a changed screen
# waits up to 16.7 ms for the next frame, and a typed key's echo with it. Frames here are driven
# by screen updates (the server paces the unfocused panes), so a higher cap costs little and
# the focused pane's echo waits at most 4 ms. TEXTUAL_FPS is read once, when Textual is imported;
# it is set only for that moment so the fleet server and the agents never inherit it.
if "TEXTUAL_FPS" not in os.environ:
    os.environ["TEXTUAL_FPS"] = "240"
    try:
        import textual.constants  # noqa: F401
    finally:
        del os.environ["TEXTUAL_FPS"]
