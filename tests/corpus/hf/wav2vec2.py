# ruff: noqa
# fmt: off
# SPDX-License-Identifier: Apache-2.0
# Licence: Apache 2.0, https://github.com/huggingface/transformers/blob/main/LICENSE
# Source: huggingface/transformers examples/pytorch/audio-classification/run_audio_classification.py
# (Trainer's step `outputs = model(**inputs); loss = outputs.loss`), model
# Wav2Vec2ForSequenceClassification from the transformers release pinned in constraints.txt. Its
# encoder decides LayerDrop per step in Python (`if not skip_the_layer`, on torch.rand): a graph break.
# Trimmed: a tiny Wav2Vec2Config (no hub); data: random 400-sample waveforms, zero-mean and
# unit-variance as Wav2Vec2FeatureExtractor(do_normalize=True) leaves them, and class labels.
import torch
import transformers

import stoker
from tests.corpus.common import Case

SAMPLES, BSZ, LABELS = 400, 4, 3


def clips():
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(SAMPLES, generator=g), i % LABELS) for i in range(BSZ * 3)]


def features(clip):
    wave, label = clip
    wave = (wave - wave.mean()) / torch.sqrt(wave.var() + 1e-7)  # the feature extractor's do_normalize
    return {"input_values": wave, "labels": label}


def loss_fn(outputs):
    return outputs.loss


def plain_step(model, batch, state):
    return model(**batch).loss


def case():
    config = transformers.Wav2Vec2Config(vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                         intermediate_size=32, conv_dim=(8, 8), conv_stride=(5, 2), conv_kernel=(10, 3),
                                         num_conv_pos_embeddings=4, num_conv_pos_embedding_groups=2,
                                         num_labels=LABELS, mask_time_prob=0.0, classifier_proj_size=8)
    model = transformers.Wav2Vec2ForSequenceClassification(config).train()
    pipe = stoker.from_items(clips()).map(features).batch(BSZ, drop_last=True)
    return Case(pipe, model, loss_fn, plain_step, kwargs={"target": (), "inputs": ("input_values", "labels")}, lr=0.1)
