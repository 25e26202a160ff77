"""The second corpus (tests/corpus/hf): Hugging Face models, a timm layer, a spectrogram front end.

Same harness as :mod:`tests.integration.graph.test_corpus`: each program is partitioned,
trained 3 steps through ``stoker.Loader(plan, workers=2)`` and compared with the original step
(loss, gradients, parameters and buffers, ``atol=1e-6, rtol=0``). Programs with a graph break
(``method="partial"``) must still move something or say why not.
"""

from __future__ import annotations

import pytest

from tests.integration.graph.test_corpus import _train

pytest.importorskip("transformers")  # the dev extra installs it

# program -> how it must be captured
PROGRAMS = {
    "hf.gpt2": "values",
    "hf.bert": "values",
    "hf.t5": "values",
    "hf.bart": "values",
    "hf.whisper": "values",
    "hf.wav2vec2": "partial",
    "hf.clip": "values",
    "hf.vit": "values",
    "timm_bnact": "values",
    "logmel_cnn": "values",
}


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_traces_and_trains_like_the_original(name: str) -> None:
    plan = _train(name)
    assert plan.failure is None, plan.failure
    assert plan.method == PROGRAMS[name], plan.breaks
    if plan.method == "partial":
        assert plan.breaks and "runs eagerly in the trainer" in plan.explain()
