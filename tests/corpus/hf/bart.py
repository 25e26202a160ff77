# ruff: noqa
# fmt: off
# SPDX-License-Identifier: Apache-2.0
# Licence: Apache 2.0, https://github.com/huggingface/transformers/blob/main/LICENSE
# Source: huggingface/transformers examples/pytorch/summarization/run_summarization_no_trainer.py
# (`outputs = model(**batch); loss = outputs.loss`), model BartForConditionalGeneration (its
# shift_tokens_right assigns into a tensor and masked_fill_s it) from the transformers release
# pinned in constraints.txt.
# Trimmed: a tiny BartConfig (no hub); data: random documents and summaries, padded summaries
# marked -100 as DataCollatorForSeq2Seq does.
import torch
import transformers

import stoker
from tests.corpus.common import Case, tokens

VOCAB, LEN, BSZ = 64, 8, 4


def pairs():
    data = tokens(2 * LEN * BSZ * 3, VOCAB)
    out = []
    for i in range(BSZ * 3):
        labels = data[(2 * i + 1) * LEN:(2 * i + 2) * LEN].clone()
        labels[LEN - i % 3:] = -100  # label padding, ignored by the loss
        out.append({"input_ids": data[2 * i * LEN:(2 * i + 1) * LEN], "labels": labels})
    return out


def loss_fn(outputs):
    return outputs.loss


def plain_step(model, batch, state):
    return model(**batch).loss


def case():
    config = transformers.BartConfig(vocab_size=VOCAB, d_model=16, encoder_layers=1, decoder_layers=1,
                                     encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                                     decoder_ffn_dim=32, max_position_embeddings=32)
    model = transformers.BartForConditionalGeneration(config).train()
    pipe = stoker.from_items(pairs()).batch(BSZ, drop_last=True)
    return Case(pipe, model, loss_fn, plain_step, kwargs={"target": (), "inputs": ("input_ids", "labels")}, lr=0.1)
