"""BLE test harness: a bleak backend over Google's bumble and an emulated band.

Nothing here fakes bleak or bumble. The band is a bumble peripheral ``Device`` on a
bumble ``LocalLink``; the gateway talks to it through unmodified bleak public API
(``BleakScanner``, ``BleakClient``, ``bleak_retry_connector.establish_connection``) with
``backend=`` naming the classes in ``backend.py``. See docs/ble.md.
"""
