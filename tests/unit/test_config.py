"""Driver configuration: upstream's JSON schema, legacy inputs, and errors that name the field."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from nixtest_tui.driver.config import (
    legacy_configuration,
    legacy_configuration_from_environment,
    load_driver_configuration,
    machine_name_from,
    parse_duration,
)
from nixtest_tui.driver.errors import ConfigError


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "driver-configuration.json"
    path.write_text(json.dumps(data))
    return path


def test_loads_upstreams_shape_and_ignores_unknown_keys(tmp_path: Path) -> None:
    path = write(tmp_path, {
        "vms": {"alice": {"name": "alice", "start_script": "/x/bin/run-alice-vm"}},
        "containers": {}, "vlans": [2, 1, 2], "global_timeout": 600,
        "enable_ssh_backdoor": False, "test_script": "/x/test-script",
        "display_viewers": [],  # an in-flight upstream key
    })
    config = load_driver_configuration(path)
    assert config.vms["alice"].start_script == "/x/bin/run-alice-vm"
    assert config.vlans == [1, 2]
    assert config.global_timeout == timedelta(minutes=10)
    assert config.test_script == Path("/x/test-script") and config.source == path


@pytest.mark.parametrize(("value", "expected"), [
    (3600, timedelta(hours=1)), (1.5, timedelta(seconds=1.5)), ("PT1H30M", timedelta(minutes=90)),
    ("P1DT2S", timedelta(days=1, seconds=2)), ("90", timedelta(seconds=90)),
    ("01:00:05", timedelta(hours=1, seconds=5)),
])
def test_global_timeout_accepts_seconds_and_iso_8601(value: object, expected: timedelta) -> None:
    assert parse_duration(value, "x") == expected


@pytest.mark.parametrize(("data", "message"), [
    ({"vms": {}}, "field 'test_script'"),
    ({"test_script": "/t", "vms": {"a": {"name": "a"}}}, "vms'.a.start_script"),
    ({"test_script": "/t", "vms": [], }, "field 'vms'"),
    ({"test_script": "/t", "vlans": ["one"]}, "field 'vlans'"),
    ({"test_script": "/t", "global_timeout": "soon"}, "field 'global_timeout'"),
    ({"test_script": "/t", "global_timeout": True}, "field 'global_timeout'"),
    ({"test_script": "/t", "enable_ssh_backdoor": "yes"}, "enable_ssh_backdoor"),
    ({"test_script": "/t", "vms": {"a": {"start_script": "/a"}},
      "containers": {"a": {"start_script": "/b"}}}, "both VMs and containers"),
])
def test_bad_configuration_names_file_and_field(tmp_path: Path, data: object,
                                                message: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError, match=message) as error:
        load_driver_configuration(path)
    assert str(path) in str(error.value)


def test_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_driver_configuration(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_driver_configuration(tmp_path / "bad.json")


def test_legacy_environment_interface() -> None:
    config = legacy_configuration_from_environment({
        "testScript": "/t", "vmNames": "a b", "vmStartScripts": "/s/run-a-vm /s/run-b-vm",
        "vlans": "1 2 1", "globalTimeout": "60",
    })
    assert sorted(config.vms) == ["a", "b"] and config.vlans == [1, 2]
    assert config.global_timeout == timedelta(seconds=60)
    oldest = legacy_configuration("/t", start_scripts=["/nix/store/x/bin/run-web-1-vm"])
    assert list(oldest.vms) == ["web-1"]
    assert legacy_configuration("/t").global_timeout == timedelta(days=7)
    with pytest.raises(ConfigError, match="same length"):
        legacy_configuration("/t", vm_names="a", vm_start_scripts="/1 /2")


def test_machine_name_from_start_command() -> None:
    assert machine_name_from("/nix/store/abc/bin/run-web-1-vm -m 512") == "web-1"
    assert machine_name_from("/usr/bin/qemu-kvm") == "machine"
