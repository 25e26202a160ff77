"""The table of streaming libraries that cannot be cut into virtual shards, and its error."""

import pytest

from stoker.data.streams.libraries import LIBRARY_RULES, check_shards
from stoker.errors import InputError


def test_mosaic_is_refused_beyond_one_shard_with_the_library_and_a_way_out() -> None:
    check_shards("mosaicml-streaming", "mosaicml-streaming's StreamingDataset", 1)
    with pytest.raises(
        InputError, match=r"mosaicml-streaming's StreamingDataset cannot be read as num_shards=2"
    ) as info:
        check_shards("mosaicml-streaming", "mosaicml-streaming's StreamingDataset", 2)
    assert "shared-memory barrier" in str(info.value) and "num_workers=0" in str(info.value)


@pytest.mark.parametrize("library", ["torch", "litdata", "webdataset"])
def test_libraries_that_shard_by_worker_info_alone_take_any_number(library: str) -> None:
    assert library not in LIBRARY_RULES
    check_shards(library, f"{library}'s data set", 64)
