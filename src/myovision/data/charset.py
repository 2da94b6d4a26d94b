"""emg2qwerty's character set: 98 keys plus the CTC blank, with emg2qwerty's key names and class order.

Classes 0-93 are ``a-z``, ``A-Z``, ``0-9`` and the 32 ASCII punctuation characters in Python's
``string.punctuation`` order; then ``Key.backspace`` (94), ``Key.enter`` (95), ``Key.space`` (96) and
``Key.shift`` (97); the CTC blank is class 98 (99 classes). Keys are named as the keylogger writes them
(pynput: a single character, or ``Key.<name>``); text uses one character per key, with backspace, enter and
shift shown as ``⌫``, ``⏎`` and ``⇧`` (Sivakumar et al. 2024, "emg2qwerty").

>>> CHARSET.num_classes, CHARSET.blank
(99, 98)
>>> CHARSET.key_to_label("Key.backspace"), CHARSET.label_to_char(94)
(94, '⌫')
>>> CHARSET.labels_to_str(CHARSET.str_to_labels("Hi!\\n"))
'Hi!⏎'
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Sequence

from myovision.errors import InputError

#: Keys outside the 98 that the keylogger may record (pynput ``Key`` names); they are dropped, as in emg2qwerty.
OTHER_KEYS = frozenset(
    "Key." + name for name in (
        "alt", "alt_l", "alt_r", "alt_gr", "caps_lock", "cmd", "cmd_l", "cmd_r", "ctrl", "ctrl_l", "ctrl_r",
        "delete", "down", "end", "esc", "home", "insert", "left", "menu", "num_lock", "page_down", "page_up",
        "pause", "print_screen", "right", "scroll_lock", "shift_l", "shift_r", "tab", "up", "media_play_pause",
        "media_volume_mute", "media_volume_down", "media_volume_up", "media_previous", "media_next",
        *(f"f{i}" for i in range(1, 21)),
    )
)

#: Key names of the four special keys and the character that shows each in text.
SPECIAL_KEYS = {"Key.backspace": "\u232b", "Key.enter": "\u23ce", "Key.space": " ", "Key.shift": "\u21e7"}

#: Characters written differently in prompts and keystrokes, mapped to the character set.
CHAR_SUBSTITUTIONS = {"\n": "\u23ce", "\r": "\u23ce", "\b": "\u232b", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                      "\u2014": "-"}


@dataclass(frozen=True)
class CharacterSet:
    """Key names, display characters and class labels of the typing models; blank = ``len(keys)``."""

    keys: tuple[str, ...] = field(default_factory=lambda: tuple(
        string.ascii_letters + string.digits + string.punctuation) + tuple(SPECIAL_KEYS))

    def __post_init__(self) -> None:
        chars = tuple(SPECIAL_KEYS.get(k, k) for k in self.keys)
        object.__setattr__(self, "chars", chars)
        object.__setattr__(self, "_key_label", {k: i for i, k in enumerate(self.keys)})
        object.__setattr__(self, "_char_label", {c: i for i, c in enumerate(chars)})

    @property
    def num_classes(self) -> int:
        """Keys plus the CTC blank (99)."""
        return len(self.keys) + 1

    @property
    def blank(self) -> int:
        """The CTC blank label (98)."""
        return len(self.keys)

    def key_to_label(self, key: str) -> int:
        return self._key_label[key]

    def label_to_key(self, label: int) -> str:
        return self.keys[label]

    def label_to_char(self, label: int) -> str:
        return self.chars[label]

    def char_label(self, char: str) -> int | None:
        """Label of one text character (after substitutions), or None outside the set."""
        return self._char_label.get(CHAR_SUBSTITUTIONS.get(char, char))

    def keystroke_label(self, key: object, path: str | None = None) -> int | None:
        """Label of a keylogger key name; None for a known key outside the set; InputError for anything else."""
        if isinstance(key, str):
            if key in self._key_label:
                return self._key_label[key]
            if key in OTHER_KEYS:
                return None
            if len(key) == 1:
                return self.char_label(key)
        raise InputError(f"unknown key name {key!r} in keystrokes (expected one character or a pynput "
                         "'Key.<name>' such as 'Key.space')", path)

    def str_to_labels(self, text: str) -> list[int]:
        """Labels of the characters of ``text`` that are in the set (others are dropped)."""
        labels = (self.char_label(c) for c in text)
        return [label for label in labels if label is not None]

    def labels_to_str(self, labels: Sequence[int]) -> str:
        """Text of non-blank labels: one character per key."""
        return "".join(self.chars[int(label)] for label in labels)

    @staticmethod
    def edited(text: str) -> str:
        """The text left on screen: each ``⌫`` deletes the character before it, ``⇧`` vanishes, ``⏎`` is a newline.

        >>> CharacterSet.edited("⇧Teh⌫⌫he⏎").split()
        ['The']
        """
        out: list[str] = []
        for ch in text:
            if ch == SPECIAL_KEYS["Key.backspace"]:
                if out:
                    out.pop()
            elif ch != SPECIAL_KEYS["Key.shift"]:
                out.append("\n" if ch == SPECIAL_KEYS["Key.enter"] else ch)
        return "".join(out)


CHARSET = CharacterSet()
