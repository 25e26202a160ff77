"""The six pipelines of the suite by name, one module each."""

from __future__ import annotations

from collections.abc import Callable

from stoker.bench.pipelines import augment, image, sensor, speech, tabular, text
from stoker.bench.pipelines._base import Case
from stoker.registry import Registry

BUILDERS: Registry[Callable[[], Case]] = Registry(
    "pipeline",
    {
        image.NAME: image.build,
        augment.NAME: augment.build,
        text.NAME: text.build,
        speech.NAME: speech.build,
        tabular.NAME: tabular.build,
        sensor.NAME: sensor.build,
    },
)


def case_names() -> list[str]:
    """The pipelines, in the order the benchmark runs them."""
    return list(BUILDERS)


def build_case(name: str) -> Case:
    """Builds the pipeline ``name`` (making its data on first use).

    Raises:
        stoker.errors.InputError: naming the valid pipelines.
    """
    return BUILDERS.lookup(name)()
