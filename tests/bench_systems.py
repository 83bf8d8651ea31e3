"""CPU training-step time of the three systems' synthetic presets, side by side in one run.

    python tests/bench_systems.py [--steps 20] [--rounds 3] [--threads 2]

One step = forward, objective, backward, gradient clip and Adam update, built by the trainer's own pieces
(`srl_nb.systems`: `build_model`, the per-arch objective, parameter groups, learning rates and forward arguments) on
a batch of the preset's shape: cached backbone features (B,T,N,C) for `synthetic` and `videosaur_synthetic` (their
training reads the feature cache), ImageNet-normalised pixels (B,T,3,H,W) for `steve_synthetic`. The loader is not
timed. SRL is timed in two stages of its schedule: the regulariser window (step 0) and the contrast stage (from
step `deblur_start`). The systems take turns within each round, so that a change of machine load hits all alike;
the figures are the median over rounds of the mean step time of a round.
"""
import argparse, statistics, time
import torch
from srl_nb.core import get_preset
from srl_nb.systems import system_of, build_model, clip_gradients

def make_step(preset:str, step:int=0):
    "A closure running one training step of `preset` at global step `step`, and a description"
    cfg = get_preset(preset)
    sysm = system_of(cfg)
    model = build_model(cfg, with_backbone=not cfg.data.use_feature_cache).train()
    groups = sysm.param_groups(model)
    opt = torch.optim.Adam([{'params': g['params']} for g in groups], lr=1e-4)
    params = [p for g in groups for p in g['params']]
    B, T = cfg.data.batch_size, cfg.data.clip_frames
    g = torch.Generator().manual_seed(0)
    if cfg.data.use_feature_cache: inputs = {'features': torch.randn(B, T, cfg.n_patches, cfg.model.feat_dim, generator=g)}
    else: inputs = {'video': torch.randn(B, T, 3, cfg.data.resolution, cfg.data.resolution, generator=g)}
    def run():
        for pg, lr in zip(opt.param_groups, sysm.lrs(cfg, step)): pg['lr'] = lr
        out = model(**inputs, **sysm.forward_kwargs(cfg, step))
        total, terms = sysm.objective(out, cfg, step)
        opt.zero_grad(set_to_none=True); total.backward()
        clip_gradients(params, cfg); opt.step()
        return terms
    shape = 'x'.join(map(str, next(iter(inputs.values())).shape))
    n = sum(p.numel() for p in params)
    return run, f"{preset} (step {step})", f"{next(iter(inputs))} {shape}", n, sorted(run())

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=20, help='timed steps per system per round')
    ap.add_argument('--rounds', type=int, default=3, help='rounds; systems alternate within each')
    ap.add_argument('--threads', type=int, default=torch.get_num_threads(), help='torch CPU threads')
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    srl = get_preset('synthetic')
    rows = [make_step('synthetic', 0), make_step('synthetic', srl.schedule.deblur_start),
            make_step('videosaur_synthetic'), make_step('steve_synthetic')]
    for r in rows:
        for _ in range(3): r[0]()                                # warm-up
    times = {r[1]: [] for r in rows}
    for _ in range(a.rounds):
        for r in rows:
            t0 = time.perf_counter()
            for _ in range(a.steps): r[0]()
            times[r[1]].append((time.perf_counter() - t0) / a.steps)
    base = statistics.median(times[rows[0][1]])
    print(f"torch {torch.__version__}, {a.threads} threads, {a.rounds} rounds x {a.steps} steps per system (median of round means)")
    print(f"{'preset':36s} {'input':28s} {'params':>9s} {'ms/step':>9s} {'vs SRL step 0':>14s}  terms")
    for run, name, inp, n, terms in rows:
        m = statistics.median(times[name])
        print(f"{name:36s} {inp:28s} {n:9,d} {1000 * m:9.1f} {m / base:13.2f}x  {','.join(terms)}")

if __name__ == '__main__': main()
