"""The six pipelines of the suite by name, one module each."""

from __future__ import annotations

from collections.abc import Callable

from stoker.bench.pipelines import augment, image, sensor, speech, tabular, text
from stoker.bench.pipelines._base import Case

_BUILDERS: dict[str, Callable[[], Case]] = {
    image.NAME: image.build,
    augment.NAME: augment.build,
    text.NAME: text.build,
    speech.NAME: speech.build,
    tabular.NAME: tabular.build,
    sensor.NAME: sensor.build,
}


def case_names() -> list[str]:
    return list(_BUILDERS)


def build_case(name: str) -> Case:
    """Builds the pipeline ``name`` (making its data on first use).

    Raises:
        ValueError: naming the valid pipelines.
    """
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown pipeline {name!r}; choose from {case_names()}") from None
    return builder()
