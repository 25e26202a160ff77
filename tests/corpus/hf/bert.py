# ruff: noqa
# fmt: off
# SPDX-License-Identifier: Apache-2.0
# Licence: Apache 2.0, https://github.com/huggingface/transformers/blob/main/LICENSE
# Source: huggingface/transformers examples/pytorch/text-classification/run_glue_no_trainer.py
# (`outputs = model(**batch); loss = outputs.loss`), model BertForSequenceClassification (its
# forward builds `loss_fct = CrossEntropyLoss()` itself) from the transformers release pinned in
# constraints.txt.
# Trimmed: a tiny BertConfig (no hub); data: random token ids, padded and collated into a
# transformers.BatchEncoding as DataCollatorWithPadding returns it.
import torch
import transformers

import stoker
from tests.corpus.common import Case, tokens

VOCAB, LEN, BSZ, LABELS = 64, 10, 4, 3


def sentences():
    data = tokens(LEN * BSZ * 3, VOCAB)
    out = []
    for i in range(BSZ * 3):
        n = 6 + i % 5  # sentences of different lengths, padded to LEN with an attention mask
        ids = torch.zeros(LEN, dtype=torch.int64)
        ids[:n] = data[i * LEN:i * LEN + n]
        out.append({"input_ids": ids, "attention_mask": (torch.arange(LEN) < n).long(), "labels": i % LABELS})
    return out


def collate(batch):
    return transformers.BatchEncoding(dict(batch))  # DataCollatorWithPadding's return type


def loss_fn(outputs):
    return outputs.loss


def plain_step(model, batch, state):
    outputs = model(**batch)
    return outputs.loss


def case():
    config = transformers.BertConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16, num_labels=LABELS)
    model = transformers.BertForSequenceClassification(config).train()
    pipe = stoker.from_items(sentences()).batch(BSZ, drop_last=True).map(collate)
    return Case(pipe, model, loss_fn, plain_step, kwargs={"target": (), "inputs": ("input_ids", "attention_mask", "labels")}, lr=0.1)
