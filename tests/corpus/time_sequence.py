# ruff: noqa
# fmt: off
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2017, Pytorch contributors. All rights reserved.
# Licence: BSD 3-Clause, https://github.com/pytorch/examples/blob/main/LICENSE
# Source: pytorch/examples time_sequence_prediction/train.py @ 04b1f3cec923d40972d998a7ed3c00c1b37e765e
# Trimmed: argparse, plotting and the LBFGS closure dropped (the comparison steps with SGD); the
# model and criterion as written; data: generate_sine_wave.py's sine waves, 12 steps long.
import torch
import torch.nn as nn
import torch.optim as optim
import numpy as np

class Sequence(nn.Module):
    def __init__(self):
        super(Sequence, self).__init__()
        self.lstm1 = nn.LSTMCell(1, 51)
        self.lstm2 = nn.LSTMCell(51, 51)
        self.linear = nn.Linear(51, 1)
        self.dummy_param = nn.Parameter(torch.empty(0))

    def forward(self, input, future = 0):
        outputs = []
        device = self.dummy_param.device
        h_t = torch.zeros(input.size(0), 51, dtype=torch.double).to(device)
        c_t = torch.zeros(input.size(0), 51, dtype=torch.double).to(device)
        h_t2 = torch.zeros(input.size(0), 51, dtype=torch.double).to(device)
        c_t2 = torch.zeros(input.size(0), 51, dtype=torch.double).to(device)

        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for i in range(future):# if we should predict the future
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        outputs = torch.cat(outputs, dim=1)
        return outputs


# --- stoker corpus case ------------------------------------------------------------------------
import stoker
from tests.corpus.common import Case

criterion = nn.MSELoss()


def waves(n=12, length=13):
    # generate_sine_wave.py: x = arange(L) + randint(-4T, 4T); data = sin(x / T)
    g = torch.Generator().manual_seed(2)
    shift = torch.randint(-80, 80, (n, 1), generator=g)
    data = torch.sin((torch.arange(length) + shift).double() / 20.0)
    return [(row[:-1], row[1:]) for row in data]  # input = data[:, :-1], target = data[:, 1:]


def loss_fn(out, target):
    return criterion(out, target)


def plain_step(model, batch, state):
    input, target = batch
    out = model(input)
    return criterion(out, target)


def case():
    pipe = stoker.from_items(waves()).batch(4, drop_last=True)
    return Case(pipe, Sequence().double(), loss_fn, plain_step, lr=0.5)
