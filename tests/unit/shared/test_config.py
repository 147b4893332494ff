"""Settings read from the environment, with defaults that work on a fresh machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import config
from shared.config import SERVICES, load

REPO = Path(__file__).resolve().parents[3]


def test_root_is_the_repository():
    assert config.ROOT == REPO


def test_defaults_point_at_the_local_broker():
    settings = load({})
    assert settings.amqp_uri == "amqp://guest:guest@127.0.0.1:5672/"
    assert settings.management_url == "http://guest:guest@127.0.0.1:15672"


def test_default_databases_are_one_sqlite_file_per_service_under_var():
    settings = load({})
    assert settings.var_dir == REPO / "var"
    assert settings.database_url_template is None
    assert settings.database_urls == {}
    urls = {service: settings.database_url(service) for service in SERVICES}
    for service, url in urls.items():
        assert url == f"sqlite:///{REPO / 'var' / (service + '.db')}"
    assert len(set(urls.values())) == len(SERVICES)


def test_other_defaults():
    settings = load({})
    assert settings.bpmn_dir == REPO / "bpmn"
    assert (settings.gateway_host, settings.gateway_port) == ("127.0.0.1", 8080)
    assert settings.job_max_attempts == 5
    assert settings.max_workers == 10
    assert settings.log_level == "INFO"


def test_var_dir_moves_the_sqlite_databases(tmp_path):
    settings = load({"ZTC_VAR_DIR": str(tmp_path)})
    assert settings.var_dir == tmp_path
    assert settings.database_url("intake") == f"sqlite:///{tmp_path / 'intake.db'}"


def test_amqp_uri_comes_from_the_environment():
    settings = load({"ZTC_AMQP_URI": "amqp://ztc:secret@broker:5672/ztc"})
    assert settings.amqp_uri == "amqp://ztc:secret@broker:5672/ztc"
    assert settings.nameko_config()["AMQP_URI"] == "amqp://ztc:secret@broker:5672/ztc"


def test_empty_value_falls_back_to_the_default():
    settings = load({"ZTC_AMQP_URI": "", "ZTC_GATEWAY_PORT": "", "ZTC_DATABASE_URL": ""})
    assert settings.amqp_uri == "amqp://guest:guest@127.0.0.1:5672/"
    assert settings.gateway_port == 8080
    assert settings.database_url("engine").startswith("sqlite:///")


def test_database_url_template_fills_in_each_service_name():
    settings = load({"ZTC_DATABASE_URL": "postgresql+psycopg2://127.0.0.1/ztc_{service}"})
    assert settings.database_url_template == "postgresql+psycopg2://127.0.0.1/ztc_{service}"
    for service in SERVICES:
        assert settings.database_url(service) == f"postgresql+psycopg2://127.0.0.1/ztc_{service}"


def test_per_service_database_url_overrides_the_template_for_that_service_only():
    settings = load(
        {
            "ZTC_DATABASE_URL": "postgresql+psycopg2://127.0.0.1/ztc_{service}",
            "ZTC_DB_ENGINE": "postgresql+psycopg2://db.example/engine_only",
        }
    )
    assert settings.database_url("engine") == "postgresql+psycopg2://db.example/engine_only"
    assert settings.database_url("intake") == "postgresql+psycopg2://127.0.0.1/ztc_intake"


def test_per_service_database_url_overrides_the_sqlite_default():
    settings = load({"ZTC_DB_ENGINE": "postgresql+psycopg2://db.example/engine_only"})
    assert settings.database_urls == {"engine": "postgresql+psycopg2://db.example/engine_only"}
    assert settings.database_url("engine") == "postgresql+psycopg2://db.example/engine_only"
    assert settings.database_url("assignment") == f"sqlite:///{REPO / 'var' / 'assignment.db'}"


def test_numeric_settings_are_converted():
    settings = load(
        {
            "ZTC_GATEWAY_PORT": "9090",
            "ZTC_JOB_MAX_ATTEMPTS": "7",
            "ZTC_JOB_BACKOFF_SECONDS": "0.5",
            "ZTC_MAX_WORKERS": "3",
        }
    )
    assert settings.gateway_port == 9090
    assert settings.job_max_attempts == 7
    assert settings.job_backoff_seconds == 0.5
    assert settings.max_workers == 3
    assert settings.nameko_config()["WEB_SERVER_ADDRESS"] == "127.0.0.1:9090"


def test_explicit_env_dict_ignores_the_process_environment(monkeypatch):
    monkeypatch.setenv("ZTC_AMQP_URI", "amqp://from-process-env/")
    monkeypatch.setenv("ZTC_DATABASE_URL", "postgresql+psycopg2://127.0.0.1/proc_{service}")
    settings = load({"ZTC_LOG_LEVEL": "DEBUG"})
    assert settings.amqp_uri == "amqp://guest:guest@127.0.0.1:5672/"
    assert settings.database_url("engine").startswith("sqlite:///")
    assert settings.log_level == "DEBUG"


def test_without_an_env_dict_the_process_environment_is_read(monkeypatch):
    monkeypatch.setenv("ZTC_AMQP_URI", "amqp://from-process-env/")
    monkeypatch.setenv("ZTC_DB_SUPERVISION", "postgresql+psycopg2://db.example/supervision")
    settings = load()
    assert settings.amqp_uri == "amqp://from-process-env/"
    assert settings.database_url("supervision") == "postgresql+psycopg2://db.example/supervision"


def test_settings_are_immutable():
    settings = load({})
    with pytest.raises(AttributeError):
        settings.amqp_uri = "amqp://elsewhere/"


@pytest.mark.parametrize("given", ["postgresql://db.example/ztc_{service}", "postgres://db.example/ztc_{service}"])
def test_bare_postgresql_url_is_given_the_psycopg2_driver(given):
    settings = load({"ZTC_DATABASE_URL": given, "ZTC_DB_GATEWAY": given.replace("{service}", "gw")})
    assert settings.database_url("intake") == "postgresql+psycopg2://db.example/ztc_intake"
    assert settings.database_url("gateway") == "postgresql+psycopg2://db.example/ztc_gw"
