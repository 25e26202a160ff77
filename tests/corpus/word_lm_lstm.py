# ruff: noqa
# fmt: off
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2017, Pytorch contributors. All rights reserved.
# Licence: BSD 3-Clause, https://github.com/pytorch/examples/blob/main/LICENSE
# Source: pytorch/examples word_language_model/model.py @ 001d493285083b54cacbc1334cb26338bdff2455
#         (RNNModel as written),
#         word_language_model/main.py @ cd01f93000a6679e768700dd29e417a1e5fd10e5 (get_batch, repackage_hidden;
#         criterion = nn.NLLLoss(), as later main.py versions pair it with this model's log_softmax output)
# Trimmed: PositionalEncoding/TransformerModel are in word_lm_transformer.py; tiny sizes; data: a
# random token stream cut into bptt-long (data, target) pairs, batched and made sequence-first as
# get_batch() does.
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

class RNNModel(nn.Module):
    """Container module with an encoder, a recurrent module, and a decoder."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
        super(RNNModel, self).__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type in ['LSTM', 'GRU']:
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        else:
            try:
                nonlinearity = {'RNN_TANH': 'tanh', 'RNN_RELU': 'relu'}[rnn_type]
            except KeyError as e:
                raise ValueError( """An invalid option for `--model` was supplied,
                                 options are ['LSTM', 'GRU', 'RNN_TANH' or 'RNN_RELU']""") from e
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)

        # Optionally tie weights as in:
        # "Using the Output Embedding to Improve Language Models" (Press & Wolf 2016)
        # https://arxiv.org/abs/1608.05859
        # and
        # "Tying Word Vectors and Word Classifiers: A Loss Framework for Language Modeling" (Inan et al. 2016)
        # https://arxiv.org/abs/1611.01462
        if tie_weights:
            if nhid != ninp:
                raise ValueError('When using the tied flag, nhid must be equal to emsize')
            self.decoder.weight = self.encoder.weight

        self.init_weights()

        self.rnn_type = rnn_type
        self.nhid = nhid
        self.nlayers = nlayers

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == 'LSTM':
            return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                    weight.new_zeros(self.nlayers, bsz, self.nhid))
        else:
            return weight.new_zeros(self.nlayers, bsz, self.nhid)


# from main.py
def repackage_hidden(h):
    """Wraps hidden states in new Tensors, to detach them from their history."""

    if isinstance(h, torch.Tensor):
        return h.detach()
    else:
        return tuple(repackage_hidden(v) for v in h)


# --- stoker corpus case ------------------------------------------------------------------------
import stoker
from tests.corpus.common import Case, tokens

NTOKENS, BPTT, BSZ = 50, 6, 4
criterion = nn.NLLLoss()


def sequence_first(batch):
    # get_batch(): data is [bptt, bsz], target is flattened
    data, target = batch
    return data.t().contiguous(), target.t().reshape(-1)


def chunks():
    stream = tokens(BPTT * BSZ * 3 + 1, NTOKENS)
    return [(stream[i:i + BPTT], stream[i + 1:i + 1 + BPTT]) for i in range(0, BPTT * BSZ * 3, BPTT)]


def loss_fn(output, targets):
    return criterion(output, targets)


def plain_step(model, batch, state):
    data, targets = batch
    output, state["hidden"] = model(data, state["hidden"])
    return criterion(output, targets)


def case():
    pipe = stoker.from_items(chunks()).batch(BSZ, drop_last=True).map(sequence_first)
    model = RNNModel("LSTM", NTOKENS, 16, 16, 2, dropout=0.2)

    def before_step(state):
        return {"hidden": repackage_hidden(state["hidden"])}

    return Case(pipe, model, loss_fn, plain_step, carry_init=lambda m: {"hidden": m.init_hidden(BSZ)},
                before_step=before_step, lr=0.5)
