# The twitchwatch gateway. BLE goes through the host's BlueZ over D-Bus (/run/dbus is
# mounted read-only by docker-compose.yml), so the image needs no BlueZ of its own.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
# The `twitchwatch` package: its namespace folder (symbolic links) and the folders they
# point to. The wheel follows the links (pyproject.toml), so only twitchwatch/ is installed.
COPY twitchwatch ./twitchwatch
COPY gateway ./gateway
COPY dsp ./dsp
COPY firmware ./firmware
COPY dashboards ./dashboards
RUN pip install . && rm -rf /src

# Not root: BlueZ's D-Bus policy on Debian bookworm lets any local UID call it (and the
# bluetooth group), so a plain user is enough for BLE. /data (recordings, events, spool:
# health data) belongs to that user alone; a new named volume copies this ownership.
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin twitchwatch \
    && mkdir -p /data && chown twitchwatch:twitchwatch /data && chmod 700 /data
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
ENTRYPOINT ["twitchwatch"]
CMD ["run", "--out", "/data"]
