"""The emg2qwerty character set: 98 keys in emg2qwerty's order, blank 98, key names as the keylogger writes them."""

import string

import pytest

from myovision.data.charset import CHARSET
from myovision.errors import InputError


def test_class_order_is_emg2qwertys():
    expected = list(string.ascii_lowercase + string.ascii_uppercase + string.digits + string.punctuation)
    expected += ["Key.backspace", "Key.enter", "Key.space", "Key.shift"]
    assert list(CHARSET.keys) == expected
    assert CHARSET.num_classes == 99 and CHARSET.blank == 98
    assert [CHARSET.key_to_label(k) for k in ("a", "A", "0", "!", "~")] == [0, 26, 52, 62, 93]
    assert [CHARSET.key_to_label(k) for k in ("Key.backspace", "Key.enter", "Key.space", "Key.shift")] == [94, 95, 96, 97]


def test_text_uses_one_character_per_key():
    assert CHARSET.labels_to_str([94, 95, 96, 97]) == "\u232b\u23ce \u21e7"
    assert CHARSET.str_to_labels("a b\n\u2019") == [0, 96, 1, 95, CHARSET.key_to_label("'")]
    assert CHARSET.str_to_labels("caf\u00e9") == [2, 0, 5]  # outside the set: dropped


@pytest.mark.parametrize("key, label", [("q", 16), ("Key.space", 96), ("\n", 95), ("Key.tab", None),
                                        ("Key.shift_r", None), ("\u00e9", None)])
def test_keystroke_labels(key, label):
    assert CHARSET.keystroke_label(key) == label


@pytest.mark.parametrize("key", ["Key.frobnicate", "space", "", 7, None])
def test_unknown_key_name_is_an_input_error(key):
    with pytest.raises(InputError, match="unknown key name") as exc:
        CHARSET.keystroke_label(key, "s.hdf5")
    assert exc.value.path == "s.hdf5"
