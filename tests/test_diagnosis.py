"Known-answer and reference checks for srl_nb.diagnosis (constructed masks, dense loop references)."
import math
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import adjusted_rand_score
from srl_nb.diagnosis import (ids_to_masks, blur_masks, masks_to_grid, ids_to_grid, isolated_share, hf_fraction,
                              mask_hf_fraction, boundary_sharpness, boundary_fscore, radial_spectrum, recon_grad,
                              argmax_agreement, mask_ari, _hf_fraction, diagnose, plot_cycle)

H, W, S = 10, 12, 4


def scene(h=H, w=W):
    "Background, a disc and a rectangle on an h x w grid: (h,w) long ids in {0,1,2}."
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    ids = torch.zeros(h, w, dtype=torch.long)
    ids[((yy - 3) ** 2 + (xx - 3.5) ** 2) < 7] = 1
    ids[(yy >= 5) & (yy < 9) & (xx >= 6) & (xx < 11)] = 2
    return ids


def checker(h=H, w=W):
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    return (yy + xx) % 2


# ---- noise -------------------------------------------------------------------------------------------------
def test_checkerboard_noisy_blob_not():
    blob, chk = ids_to_masks(scene()[None, None], S), ids_to_masks(checker()[None, None], S)
    assert isolated_share(chk, (H, W)).item() == 1.0
    assert isolated_share(blob, (H, W)).item() == 0.0
    assert mask_hf_fraction(chk, (H, W)).item() > 0.99
    assert mask_hf_fraction(blob, (H, W)).item() < 0.5
    assert mask_hf_fraction(blob, (H, W)).item() > mask_hf_fraction(blur_masks(blob, (H, W), 1.0), (H, W)).item()


def test_isolated_share_matches_loop():
    torch.manual_seed(0)
    m = torch.randn(2, 3, S, H * W).softmax(2)
    lab = m.argmax(2).reshape(2, 3, H, W)
    ref = torch.zeros(2, 3)
    for b in range(2):
        for t in range(3):
            n = 0
            for i in range(H):
                for j in range(W):
                    nb = [(i + di, j + dj) for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1))
                          if 0 <= i + di < H and 0 <= j + dj < W]
                    n += all(lab[b, t, i, j] != lab[b, t, p, q] for p, q in nb)
            ref[b, t] = n / (H * W)
    torch.testing.assert_close(isolated_share(m, (H, W)), ref)


def test_hf_fraction_constant_zero_checker_one():
    const = torch.full((1, 2, H * W, 3), 0.7)
    assert hf_fraction(const, (H, W)).tolist() == [[0.0, 0.0]]
    chk = checker().float().reshape(1, 1, H * W, 1)
    assert hf_fraction(chk, (H, W), mirror=False).item() == pytest.approx(1.0, abs=1e-6)
    assert hf_fraction(chk, (H, W)).item() > 0.99


def test_hf_fraction_matches_numpy_reference():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1, H * W, 3))
    for cutoff in (0.1, 0.25, 0.4):
        for mirror in (False, True):
            got = hf_fraction(torch.tensor(x, dtype=torch.float32), (H, W), cutoff, mirror)
            ref = np.zeros((2, 1))
            for b in range(2):
                hf = tot = 0.0
                for c in range(3):
                    m = x[b, 0, :, c].reshape(H, W); m = m - m.mean()
                    if mirror: m = np.block([[m, m[:, ::-1]], [m[::-1], m[::-1, ::-1]]])
                    p = np.abs(np.fft.fft2(m)) ** 2
                    r = np.hypot(*np.meshgrid(np.fft.fftfreq(m.shape[0]), np.fft.fftfreq(m.shape[1]), indexing='ij'))
                    hf += p[r > cutoff].sum(); tot += p.sum()
                ref[b, 0] = hf / tot
            np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_hf_single_frequency_on_the_right_side_of_the_cutoff():
    yy, xx = torch.meshgrid(torch.arange(16), torch.arange(16), indexing='ij')
    for f, expect in ((2 / 16, 0.0), (6 / 16, 1.0)):                  # periodic cosines on the grid
        x = torch.cos(2 * math.pi * f * xx).reshape(1, 1, 256, 1)
        assert hf_fraction(x, (16, 16), 0.25, mirror=False).item() == pytest.approx(expect, abs=1e-6)


def test_chunked_fft_equals_one_shot():
    torch.manual_seed(7)
    x = torch.randn(2, 3, H * W, 7)
    maps = x.transpose(-1, -2).unflatten(-1, (H, W))
    for mirror in (True, False):
        one = _hf_fraction(maps, 0.25, mirror, budget=10 ** 9)
        for budget in (1, H * W * 4 * 6 * 2):                        # one map, two maps per chunk
            torch.testing.assert_close(_hf_fraction(maps, 0.25, mirror, budget=budget), one)
            torch.testing.assert_close(radial_spectrum(x, (H, W), mirror=mirror, _budget=budget)[1],
                                       radial_spectrum(x, (H, W), mirror=mirror, _budget=10 ** 9)[1])


# ---- spectrum ----------------------------------------------------------------------------------------------
def test_radial_spectrum_smoothed_has_less_high_frequency():
    torch.manual_seed(0)
    x = torch.randn(3, 2, H * W, 5)
    xs = blur_masks(x.transpose(-1, -2).softmax(2), (H, W), 1.5).transpose(-1, -2)   # smoothed maps
    fq, p = radial_spectrum(x, (H, W)); _, ps = radial_spectrum(xs, (H, W))
    assert fq.shape == p.shape == (min(H, W),)
    assert p.sum().item() == pytest.approx(1.0, abs=1e-5) and ps.sum().item() == pytest.approx(1.0, abs=1e-5)
    half = len(p) // 2
    assert ps[half:].sum() < 0.3 * p[half:].sum()
    assert ps[:2].sum() > p[:2].sum()
    assert torch.all(torch.diff(fq) > 0) and fq[-1] < 0.5


def test_radial_spectrum_matches_numpy_reference():
    rng = np.random.default_rng(8)
    h, w = 7, 9
    x = rng.standard_normal((2, 3, h * w, 4)).astype(np.float32)
    for mirror in (False, True):
        n = 5
        ps = []
        for b in range(2):
            for t in range(3):
                for c in range(4):
                    m = x[b, t, :, c].astype(np.float64).reshape(h, w); m = m - m.mean()
                    if mirror: m = np.block([[m, m[:, ::-1]], [m[::-1], m[::-1, ::-1]]])
                    ps.append(np.abs(np.fft.fft2(m)) ** 2)
        p = np.mean(ps, 0)
        r = np.hypot(*np.meshgrid(np.fft.fftfreq(p.shape[0]), np.fft.fftfreq(p.shape[1]), indexing='ij'))
        k = np.clip(np.ceil(r * 2 * n) - 1, 0, n - 1).astype(int)
        avg = np.array([p[(k == i) & (r > 0)].mean() if ((k == i) & (r > 0)).any() else 0. for i in range(n)])
        _, got = radial_spectrum(torch.tensor(x), (h, w), n_bins=n, mirror=mirror)
        np.testing.assert_allclose(got.numpy(), avg / avg.sum(), rtol=1e-4, atol=1e-7)
        assert (avg > 0).all() == mirror                               # unmirrored 7x9 with 5 bins: first bin empty
        _, dflt = radial_spectrum(torch.tensor(x), (h, w), mirror=mirror)   # default bins: none empty
        assert len(dflt) == (7 if mirror else 3) and (dflt > 0).all()


def test_radial_spectrum_scale_invariant_and_peak_bin():
    yy, xx = torch.meshgrid(torch.arange(16), torch.arange(16), indexing='ij')
    x = torch.cos(2 * math.pi * (4 / 16) * xx + 0.3).reshape(1, 1, 256, 1)
    fq, p = radial_spectrum(x, (16, 16), n_bins=8, mirror=False)
    assert abs(fq[p.argmax()].item() - 0.25) <= 1 / 32 + 1e-6
    torch.testing.assert_close(radial_spectrum(123.0 * x, (16, 16), 8, False)[1], p)
    assert radial_spectrum(torch.ones(1, 1, 256, 2), (16, 16))[1].abs().sum() == 0


# ---- sharpness ---------------------------------------------------------------------------------------------
def test_blurred_mask_less_sharp():
    ids = scene()[None, None]
    m = ids_to_masks(ids, S)
    sh, shb = boundary_sharpness(m, ids, (H, W)), boundary_sharpness(blur_masks(m, (H, W), 1.0), ids, (H, W))
    assert sh['boundary'].item() > 0.99 and sh['interior'].item() < 1e-6
    assert shb['boundary'].item() < sh['boundary'].item()
    assert shb['interior'].item() > sh['interior'].item()
    assert shb['contrast'].item() < sh['contrast'].item()
    more = boundary_sharpness(blur_masks(m, (H, W), 2.0), ids, (H, W))
    assert more['contrast'].item() < shb['contrast'].item()


def test_boundary_sharpness_matches_loop_and_nan_without_boundary():
    torch.manual_seed(1)
    m = torch.randn(1, 2, S, H * W).mul(3).softmax(2)
    ids = torch.randint(0, 3, (1, 2, H, W))
    g = m.reshape(1, 2, S, H, W)
    got = boundary_sharpness(m, ids, (H, W))
    for t in range(2):
        bnd, inn = [], []
        for i in range(H):
            for j in range(W):
                for p, q in ((i + 1, j), (i, j + 1)):
                    if p < H and q < W:
                        d = 0.5 * (g[0, t, :, i, j] - g[0, t, :, p, q]).abs().sum().item()
                        (bnd if ids[0, t, i, j] != ids[0, t, p, q] else inn).append(d)
        assert got['boundary'][0, t].item() == pytest.approx(np.mean(bnd), abs=1e-6)
        assert got['interior'][0, t].item() == pytest.approx(np.mean(inn), abs=1e-6)
    one = boundary_sharpness(m[:, :1], torch.zeros(1, 1, H, W, dtype=torch.long), (H, W))
    assert math.isnan(one['boundary'].item()) and math.isnan(one['contrast'].item())


def test_boundary_fscore_perfect_and_imperfect():
    ids = scene()[None, None]
    assert boundary_fscore(ids_to_masks(ids, S), ids, (H, W)).item() == 1.0
    relabelled = ids_to_masks((ids + 1) % 3, S)                      # other slot ids, same boundaries
    assert boundary_fscore(relabelled, ids, (H, W), tol=0).item() == 1.0
    shifted = ids_to_masks(ids.roll(3, -1), S)
    f0, f1, f3 = (boundary_fscore(shifted, ids, (H, W), tol=k).item() for k in (0, 1, 3))
    assert f0 < 1.0 and f0 <= f1 <= f3
    empty = torch.zeros(1, 1, H, W, dtype=torch.long)
    assert boundary_fscore(ids_to_masks(empty, S), empty, (H, W)).item() == 1.0
    assert boundary_fscore(ids_to_masks(empty, S), ids, (H, W)).item() == 0.0


def test_boundary_fscore_matches_loop():
    torch.manual_seed(2)
    pred = torch.randint(0, 3, (1, 1, H, W)); gt = torch.randint(0, 2, (1, 1, H, W))
    pred[..., :5, :] = 0; gt[..., :5, :] = 1                           # some flat regions
    def bmap(l):
        return np.array([[any(0 <= i + a < H and 0 <= j + c < W and l[i + a, j + c] != l[i, j]
                              for a, c in ((-1, 0), (1, 0), (0, -1), (0, 1))) for j in range(W)] for i in range(H)])
    bp, bg = bmap(pred[0, 0].numpy()), bmap(gt[0, 0].numpy())
    for tol in (0, 1, 2):
        near = lambda a, b: np.array([[a[i, j] and b[max(0, i - tol):i + tol + 1, max(0, j - tol):j + tol + 1].any()
                                       for j in range(W)] for i in range(H)])
        p, r = near(bp, bg).sum() / bp.sum(), near(bg, bp).sum() / bg.sum()
        ref = 2 * p * r / (p + r) if p + r > 0 else 0.0
        got = boundary_fscore(ids_to_masks(pred, 3), gt, (H, W), tol=tol).item()
        assert got == pytest.approx(ref, abs=1e-6)


# ---- ground truth on the grid ------------------------------------------------------------------------------
def test_ids_to_grid_majority_matches_loop():
    torch.manual_seed(3)
    ids = torch.randint(0, 4, (2, 1, 12, 15)) * 3                     # non-contiguous ids
    got = ids_to_grid(ids, (4, 5))
    for b in range(2):
        for i in range(4):
            for j in range(5):
                cell = ids[b, 0, 3 * i:3 * i + 3, 3 * j:3 * j + 3].flatten()
                vals, counts = torch.unique(cell, return_counts=True)
                assert got[b, 0, i, j].item() == vals[counts == counts.max()].min().item()
    assert torch.equal(ids_to_grid(ids, (12, 15)), ids)


# ---- agreement ---------------------------------------------------------------------------------------------
def test_agreement_perfect_and_relabelled():
    m = ids_to_masks(scene()[None, None].expand(2, 3, H, W).contiguous(), S)
    assert torch.all(argmax_agreement(m, m) == 1.0)
    assert torch.all(mask_ari(m, m) == 1.0)
    perm = m[:, :, [3, 2, 0, 1]]
    assert torch.all(mask_ari(m, perm) == 1.0)
    assert torch.all(argmax_agreement(m, perm) < 1.0)


def test_ari_matches_sklearn():
    g = torch.Generator().manual_seed(4)
    for n_a, n_b, n in [(3, 5, 60), (2, 2, 5), (1, 4, 30), (1, 1, 10), (7, 7, 100), (4, 1, 3)]:
        a = torch.randint(0, n_a, (5, n), generator=g); b = torch.randint(0, n_b, (5, n), generator=g)
        onehot = lambda l: F.one_hot(l, max(n_a, n_b)).permute(0, 2, 1)[:, None].double()  # (5,1,S,n) masks
        got = mask_ari(onehot(a), onehot(b))[:, 0]
        assert got.dtype == torch.float64
        for k in range(5):
            assert got[k].item() == pytest.approx(adjusted_rand_score(a[k].numpy(), b[k].numpy()), abs=1e-10)


# ---- low-pass: the gradient helper -------------------------------------------------------------------------
def test_recon_grad_matches_analytic_linear():
    torch.manual_seed(5)
    z, Wm, target = torch.randn(2, 3, 6, 4), torch.randn(4, 5), torch.randn(2, 3, 6, 5)
    ref = 2 * (z @ Wm - target) @ Wm.T / target.numel()
    torch.testing.assert_close(recon_grad(z, target, recon_fn=lambda x: x @ Wm), ref)
    zg = z.clone().requires_grad_(True)
    recon = zg @ Wm
    torch.testing.assert_close(recon_grad(zg, target, recon=recon), ref)
    torch.testing.assert_close(recon_grad(zg, target, recon=recon), ref)   # graph kept for a second call
    assert z.grad is None and not z.requires_grad


def test_recon_grad_errors():
    z, target = torch.randn(1, 1, 4, 2), torch.randn(1, 1, 4, 3)
    with pytest.raises(ValueError, match='exactly one of'): recon_grad(z, target)
    with pytest.raises(ValueError, match="target's shape"): recon_grad(z, target, recon_fn=lambda x: x)
    with pytest.raises(ValueError, match='must require grad'): recon_grad(z, target, recon=torch.randn(1, 1, 4, 3))
    with pytest.raises(ValueError, match='does not depend'):
        recon_grad(z, target, recon_fn=lambda x: torch.zeros(1, 1, 4, 3, requires_grad=True))


# ---- errors ------------------------------------------------------------------------------------------------
def test_shape_and_dtype_errors_are_clear():
    m = ids_to_masks(scene()[None, None], S)
    with pytest.raises(ValueError, match=r'N = h\*w = 121.*got shape \(1, 1, 4, 120\)'): isolated_share(m, (11, 11))
    with pytest.raises(TypeError, match='floating-point.*torch.int64'): mask_hf_fraction(m.long(), (H, W))
    with pytest.raises(ValueError, match=r'\(B,T,S,N\)'): boundary_sharpness(m[0], scene()[None, None], (H, W))
    with pytest.raises(ValueError, match=r'grid_hw'): isolated_share(m, (H,))
    with pytest.raises(ValueError, match=r'grid_hw'): isolated_share(m, (0, W))
    with pytest.raises(TypeError, match=r'long tensor \(B,T,H,W\)'): boundary_fscore(m, scene()[None, None].float(), (H, W))
    with pytest.raises(ValueError, match=r'expected \(B,T\) = \(1, 1\)'):
        boundary_sharpness(m, scene()[None, None].expand(2, 1, H, W), (H, W))
    with pytest.raises(ValueError, match='expected one shape'): argmax_agreement(m, m[:, :, :3])
    with pytest.raises(TypeError, match=r'\(B,T,N,C\)'): hf_fraction(np.zeros((1, 1, H * W, 2)), (H, W))
    with pytest.raises(ValueError, match=r'values in \[0, 4\)'): ids_to_masks(scene()[None, None] + 5, S)
    with pytest.raises(KeyError, match="lacks \\['enc_masks'\\]"): diagnose({'dec_masks': m}, None, (H, W))


# ---- diagnose and the plot ---------------------------------------------------------------------------------
def test_diagnose_keys_ranges_and_story():
    ids = scene()[None, None].expand(2, 2, H, W).contiguous()
    g = torch.Generator().manual_seed(6)
    flip = torch.rand(ids.shape, generator=g) < 0.1
    enc = ids_to_masks(torch.where(flip, torch.randint(0, 3, ids.shape, generator=g), ids), S)
    dec = blur_masks(ids_to_masks(ids, S), (H, W), 1.0)
    out = {'enc_masks': enc, 'dec_masks': dec, 'features': torch.randn(2, 2, H * W, 6),
           'encoded': torch.randn(2, 2, H * W, 3)}
    big = ids.repeat_interleave(3, -2).repeat_interleave(3, -1)
    d = diagnose(out, big, (H, W), grad=blur_masks(out['encoded'].transpose(-1, -2).softmax(2), (H, W), 1.5).transpose(-1, -2))
    per = ['isolated', 'hf', 'boundary', 'interior', 'contrast', 'bf']
    assert set(d) == ({f'{p}_{k}' for p in ('enc', 'dec') for k in per} |
                      {'agree_argmax', 'agree_ari', 'features_hf', 'encoded_hf', 'grad_hf', 'grad_hf_ratio'})
    assert all(isinstance(v, float) and math.isfinite(v) for v in d.values())
    assert d['enc_isolated'] > d['dec_isolated'] and d['enc_hf'] > d['dec_hf']
    assert d['enc_contrast'] > d['dec_contrast'] and d['enc_boundary'] > d['dec_boundary']
    assert 0 < d['agree_argmax'] < 1 and d['grad_hf_ratio'] < 1
    assert d['enc_isolated'] == pytest.approx(isolated_share(enc, (H, W)).mean().item())
    d0 = diagnose({'enc_masks': enc, 'dec_masks': enc}, None, (H, W))
    assert set(d0) == {'enc_isolated', 'enc_hf', 'dec_isolated', 'dec_hf', 'agree_argmax', 'agree_ari'}
    assert d0['agree_argmax'] == 1.0 and d0['agree_ari'] == 1.0


def test_plot_cycle_panels():
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ids = scene()[None, None]
    m = ids_to_masks(ids, S)
    assert len(plot_cycle((m, m), (H, W), dpi=40).axes) == 2
    fig = plot_cycle({'enc_masks': m, 'dec_masks': blur_masks(m, (H, W))}, (H, W),
                     frames=torch.randn(1, 1, 3, 2 * H, 2 * W), true_ids=ids, dpi=40)
    assert len(fig.axes) == 4 and 'BF 1.00' in fig.axes[2].get_title()
    plt.close(fig)
