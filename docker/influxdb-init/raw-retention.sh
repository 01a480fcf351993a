# Sourced by the influxdb image's init script at its first start (empty data volume), as
# the admin ($INFLUX_CMD): the raw samples' retention policy, which the gateway's
# write-only user may not create. The Live dashboard's raw panels query it: with raw
# samples off they then show "no data" instead of "retention policy not found".
# Raw samples on: raw_retention in docker/twitchwatch.toml must match this duration, or an
# admin alters it (docs/storage.md, `raw`).
$INFLUX_CMD "CREATE RETENTION POLICY \"twitchwatch_raw\" ON \"$INFLUXDB_DB\" DURATION 7d REPLICATION 1"
