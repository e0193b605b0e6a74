"""The command line of every experiment: flags from its config, and bad input told in one line.

A config that cannot work, a damaged checkpoint, a malformed results file or a
diverged run raises an error whose message names the field or file and the fix;
at the command line that message is all the user needs, so it is printed alone
(`LAB_TRACEBACK=1` shows the traceback too).
"""

from __future__ import annotations

import os
import sys
from typing import Callable, TypeVar

import tyro

Config = TypeVar("Config")
USER_ERRORS = (ValueError, FloatingPointError, FileNotFoundError)  # raised where bad input enters, with the fix


def run(main: Callable[[Config], object], config_type: type[Config], args: list[str] | None = None) -> None:
    """`main(config)` with the config parsed from the command line; a user error exits with its message."""
    config = tyro.cli(config_type, args=args)
    reporting_user_errors(lambda: main(config))


def reporting_user_errors(work: Callable[[], object]) -> None:
    """`work()`; a user error (`USER_ERRORS`) exits with its message alone, status 1."""
    try:
        work()
    except USER_ERRORS as error:
        if os.environ.get("LAB_TRACEBACK", "").strip() not in ("", "0"):
            raise
        sys.exit(f"error: {error}")
