"""Safe outputs: atomic writes keep the umask's permissions and name the target in errors; check_output refuses
to destroy an input or an existing file; the writer lock names its holder and reports a taken-over stale lock."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from myovision.errors import InputError, excerpt
from myovision.fileio import WriterLock, atomic_path, atomic_write_text, check_declared_size, check_output


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_get_the_mode_the_umask_allows(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        (tmp_path / "plain.txt").write_text("x")  # the control: an ordinary write
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == mode


def test_a_replaced_file_keeps_its_mode(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write_text(target, "new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_text() == "new"


def test_errors_name_the_target_not_the_temporary_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError) as err:
        atomic_write_text(tmp_path / "file" / "out.txt", "x")  # the parent is a file
    assert str(tmp_path / "file" / "out.txt") in str(err.value.filename) and ".tmp." not in str(err.value)

    with pytest.raises(OSError) as err:
        with atomic_path(tmp_path / "o.npy") as tmp:
            raise OSError(28, "No space left on device", str(tmp))
    assert err.value.filename == str(tmp_path / "o.npy") and not list(tmp_path.glob(".o.tmp.*"))


def test_check_output_refuses_inputs_existing_files_folders_and_wrong_suffixes(tmp_path):
    rec = tmp_path / "rec.npy"
    rec.write_bytes(b"data")
    os.symlink(rec, tmp_path / "link.npy")
    for path, message in [(rec, "is an input"), (tmp_path / "link.npy", "is an input"), (tmp_path, "is a folder"),
                          (tmp_path / "mel.png", "writes .npy")]:
        with pytest.raises(InputError, match=message):
            check_output(path, inputs=[rec], overwrite=True, suffixes=(".npy",))
    (tmp_path / "old.npy").write_bytes(b"keep")
    with pytest.raises(InputError, match="already exists; pass --overwrite"):
        check_output(tmp_path / "old.npy", inputs=[rec])
    assert check_output(tmp_path / "old.npy", inputs=[rec], overwrite=True) == tmp_path / "old.npy"
    assert (tmp_path / "old.npy").read_bytes() == b"keep"


def test_the_lock_names_its_holder_and_a_killed_holder_is_taken_over(tmp_path):
    lock = tmp_path / ".writer.lock"
    with WriterLock(lock) as held:
        assert held.took_over is None
        with pytest.raises(InputError, match=rf"locked by a running writer \(pid {os.getpid()} on host"):
            WriterLock(lock).acquire()
    assert lock.read_text() == ""  # released cleanly
    script = f"import os, signal; from myovision.fileio import WriterLock; WriterLock({str(lock)!r}).acquire(); " \
             "os.kill(os.getpid(), signal.SIGKILL)"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9
    taken = WriterLock(lock).acquire()
    assert taken.took_over.startswith("pid ") and "stopped without releasing it" in taken.took_over
    taken.release()


def test_declared_sizes_and_excerpts(monkeypatch):
    with pytest.raises(InputError, match=r"x.npy: declares 8000000000000 elements, above the limit of 2147483648"):
        check_declared_size("x.npy", elements=8 * 10**12)
    monkeypatch.setenv("MYOVISION_MAX_BYTES", "100")
    with pytest.raises(InputError, match="above the limit of 100 .MYOVISION_MAX_BYTES"):
        check_declared_size("x.npz", nbytes=101)
    check_declared_size("x.npz", nbytes=100, elements=2**31)
    assert excerpt("root:x:0:0\x1b[31m" + "y" * 100, 15) == "'root:x:0:0\\x1b[31m'..."
