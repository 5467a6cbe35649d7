#!/usr/bin/python3
"""Golden fixtures for tapegrad's optim: optimizer trajectories, learning-rate sequences and
gradient clipping, computed with torch.optim / torch.nn.utils (PyTorch 1.13).

How to run (from anywhere; needs Debian's python3-torch, which lives in /usr/bin/python3):

    /usr/bin/python3 tests/golden_optim/make_optim_fixtures.py          # rewrites fixtures/*.txt
    /usr/bin/python3 tests/golden_optim/make_optim_fixtures.py --check  # exits 1 if they differ

The output is deterministic (fixed values, float64, one thread). tests/optim/test_golden.cpp
reads the files through the header-only loader tests/support/fixtures.h, so running
the tests does not need PyTorch.

File format (line based; one file per family: optimizers.txt, schedulers.txt, clip.txt):

    # comment                          (ignored, also blank lines)
    case <name>                        starts a case
    num <key> <number> ...             numbers (options, arguments), printed with %.17g
    text <key> <word>                  a word (an optimizer or scheduler name, a mode)
    tensor <key> <ndim> <dim> ...      a float64 tensor; its numel values follow on the next
    <v> <v> ...                          lines, at most 6 per line
    end                                closes the case

optimizers.txt. Case `problem`: tensors x [6, 3], y [6, 2], w [3, 2], b [2] (initial values);
the loss is mean((tanh(x @ w + b) - y)^2). Each other case trains (w, b) for 20 steps
(zero_grad, loss, backward, step) and holds:
    text optimizer <SGD|Adam|AdamW|RMSprop|Adagrad>
    num groups <1|2>                   1: one group [w, b]; 2: group 0 = [w], group 1 = [b]
    num group<i>.<option> <v>          the options given to PyTorch for group i (only those
                                         given; the rest are PyTorch's defaults, or for group 1
                                         group 0's, which are the constructor's), under
                                         tapegrad's names (Adam's betas as beta1, beta2; flags 0|1)
    tensor w [20, 3, 2], b [20, 2]     the parameters after each step
Cases `defaults.<Optimizer>` hold PyTorch's default options (num <option> <v>; SGD's lr is
required, written as 0.1).

schedulers.txt. Each case runs an optimizer (SGD, lr 0.1 and 0.02 in two groups, momentum 0.9;
or Adam with those lrs) under a scheduler for 50 steps:
    text optimizer <SGD|Adam>
    text scheduler <name>              StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR,
                                         LinearLR, OneCycleLR, LambdaLR, SequentialLR,
                                         ReduceLROnPlateau
    num arg.<name> <v> ...             the scheduler's arguments (flags 0|1)
    text arg.<name> <word>             anneal_strategy, mode, threshold_mode, lambda
    num children <n>, text child<i> <name>, num child<i>.arg.<name> <v> ...   (SequentialLR)
    tensor metrics [50]                (ReduceLROnPlateau) the metric given to each step
    tensor lr [51, 2]                  each group's lr after construction and after each step
    tensor momentum [51, 2]            (OneCycleLR with cycle_momentum) momentum or beta1
LambdaLR's lambdas, by name: inverse_sqrt_warmup (arg.warmup): min((e+1)^-0.5, (e+1) warmup^-1.5).

clip.txt. Each case: tensors g0 [3, 4] and g1 [5] (the gradients of two parameters; a third
parameter has none), num max_norm, num norm_type (inf for infinity) and tensors total [1],
after0, after1 for clip_grad_norm_; or num clip_value and after0, after1 for clip_grad_value_.
"""

import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "fixtures")
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import fixture_writer as fw  # noqa: E402  (the shared fixture format)
STEPS = 20
SCHED_STEPS = 50

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)


class Writer(fw.Writer):
    def __init__(self, title):
        super().__init__(["# " + title, "# written by tests/golden_optim/make_optim_fixtures.py with torch " +
                          torch.__version__])

    def case(self, name):
        self.begin(name)

    def tensor(self, key, t):
        super().tensor(key, torch.as_tensor(t, dtype=torch.float64))


# ---- optimizers -------------------------------------------------------------------------------

def problem():
    x = torch.tensor([[math.sin(1.0 + 3 * i + j) for j in range(3)] for i in range(6)])
    y = torch.tensor([[0.5 * math.cos(2.0 + 2 * i + j) for j in range(2)] for i in range(6)])
    w = torch.tensor([[0.3 * math.sin(0.5 + 2 * i + j) for j in range(2)] for i in range(3)])
    b = torch.tensor([0.1, -0.2])
    return x, y, w, b


CLASSES = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW,
           "RMSprop": torch.optim.RMSprop, "Adagrad": torch.optim.Adagrad}

# (case name, optimizer, [options of group 0, options of group 1 (when two groups)])
OPT_CASES = [
    ("sgd.plain", "SGD", [dict(lr=0.1)]),
    ("sgd.momentum", "SGD", [dict(lr=0.1, momentum=0.9)]),
    ("sgd.dampening", "SGD", [dict(lr=0.1, momentum=0.9, dampening=0.3)]),
    ("sgd.nesterov", "SGD", [dict(lr=0.1, momentum=0.8, nesterov=True)]),
    ("sgd.weight_decay", "SGD", [dict(lr=0.1, weight_decay=0.05)]),
    ("sgd.maximize", "SGD", [dict(lr=0.05, maximize=True)]),
    ("sgd.all", "SGD", [dict(lr=0.05, momentum=0.7, nesterov=True, weight_decay=0.1, maximize=True)]),
    ("sgd.groups", "SGD", [dict(lr=0.1, momentum=0.9), dict(lr=0.02, momentum=0.5, dampening=0.5)]),
    ("adam.default", "Adam", [dict()]),
    ("adam.lr", "Adam", [dict(lr=0.05)]),
    ("adam.betas", "Adam", [dict(lr=0.05, betas=(0.8, 0.95))]),
    ("adam.eps", "Adam", [dict(lr=0.05, eps=1e-2)]),
    ("adam.weight_decay", "Adam", [dict(lr=0.05, weight_decay=0.1)]),
    ("adam.amsgrad", "Adam", [dict(lr=0.05, amsgrad=True)]),
    ("adam.maximize", "Adam", [dict(lr=0.01, maximize=True)]),
    ("adam.all", "Adam", [dict(lr=0.03, betas=(0.85, 0.99), eps=1e-6, weight_decay=0.2, amsgrad=True)]),
    ("adam.groups", "Adam", [dict(lr=0.05), dict(lr=0.01, betas=(0.5, 0.9), amsgrad=True)]),
    ("adamw.default", "AdamW", [dict()]),
    ("adamw.weight_decay", "AdamW", [dict(lr=0.05, weight_decay=0.3)]),
    ("adamw.no_decay", "AdamW", [dict(lr=0.05, weight_decay=0.0)]),
    ("adamw.betas_eps", "AdamW", [dict(lr=0.05, betas=(0.7, 0.9), eps=1e-3)]),
    ("adamw.amsgrad", "AdamW", [dict(lr=0.05, weight_decay=0.1, amsgrad=True)]),
    ("adamw.maximize", "AdamW", [dict(lr=0.01, maximize=True)]),
    ("rmsprop.default", "RMSprop", [dict()]),
    ("rmsprop.alpha", "RMSprop", [dict(lr=0.01, alpha=0.8)]),
    ("rmsprop.eps", "RMSprop", [dict(lr=0.01, eps=1e-2)]),
    ("rmsprop.centered", "RMSprop", [dict(lr=0.01, centered=True)]),
    ("rmsprop.momentum", "RMSprop", [dict(lr=0.01, momentum=0.9)]),
    ("rmsprop.centered_momentum", "RMSprop", [dict(lr=0.005, alpha=0.9, centered=True, momentum=0.5)]),
    ("rmsprop.weight_decay", "RMSprop", [dict(lr=0.01, weight_decay=0.1)]),
    ("rmsprop.maximize", "RMSprop", [dict(lr=0.005, maximize=True)]),
    ("adagrad.default", "Adagrad", [dict()]),
    ("adagrad.lr", "Adagrad", [dict(lr=0.2)]),
    ("adagrad.lr_decay", "Adagrad", [dict(lr=0.2, lr_decay=0.1)]),
    ("adagrad.initial_accumulator_value", "Adagrad", [dict(lr=0.2, initial_accumulator_value=0.5)]),
    ("adagrad.weight_decay", "Adagrad", [dict(lr=0.2, weight_decay=0.1)]),
    ("adagrad.eps", "Adagrad", [dict(lr=0.2, eps=1e-1)]),
    ("adagrad.maximize", "Adagrad", [dict(lr=0.05, maximize=True)]),
    # Group 1 keeps group 0's initial_accumulator_value: PyTorch fills every parameter's sum with the
    # constructor's value whatever its group says (tapegrad uses each group's own value).
    ("adagrad.groups", "Adagrad", [dict(lr=0.2, lr_decay=0.05, initial_accumulator_value=0.1),
                                   dict(lr=0.1, eps=1e-3, weight_decay=0.05)]),
]


def tapegrad_options(kwargs):
    out = []
    for k, v in kwargs.items():
        if k == "betas":
            out += [("beta1", v[0]), ("beta2", v[1])]
        else:
            out.append((k, float(v)))
    return out


def optimizers():
    w_out = Writer("optimizer trajectories: 20 steps of each optimizer on mean((tanh(x @ w + b) - y)^2)")
    x, y, w0, b0 = problem()
    w_out.case("problem")
    w_out.tensor("x", x)
    w_out.tensor("y", y)
    w_out.tensor("w", w0)
    w_out.tensor("b", b0)
    w_out.end()

    for name, cls in CLASSES.items():
        p = torch.zeros(1, requires_grad=True)
        opt = cls([p], lr=0.1) if name == "SGD" else cls([p])
        w_out.case("defaults." + name)
        w_out.text("optimizer", name)
        skip = {"foreach", "differentiable", "capturable", "fused"}
        for k, v in tapegrad_options({k: v for k, v in opt.defaults.items() if k not in skip}):
            w_out.num(k, v)
        w_out.end()

    for name, opt_name, groups in OPT_CASES:
        w = w0.clone().requires_grad_()
        b = b0.clone().requires_grad_()
        if len(groups) == 1:
            opt = CLASSES[opt_name]([w, b], **groups[0])
        else:
            # Group 0's options are the constructor's defaults, as in the C++ test.
            opt = CLASSES[opt_name]([dict(params=[w]), dict(params=[b], **groups[1])], **groups[0])
        ws, bs = [], []
        for _ in range(STEPS):
            opt.zero_grad()
            loss = ((torch.tanh(x @ w + b) - y) ** 2).mean()
            loss.backward()
            opt.step()
            ws.append(w.detach().clone())
            bs.append(b.detach().clone())
        w_out.case(name)
        w_out.text("optimizer", opt_name)
        w_out.num("groups", len(groups))
        for i, g in enumerate(groups):
            for k, v in tapegrad_options(g):
                w_out.num("group%d.%s" % (i, k), v)
        w_out.tensor("w", torch.stack(ws))
        w_out.tensor("b", torch.stack(bs))
        w_out.end()
    return w_out.text_out()


# ---- schedulers -------------------------------------------------------------------------------

def inverse_sqrt_warmup(warmup):
    return lambda e: min((e + 1) ** -0.5, (e + 1) * warmup ** -1.5)


def make_scheduler(opt, kind, args):
    S = torch.optim.lr_scheduler
    if kind == "LambdaLR":
        return S.LambdaLR(opt, inverse_sqrt_warmup(args["warmup"]))
    return getattr(S, kind)(opt, **args)


# (case name, optimizer, scheduler, args, children [(kind, args)] for SequentialLR)
SCHED_CASES = [
    ("step_lr", "SGD", "StepLR", dict(step_size=7, gamma=0.5), None),
    ("step_lr.default_gamma", "SGD", "StepLR", dict(step_size=10), None),
    ("multi_step_lr", "SGD", "MultiStepLR", dict(milestones=[5, 12, 12, 30], gamma=0.3), None),
    ("exponential_lr", "SGD", "ExponentialLR", dict(gamma=0.93), None),
    ("cosine_annealing_lr", "SGD", "CosineAnnealingLR", dict(T_max=50), None),
    ("cosine_annealing_lr.restarts", "SGD", "CosineAnnealingLR", dict(T_max=12, eta_min=0.001), None),
    ("linear_lr.default", "SGD", "LinearLR", dict(), None),
    ("linear_lr.warmup", "SGD", "LinearLR", dict(start_factor=0.1, end_factor=1.0, total_iters=10), None),
    ("linear_lr.decay", "SGD", "LinearLR", dict(start_factor=1.0, end_factor=0.2, total_iters=30), None),
    ("one_cycle_lr.default", "SGD", "OneCycleLR", dict(max_lr=1.0, total_steps=50), None),
    ("one_cycle_lr.linear_three_phase", "SGD", "OneCycleLR",
     dict(max_lr=[0.5, 0.2], total_steps=60, pct_start=0.25, anneal_strategy="linear", three_phase=True,
          div_factor=10.0, final_div_factor=100.0), None),
    ("one_cycle_lr.adam", "Adam", "OneCycleLR",
     dict(max_lr=0.01, total_steps=50, pct_start=0.4, base_momentum=0.8, max_momentum=0.9), None),
    ("one_cycle_lr.no_momentum", "SGD", "OneCycleLR", dict(max_lr=0.3, total_steps=51, cycle_momentum=False), None),
    ("lambda_lr.inverse_sqrt_warmup", "Adam", "LambdaLR", dict(warmup=10), None),
    ("sequential_lr.warmup_cosine", "SGD", "SequentialLR", dict(milestones=[5]),
     [("LinearLR", dict(start_factor=0.1, total_iters=5)), ("CosineAnnealingLR", dict(T_max=45))]),
    ("sequential_lr.three", "SGD", "SequentialLR", dict(milestones=[4, 20]),
     [("LinearLR", dict(start_factor=0.25, total_iters=4)), ("ExponentialLR", dict(gamma=0.9)),
      ("StepLR", dict(step_size=6, gamma=0.5))]),
    ("reduce_lr_on_plateau.min_rel", "SGD", "ReduceLROnPlateau", dict(patience=3, cooldown=2, factor=0.5), None),
    ("reduce_lr_on_plateau.min_abs", "SGD", "ReduceLROnPlateau",
     dict(patience=2, threshold=0.05, threshold_mode="abs", min_lr=[0.01, 0.005]), None),
    ("reduce_lr_on_plateau.max_rel", "SGD", "ReduceLROnPlateau",
     dict(mode="max", patience=1, factor=0.3, threshold=0.01, eps=1e-3), None),
    ("reduce_lr_on_plateau.max_abs", "SGD", "ReduceLROnPlateau",
     dict(mode="max", patience=0, threshold=0.02, threshold_mode="abs", cooldown=3, min_lr=0.004), None),
]


def plateau_metrics(case):
    # A loss that improves, stalls, wobbles, improves again; negated for mode max.
    out = []
    for e in range(SCHED_STEPS):
        v = 1.0 / (1 + 0.3 * min(e, 12)) + 0.02 * math.sin(1.7 * e) + (0.001 * (e - 30) if e > 30 else 0.0)
        if e > 38:
            v -= 0.05 * (e - 38)
        out.append(v)
    if case.endswith("max_rel") or case.endswith("max_abs"):
        out = [1.0 - v for v in out]
    return out


def write_args(w, prefix, args):
    for k, v in args.items():
        if isinstance(v, str):
            w.text(prefix + k, v)
        elif isinstance(v, (list, tuple)):
            w.num(prefix + k, *v)
        else:
            w.num(prefix + k, float(v))


def momentum_of(opt, group):
    return group["betas"][0] if "betas" in group else group["momentum"]


def schedulers():
    w = Writer("learning-rate sequences: 50 steps of each scheduler (two param groups)")
    for name, opt_name, kind, args, children in SCHED_CASES:
        p0 = torch.zeros(2, requires_grad=True)
        p1 = torch.zeros(3, requires_grad=True)
        if opt_name == "SGD":
            opt = torch.optim.SGD([dict(params=[p0], lr=0.1), dict(params=[p1], lr=0.02)], lr=0.1, momentum=0.9)
        else:
            opt = torch.optim.Adam([dict(params=[p0], lr=0.1), dict(params=[p1], lr=0.02)])
        metrics = None
        if kind == "SequentialLR":
            subs = [make_scheduler(opt, k, a) for k, a in children]
            sched = torch.optim.lr_scheduler.SequentialLR(opt, subs, **args)
        elif kind == "ReduceLROnPlateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **args)
            metrics = plateau_metrics(name)
        else:
            sched = make_scheduler(opt, kind, args)
        cycle = kind == "OneCycleLR" and args.get("cycle_momentum", True)
        lrs = [[g["lr"] for g in opt.param_groups]]
        moms = [[momentum_of(opt, g) for g in opt.param_groups]]
        for e in range(SCHED_STEPS):
            opt.step()
            if metrics is not None:
                sched.step(metrics[e])
            else:
                sched.step()
            lrs.append([g["lr"] for g in opt.param_groups])
            moms.append([momentum_of(opt, g) for g in opt.param_groups])
        w.case(name)
        w.text("optimizer", opt_name)
        w.text("scheduler", kind)
        write_args(w, "arg.", args)
        if children:
            w.num("children", len(children))
            for i, (k, a) in enumerate(children):
                w.text("child%d" % i, k)
                write_args(w, "child%d.arg." % i, a)
        if metrics is not None:
            w.tensor("metrics", metrics)
        w.tensor("lr", lrs)
        if cycle:
            w.tensor("momentum", moms)
        w.end()
    return w.text_out()


# ---- clipping ---------------------------------------------------------------------------------

CLIP_CASES = [
    ("norm.l2_clipped", dict(max_norm=0.5, norm_type=2.0)),
    ("norm.l2_unclipped", dict(max_norm=100.0, norm_type=2.0)),
    ("norm.l1", dict(max_norm=1.0, norm_type=1.0)),
    ("norm.inf", dict(max_norm=0.3, norm_type=float("inf"))),
    ("norm.p3", dict(max_norm=0.4, norm_type=3.0)),
    ("norm.p0_5", dict(max_norm=2.0, norm_type=0.5)),
    ("value", dict(clip_value=0.3)),
]


def clip():
    w = Writer("gradient clipping: clip_grad_norm_ and clip_grad_value_ on two gradients (a third parameter has none)")
    g0 = torch.tensor([[math.sin(0.7 * i + 0.3) * (1 + 0.1 * i) for i in range(4 * r, 4 * r + 4)] for r in range(3)])
    g1 = torch.tensor([0.9 * math.cos(1.3 * i) for i in range(5)])
    for name, args in CLIP_CASES:
        p0 = torch.zeros(3, 4, requires_grad=True)
        p1 = torch.zeros(5, requires_grad=True)
        p2 = torch.zeros(2, requires_grad=True)
        p0.grad = g0.clone()
        p1.grad = g1.clone()
        w.case(name)
        w.tensor("g0", g0)
        w.tensor("g1", g1)
        if "clip_value" in args:
            torch.nn.utils.clip_grad_value_([p0, p1, p2], args["clip_value"])
            w.num("clip_value", args["clip_value"])
        else:
            total = torch.nn.utils.clip_grad_norm_([p0, p1, p2], args["max_norm"], args["norm_type"])
            w.num("max_norm", args["max_norm"])
            w.num("norm_type", args["norm_type"])
            w.tensor("total", [float(total)])
        w.tensor("after0", p0.grad)
        w.tensor("after1", p1.grad)
        w.end()
    return w.text_out()


def main():
    files = [("optimizers.txt", optimizers), ("schedulers.txt", schedulers), ("clip.txt", clip)]
    return fw.main(__doc__, OUT_DIR, files, "tests/golden_optim/make_optim_fixtures.py")


if __name__ == "__main__":
    sys.exit(main())
