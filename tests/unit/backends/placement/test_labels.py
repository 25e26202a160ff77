from __future__ import annotations

import pytest

from stoker.backends.placement.labels import matches, with_avoided

LABELS = {"zone": "us-1", "pool": "data"}


@pytest.mark.parametrize(
    ("selector", "want"),
    [
        (None, True),
        ({"zone": "us-1"}, True),
        ({"zone": "us-2"}, False),
        ({"zone": "!us-2"}, True),
        ({"zone": "!us-1"}, False),
        ({"gpu": "!yes"}, True),  # absent counts as "not equal"
        ({"gpu": "yes"}, False),
        ({"zone": "in(us-2, us-1)"}, True),
        ({"zone": "!in(us-2, us-1)"}, False),
        ({"zone": "us-1", "pool": "train"}, False),
    ],
)
def test_matches_follows_ray_selector_syntax(selector, want):
    assert matches(LABELS, selector) is want


def test_with_avoided_adds_a_node_id_term():
    assert with_avoided(None, ()) is None
    assert with_avoided({"pool": "data"}, ("n1", "n2")) == {"pool": "data", "ray.io/node-id": "!in(n1, n2)"}
    # A selector that already names node ids is the user's choice; keep it.
    assert with_avoided({"ray.io/node-id": "n3"}, ("n1",)) == {"ray.io/node-id": "n3"}
