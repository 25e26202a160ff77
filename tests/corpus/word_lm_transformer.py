# ruff: noqa
# fmt: off
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2017, Pytorch contributors. All rights reserved.
# Licence: BSD 3-Clause, https://github.com/pytorch/examples/blob/main/LICENSE
# Source: pytorch/examples word_language_model/model.py @ 001d493285083b54cacbc1334cb26338bdff2455
#         (PositionalEncoding, TransformerModel as written),
#         word_language_model/main.py @ cd01f93000a6679e768700dd29e417a1e5fd10e5 (get_batch, repackage_hidden;
#         criterion = nn.NLLLoss(), as later main.py versions pair it with this model's log_softmax output)
# Trimmed: RNNModel is in word_lm_lstm.py; tiny sizes; data: a random token stream cut into
# bptt-long (data, target) pairs, batched and made sequence-first as get_batch() does.
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

# Temporarily leave PositionalEncoding module here. Will be moved somewhere else.
class PositionalEncoding(nn.Module):
    r"""Inject some information about the relative or absolute position of the tokens in the sequence.
        The positional encodings have the same dimension as the embeddings, so that the two can be summed.
        Here, we use sine and cosine functions of different frequencies.
    """

    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super(PositionalEncoding, self).__init__()
        self.dropout = nn.Dropout(p=dropout)

        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        pe = pe.unsqueeze(0).transpose(0, 1)
        self.register_buffer('pe', pe)

    def forward(self, x):
        x = x + self.pe[:x.size(0), :]
        return self.dropout(x)

class TransformerModel(nn.Transformer):
    """Container module with an encoder, a recurrent or transformer module, and a decoder."""

    def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
        super(TransformerModel, self).__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid, num_encoder_layers=nlayers)
        self.model_type = 'Transformer'
        self.src_mask = None
        self.pos_encoder = PositionalEncoding(ninp, dropout)

        self.input_emb = nn.Embedding(ntoken, ninp)
        self.ninp = ninp
        self.decoder = nn.Linear(ninp, ntoken)

        self.init_weights()

    def _generate_square_subsequent_mask(self, sz):
        mask = (torch.triu(torch.ones(sz, sz)) == 1).transpose(0, 1)
        mask = mask.float().masked_fill(mask == 0, float('-inf')).masked_fill(mask == 1, float(0.0))
        return mask

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.input_emb.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, src, has_mask=True):
        if has_mask:
            device = src.device
            if self.src_mask is None or self.src_mask.size(0) != len(src):
                mask = self._generate_square_subsequent_mask(len(src)).to(device)
                self.src_mask = mask
        else:
            self.src_mask = None

        src = self.input_emb(src) * math.sqrt(self.ninp)
        src = self.pos_encoder(src)
        output = self.encoder(src, mask=self.src_mask)
        output = self.decoder(output)
        return F.log_softmax(output, dim=-1)


# --- stoker corpus case ------------------------------------------------------------------------
import stoker
from tests.corpus.common import Case
from tests.corpus.word_lm_lstm import BPTT, BSZ, NTOKENS, chunks, sequence_first

criterion = nn.NLLLoss()


def loss_fn(output, targets):
    # main.py: output = output.view(-1, ntokens); loss = criterion(output, targets)
    output = output.view(-1, NTOKENS)
    return criterion(output, targets)


def plain_step(model, batch, state):
    data, targets = batch
    output = model(data)
    return loss_fn(output, targets)


def case():
    pipe = stoker.from_items(chunks()).batch(BSZ, drop_last=True).map(sequence_first)
    model = TransformerModel(NTOKENS, 16, 2, 32, 2, dropout=0.2)
    return Case(pipe, model, loss_fn, plain_step, lr=0.1)
