# The C fast path of Terminal.feed() (_fastterm.c); see terminal.py.
from typing import Any

def scan(terminal: Any, data: str, pos: int) -> int: ...
def setup(attr_on: tuple[int, ...], attr_off: tuple[int, ...], narrow: set[str],
          default: tuple[None, None, int], globals: dict[str, Any], row_class: type) -> None: ...

source: str  # sha256 of the _fastterm.c it was built from
