"""Who joins the controller: the Loader's ``cluster=`` keyword, else ``$STOKER_CLUSTER``; only Ray-backend
Loaders can (the controller hands out Ray CPUs). The joining itself runs on Ray: tests/integration/cluster."""

from __future__ import annotations

import pytest

from stoker.cluster.membership import ENV_FLAG, join, wanted


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("yes", True), ("0", False), ("", False)])
def test_the_environment_decides_when_the_keyword_is_not_given(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    monkeypatch.setenv(ENV_FLAG, value)
    assert wanted(None) is expected
    assert wanted(True) and wanted("job-a") and not wanted(False)  # the keyword wins


def test_a_loader_that_does_not_join_gets_no_membership(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_FLAG, raising=False)
    assert join(object(), None, "local") is None
    assert join(object(), False, "ray") is None


def test_only_the_ray_backend_can_join_and_the_error_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"backend='ray'.*not 'local'"):
        join(object(), True, "local")
    monkeypatch.setenv(ENV_FLAG, "1")  # the environment turns it on for Ray Loaders only
    assert join(object(), None, "local") is None
