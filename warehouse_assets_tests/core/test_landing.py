"""The landing folder scan: new, changed, unchanged, deleted, still being written, refused links."""

import os
import time
from pathlib import Path

from warehouse_assets.core.landing import FileState, file_sha256, scan_landing


def write(path: Path, text: str, age_seconds: float = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    past = time.time() - age_seconds
    os.utime(path, (past, past))
    return path


def test_new_changed_unchanged_and_deleted(tmp_path):
    landing = tmp_path / "landing"
    write(landing / "a.csv", "a")
    write(landing / "sub" / "b.csv", "b")
    first = scan_landing(landing, {})
    assert first.new == ["a.csv", "sub/b.csv"] and first.to_load == ["a.csv", "sub/b.csv"]
    known = dict(first.states)
    write(landing / "a.csv", "a2")
    (landing / "sub" / "b.csv").unlink()
    write(landing / "c.csv", "c")
    second = scan_landing(landing, {**known, "gone.csv": FileState(1, 1, "x")})
    assert second.changed == ["a.csv"] and second.new == ["c.csv"]
    assert second.deleted == ["gone.csv", "sub/b.csv"]
    # Touched but the same bytes: hashed again, and unchanged.
    write(landing / "c.csv", "c", age_seconds=50)
    third = scan_landing(landing, dict(second.states))
    assert third.unchanged == ["a.csv", "c.csv"] and not third.to_load
    assert third.states["c.csv"].sha256 == file_sha256(landing / "c.csv")[1]


def test_files_being_written_and_other_names_are_left_alone(tmp_path):
    landing = tmp_path / "landing"
    write(landing / "fresh.csv", "x", age_seconds=0)
    for name in ("a.csv.part", "b.tmp", "c.partial", "d.crdownload", ".hidden.csv", "notes.txt"):
        write(landing / name, "x")
    write(landing / ".cache" / "e.csv", "x")
    changes = scan_landing(landing, {}, settle_seconds=10)
    assert changes.settling == ["fresh.csv"] and changes.to_load == []


def test_a_link_that_leaves_the_landing_folder_is_refused_and_not_read(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    secret = write(tmp_path / "outside" / "passwd.csv", "root:x:0:0")
    (landing / "innocent.csv").symlink_to(secret)
    (landing / "outside_dir").symlink_to(secret.parent, target_is_directory=True)
    inside = write(landing / "real.csv", "ok")
    (landing / "alias.csv").symlink_to(inside)
    changes = scan_landing(landing, {})
    assert set(changes.refused) == {"innocent.csv", "outside_dir/"}
    assert "outside the landing folder" in changes.refused["innocent.csv"]
    assert "root:x" not in repr(changes)
    assert changes.to_load == ["alias.csv", "real.csv"]


def test_a_file_with_the_size_and_time_of_a_hashed_state_is_not_read_and_is_not_known(tmp_path):
    landing = tmp_path / "landing"
    same = write(landing / "same.csv", "abc")
    touched = write(landing / "touched.csv", "abc")
    stat = same.stat()
    # A hash that is not the file's: only a scan that trusts the state (and reads nothing) reports it.
    hashed = {
        "same.csv": FileState(stat.st_size, stat.st_mtime_ns, "recorded"),
        "touched.csv": FileState(stat.st_size, stat.st_mtime_ns - 1, "recorded"),
        "archived.csv": FileState(1, 1, "recorded"),
    }
    asked = []
    scan = scan_landing(landing, {}, hashed=lambda keys: asked.append(keys) or hashed)
    assert asked == [["same.csv", "touched.csv"]]  # only the folder's files are looked up
    assert scan.states["same.csv"].sha256 == "recorded"
    assert scan.states["touched.csv"].sha256 == file_sha256(touched)[1]
    # Relative to `known` (nothing here): both are new, and a hashed file that is gone is not "deleted".
    assert scan.new == ["same.csv", "touched.csv"] and scan.deleted == []
