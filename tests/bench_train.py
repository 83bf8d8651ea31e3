"""Training throughput: steps per second of the SlotContrast baseline and of SRL (all terms on), from pixels and
from the feature cache, at the synthetic preset and at MOVi-C shapes with a reduced batch. One run, side by side.

    python tests/bench_train.py [--steps 5] [--movi-batch 1] [--device cpu]
"""
import argparse, json, tempfile, time
from pathlib import Path
import torch
from srl_nb.core import get_preset
from srl_nb.model import SRLModel
from srl_nb.synthetic import build_synthetic
from srl_nb.train import compute_losses
from srl_nb.streams import make_train_stream, feature_cache, model_inputs

def steps_per_s(cfg, n_steps, device):
    "Time n_steps optimisation steps (after one warm-up step) of `cfg` with its active objectives at step 0"
    torch.manual_seed(0)
    model = SRLModel.from_config(cfg).to(device)
    if cfg.data.use_feature_cache: feature_cache(cfg, model.backbone, 'train', device)
    stream = make_train_stream(cfg, backbone=model.backbone, device=device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-4)
    def step():
        b = next(stream)
        out = model(**model_inputs(b, device))
        total, _ = compute_losses(out, cfg, 0)
        opt.zero_grad(); total.backward(); torch.nn.utils.clip_grad_norm_(params, 1.0); opt.step()
        if device != 'cpu': torch.cuda.synchronize()
    step()
    t0 = time.perf_counter()
    for _ in range(n_steps): step()
    return n_steps / (time.perf_counter() - t0)

VARIANTS = {  # baseline, and SRL with the regulariser, deblurring and denoising contrast all active at step 0
    'baseline': dict(use_reg=False, use_deblur=False, use_denoise=False),
    'srl': dict(use_reg=True, use_deblur=True, use_denoise=True, reg_start=0, reg_end=10**6, deblur_start=0, denoise_start=0)}

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--movi-batch', type=int, default=1)
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--data-dir', default=None)
    a = ap.parse_args()
    d = Path(a.data_dir or tempfile.mkdtemp())
    build_synthetic(d, 'easy', n_train=16, n_val=2, seed=0)
    settings = {
        'synthetic preset': lambda **kw: get_preset('synthetic', data_dir=str(d), max_train_videos=None, **kw),
        f'MOVi-C shapes (336 px, ViT-S/14 random init, S=11, decoder 1024, batch {a.movi_batch})':
            lambda **kw: get_preset('movi_c', data_dir=str(d), dataset='synthetic', synthetic_config='easy',
                                    pretrained=False, batch_size=a.movi_batch, global_batch=None, num_workers=0, amp='fp32', max_train_videos=4, **kw),
    }
    print(f'device {a.device}, {torch.get_num_threads()} threads, {a.steps} timed steps per cell')
    rows = []
    for name, base in settings.items():
        res = {}
        for v, kw in VARIANTS.items():
            for cache in (False, True):
                res[v, cache] = steps_per_s(base(use_feature_cache=cache, **kw), a.steps, a.device)
        print(f'\n{name}')
        print(f"  {'':10s} {'pixels':>10s} {'cache':>10s} {'cache speed-up':>15s}")
        for v in ('baseline', 'srl'):
            print(f"  {v:10s} {res[v, False]:10.3f} {res[v, True]:10.3f} {res[v, True] / res[v, False]:14.2f}x")
        for cache in (False, True):
            print(f"  SRL step time / baseline step time ({'cache' if cache else 'pixels'}): "
                  f"{res['baseline', cache] / res['srl', cache]:.2f}x")
        rows.append({'setting': name, **{f'{v}_{"cache" if c else "pixels"}_steps_per_s': r for (v, c), r in res.items()}})
    print('\n' + json.dumps(rows, indent=1))
