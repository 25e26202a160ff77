# ruff: noqa
# fmt: off
# SPDX-License-Identifier: Apache-2.0
# Licence: Apache 2.0, https://github.com/huggingface/transformers/blob/main/LICENSE
# Source: huggingface/transformers examples/pytorch/contrastive-image-text/run_clip.py (its
# collate_fn adds `"return_loss": True` to every batch; Trainer's step `model(**inputs).loss`),
# model CLIPModel from the transformers release pinned in constraints.txt.
# Trimmed: a tiny CLIPConfig (no hub); data: random uint8 16x16 images through run_clip.py's
# Transform (resize skipped at this size, ConvertImageDtype, Normalize with CLIP's mean/std) and
# random captions as token ids.
import torch
import transformers

import stoker
from tests.corpus.common import Case, tokens

VOCAB, SIZE, LEN, BSZ = 64, 16, 6, 4
MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(3, 1, 1)


def pairs():
    g = torch.Generator().manual_seed(0)
    text = tokens(LEN * BSZ * 3, VOCAB)
    return [(torch.randint(0, 256, (3, SIZE, SIZE), dtype=torch.uint8, generator=g), text[i * LEN:(i + 1) * LEN])
            for i in range(BSZ * 3)]


def transform(pair):
    image, ids = pair
    return {"pixel_values": (image.float() / 255 - MEAN) / STD, "input_ids": ids}


def collate_fn(batch):
    return {**batch, "return_loss": True}  # run_clip.py's collate_fn


def loss_fn(outputs):
    return outputs.loss


def plain_step(model, batch, state):
    return model(**batch).loss


def case():
    config = transformers.CLIPConfig(
        text_config=dict(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=16),
        vision_config=dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                           image_size=SIZE, patch_size=8),
        projection_dim=8)
    model = transformers.CLIPModel(config).train()
    pipe = stoker.from_items(pairs()).map(transform).batch(BSZ, drop_last=True).map(collate_fn)
    return Case(pipe, model, loss_fn, plain_step, kwargs={"target": ()}, lr=0.1)
