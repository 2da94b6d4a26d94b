"""emg2qwerty's bundled user splits: the 8 test users parse, each one user with 2 val and 2 test sessions and
disjoint parts, as emg2qwerty's config/user/*.yaml publish them; the generic split trains on 96 other users and
tests on exactly the personalised splits' test sessions; a missing session or an unknown split name is one line."""

import datetime
import re

import pytest

from myovision.emg_typing.splits import FOLDER, bundled_splits, read_bundled_split, resolve_split, split_sessions
from myovision.errors import InputError
from myovision.fileio import read_yaml

SESSION = re.compile(r"^\d{4}-\d{2}-\d{2}-\d{10}-keystrokes-dca-study@1-[0-9a-f-]{36}$")
# generic also lists the 2020 pilot sessions: "...-keystrokes", "...-keystrokes-" and "...-keystrokes-<8-digit user>"
ANY_SESSION = re.compile(r"^\d{4}-\d{2}-\d{2}-\d{10}-keystrokes(-\d{8}|-|-dca-study@1-[0-9a-f-]{36})?$")
PERSONAL = [f"user{i}" for i in range(8)]
TRAIN_SESSIONS = {"user0": 10, "user1": 9, "user2": 9, "user3": 8, "user4": 8, "user5": 8, "user6": 8, "user7": 8}


def _users(name: str) -> dict[str, list[str]]:
    """User ids of each part of a bundled split, one per session."""
    doc = read_yaml(FOLDER / f"{name}.yaml")["dataset"]
    return {part: [str(e["user"]) for e in entries] for part, entries in doc.items()}


def _touch_sessions(name: str, root) -> dict[str, list[str]]:
    """Empty ``ROOT/<session>.hdf5`` files for every session of a bundled split; its session ids."""
    sessions = split_sessions(name)
    for part in sessions.values():
        for session in part:
            (root / f"{session}.hdf5").touch()
    return sessions


def test_the_eight_test_users_have_the_published_sessions():
    assert bundled_splits() == ["generic", *PERSONAL]
    users, seen = set(), set()
    for name in PERSONAL:
        parts = split_sessions(name)
        assert {k: len(v) for k, v in parts.items()} == {"train": TRAIN_SESSIONS[name], "val": 2, "test": 2}
        sessions = [s for v in parts.values() for s in v]
        assert len(set(sessions)) == len(sessions) and all(SESSION.match(s) for s in sessions)
        assert not seen & set(sessions)
        seen |= set(sessions)
        (user,) = {u for part in _users(name).values() for u in part}
        users.add(user)
    assert len(users) == 8


def test_generic_split_holds_out_the_eight_test_users():
    parts, users = split_sessions("generic"), _users("generic")
    assert {k: len(v) for k, v in parts.items()} == {"train": 837, "val": 192, "test": 16}
    sessions = [s for v in parts.values() for s in v]
    assert len(set(sessions)) == len(sessions) and all(ANY_SESSION.match(s) for s in sessions)
    for session in sessions:  # the date in a session id is the day of its unix time (UTC, or local: +-1 day)
        day, stamp = re.match(r"(\d{4}-\d{2}-\d{2})-(\d{10})", session).groups()
        recorded = datetime.datetime.fromtimestamp(int(stamp), datetime.timezone.utc).date()
        assert abs((recorded - datetime.date.fromisoformat(day)).days) <= 1, session
    training = set(users["train"])
    assert len(training) == 96 and set(users["val"]) == training
    assert all(users["val"].count(u) == 2 for u in training) and all(users["test"].count(u) == 2 for u in users["test"])
    personal_users = {u for name in PERSONAL for part in _users(name).values() for u in part}
    assert set(users["test"]) == personal_users and not personal_users & training
    assert set(parts["test"]) == {s for name in PERSONAL for s in split_sessions(name)["test"]}
    personal = {s for name in PERSONAL for v in split_sessions(name).values() for s in v}
    assert not personal & set(parts["train"] + parts["val"])


@pytest.mark.parametrize("name", ["user3", "generic"])
def test_sessions_found_under_the_root(tmp_path, name):
    sessions = _touch_sessions(name, tmp_path)
    split = read_bundled_split(name, tmp_path)
    assert {part: [p.stem for p in files] for part, files in split.items()} == sessions
    assert all(p.parent == tmp_path for files in split.values() for p in files)


def test_a_missing_session_is_one_line(tmp_path):
    sessions = _touch_sessions("user0", tmp_path)
    gone = sessions["val"][1]
    (tmp_path / f"{gone}.hdf5").unlink()
    with pytest.raises(InputError) as err:
        read_bundled_split("user0", tmp_path)
    assert gone in str(err.value) and "'val'" in str(err.value) and "\n" not in str(err.value)


def test_unknown_split_name_is_one_line(tmp_path):
    with pytest.raises(InputError, match="unknown split 'user9'.*user0, user1") as err:
        resolve_split("user9")
    assert "\n" not in str(err.value)
    assert resolve_split(tmp_path / "mine.yaml") == tmp_path / "mine.yaml"


def test_typing_train_reads_a_bundled_split_by_name(tmp_path, capsys):
    from myovision.cli import main

    assert main(["typing", "train", "--split", "user9", "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "unknown split 'user9'" in capsys.readouterr().err
    assert main(["typing", "train", "--split", "user3", "--out", str(tmp_path / "r")]) == 2
    assert "the bundled split 'user3' needs --data" in capsys.readouterr().err
    assert main(["typing", "train", "--split", "user3", "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not found" in err and split_sessions("user3")["train"][0] in err
    assert main(["typing", "train", "--split", "generic", "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not found" in err and split_sessions("generic")["train"][0] in err
