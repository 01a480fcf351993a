"""The band config file (``[ble]`` / ``[[band]]``) and the reconnect backoff."""

from __future__ import annotations

import random

import pytest

from twitchwatch.gateway.backoff import Backoff
from twitchwatch.gateway.errors import ConfigError
from twitchwatch.gateway.sources.ble import BleSource, NotPairedError
from twitchwatch.gateway.sources.ble_bonds import BondRecord, BondRegistry
from twitchwatch.gateway.sources.ble_config import BandSelector, BleOptions, load_band_config
from twitchwatch.gateway.sources.ble_scan import resolve_backend

GOOD = """
[ble]
scan_timeout_s = 4
watchdog_s = 2.5
backoff_max_s = 30
adapter = "hci1"

[[band]]
name = "tw-1a2b"
label = "left-wrist"

[[band]]
address = "c4:de:e2:11:1a:2b"

[influxdb]          # another part of the gateway's settings: left alone
url = "http://127.0.0.1:8086"
"""


def write(tmp_path, text: str):
    p = tmp_path / "gateway.toml"
    p.write_text(text)
    return p


@pytest.fixture
def paired() -> BondRegistry:
    """The two bands of GOOD, paired earlier (the bonds file in the test's state dir)."""
    reg = BondRegistry()
    reg.put(BondRecord("F0:00:00:00:1A:2B", "tw-1a2b", BondRecord.now(), "pair"))
    reg.put(BondRecord("C4:DE:E2:11:1A:2B", "tw-ffff", BondRecord.now(), "pair"))
    return reg


def test_load_band_config(tmp_path, paired) -> None:
    cfg = load_band_config(write(tmp_path, GOOD))
    assert [b.key for b in cfg.bands] == ["left-wrist", "C4:DE:E2:11:1A:2B"]
    assert cfg.bands[0].name == "tw-1a2b" and cfg.bands[1].address == "C4:DE:E2:11:1A:2B"
    o = cfg.options
    assert (o.scan_timeout_s, o.watchdog_s, o.backoff_max_s, o.adapter) == (4, 2.5, 30, "hci1")
    assert o.backoff_initial_s == BleOptions().backoff_initial_s  # defaults fill the rest
    src = BleSource.from_config(cfg)
    assert [link.key for link in src.links] == ["left-wrist", "C4:DE:E2:11:1A:2B"]
    assert src.options == o


@pytest.mark.parametrize(("text", "complaint"), [
    ("[ble]\nwatchdog = 3\n[[band]]\nname = 'a'\n", "unknown key [ble].watchdog"),
    ("[ble]\nwatchdog_s = 0\n[[band]]\nname = 'a'\n", "watchdog_s"),
    ("[ble]\nwatchdog_s = 'x'\n[[band]]\nname = 'a'\n", "wrong type"),
    ("[ble]\nqueue_size = true\n[[band]]\nname = 'a'\n", "wrong type"),
    ("[ble]\nbackoff_initial_s = 9\nbackoff_max_s = 3\n[[band]]\nname = 'a'\n", "above"),
    ("[[band]]\nlabel = 'x'\n", "needs a name or an address"),
    ("[[band]]\naddress = 'not-an-address'\n", "XX:XX"),
    ("[[band]]\nname = 'a'\nmac = 'x'\n", "unknown key 'mac'"),
    ("[[band]]\nname = 'a'\n[[band]]\nname = 'a'\n", "listed twice"),
    ("[ble]\nwatchdog_s = 3\n", "no [[band]]"),
    ("band = 'tw-1a2b'\n", "array of tables"),
    ("[[band]\n", "not valid TOML"),
])
def test_bad_config_names_the_problem(tmp_path, text: str, complaint: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_band_config(path)
    assert complaint in str(e.value)
    assert str(path) in str(e.value)


def test_missing_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_band_config(tmp_path / "nope.toml")


def test_selector_parse_and_match() -> None:
    by_addr = BandSelector.parse("f0:00:00:00:1a:2b")
    assert by_addr.address == "F0:00:00:00:1A:2B" and by_addr.name is None
    assert by_addr.matches("F0:00:00:00:1A:2B", (None,))
    assert not by_addr.matches("F0:00:00:00:1A:2C", ("tw-1a2b",))
    by_name = BandSelector.parse("tw-1a2b")
    assert by_name.name == "tw-1a2b"
    assert by_name.matches("AA:BB:CC:DD:EE:FF", (None, "tw-1a2b"))
    assert not by_name.matches("AA:BB:CC:DD:EE:FF", ("tw-9999", None))


def test_source_option_overrides_are_checked(paired) -> None:
    src = BleSource(["tw-1a2b"], watchdog_s=1.5)
    assert src.options.watchdog_s == 1.5
    with pytest.raises(ConfigError):
        BleSource(["tw-1a2b"], watchdog_s=-1)
    with pytest.raises(ConfigError, match="listed twice"):
        BleSource(["tw-1a2b", "tw-1a2b"])


def test_backend_injection_errors_are_plain(ble_backend) -> None:
    assert resolve_backend() is None  # the platform's own backend
    with pytest.raises(TypeError, match=r"no \.scanner"):
        ble_backend(object())
    ble_backend(lambda: 3)
    with pytest.raises(ConfigError, match=r"no \.scanner"):
        resolve_backend()


def test_backoff_doubles_to_the_cap_with_jitter() -> None:
    b = Backoff(initial_s=1.0, max_s=8.0, jitter=0.5, rng=random.Random(7))
    delays = [b.next_delay_s() for _ in range(8)]
    bases = [1, 2, 4, 8, 8, 8, 8, 8]
    for d, base in zip(delays, bases, strict=True):
        assert base * 0.5 <= d <= base
    assert b.attempt == 8
    b.reset()
    assert b.attempt == 0 and b.next_delay_s() <= 1.0


def test_backoff_survives_a_week_of_failures() -> None:
    b = Backoff(initial_s=1.0, max_s=60.0, jitter=0.0)
    for _ in range(20_000):
        d = b.next_delay_s()
    assert d == 60.0


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Backoff(initial_s=0)
    with pytest.raises(ValueError):
        Backoff(initial_s=2, max_s=1)


def test_run_command_glue_builds_the_source_from_its_settings(
        tmp_path, ble_backend, paired) -> None:
    import argparse

    from tests.ble import cli_world
    from twitchwatch.gateway import settings as config
    from twitchwatch.gateway.commands.run_ble import ble_source

    ble_backend(cli_world.backend)
    settings = config.load(argparse.Namespace(config=str(write(tmp_path, GOOD))))
    src = ble_source(settings)
    assert [link.key for link in src.links] == ["left-wrist", "C4:DE:E2:11:1A:2B"]
    assert src.options.watchdog_s == 2.5
    assert src.backend is not None and src.backend.scanner.__name__ == "BumbleScanner"


def test_a_band_that_was_never_paired_is_refused_at_start(tmp_path) -> None:
    with pytest.raises(NotPairedError, match=r"tw-1a2b.*not paired.*twitchwatch pair tw-1a2b"):
        BleSource(["tw-1a2b"])
    BondRegistry().put(BondRecord("F0:00:00:00:1A:2B", "tw-1a2b", BondRecord.now(), "pair"))
    BondRegistry().put(BondRecord("F0:00:00:00:1A:2C", "tw-1a2b", BondRecord.now(), "pair"))
    with pytest.raises(NotPairedError, match="matches 2 bonded bands"):
        BleSource(["tw-1a2b"])  # two bonded bands of that name: say which, by address
    assert BleSource(["F0:00:00:00:1A:2C"]).links[0].bond.address == "F0:00:00:00:1A:2C"


def test_state_dir_option(tmp_path) -> None:
    cfg = load_band_config(write(tmp_path, "[ble]\nstate_dir = '%s'\n[[band]]\nname = 'tw-1'\n"
                                 % (tmp_path / "elsewhere")))
    assert cfg.options.state_dir == str(tmp_path / "elsewhere")
    with pytest.raises(NotPairedError, match=str(tmp_path / "elsewhere")):
        BleSource.from_config(cfg)
