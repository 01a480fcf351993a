#!/bin/sh
# Mosquitto's start in the twitchwatch stack: build the password file from the compose
# secrets, then run the broker. The passwords are written to a 0600 plaintext file and
# hashed in place by `mosquitto_passwd -U`: none of them is ever on a command line.
# A user whose secret file is missing or empty gets no entry (cannot log in).
# The paths can be changed for a test run outside Docker (tests/test_compose_mqtt.py).
set -eu
SECRETS_DIR=${SECRETS_DIR:-/run/secrets}
PASSWD=${PASSWD_FILE:-/mosquitto/data/passwd}
CONF=${MOSQUITTO_CONF:-/mosquitto/config/mosquitto.conf}
umask 077
tmp="$PASSWD.new"
rm -f "$tmp"
: > "$tmp"
for entry in twitchwatch-gateway:mqtt_gateway_password \
             twitchwatch-reader:mqtt_reader_password \
             homeassistant:mqtt_homeassistant_password; do
    user=${entry%%:*}
    file=$SECRETS_DIR/${entry#*:}
    [ -s "$file" ] || continue
    printf '%s:%s\n' "$user" "$(head -n 1 "$file")" >> "$tmp"
done
if [ ! -s "$tmp" ]; then
    echo "mosquitto-init: no MQTT password in $SECRETS_DIR (scripts/compose-secrets)" >&2
    exit 1
fi
mosquitto_passwd -U "$tmp"
# The broker reads the file after it has dropped root for the mosquitto user.
chown mosquitto "$tmp" 2>/dev/null || true
mv -f "$tmp" "$PASSWD"
exec mosquitto -c "$CONF"
