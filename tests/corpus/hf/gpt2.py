# ruff: noqa
# fmt: off
# SPDX-License-Identifier: Apache-2.0
# Licence: Apache 2.0, https://github.com/huggingface/transformers/blob/main/LICENSE
# Source: huggingface/transformers examples/pytorch/language-modeling/run_clm.py (the training
# step `outputs = model(**batch); loss = outputs.loss`), model GPT2LMHeadModel from the
# transformers release pinned in constraints.txt.
# Trimmed: a tiny GPT2Config instead of from_pretrained (no hub); data: a random token stream cut
# into blocks as run_clm.py's group_texts() does, labels = input_ids (the model shifts them).
import torch
import transformers

import stoker
from tests.corpus.common import Case, tokens

VOCAB, BLOCK, BSZ = 64, 8, 4


def blocks():
    data = tokens(BLOCK * BSZ * 3, VOCAB)
    return [{"input_ids": data[i:i + BLOCK], "attention_mask": torch.ones(BLOCK, dtype=torch.int64),
             "labels": data[i:i + BLOCK]} for i in range(0, BLOCK * BSZ * 3, BLOCK)]


def loss_fn(outputs):
    return outputs.loss


def plain_step(model, batch, state):
    outputs = model(**batch)
    return outputs.loss


def case():
    config = transformers.GPT2Config(vocab_size=VOCAB, n_positions=16, n_embd=16, n_layer=2, n_head=2,
                                     bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel(config).train()
    pipe = stoker.from_items(blocks()).batch(BSZ, drop_last=True)
    # every key is a keyword input of forward(); the loss is computed inside the model
    return Case(pipe, model, loss_fn, plain_step, kwargs={"target": (), "inputs": ("input_ids", "attention_mask", "labels")}, lr=0.1)
