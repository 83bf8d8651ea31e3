"""Model benchmark (CPU): offline backbone choice, and forward+backward time per training step.

Run: HF_HUB_OFFLINE=1 python tests/bench_model.py [--quick]
1. Offline backbone: random-init ViT-S/14 (all 12 blocks) vs `random_patch14` (its patch + position embedding),
   ms/frame at 224 px, cosine between their features, and per-frame k-means FG-ARI on synthetic disc frames.
2. Training step (forward + backward of a reconstruction loss, fp32) at the synthetic preset and at MOVi-C
   shapes with a reduced batch, from pixels (backbone in the step) and from cached features.
"""
import argparse, os, time
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import numpy as np
import torch
import torch.nn.functional as F
from srl_nb.core import get_preset
from srl_nb.encoder import FrozenBackbone, preprocess_frames
from srl_nb.model import SRLModel, RECON, FEATURES


def timeit(fn, reps, warmup=1):
    for _ in range(warmup): fn()
    t = time.perf_counter()
    for _ in range(reps): fn()
    return (time.perf_counter() - t) / reps


def disc_frames(n, res=224, seed=0):
    "n frames with 3-5 flat-coloured discs on a mildly textured background; ids at pixel level (0 = background)"
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:res, :res]
    frames, ids = np.zeros((n, res, res, 3), np.uint8), np.zeros((n, res, res), np.int64)
    for i in range(n):
        bg = rng.integers(60, 120, 3) + rng.normal(0, 6, (res, res, 3))
        img = bg
        for k in range(rng.integers(3, 6)):
            r = rng.uniform(0.08, 0.18) * res
            cy, cx = rng.uniform(r, res - r, 2)
            m = (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2
            img[m] = rng.integers(0, 256, 3)
            ids[i][m] = k + 1
        frames[i] = np.clip(img, 0, 255)
    return frames, ids


def kmeans_fg_ari(feats, ids, grid, k=6, seed=0):
    "Per-frame k-means on features (n, N, C); FG-ARI against the patch-level majority id"
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    n, res = ids.shape[0], ids.shape[1]
    p = res // grid
    aris = []
    for i in range(n):
        lab = KMeans(k, n_init=4, random_state=seed).fit_predict(feats[i].numpy())  # (N,)
        up = np.repeat(np.repeat(lab.reshape(grid, grid), p, 0), p, 1)  # (res, res) nearest upsampling
        fg = ids[i] > 0
        aris.append(adjusted_rand_score(ids[i][fg], up[fg]))
    return float(np.mean(aris))


def bench_backbones(n_frames):
    print(f"== offline backbone at 224 px (16x16 grid), {n_frames} frames, {torch.get_num_threads()} threads ==")
    frames, ids = disc_frames(n_frames)
    x = preprocess_frames(frames, 224)  # (n, 3, 224, 224)
    vit = FrozenBackbone('vit_small_patch14_dinov2', 224, chunk=8)
    rp = FrozenBackbone('random_patch14', 224, chunk=8)
    f_vit, f_rp = vit(x), rp(x)  # (n, N, C)
    t_vit = timeit(lambda: vit(x[:8]), 2) / 8
    t_rp = timeit(lambda: rp(x[:8]), 5) / 8
    cos = F.cosine_similarity(f_vit, f_rp, dim=-1)
    print(f"random-init ViT-S/14, 12 blocks   : {1e3*t_vit:7.2f} ms/frame")
    print(f"random_patch14 (patch+pos embed)  : {1e3*t_rp:7.2f} ms/frame   speed-up x{t_vit/t_rp:.0f}")
    print(f"cosine(random_patch14, full ViT) per patch: mean {cos.mean():.6f}, min {cos.min():.6f}")
    print(f"relative L2 difference: {((f_vit - f_rp).norm() / f_vit.norm()).item():.2e}")
    a_vit, a_rp = kmeans_fg_ari(f_vit, ids, 16), kmeans_fg_ari(f_rp, ids, 16)
    print(f"per-frame k-means (k=6) FG-ARI on disc frames: full ViT {a_vit:.3f}, random_patch14 {a_rp:.3f}")
    cache_vit, cache_rp = 200 * 24 * 2 * t_vit, 200 * 24 * 2 * t_rp
    print(f"caching 200 videos x 24 frames x 2 flips: full ViT {cache_vit/60:.1f} min, random_patch14 {cache_rp:.1f} s")


def bench_step(name, cfg, B, reps, backbone_note=''):
    model = SRLModel.from_config(cfg)
    T, R = cfg.data.clip_frames, cfg.data.resolution
    video = torch.randn(B, T, 3, R, R)
    with torch.no_grad(): feats = model.backbone(video)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step(**inp):
        out = model(**inp)
        loss = F.mse_loss(out[RECON], out[FEATURES])
        opt.zero_grad(); loss.backward(); opt.step()

    t_pix = timeit(lambda: step(video=video), reps)
    t_cache = timeit(lambda: step(features=feats), reps)
    print(f"{name:34s} B={B} T={T} {R}px N={cfg.n_patches} S={cfg.model.n_slots} D={cfg.model.slot_dim} "
          f"hidden={cfg.model.decoder_hidden} {backbone_note}| pixels {t_pix:6.3f} s/step, cached features "
          f"{t_cache:6.3f} s/step (x{t_pix/t_cache:.2f}); trainable {model.trainable_parameters():,}")


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--quick', action='store_true', help='fewer frames and repetitions')
    a = ap.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()} (machine shared with other jobs)")
    bench_backbones(16 if a.quick else 32)
    reps = 1 if a.quick else 3
    print("== forward + backward + Adam step, fp32, CPU ==")
    syn = get_preset('synthetic', backbone='random_patch14')
    bench_step('synthetic (random_patch14)', syn, syn.data.batch_size, reps, '')
    syn_vit = get_preset('synthetic')
    bench_step('synthetic (random ViT-S/14)', syn_vit, syn_vit.data.batch_size, reps, '')
    movi = get_preset('movi_c', pretrained=False)
    bench_step('MOVi-C shapes (random ViT-S/14)', movi, 2, reps, '')
