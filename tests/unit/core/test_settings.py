import pytest

from landfall.core.settings import SettingsError, parse_settings
from landfall.ingest.settings import ManifestWriterSettings
from landfall.process.settings import ProcessorSettings

GOOD = {"STATE_MACHINE_ARN": "arn:aws:states:us-east-1:1:stateMachine:p", "PIPELINE_BUCKET": "b"}


def test_defaults_apply_when_optional_variables_are_absent():
    settings = parse_settings(ManifestWriterSettings, GOOD)
    assert settings.key_prefix == "raw/"
    assert settings.max_items_per_batch == 20


def test_values_are_parsed_from_strings():
    settings = parse_settings(
        ManifestWriterSettings, {**GOOD, "MAX_CONCURRENCY": "7", "TOLERATED_FAILURE_PERCENTAGE": "2.5"}
    )
    assert (settings.max_concurrency, settings.tolerated_failure_percentage) == (7, 2.5)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"PIPELINE_BUCKET": "b"}, "STATE_MACHINE_ARN"),
        ({"STATE_MACHINE_ARN": "x"}, "PIPELINE_BUCKET"),
        ({**GOOD, "MAX_BATCH_MIB": "0"}, "MAX_BATCH_MIB"),
        ({**GOOD, "PROCESSOR_CONCURRENCY_LIMIT": "-1"}, "PROCESSOR_CONCURRENCY_LIMIT"),
        ({**GOOD, "TOLERATED_FAILURE_PERCENTAGE": "101"}, "TOLERATED_FAILURE_PERCENTAGE"),
        ({**GOOD, "MAX_ITEMS_PER_BATCH": "many"}, "MAX_ITEMS_PER_BATCH"),
    ],
)
def test_a_bad_environment_fails_naming_the_variable(environ, named):
    with pytest.raises(SettingsError, match=named):
        parse_settings(ManifestWriterSettings, environ)


def test_processor_limits_are_bounded():
    with pytest.raises(SettingsError, match="CHUNK_BYTES"):
        parse_settings(ProcessorSettings, {"CHUNK_BYTES": "10"})


def test_a_large_object_gets_its_threads_unless_they_are_turned_off():
    on = ProcessorSettings(SMALL_OBJECT_BYTES=10)
    assert on.threaded(11) and not on.threaded(10)
    assert not ProcessorSettings(SMALL_OBJECT_BYTES=10, LARGE_OBJECT_THREADS="off").threaded(11)
