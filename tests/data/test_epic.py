"""EPIC-Kitchens annotation tables from CSV: columns, dtypes, timestamps, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from myovision.data.epic import EPIC_COLUMNS, parse_timestamp, read_epic_annotations
from myovision.errors import InputError

HEADER = "uid,participant_id,video_id,narration,start_timestamp,stop_timestamp,start_frame,stop_frame,verb,verb_class"
ROWS = ["13744,P08,P08_09,open fridge,00:00:02.61,00:00:03.61,157,217,open,3",
        "13745,P08,P08_09,take milk,00:01:04.00,00:01:05.5,3840,3930,take,0",
        "13746,P08,P08_10,\"wash plate, then cup\",01:00:00.25,01:00:09.75,216015,216585,wash,4"]


def _write(tmp_path: Path, rows: list[str], header: str = HEADER, name: str = "D1_train.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_reads_columns_dtypes_and_seconds(tmp_path):
    df = read_epic_annotations(_write(tmp_path, ROWS))
    assert list(df.columns) == [*EPIC_COLUMNS, "start_s", "stop_s"]
    assert df.uid.dtype == np.int64 and df.start_frame.dtype == np.int64 and df.verb_class.dtype == np.int64
    assert df.participant_id.tolist() == ["P08"] * 3 and df.narration[2] == "wash plate, then cup"
    np.testing.assert_allclose(df.start_s, [2.61, 64.0, 3600.25])
    np.testing.assert_allclose(df.stop_s, [3.61, 65.5, 3609.75])
    assert df.verb_class.tolist() == [3, 0, 4]


@pytest.mark.parametrize(("text", "seconds"), [("00:00:00.00", 0.0), ("00:10:00", 600.0), ("123:00:01.5", 442801.5)])
def test_parse_timestamp(text, seconds):
    assert parse_timestamp(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["1.5", "00:61:00", "aa:bb:cc", "", "00:00"])
def test_bad_timestamp_text(text):
    with pytest.raises(ValueError):
        parse_timestamp(text)


@pytest.mark.parametrize(("rows", "header", "match"), [
    (ROWS, HEADER.replace(",verb_class", ""), r"missing columns \['verb_class'\]"),
    ([ROWS[0].replace("00:00:02.61", "2.61s")], HEADER, r"start_timestamp.*row 0.*'2.61s'"),
    ([ROWS[0].replace("00:00:03.61", "00:00:01.00")], HEADER, "stop before they start"),
    ([ROWS[0].replace(",157,217,", ",300,217,")], HEADER, "stop before they start"),
    ([ROWS[0].replace(",157,", ",1.5,")], HEADER, "start_frame.*integers"),
    ([ROWS[0].replace(",157,", ",-3,")], HEADER, "start_frame.*>= 0"),
    ([ROWS[0], ROWS[0]], HEADER, "repeats"),
    ([ROWS[0].replace(",open,", ",,")], HEADER, "'verb': 1 empty"),
    ([], HEADER, "no rows"),
])
def test_bad_tables_name_the_file(tmp_path, rows, header, match):
    path = _write(tmp_path, rows, header)
    with pytest.raises(InputError, match=match) as err:
        read_epic_annotations(path)
    assert str(path) in str(err.value)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_epic_annotations(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="empty.csv"):
        read_epic_annotations(tmp_path / "empty.csv")
