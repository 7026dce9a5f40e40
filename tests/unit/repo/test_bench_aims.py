"""`make bench` prints each figure beside its aim, met or not, from the figures it measured."""

import json

from benchmarks.__main__ import ROOT
from benchmarks.aims import AIMS, Aim, check, table


def test_every_aim_names_a_figure_the_bench_writes():
    reference = json.loads((ROOT / "benchmarks/reference.json").read_text())  # the run the README shows
    checked = check(reference)
    assert [row["figure"] for row in checked] == [aim.figure for aim in AIMS]


def test_a_bound_is_met_or_not_by_the_measured_figure():
    faster = Aim("core loop", ("speed", "x"), at_least=1.0)
    assert faster.met({"speed": {"x": 1.2}}) and not faster.met({"speed": {"x": 0.57}})
    smaller = Aim("bytes", ("b",), at_most=0.5, unit="")
    assert smaller.met({"b": 0.5}) and not smaller.met({"b": 0.63})
    assert smaller.wanted() == "≤ 0.5" and faster.wanted() == "≥ 1×"


def test_memory_is_flat_when_the_larger_input_peaks_within_the_slack_of_the_smaller():
    flat = Aim("rss", ("m", "big"), flat_from=("m", "small"))
    assert flat.met({"m": {"small": 178, "big": 183}})
    assert not flat.met({"m": {"small": 166, "big": 633}})
    assert flat.shown({"m": {"small": 178, "big": 183}}) == "178 → 183 MB"


def test_the_table_says_met_or_not_met_and_leaves_out_what_was_not_measured():
    results = {"speed": {"core_loop_x_zcat": 0.57, "parquet_bytes_per_input_byte": 0.4}}
    lines = table(check(results))
    assert len(lines) == 3  # two figures measured, and the tally
    assert lines[0].startswith("core loop vs zcat FILE | wc -l") and lines[0].endswith("aim ≥ 1×: NOT MET")
    assert "0.40" in lines[1] and lines[1].endswith("aim ≤ 0.5: met")
    assert lines[2] == "1 of 2 aims met"


def test_the_terabytes_files_aim_at_athenas_128_mb_where_the_bytes_are():
    (aim,) = [aim for aim in AIMS if aim.path == ("speed", "terabyte", "half_bytes_in_files_of_mb")]
    assert aim.met({"speed": {"terabyte": {"half_bytes_in_files_of_mb": 172.8}}})
    assert not aim.met({"speed": {"terabyte": {"half_bytes_in_files_of_mb": 44.0}}})  # a file per object's hour
    assert aim.wanted() == "≥ 128 MB"
