"""Machine health for the System page: CPU, temperature, memory, engine RSS, power source."""

from __future__ import annotations

from datetime import timedelta

import psutil
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from data.store.db import transaction, utcnow
from data.store.market_clock import market_now
from data.store.models import SystemMetric

_SENSOR_PREFERENCE = ("coretemp", "k10temp", "zenpower", "cpu_thermal", "acpitz")


def cpu_temperature() -> float | None:
    """Hottest CPU reading in °C, or None where psutil sees no sensor (VMs, containers)."""
    read = getattr(psutil, "sensors_temperatures", None)
    sensors = read() if read else {}
    if not sensors:
        return None
    for name in (*_SENSOR_PREFERENCE, *sensors):
        readings = [r.current for r in sensors.get(name, []) if r.current is not None]
        if readings:
            return float(max(readings))
    return None


def process_rss_mb(pid: int | None) -> float | None:
    if not pid:
        return None
    try:
        return psutil.Process(pid).memory_info().rss / 1024 / 1024
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def sample(worker_pid: int | None) -> SystemMetric:
    read_battery = getattr(psutil, "sensors_battery", None)
    battery = read_battery() if read_battery else None
    return SystemMetric(
        ts=utcnow(),
        cpu_percent=psutil.cpu_percent(interval=None),
        cpu_temp_c=cpu_temperature(),
        memory_percent=psutil.virtual_memory().percent,
        engine_rss_mb=process_rss_mb(worker_pid),
        on_ac=None if battery is None else bool(battery.power_plugged),
        battery_percent=None if battery is None else float(battery.percent),
    )


def record_metrics(
    factory: sessionmaker[Session], worker_pid: int | None, retention_hours: float
) -> SystemMetric:
    metric = sample(worker_pid)
    with transaction(factory) as session:
        metric.market_ts = market_now(session, metric.ts)
        session.add(metric)
        session.execute(
            delete(SystemMetric).where(
                SystemMetric.ts < utcnow() - timedelta(hours=retention_hours)
            )
        )
    return metric
