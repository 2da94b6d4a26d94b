"""emg2qwerty's bundled user splits: the 8 test users parse, each one user with 2 val and 2 test sessions and
disjoint parts, as emg2qwerty's config/user/*.yaml publish them; a missing session or an unknown split name
is one line."""

import re

import pytest

from myovision.emg_typing.splits import FOLDER, bundled_splits, read_bundled_split, resolve_split, split_sessions
from myovision.errors import InputError
from myovision.fileio import read_yaml

SESSION = re.compile(r"^\d{4}-\d{2}-\d{2}-\d{10}-keystrokes-dca-study@1-[0-9a-f-]{36}$")
TRAIN_SESSIONS = {"user0": 10, "user1": 7, "user2": 9, "user3": 8, "user4": 8, "user5": 8, "user6": 8, "user7": 8}


def test_the_eight_test_users_have_the_published_sessions():
    assert bundled_splits() == [f"user{i}" for i in range(8)]
    users, seen = set(), set()
    for name in bundled_splits():
        parts = split_sessions(name)
        assert {k: len(v) for k, v in parts.items()} == {"train": TRAIN_SESSIONS[name], "val": 2, "test": 2}
        sessions = [s for v in parts.values() for s in v]
        assert len(set(sessions)) == len(sessions) and all(SESSION.match(s) for s in sessions)
        assert not seen & set(sessions)
        seen |= set(sessions)
        doc = read_yaml(FOLDER / f"{name}.yaml")["dataset"]
        (user,) = {e["user"] for part in doc.values() for e in part}
        users.add(user)
    assert len(users) == 8


def test_sessions_found_under_the_root(tmp_path):
    for part in split_sessions("user3").values():
        for session in part:
            (tmp_path / f"{session}.hdf5").touch()
    split = read_bundled_split("user3", tmp_path)
    assert [p.stem for p in split["test"]] == split_sessions("user3")["test"]
    assert all(p.parent == tmp_path for files in split.values() for p in files)


def test_a_missing_session_is_one_line(tmp_path):
    sessions = split_sessions("user0")
    for part in sessions.values():
        for session in part:
            (tmp_path / f"{session}.hdf5").touch()
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
