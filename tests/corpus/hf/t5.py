# ruff: noqa
# fmt: off
# SPDX-License-Identifier: Apache-2.0
# Licence: Apache 2.0, https://github.com/huggingface/transformers/blob/main/LICENSE
# Source: huggingface/transformers examples/pytorch/translation/run_translation_no_trainer.py
# (`outputs = model(**batch); loss = outputs.loss`), model T5ForConditionalGeneration (its
# _shift_right assigns into a tensor: `shifted_input_ids[..., 1:] = input_ids[..., :-1].clone()`)
# from the transformers release pinned in constraints.txt.
# Trimmed: a tiny T5Config (no hub); data: random source and target token ids.
import transformers

import stoker
from tests.corpus.common import Case, tokens

VOCAB, LEN, BSZ = 64, 8, 4


def pairs():
    data = tokens(2 * LEN * BSZ * 3, VOCAB)
    return [{"input_ids": data[2 * i * LEN:(2 * i + 1) * LEN], "labels": data[(2 * i + 1) * LEN:(2 * i + 2) * LEN]}
            for i in range(BSZ * 3)]


def loss_fn(outputs):
    return outputs.loss


def plain_step(model, batch, state):
    return model(**batch).loss


def case():
    config = transformers.T5Config(vocab_size=VOCAB, d_model=16, d_kv=8, d_ff=32, num_layers=2, num_heads=2,
                                   decoder_start_token_id=0, pad_token_id=0)
    model = transformers.T5ForConditionalGeneration(config).train()
    pipe = stoker.from_items(pairs()).batch(BSZ, drop_last=True)
    return Case(pipe, model, loss_fn, plain_step, kwargs={"target": (), "inputs": ("input_ids", "labels")}, lr=0.1)
