"""The moved clock of demonstrations and end-to-end tests: every service reads the offset from one
file, so an advance written by one process is seen by all, and a reader that catches the file
mid-write does not keep a wrong offset."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from shared.clock import OffsetClock


def test_an_advance_written_by_one_clock_is_read_by_another_and_leaves_no_partial_file(tmp_path):
    path = tmp_path / "clock-offset"
    writer, reader = OffsetClock(path), OffsetClock(path)
    assert reader.offset() == 0.0  # no file: the real time
    writer.advance(86400)
    writer.advance(3600)
    assert reader.offset() == 90000.0
    assert abs((reader.now() - datetime.now(timezone.utc)).total_seconds() - 90000) < 60
    assert [p.name for p in tmp_path.iterdir()] == ["clock-offset"]


def test_a_reader_that_finds_the_file_empty_reads_it_again_at_the_same_modification_time(tmp_path):
    """A writer that truncates and then writes can leave both changes with one modification time;
    a reader between the two must not keep "no offset" for that time (its timers never fired)."""
    path = tmp_path / "clock-offset"
    reader = OffsetClock(path)
    OffsetClock(path).advance(100)
    assert reader.offset() == 100.0
    stamp = 1_800_000_000_000_000_000
    path.write_text("")
    os.utime(path, ns=(stamp, stamp))
    assert reader.offset() == 100.0  # caught mid-write: the last offset it read
    path.write_text("5000.0")
    os.utime(path, ns=(stamp, stamp))
    assert reader.offset() == 5000.0
