# ruff: noqa
# fmt: off
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2017, Pytorch contributors. All rights reserved.
# Licence: BSD 3-Clause, https://github.com/pytorch/examples/blob/main/LICENSE
# Source: pytorch/examples reinforcement_learning/actor_critic.py @ 02d5761dfd12e36d9df6a2054820831e3d558712
# Trimmed: gym, argparse and the episode loop dropped (no environment offline); the Policy as
# written; finish_episode()'s loss over a batch of recorded (state, action, normalised return)
# steps, the log-probability recomputed with Categorical as select_action() takes it.
import numpy as np
from collections import namedtuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Categorical


class Policy(nn.Module):
    """
    implements both actor and critic in one model
    """
    def __init__(self):
        super(Policy, self).__init__()
        self.affine1 = nn.Linear(4, 128)

        # actor's layer
        self.action_head = nn.Linear(128, 2)

        # critic's layer
        self.value_head = nn.Linear(128, 1)

        # action & reward buffer
        self.saved_actions = []
        self.rewards = []

    def forward(self, x):
        """
        forward of both actor and critic
        """
        x = F.relu(self.affine1(x))

        # actor: choses action to take from state s_t
        # by returning probability of each action
        action_prob = F.softmax(self.action_head(x), dim=-1)

        # critic: evaluates being in the state s_t
        state_values = self.value_head(x)

        # return values for both actor and critic as a tupel of 2 values:
        # 1. a list with the probability of each action over the action space
        # 2. the value from state s_t
        return action_prob, state_values


# --- stoker corpus case ------------------------------------------------------------------------
import stoker
from tests.corpus.common import Case


def episode_steps(n=12):
    # (state, action, return) as finish_episode() sees them; CartPole states are 4 floats
    g = torch.Generator().manual_seed(3)
    states = torch.randn(n, 4, generator=g)
    actions = torch.randint(0, 2, (n,), generator=g)
    returns = torch.randn(n, generator=g)
    return [(states[i], actions[i], returns[i]) for i in range(n)]


def loss_fn(output, action, R):
    # several outputs (actor and critic) and several targets (the action taken, the return)
    probs, value = output
    m = Categorical(probs)
    log_prob = m.log_prob(action)
    value = value.squeeze(-1)
    advantage = R - value.detach()  # the original: R - value.item(), per step
    policy_loss = (-log_prob * advantage).sum()
    value_loss = F.smooth_l1_loss(value, R, reduction="sum")  # the original sums per-step smooth_l1_loss
    return policy_loss + value_loss


def plain_step(model, batch, state):
    states, actions, returns = batch
    return loss_fn(model(states), actions, returns)


def case():
    pipe = stoker.from_items(episode_steps()).batch(4, drop_last=True)
    return Case(pipe, Policy(), loss_fn, plain_step, kwargs={"inputs": 0, "target": (1, 2)})
