"""Benchmark: video FG-ARI + mBO at MOVi validation size and DAVIS J&F at 480p, next to plain one-hot versions.

Run: python tests/bench_metrics.py [--davis-frames 10] [--device cpu]
Prints milliseconds per video for each implementation, measured side by side in one run.
"""
import argparse, math, os, sys, time
import numpy as np
import torch
from scipy import ndimage
from scipy.optimize import linear_sum_assignment
sys.path.insert(0, os.path.dirname(__file__))
from srl_nb.metrics import video_fg_ari, video_mbo, davis_jandf, boundary_tolerance

def scene(B, T, H, W, n_obj, n_slots, seed, device):
    "Moving ellipses as ground truth; the prediction shifts them, merges two, and puts the rest in slots"
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(H).float(), torch.arange(W).float(), indexing='ij')
    true = torch.zeros(B, T, H, W, dtype=torch.long); pred = torch.zeros_like(true)
    for b in range(B):
        c = torch.rand(n_obj, 2, generator=g) * torch.tensor([H, W]); v = torch.randn(n_obj, 2, generator=g) * 2
        rad = (0.05 + 0.1 * torch.rand(n_obj, 2, generator=g)) * min(H, W)
        slot = torch.randint(1, n_slots, (n_obj,), generator=g)
        for t in range(T):
            ct = c + v * t
            for o in range(n_obj):
                inside = ((yy - ct[o, 0]) / rad[o, 0]) ** 2 + ((xx - ct[o, 1]) / rad[o, 1]) ** 2 <= 1
                true[b, t][inside] = o + 1
                inside_p = ((yy - ct[o, 0] - 2) / rad[o, 0]) ** 2 + ((xx - ct[o, 1] + 1) / rad[o, 1]) ** 2 <= 1
                pred[b, t][inside_p] = slot[o]
    return pred.to(device), true.to(device)

def onehot_fg_ari_mbo(pred, true):
    "Straightforward one-hot version (per video: one-hot float64 masks, einsum contingency, as reference code does)"
    ari, mbo = [], []
    for b in range(pred.shape[0]):
        t = torch.nn.functional.one_hot(true[b].flatten(), int(true.max()) + 1).double()   # (THW,Kt)
        p = torch.nn.functional.one_hot(pred[b].flatten(), int(pred.max()) + 1).double()   # (THW,Kp)
        n = t.T @ p                                                                          # (Kt,Kp)
        fg = n[1:]
        a, c = fg.sum(1), fg.sum(0); N = a.sum()
        r, ai, bi = (fg * (fg - 1)).sum(), (a * (a - 1)).sum(), (c * (c - 1)).sum()
        e = ai * bi / max(N * (N - 1), 1); d = (ai + bi) / 2 - e
        ari.append(1.0 if d == 0 else ((r - e) / d).item())
        tm, pm = t[:, 1:], p
        inter = tm.T @ pm; union = tm.sum(0)[:, None] + pm.sum(0)[None] - inter
        present = tm.sum(0) > 0
        mbo.append((inter / union.clamp(min=1)).amax(1)[present].mean().item())
    return torch.tensor(ari, dtype=torch.float64), torch.tensor(mbo, dtype=torch.float64)

def seg2bmap(seg):
    e = np.zeros_like(seg); s = np.zeros_like(seg); se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]; s[:-1, :] = seg[1:, :]; se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]; b[:, -1] = seg[:, -1] ^ s[:, -1]; b[-1, -1] = 0
    return b

def dilate(b, r):
    "Disk dilation of one boundary map through the exact Euclidean distance transform (faster than binary_dilation)"
    if not b.any(): return b.copy()
    return ndimage.distance_transform_edt(~b) <= r

def onehot_jandf(pred, true, r):
    "Straightforward version: one binary mask per proposal and object per frame, each boundary dilated with the disk"
    out = []
    for b in range(pred.shape[0]):
        P, Tn = pred[b].cpu().numpy(), true[b].cpu().numpy()
        objs = [g for g in np.unique(Tn) if g]; props = list(np.unique(P))
        masks_p = [P == k for k in props] + [np.zeros_like(Tn, bool)] * max(0, len(objs) - len(props))
        masks_g = [Tn == g for g in objs]
        T = Tn.shape[0]; J = np.zeros((len(masks_p), len(objs), T)); Fm = np.zeros_like(J)
        for t in range(T):
            pb = [seg2bmap(m[t]) for m in masks_p]; gb = [seg2bmap(m[t]) for m in masks_g]
            pd = [dilate(x, r) for x in pb]; gd = [dilate(x, r) for x in gb]
            for i, m in enumerate(masks_p):
                for j, gm in enumerate(masks_g):
                    u = (m[t] | gm[t]).sum(); J[i, j, t] = 1 if u == 0 else (m[t] & gm[t]).sum() / u
                    nf, ng = pb[i].sum(), gb[j].sum()
                    if nf == 0 and ng == 0: p_, r_ = 1, 1
                    elif nf == 0: p_, r_ = 1, 0
                    elif ng == 0: p_, r_ = 0, 1
                    else: p_, r_ = (pb[i] & gd[j]).sum() / nf, (gb[j] & pd[i]).sum() / ng
                    Fm[i, j, t] = 0 if p_ + r_ == 0 else 2 * p_ * r_ / (p_ + r_)
        rows, cols = linear_sum_assignment(-(J.mean(2) + Fm.mean(2)))
        out.append((J.mean(2)[rows, cols].mean(), Fm.mean(2)[rows, cols].mean()))
    return out

def timed(fn, reps=1, warmup=True):
    if warmup: fn()
    if torch.cuda.is_available(): torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps): res = fn()
    if torch.cuda.is_available(): torch.cuda.synchronize()
    return (time.perf_counter() - t0) / reps, res

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--device', default='cpu'); ap.add_argument('--davis-frames', type=int, default=10)
    ap.add_argument('--ref-videos', type=int, default=4)   # videos timed with the slow one-hot version
    ap.add_argument('--threads', type=int, default=1)   # scipy's reference runs single-threaded
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f'device={a.device} torch threads={torch.get_num_threads()}')
    for name, B, n_obj, S in (('MOVi-C', 16, 10, 11), ('MOVi-E', 16, 23, 15)):
        t0 = time.perf_counter(); pred, true = scene(B, 24, 336, 336, n_obj, S, 0, a.device)
        print(f'{name}: made inputs in {time.perf_counter() - t0:.1f} s', flush=True)
        ours_s, (ari, mbo) = timed(lambda: (video_fg_ari(pred, true), video_mbo(pred, true)), reps=2)
        n = a.ref_videos
        ref_s, (ari_r, mbo_r) = timed(lambda: onehot_fg_ari_mbo(pred[:n], true[:n]), warmup=False)
        ref_s *= B / n                                      # per-video time scaled to the batch
        assert torch.allclose(ari[:n].cpu(), ari_r, atol=1e-9) and torch.allclose(mbo[:n].cpu(), mbo_r, atol=1e-9)
        print(f'{name} val batch B={B} T=24 336x336 S={S} objects={n_obj}: video FG-ARI + mBO  '
              f'bincount {1e3 * ours_s / B:.1f} ms/video | one-hot {1e3 * ref_s / B:.1f} ms/video (on {n} videos) | '
              f'x{ref_s / ours_s:.1f}  (mean FG-ARI {ari.mean():.3f}, mBO {mbo.mean():.3f})', flush=True)
    T = a.davis_frames
    pred, true = scene(1, T, 480, 854, 3, 7, 1, a.device)
    r = boundary_tolerance((480, 854))
    ours_s, res = timed(lambda: davis_jandf(pred, true))
    ref_s, ref = timed(lambda: onehot_jandf(pred, true, r), warmup=False)
    assert abs(res['J'][0].item() - ref[0][0]) < 1e-9 and abs(res['F'][0].item() - ref[0][1]) < 1e-9
    print(f'DAVIS 480x854 T={T} proposals=7 objects=3 r={r}px: J&F  bit-packed {1e3 * ours_s:.0f} ms/video '
          f'({1e3 * ours_s / T:.0f} ms/frame) | one-hot {1e3 * ref_s:.0f} ms/video ({1e3 * ref_s / T:.0f} ms/frame) | '
          f'x{ref_s / ours_s:.1f}  (J&F {res["J&F"].item():.3f})')
