"""Reference: the same BERT-style classifier trained in PyTorch on the CPU, for bench/run.ts.

Post-LN encoder (token + position embeddings, LayerNorm), standard multi-head attention, GELU FFN,
tanh pooler on [CLS], linear classifier; Adam; random token ids. Prints one JSON line.
Usage: python3 bench/torch_bert.py LAYERS HIDDEN HEADS FFN SEQ BATCH VOCAB STEPS THREADS [WARMUP]
WARMUP (default 3): untimed steps before the timed ones.
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

layers, hidden, heads, ffn, seq, batch, vocab, steps, threads = map(int, sys.argv[1:10])
warmup = int(sys.argv[10]) if len(sys.argv) > 10 else 3
torch.set_num_threads(threads)
torch.manual_seed(0)


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(hidden, hidden) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(hidden, eps=1e-6), nn.LayerNorm(hidden, eps=1e-6)
        self.l1, self.l2 = nn.Linear(hidden, ffn), nn.Linear(ffn, hidden)

    def forward(self, x):
        b, t, d = x.shape
        dh = d // heads
        split = lambda z: z.view(b, t, heads, dh).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = self.ln1(x + self.o(ctx))
        return self.ln2(x + self.l2(F.gelu(self.l1(x), approximate="tanh")))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, hidden), nn.Embedding(seq, hidden)
        self.ln = nn.LayerNorm(hidden, eps=1e-6)
        self.layers = nn.ModuleList(Layer() for _ in range(layers))
        self.pool, self.cls = nn.Linear(hidden, hidden), nn.Linear(hidden, 2)

    def forward(self, ids):
        x = self.ln(self.tok(ids) + self.pos.weight[: ids.shape[1]])
        for layer in self.layers:
            x = layer(x)
        return self.cls(torch.tanh(self.pool(x[:, 0])))


model = Model()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
ids = torch.randint(4, vocab, (batch, seq))
labels = torch.randint(0, 2, (batch,))


def step():
    opt.zero_grad()
    loss = F.cross_entropy(model(ids), labels)
    loss.backward()
    opt.step()
    return loss.item()


for _ in range(warmup):
    step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
dt = time.perf_counter() - t0
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "tokensPerSecond": batch * seq * steps / dt, "msPerStep": 1000 * dt / steps, "steps": steps, "warmup": warmup}))
