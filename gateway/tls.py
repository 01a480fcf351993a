"""TLS client contexts for InfluxDB (https) and MQTT: one place, the same rules.

The server's certificate is always verified (against ``ca_file``, else the system's CAs);
``insecure`` turns off only the host name check (a broker reached by an address its
certificate does not name). A client certificate and key are presented when configured
(Mosquitto with ``require_certificate``; a TLS proxy in front of InfluxDB).
"""

from __future__ import annotations

import ssl

from .errors import ConfigError

__all__ = ["client_context"]


def client_context(section: str, ca_file: str | None, cert_file: str | None,
                   key_file: str | None, insecure: bool) -> ssl.SSLContext:
    try:
        ctx = ssl.create_default_context(cafile=ca_file)  # TLS 1.2+, CERT_REQUIRED
    except (ssl.SSLError, OSError) as e:
        raise ConfigError(f"[{section}] ca_file {ca_file}: not a PEM CA certificate "
                          f"({e.strerror or e})") from None
    if cert_file:
        try:
            ctx.load_cert_chain(cert_file, key_file)
        except (ssl.SSLError, OSError) as e:
            raise ConfigError(f"[{section}] cert_file {cert_file} / key_file {key_file}: "
                              f"not a PEM certificate with its key ({e.strerror or e})"
                              ) from None
    if insecure:
        ctx.check_hostname = False
    return ctx
