"""myovision.progress: plain lines every 10 s (and at the end) off a terminal, tqdm on one."""

from __future__ import annotations

import io

import pytest

import myovision.progress as progress_module
from myovision.progress import Heartbeat, progress


class FakeClock:
    """Stands in for the module's `time`: `monotonic()` returns `now`, advanced by the test."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(progress_module, "time", fake)
    return fake


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_line_after_ten_seconds_not_before(clock):
    stream = io.StringIO()
    with Heartbeat(5, desc="synthesising", unit="session", stream=stream) as beat:
        clock.now += 9.9
        beat.update()
        assert stream.getvalue() == ""  # 9.9 s: nothing yet
        clock.now += 0.1
        beat.update()
        assert stream.getvalue() == "synthesising: 2/5 session, 0.2 session/s, 10.0 s elapsed\n"
        clock.now += 5
        beat.update()
        assert stream.getvalue().count("\n") == 1  # 5 s since the last line: still one
        clock.now += 4
        beat.update(2)
        assert stream.getvalue().count("\n") == 1  # 9 s since the last line: still one
    # and the final line on exit
    assert stream.getvalue().splitlines()[1:] == ["synthesising: 5/5 session, 0.263 session/s, 19.0 s elapsed"]


def test_final_line_even_for_quick_work_and_description(clock):
    stream = io.StringIO()
    with Heartbeat(desc="a", unit="pass", stream=stream) as beat:
        beat.update()
        beat.set_description("model b")
        clock.now += 2
        beat.update()
    assert stream.getvalue() == "model b: 2 pass, 1 pass/s, 2.0 s elapsed\n"


def test_progress_yields_items_and_reports_on_stderr(clock, capsys):
    def work():
        for i in range(4):
            clock.now += 6
            yield i

    assert list(progress(work(), total=4, desc="import", unit="subject")) == [0, 1, 2, 3]
    lines = capsys.readouterr().err.splitlines()
    # 6 s: no line; 12 s: a line; 18 s: 6 s later, no line; 24 s: 12 s later, a line, which is also the final one
    assert lines == ["import: 2/4 subject, 0.167 subject/s, 12.0 s elapsed",
                     "import: 4/4 subject, 0.167 subject/s, 24.0 s elapsed"]


def test_total_defaults_to_len(clock, capsys):
    assert list(progress([3, 4], desc="x")) == [3, 4]
    assert capsys.readouterr().err == "x: 2/2 it, 0.0 s elapsed\n"  # no rate over no time


def test_terminal_gets_a_tqdm_bar():
    stream = Terminal()
    with Heartbeat(3, desc="bar", unit="clip", stream=stream) as beat:
        beat.update(3)
    text = stream.getvalue()
    assert "bar: 100%" in text and "3/3" in text and "\r" in text


def test_no_final_line_when_the_work_fails(clock):
    stream = io.StringIO()
    with pytest.raises(ValueError):
        with Heartbeat(3, stream=stream) as beat:
            beat.update()
            raise ValueError("bad input")
    assert stream.getvalue() == ""  # the error's one-line message stays the last line


def test_disabled_shows_nothing(clock, capsys):
    assert list(progress(range(3), desc="quiet", disable=True)) == [0, 1, 2]
    with Heartbeat(2, stream=Terminal(), disable=True) as beat:  # not even a bar on a terminal
        clock.now += 60
        beat.update(2)
        assert beat.stream.getvalue() == ""
    assert capsys.readouterr().err == ""
