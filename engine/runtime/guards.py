"""Laptop guards: a hot CPU or a battery pauses new entries; exits always go on."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from config import Settings
from engine.runtime.metrics import cpu_temperature

log = logging.getLogger("volt.guards")


@dataclass(frozen=True)
class PowerSource:
    on_ac: bool | None  # None: no battery at all (a desktop, a VM)
    percent: float | None


def read_power() -> PowerSource:
    read = getattr(psutil, "sensors_battery", None)
    battery = read() if read else None
    if battery is None:
        return PowerSource(None, None)
    return PowerSource(bool(battery.power_plugged), float(battery.percent))


class LaptopGuard:
    """Says why new entries must wait, with events when that changes."""

    def __init__(
        self,
        settings: Settings,
        read_temperature: Callable[[], float | None] = cpu_temperature,
        read_power_source: Callable[[], PowerSource] = read_power,
    ) -> None:
        self.limits = settings.laptop
        self.read_temperature = read_temperature
        self.read_power_source = read_power_source
        self.too_hot = False
        self.on_battery = False

    def entry_blocks(self) -> list[str]:
        blocks = []
        temperature = self.read_temperature()
        if temperature is not None:
            self._watch_temperature(temperature)
        if self.too_hot:
            blocks.append(
                f"CPU {temperature:.0f} °C: cooling below "
                f"{self.limits.max_cpu_temp_c - self.limits.cool_margin_c:.0f} °C"
            )
        power = self.read_power_source()
        self._watch_power(power)
        if self.on_battery and self.limits.pause_on_battery:
            blocks.append(f"on battery ({power.percent:.0f}%)")
        return blocks

    def _watch_temperature(self, temperature: float) -> None:
        limit = self.limits.max_cpu_temp_c
        resume_at = limit - self.limits.cool_margin_c
        if not self.too_hot and temperature > limit:
            self.too_hot = True
            log.warning(
                "CPU at %.0f °C (limit %.0f °C): new entries paused until it cools to %.0f °C",
                temperature,
                limit,
                resume_at,
                extra={"kind": "laptop_guard"},
            )
        elif self.too_hot and temperature <= resume_at:
            self.too_hot = False
            log.info(
                "CPU cooled to %.0f °C: entries resume", temperature, extra={"kind": "laptop_guard"}
            )

    def _watch_power(self, power: PowerSource) -> None:
        on_battery = power.on_ac is False
        if on_battery and not self.on_battery:
            action = "new entries paused" if self.limits.pause_on_battery else "trading goes on"
            log.warning(
                "running on battery (%.0f%%): plug in for a long run; %s",
                power.percent or 0,
                action,
                extra={"kind": "laptop_guard"},
            )
        elif self.on_battery and not on_battery:
            log.info("back on AC power", extra={"kind": "laptop_guard"})
        self.on_battery = on_battery
