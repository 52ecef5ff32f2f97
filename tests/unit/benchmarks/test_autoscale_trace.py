# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/autoscale.py: read_trace on CSV files written by tools other than NAB's."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks"))
import autoscale  # noqa: E402 pylint: disable=wrong-import-position


def _write(tmp_path, text, name="trace.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_a_header_with_a_byte_order_mark_is_read(tmp_path):
    path = _write(tmp_path, "timestamp,value\r\n0,1\r\n60,2\r\n", encoding="utf-8-sig")
    t, v = autoscale.read_trace(path)
    assert t.tolist() == [0.0, 60.0] and v.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("text", [
    "timestamp, value\n0, 1\n60, 2\n",
    " Timestamp ,VALUE \n0,1\n60,2\n",
    "value,timestamp,host\n1,0,a\n2,60,b\n",   # other order, another column
])
def test_header_names_are_matched_without_spaces_or_case(tmp_path, text):
    t, v = autoscale.read_trace(_write(tmp_path, text))
    assert t.tolist() == [0.0, 60.0] and v.tolist() == [1.0, 2.0]


def test_epoch_seconds_are_sorted_and_deduplicated(tmp_path):
    path = _write(tmp_path, "timestamp,value\n1577836860,5\n1577836800,4\n1577836800,9\n1577836920.5,6\n")
    t, v = autoscale.read_trace(path)
    assert t.tolist() == [1577836800.0, 1577836860.0, 1577836920.5] and v.tolist() == [4.0, 5.0, 6.0]


def test_iso_8601_timestamps_are_utc_unless_they_have_an_offset(tmp_path):
    path = _write(tmp_path, "timestamp,value\n"
                            "2020-01-01 00:00:00,1\n"        # 1577836800
                            "2020-01-01T00:01:00Z,2\n"       # + 60
                            "2020-01-01T01:02:00+01:00,3\n"  # + 120
                            "2020-01-01,4\n")                # the same as the first: dropped
    t, v = autoscale.read_trace(path)
    assert t.tolist() == [1577836800.0, 1577836860.0, 1577836920.0] and v.tolist() == [1.0, 2.0, 3.0]


def test_rows_without_a_numeric_value_are_skipped(tmp_path):
    path = _write(tmp_path, "timestamp,value\n0,1\n30,\n45,nan\n50,n/a\n60,2\n")
    t, v = autoscale.read_trace(path)
    assert t.tolist() == [0.0, 60.0] and v.tolist() == [1.0, 2.0]


def test_an_unreadable_timestamp_names_the_file_the_line_and_the_text(tmp_path):
    path = _write(tmp_path, "timestamp,value\n2020-01-02 00:00,1\n01/02/2020 00:00,2\n")
    with pytest.raises(SystemExit) as caught:
        autoscale.read_trace(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: line 3: cannot read the timestamp '01/02/2020 00:00'")
    assert "ISO 8601" in message and "epoch seconds" in message


def test_the_error_reaches_the_command_line_without_a_traceback(tmp_path):
    path = _write(tmp_path, "timestamp,value\n0,1\nyesterday,2\n")
    with pytest.raises(SystemExit, match="line 3: cannot read the timestamp 'yesterday'"):
        autoscale.main(["--trace", path, "--json"])
