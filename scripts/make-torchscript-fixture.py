#!/usr/bin/python3
"""Writes the tiny TorchScript test fixture for the MX engine (mx-engine TorchScriptTest).

Usage (Debian: apt-get install -y --no-install-recommends python3-torch):
  /usr/bin/python3 scripts/make-torchscript-fixture.py mx-engine/src/test/resources/torchscript/mlp.pt
"""
import sys

import torch


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(64, 96)
        self.fc2 = torch.nn.Linear(96, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


torch.manual_seed(0)
model = torch.jit.script(Mlp().eval())
model.save(sys.argv[1])
