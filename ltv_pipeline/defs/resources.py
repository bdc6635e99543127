"""The settings as a Dagster resource: assets, checks and sensors receive them as a parameter.

Nothing under defs/ reads the environment. The code location reads it once (definitions.py) and
hands the values to this resource, so Dagster's UI shows the configuration a run used, and a
test passes its own (`build_sensor_context(resources={"ltv_settings": ...})`). The fields are
the settings the pipeline's definitions use; their defaults and checks stay in one place,
`ltv_core.settings.Settings`, which `settings` rebuilds and validates.
"""

from __future__ import annotations

from dagster import ConfigurableResource

from ltv_core.settings import Settings


class LtvSettings(ConfigurableResource):
    home: str
    date_order: str
    timezone: str
    customer_key_rule: str
    inbox_settle_seconds: float
    webhook_start_date: str
    max_record_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> LtvSettings:
        return cls(
            **{
                name: str(value) if name == "home" else value
                for name, value in settings.model_dump().items()
                if name in cls.model_fields
            }
        )

    @property
    def settings(self) -> Settings:
        """The full settings object (paths of LTV_HOME and all), validated as at start."""
        return Settings(**{name: getattr(self, name) for name in type(self).model_fields})
