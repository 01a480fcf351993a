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

WORKDIR /data
VOLUME ["/data"]
# Root inside the container: BlueZ's D-Bus policy lets root (or the bluetooth group)
# talk to it; the container gets no extra capabilities and no host network.
ENTRYPOINT ["twitchwatch"]
CMD ["run", "--out", "/data"]
