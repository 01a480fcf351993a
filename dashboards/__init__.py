"""Grafana dashboards (json/), their provisioning and the builder (build.py)."""
