"""Only the owner's gateway talks to the band: pairing, unbonded centrals, spoofed bands,
a band that lost its bond. bumble runs the real SMP (LE Secure Connections, Passkey
Entry), unmodified bleak drives the gateway side (docs/security.md has what these tests
prove and what they cannot).
"""

from __future__ import annotations

import json
import logging
import stat

import pytest
from bleak import BleakClient
from bleak.exc import BleakError, BleakGATTProtocolError

from tests.ble.backend import BumbleWorld
from tests.ble.band import BandConfig
from tests.ble.collect import FAST, collecting
from twitchwatch.gateway.sources.ble import BleSource
from twitchwatch.gateway.sources.ble_bonds import BondRegistry, fingerprint
from twitchwatch.gateway.sources.ble_config import BandSelector
from twitchwatch.gateway.sources.ble_pair import PairingError, pair_band
from twitchwatch.gateway.sources.ble_profile import CONTROL_UUID, DATA_UUID, META_UUID
from twitchwatch.gateway.sources.ble_scan import find_band

A = "F0:00:00:00:1A:2B"
KEY = "tw-1a2b"
IMPOSTOR = "F0:00:00:00:66:66"
ATT_INSUFFICIENT_AUTHENTICATION = 0x05
ATT_INSUFFICIENT_ENCRYPTION = 0x0F


async def _plain_client(world: BumbleWorld, address: str = A) -> BleakClient:
    s = await find_band(BandSelector(address=address), 5.0, backend=world.backend)
    assert s is not None
    client = BleakClient(s.device, backend=world.backend.client, timeout=5.0)
    await client.connect()
    return client


async def test_pairing_bonds_with_a_passkey_and_is_recorded(tmp_path) -> None:
    async with BumbleWorld([BandConfig(A)], paired=False) as world:
        band = world.bands[0]
        assert band.console == ["pairing window open for 120 s (no bond yet)"]
        lines: list[str] = []
        registry = BondRegistry()
        record = await pair_band(BandSelector(name=KEY), registry, backend=world.backend,
                                 out=lines.append)
        # LE Secure Connections with Passkey Entry: the key is authenticated (MITM).
        assert record.address == A and record.name == KEY and record.how == "pair"
        assert record.secure_connections is True and record.authenticated is True
        # The fingerprint is of the key both sides hold.
        band_keys = dict(await band.keystore.get_all())
        (central_name, keys), = band_keys.items()
        assert central_name == "F1:00:00:00:00:01"
        assert keys.ltk is not None and keys.ltk.authenticated
        assert record.ltk_sha256 == fingerprint(keys.ltk.value)
        assert record.irk_sha256 == fingerprint(band.device.irk)
        passkeys = [x for x in band.console if x.startswith("pairing: passkey ")]
        assert len(passkeys) == 1
        assert "pairing window closed (bonded)" in band.console
        assert lines[0].startswith(f"found {KEY} at {A}")
        assert "LE Secure Connections, passkey (MITM-protected) key" in lines[-2]
        # The bonds file: private, parseable, the same record.
        assert stat.S_IMODE(registry.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(registry.dir.stat().st_mode) == 0o700
        doc = json.loads(registry.path.read_text())
        assert doc["format"] == 1 and doc["bands"][0]["address"] == A
        assert BondRegistry().get(A) == record
        # No key material in the file, only fingerprints.
        assert keys.ltk.value.hex() not in registry.path.read_text()


async def test_an_unbonded_central_cannot_read_write_or_hear_the_band() -> None:
    cfg = BandConfig(A, secure_timeout_s=2.0, pair_window_s=0.2)
    async with BumbleWorld([cfg], paired=False) as world:
        band = world.bands[0]
        await band.wait_until(lambda: "pairing window closed (time is up)" in band.console, 10)
        client = await _plain_client(world)  # connects, never pairs
        with pytest.raises(BleakGATTProtocolError) as e:
            await client.read_gatt_char(META_UUID)
        assert e.value.args[0] == ATT_INSUFFICIENT_ENCRYPTION
        with pytest.raises(BleakGATTProtocolError) as e:
            await client.write_gatt_char(CONTROL_UUID, b"\x01", response=True)  # START
        assert e.value.args[0] == ATT_INSUFFICIENT_ENCRYPTION
        heard: list[bytes] = []
        # bumble's CCCD, like ESP32 NimBLE's, takes the subscription on a clear link ...
        await client.start_notify(DATA_UUID, lambda _c, d: heard.append(bytes(d)))
        assert band._subscribed
        # ... and the band keeps sampling; it hands nothing to an untrusted link, and
        # drops it after secure_timeout_s so that it cannot hold the connection.
        await band.wait_until(lambda: not band.connected, 10)
        assert heard == [] and band.counters.notifications == 0
        assert band.counters.produced > 0 and band.counters.control_writes == []
        assert band.counters.untrusted_dropped == 1


async def test_just_works_pairing_is_refused_by_the_band() -> None:
    # No Bluetooth agent on the gateway: the stack pairs NoInputNoOutput, i.e. Just Works.
    # The link gets encrypted and bonded, but the key is not authenticated.
    async with BumbleWorld([BandConfig(A)], paired=False, agent=None) as world:
        band = world.bands[0]
        with pytest.raises(PairingError) as e:
            await pair_band(BandSelector(name=KEY), BondRegistry(), backend=world.backend)
        assert "pairing failed" in str(e.value) and "a Bluetooth agent is running" in str(e.value)
        assert "link not trusted: key not authenticated (Just Works): pair with the passkey" \
            in band.console
        assert await band.bonded_peers() == []  # the band kept no such bond
        assert len(BondRegistry()) == 0
        assert not any(x.startswith("pairing: passkey") for x in band.console)


async def test_the_band_takes_no_new_bond_outside_its_pairing_window() -> None:
    async with BumbleWorld([BandConfig(A, pair_window_s=0.3)], paired=False) as world:
        band = world.bands[0]
        await band.wait_until(lambda: "pairing window closed (time is up)" in band.console, 10)
        with pytest.raises(PairingError, match="pairing failed"):
            await pair_band(BandSelector(name=KEY), BondRegistry(), backend=world.backend)
        assert "pairing refused: the pairing window is closed" in band.console
        band.open_pairing_window()  # the owner holds BOOT for 3 s
        record = await pair_band(BandSelector(name=KEY), BondRegistry(), backend=world.backend)
        assert record.authenticated


async def test_a_spoofed_band_is_refused_and_the_real_one_streams(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "twitchwatch.gateway.sources.ble_link")
    async with BumbleWorld([BandConfig(A)]) as world:  # the gateway paired with A
        genuine = world.bands[0]
        impostor = await world.add_band(BandConfig(IMPOSTOR, name=KEY, meta_part=4))
        source = BleSource([KEY], backend=world.backend, **FAST)
        async with collecting(source) as col:
            log = col[KEY]
            await col.wait_for(lambda: log.covered() >= 400)
            # Both advertise tw-1a2b all along; reconnect a few times to be sure.
            for k in range(3):
                await genuine.disconnect()
                await col.wait_for(lambda k=k: log.events().count("connected") == k + 2)
            # Whether a scan meets the impostor before the genuine band is up to the
            # advertising intervals; with the genuine band out of range for a while, every
            # scan does, and the real one is taken again when it is back.
            await genuine.go_away()
            await genuine.wait_until(lambda: source.stats()["bands"][KEY]["refused"] >= 1, 60)
            await genuine.come_back()
            await col.wait_for(lambda: log.events().count("connected") == 5)
        stats = source.stats()["bands"][KEY]
        assert impostor.counters.connections == 0  # never even connected to
        assert stats["refused"] >= 1
        assert {x["address"] for x in log.links if x["event"] == "connected"} == {A}
        assert all(meta[14] == 1 for meta in log.meta)  # the genuine band's metadata
        assert log.duplicates() == [] and log.bad_values == 0
        warnings = [r.getMessage() for r in caplog.records if IMPOSTOR in r.getMessage()]
        assert warnings == [f"band {KEY}: ignoring {IMPOSTOR} advertising as '{KEY}': it is "
                            f"not the band paired with this gateway ({A})"]


async def test_only_an_impostor_in_range_gets_nothing() -> None:
    async with BumbleWorld([BandConfig(A)]) as world:
        genuine = world.bands[0]
        await genuine.go_away()
        impostor = await world.add_band(BandConfig(IMPOSTOR, name=KEY))
        source = BleSource([KEY], backend=world.backend, **FAST)
        async with collecting(source) as col:
            await impostor.wait_until(
                lambda: source.stats()["bands"][KEY]["scans_not_found"] >= 2, 30)
        assert impostor.counters.connections == 0
        assert source.stats()["bands"][KEY]["refused"] >= 2
        assert set(col[KEY].events()) == {"reconnecting"}  # never "connected"
        assert col[KEY].frames == [] and col[KEY].meta == []
        assert "only devices that are not the bonded band" in \
            source.links[0]._last_reason


async def test_a_band_that_lost_its_bond_is_reported_with_the_fix(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, "twitchwatch.gateway.sources.ble_link")
    async with BumbleWorld([BandConfig(A)]) as world:
        band = world.bands[0]
        await band.clear_bonds()  # the owner held BOOT for 10 s (or: an impostor at A)
        source = BleSource([KEY], backend=world.backend, **FAST)
        async with collecting(source) as col:
            await band.wait_until(lambda: source.stats()["bands"][KEY]["key_refused"] >= 2,
                                  30)
        assert col[KEY].frames == [] and band.counters.notifications == 0
        events = col[KEY].events()
        assert events.count("bond_refused") == 1  # once per episode ...
        assert "connected" not in events  # ... and never a session
        errors = [r.getMessage() for r in caplog.records]
        assert len(errors) == 1
        assert "did not accept this gateway's key" in errors[0]
        assert f"twitchwatch pair {KEY} --replace" in errors[0]
        # And the fix works: the band's window is open (bonds cleared), pair again.
        record = await pair_band(BandSelector(name=KEY), BondRegistry(), replace=True,
                                 backend=world.backend)
        assert record.authenticated


async def test_bumble_marks_just_works_links_authenticated_so_the_key_flag_decides() -> None:
    # What the bumble tests can and cannot prove (docs/security.md): after a Just Works
    # pairing bumble reports connection.authenticated, but the LTK's own flag is False.
    # The band and the gateway therefore both look at the key, never at that flag.
    async with BumbleWorld([BandConfig(A, require_mitm=False)], paired=False,
                           agent=None) as world:
        band = world.bands[0]
        client = await _plain_client(world)
        await client.pair()
        conn = client._backend._conn  # type: ignore[attr-defined]
        assert conn.is_encrypted and conn.authenticated  # bumble's flag: proves nothing
        sec = await client._backend.link_security()  # type: ignore[attr-defined]
        assert sec["bonded"] and sec["authenticated"] is False
        (_, keys), = await band.keystore.get_all()
        assert keys.ltk is not None and not keys.ltk.authenticated
        # A band configured for Just Works serves such a link (encrypted, not MITM-safe).
        assert bytes(await client.read_gatt_char(META_UUID)) == band.meta
        await client.disconnect()


async def test_pair_refuses_when_the_stack_already_holds_a_bond() -> None:
    async with BumbleWorld([BandConfig(A)]) as world:
        with pytest.raises(PairingError, match="already holds a bond"):
            await pair_band(BandSelector(name=KEY), BondRegistry(), backend=world.backend)
        # the existing bond checked and recorded again
        record = await pair_band(BandSelector(name=KEY), BondRegistry(),
                                 backend=world.backend, trust_existing=True)
        assert record.how == "trust-existing" and record.authenticated
        with pytest.raises(BleakError):
            # an unpaired central cannot write the control point
            world.bonded.clear()
            await world.keystore.delete(A)
            client = await _plain_client(world)
            await client.write_gatt_char(CONTROL_UUID, b"\x02", response=True)
