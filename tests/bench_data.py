"""Data benchmark: synthetic build time, cache time, loader throughput (clips/s) next to the step time it must feed.

Usage: python tests/bench_data.py [--n-train 1000] [--n-val 50] [--batches 20] [--workers 2] [--dir /tmp/srl_bench]
The step-time reference is the frozen backbone's forward pass alone (timm DINOv2, random weights: same cost),
on the clips of one batch; a full training step costs at least that.
"""
import argparse, os, resource, sys, time, json
from pathlib import Path
import torch

def clips_per_s(cfg, batches):
    from srl_nb.data import train_loader
    tl = train_loader(cfg); it = iter(tl)
    next(it)                                                              # worker start-up not counted
    t0 = time.perf_counter(); n = 0
    for _ in range(batches):
        try: b = next(it)
        except StopIteration: it = iter(tl); b = next(it)
        n += b['video'].shape[0]
    return n / (time.perf_counter() - t0)

def backbone_step(name, res, B, T, reps=2):
    import timm
    m = timm.create_model(name, pretrained=False, dynamic_img_size=True, num_classes=0).eval()
    x = torch.randn(B * T, 3, res, res)
    with torch.no_grad():
        m.forward_features(x[:2])
        t0 = time.perf_counter()
        for _ in range(reps): m.forward_features(x)
    return (time.perf_counter() - t0) / reps

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n-train', type=int, default=1000); ap.add_argument('--n-val', type=int, default=50)
    ap.add_argument('--batches', type=int, default=20); ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--dir', default='/tmp/srl_bench'); ap.add_argument('--skip-build', action='store_true')
    a = ap.parse_args()
    from srl_nb.core import get_preset
    from srl_nb.synthetic import build_synthetic, synthetic_name, render_videos
    from srl_nb.data import prepare_cache
    torch.set_num_threads(2)
    print(f"machine: {os.cpu_count()} cores visible (shared with other jobs: wall times are upper bounds)")
    t0 = time.process_time(); tw = time.perf_counter(); render_videos('movi_c_like', 50)
    print(f"render movi_c_like: {(time.perf_counter() - tw) / 50 * 1e3:.0f} ms/video wall, {(time.process_time() - t0) / 50 * 1e3:.0f} ms/video CPU (one process)")
    for conf, n_tr, n_va in (('easy', 200, 24), ('movi_c_like', a.n_train, a.n_val)):
        if a.skip_build and (Path(a.dir) / 'synthetic_movi' / conf).exists(): continue
        cpu = lambda: resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime
        tw, tc = time.perf_counter(), cpu(); build_synthetic(a.dir, conf, n_train=n_tr, n_val=n_va, force=True, workers=2)
        print(f"build {synthetic_name(conf)} ({n_tr}+{n_va} videos, 24x128x128, 2 render processes): "
              f"{time.perf_counter() - tw:.1f} s wall, {cpu() - tc:.1f} s CPU (all processes)")
        tw, tc = time.perf_counter(), cpu(); prepare_cache(synthetic_name(conf), a.dir, 'train', force=True)
        print(f"cache {conf} train ({n_tr} videos, child process, checksummed twice): {time.perf_counter() - tw:.1f} s wall, {cpu() - tc:.1f} s CPU")
    rows = []
    for label, preset, kw, bb in (
            ('synthetic preset (easy, 224 px, B=8)', 'synthetic', dict(synthetic_config='easy', resolution=224, batch_size=8), ('vit_small_patch14_dinov2', 224)),
            ('MOVi-C resolution (336 px, B=8)', 'movi_c', dict(dataset='synthetic', synthetic_config='movi_c_like', resolution=336, batch_size=8), ('vit_small_patch14_dinov2', 336))):
        step = backbone_step(bb[0], bb[1], 8, 4)
        for w in (0, a.workers):
            cfg = get_preset(preset, data_dir=a.dir, num_workers=w, **kw)
            cps = clips_per_s(cfg, a.batches)
            rows.append((label, w, cps, 8 / step))
            print(f"{label}: {w} workers: loader {cps:6.1f} clips/s | backbone forward alone {step:.2f} s/step = {8 / step:5.1f} clips/s needed")
    assert 'tensorflow' not in sys.modules
    print(json.dumps([dict(setting=r[0], workers=r[1], loader_clips_per_s=round(r[2], 1), backbone_clips_per_s=round(r[3], 1)) for r in rows]))

if __name__ == '__main__': main()
