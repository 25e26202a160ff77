# ruff: noqa
# fmt: off
# SPDX-License-Identifier: Apache-2.0
# Licence: Apache 2.0, https://github.com/huggingface/transformers/blob/main/LICENSE
# Source: huggingface/transformers examples/pytorch/speech-recognition/run_speech_recognition_seq2seq.py
# (Seq2SeqTrainer's step `outputs = model(**inputs); loss = outputs.loss`), model
# WhisperForConditionalGeneration (shift_tokens_right assigns into a tensor) from the transformers
# release pinned in constraints.txt.
# Trimmed: a tiny WhisperConfig (no hub); data: random log-mel features (8 bins x 16 frames) and
# transcripts as token ids.
import torch
import transformers

import stoker
from tests.corpus.common import Case, tokens

VOCAB, MELS, FRAMES, LEN, BSZ = 64, 8, 16, 6, 4


def utterances():
    g = torch.Generator().manual_seed(0)
    text = tokens(LEN * BSZ * 3, VOCAB)
    return [{"input_features": torch.randn(MELS, FRAMES, generator=g), "labels": text[i * LEN:(i + 1) * LEN]}
            for i in range(BSZ * 3)]


def loss_fn(outputs):
    return outputs.loss


def plain_step(model, batch, state):
    return model(**batch).loss


def case():
    config = transformers.WhisperConfig(vocab_size=VOCAB, num_mel_bins=MELS, d_model=16, encoder_layers=1,
                                        decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                                        encoder_ffn_dim=32, decoder_ffn_dim=32, max_source_positions=FRAMES // 2,
                                        max_target_positions=16, decoder_start_token_id=1, pad_token_id=0)
    model = transformers.WhisperForConditionalGeneration(config).train()
    pipe = stoker.from_items(utterances()).batch(BSZ, drop_last=True)
    return Case(pipe, model, loss_fn, plain_step, kwargs={"target": (), "inputs": ("input_features", "labels")}, lr=0.1)
