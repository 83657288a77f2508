"""The Textual command center. Nothing outside this package imports Textual."""

import os

import textual.screen

# Textual draws at most 60 frames a second: while busy panes keep it drawing, a changed screen
# waits up to 16.7 ms for the next frame, and a typed key's echo with it. Frames here are driven
# by screen updates (the server paces the unfocused panes), so a higher cap costs little and the
# focused pane's echo waits at most 4 ms. The screen reads this period when it first draws, so
# setting it here works whoever imported Textual first; TEXTUAL_FPS, when set, still decides.
FRAMES_PER_SECOND = 240
if "TEXTUAL_FPS" not in os.environ:
    textual.screen.UPDATE_PERIOD = 1 / FRAMES_PER_SECOND
