"""The Dagster home's dagster.yaml: a new one retries runs whose worker died and checks the run
queue every second, an old default one is upgraded to it, and one the user edited is kept word for
word."""

from __future__ import annotations

from dagster import DagsterInstance, QueuedRunCoordinator

from ltv_core.home_layout import DAGSTER_YAML, PREVIOUS_DAGSTER_YAMLS
from ltv_core.settings import Settings


def _retries(settings: Settings) -> tuple[bool, int, bool]:
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        return (
            instance.run_retries_enabled,
            instance.run_retries_max_retries,
            instance.run_retries_retry_on_asset_or_op_failure,
        )


def _dequeue_interval_seconds(settings: Settings) -> int:
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, QueuedRunCoordinator)
        return coordinator.dequeue_interval_seconds


def test_a_new_dagster_yaml_retries_runs_whose_worker_died(ltv_home: Settings):
    assert _retries(ltv_home) == (True, 2, False)


def test_a_new_dagster_yaml_checks_the_run_queue_every_second(ltv_home: Settings):
    assert _dequeue_interval_seconds(ltv_home) == 1


def test_the_previous_default_is_upgraded_to_check_the_queue_every_second(ltv_home: Settings):
    dagster_yaml = ltv_home.dagster_home / "dagster.yaml"
    dagster_yaml.write_text(PREVIOUS_DAGSTER_YAMLS[1])
    assert _dequeue_interval_seconds(ltv_home) == 5  # Dagster's default

    ltv_home.ensure_layout()
    assert dagster_yaml.read_text() == DAGSTER_YAML
    assert _dequeue_interval_seconds(ltv_home) == 1


def test_an_old_default_dagster_yaml_is_upgraded(ltv_home: Settings):
    dagster_yaml = ltv_home.dagster_home / "dagster.yaml"
    dagster_yaml.write_text(PREVIOUS_DAGSTER_YAMLS[0])
    assert _retries(ltv_home) == (False, 0, True)

    ltv_home.ensure_layout()
    assert dagster_yaml.read_text() == DAGSTER_YAML
    assert _retries(ltv_home) == (True, 2, False)


def test_an_edited_dagster_yaml_is_kept(ltv_home: Settings):
    dagster_yaml = ltv_home.dagster_home / "dagster.yaml"
    edited = PREVIOUS_DAGSTER_YAMLS[0].replace("max_concurrent_runs: 1", "max_concurrent_runs: 2")
    dagster_yaml.write_text(edited)
    ltv_home.ensure_layout()
    assert dagster_yaml.read_text() == edited
    assert _retries(ltv_home) == (False, 0, True)


def test_a_new_dagster_yaml_shows_no_community_window_and_logs_runs_at_info(ltv_home: Settings):
    """The UI asks `shouldShowNux` before it opens "Join the Dagster community"; the answer is
    the instance's nux_enabled (and a file in the home once dismissed)."""
    with DagsterInstance.from_config(str(ltv_home.dagster_home)) as instance:
        assert instance.nux_enabled is False
        assert instance.telemetry_enabled is False
        assert instance.python_log_level == "INFO"


def test_the_previous_default_is_upgraded_to_show_no_community_window(ltv_home: Settings):
    dagster_yaml = ltv_home.dagster_home / "dagster.yaml"
    dagster_yaml.write_text(PREVIOUS_DAGSTER_YAMLS[-1])
    with DagsterInstance.from_config(str(ltv_home.dagster_home)) as instance:
        assert instance.nux_enabled is True  # Dagster's default

    ltv_home.ensure_layout()
    with DagsterInstance.from_config(str(ltv_home.dagster_home)) as instance:
        assert instance.nux_enabled is False
