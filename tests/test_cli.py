"""At the command line a user error is one line naming the fix, not a traceback."""

import pytest

from experiments import cli


def failing(config):
    raise ValueError("corpus.max_facts must be >= 1; raise it")


def test_a_user_error_exits_with_its_message_alone(monkeypatch):
    monkeypatch.delenv("LAB_TRACEBACK", raising=False)
    with pytest.raises(SystemExit) as stop:
        cli.reporting_user_errors(lambda: failing(None))
    assert stop.value.code == "error: corpus.max_facts must be >= 1; raise it"


def test_lab_traceback_shows_the_traceback(monkeypatch):
    monkeypatch.setenv("LAB_TRACEBACK", "1")
    with pytest.raises(ValueError, match="corpus.max_facts"):
        cli.reporting_user_errors(lambda: failing(None))


def test_other_errors_are_not_hidden():
    with pytest.raises(ZeroDivisionError):
        cli.reporting_user_errors(lambda: 1 / 0)
