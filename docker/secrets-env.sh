#!/bin/sh
# For images that read passwords only from environment variables (influxdb:1.8, Grafana's
# datasource provisioning): each NAME_FILE=/run/secrets/... becomes NAME=<the file's first
# line>, then the image's own entrypoint runs. The secret files stay out of .env and of
# the compose file; the variables live only inside that container's processes.
set -eu
for pair in $(env | sed -n 's/^\([A-Z0-9_]*[A-Z0-9]\)_FILE=.*/\1/p'); do
    case "$pair" in *_) continue ;; esac  # NAME__FILE is Grafana's own convention
    eval "file=\${${pair}_FILE}"
    if [ -r "$file" ]; then
        export "$pair=$(head -n 1 "$file")"
        unset "${pair}_FILE"
    fi
done
exec "$@"
