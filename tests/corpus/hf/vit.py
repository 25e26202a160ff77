# ruff: noqa
# fmt: off
# SPDX-License-Identifier: Apache-2.0
# Licence: Apache 2.0, https://github.com/huggingface/transformers/blob/main/LICENSE
# Source: huggingface/transformers examples/pytorch/image-classification/run_image_classification_no_trainer.py
# (`outputs = model(**batch); loss = outputs.loss`), model ViTForImageClassification from the
# transformers release pinned in constraints.txt.
# Trimmed: a tiny ViTConfig (no hub); data: random uint8 images; the pipeline yields uint8 and
# the model's first step is the cast and normalisation (what moves to the data side).
import torch
from torch import nn
import transformers

import stoker
from tests.corpus.common import Case, images

SIZE, BSZ, LABELS = 16, 4, 3


class Normalised(nn.Module):
    """ViTImageProcessor's rescale + normalise (mean = std = 0.5) in front of the model."""

    def __init__(self, vit):
        super().__init__()
        self.vit = vit

    def forward(self, pixel_values, labels):
        x = pixel_values.float() / 255
        return self.vit(pixel_values=(x - 0.5) / 0.5, labels=labels)


def loss_fn(outputs):
    return outputs.loss


def plain_step(model, batch, state):
    pixel_values, labels = batch
    return model(pixel_values, labels).loss


def case():
    config = transformers.ViTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                                    image_size=SIZE, patch_size=8, num_labels=LABELS)
    model = Normalised(transformers.ViTForImageClassification(config)).train()
    pipe = stoker.from_items(images(BSZ * 3, 3, SIZE, LABELS)).batch(BSZ, drop_last=True)
    return Case(pipe, model, loss_fn, plain_step, kwargs={"inputs": (0, 1), "target": ()}, lr=0.1)
