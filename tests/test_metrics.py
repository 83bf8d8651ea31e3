"FG-ARI / mBO / J&F against independent references: scikit-learn, dense one-hot tables, a per-object DAVIS-toolkit-style loop."
import math
import numpy as np
import pytest
import torch
from scipy import ndimage
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score
from srl_nb.metrics import (masks_to_ids, video_fg_ari, image_fg_ari, video_mbo, image_mbo, davis_jandf,
                            evaluate_masks, MetricAccumulator, kmeans_floor, kmeans, contingency, or_dilate_disk,
                            boundary_tolerance)

# ---------------------------------------------------------------- references (plain, per object / per pixel)
def ref_fg_ari(pred, true):
    "sklearn ARI over the foreground pixels of one volume; 1.0 when there is none (reference rule)"
    fg = true != 0
    if not fg.any(): return 1.0
    return adjusted_rand_score(true[fg].ravel(), pred[fg].ravel())

def ref_mbo(pred, true):
    "Loop over objects and slots with boolean masks"
    objs = [g for g in np.unique(true) if g != 0]
    if not objs: return float('nan')
    best = []
    for g in objs:
        m = true == g
        best.append(max(((m & (pred == k)).sum() / (m | (pred == k)).sum()) for k in np.unique(pred)))
    return float(np.mean(best))

def onehot_tables(pred, true):
    "Dense one-hot einsum contingency table (B,Kt,Kp) in float64, as the reference codebases compute it"
    Kt, Kp = int(true.max()) + 1, int(pred.max()) + 1
    t = torch.nn.functional.one_hot(true.flatten(1), Kt).double()
    p = torch.nn.functional.one_hot(pred.flatten(1), Kp).double()
    return torch.einsum('bnc,bnk->bck', t, p)

def seg2bmap(seg):
    "DAVIS toolkit boundary map of a binary mask (pixel differs from its E, S or SE neighbour)"
    seg = seg.astype(bool)
    e = np.zeros_like(seg); s = np.zeros_like(seg); se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]; s[:-1, :] = seg[1:, :]; se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b

def disk(r):
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    return x ** 2 + y ** 2 <= r ** 2

def ref_f(fg, gt, r):
    fb, gb = seg2bmap(fg), seg2bmap(gt)
    fd = ndimage.binary_dilation(fb, disk(r)) if r > 0 else fb
    gd = ndimage.binary_dilation(gb, disk(r)) if r > 0 else gb
    nf, ng = fb.sum(), gb.sum()
    if nf == 0 and ng > 0: P, R = 1., 0.
    elif nf > 0 and ng == 0: P, R = 0., 1.
    elif nf == 0 and ng == 0: P, R = 1., 1.
    else: P, R = (fb & gd).sum() / nf, (gb & fd).sum() / ng
    return 0. if P + R == 0 else 2 * P * R / (P + R)

def ref_j(fg, gt):
    u = (fg | gt).sum()
    return 1. if u == 0 else (fg & gt).sum() / u

def ref_jandf(pred, true, r):
    "DAVIS-2017 unsupervised per video, object by object, frame by frame"
    objs = [g for g in np.unique(true) if g != 0]
    if not objs: return float('nan'), float('nan')
    props = [pred == k for k in np.unique(pred)]
    while len(props) < len(objs): props.append(np.zeros_like(true, dtype=bool))
    T = true.shape[0]
    J = np.zeros((len(props), len(objs), T)); Fm = np.zeros_like(J)
    for i, p in enumerate(props):
        for j, g in enumerate(objs):
            for t in range(T):
                J[i, j, t] = ref_j(p[t], true[t] == g); Fm[i, j, t] = ref_f(p[t], true[t] == g, r)
    rows, cols = linear_sum_assignment(-(J.mean(2) + Fm.mean(2)) / 2)
    return J.mean(2)[rows, cols].mean(), Fm.mean(2)[rows, cols].mean()

# ---------------------------------------------------------------- random labelings
def random_case(g, B, T, H, W, n_true, n_pred, gaps=False, blocky=False):
    if blocky:   # piecewise-constant maps (realistic boundaries)
        h, w = max(1, H // 4), max(1, W // 4)
        true = torch.randint(0, n_true, (B, T, h, w), generator=g)
        pred = torch.randint(0, n_pred, (B, T, h, w), generator=g)
        up = lambda x: torch.nn.functional.interpolate(x.float(), size=(H, W), mode='nearest').long()
        true, pred = up(true), up(pred)
        flip = torch.rand(B, T, H, W, generator=g) < 0.1
        pred = torch.where(flip, torch.randint(0, n_pred, (B, T, H, W), generator=g), pred)
    else:
        true = torch.randint(0, n_true, (B, T, H, W), generator=g)
        pred = torch.randint(0, n_pred, (B, T, H, W), generator=g)
    if gaps:   # non-contiguous ids, relabelled and permuted
        tmap = torch.randperm(1000, generator=g)[:n_true]; tmap[0] = 0
        pmap = torch.randperm(100000, generator=g)[:n_pred]
        true, pred = tmap[true], pmap[pred]
    return pred, true

CASES = [(1, 1, 5, 7, 2, 2), (2, 3, 8, 8, 4, 3), (3, 2, 6, 9, 11, 5), (2, 4, 5, 5, 3, 11), (1, 24, 6, 6, 24, 11),
         (2, 2, 16, 12, 6, 7), (4, 1, 3, 3, 2, 1), (1, 2, 9, 4, 1, 4)]

@pytest.mark.parametrize('gaps', [False, True])
@pytest.mark.parametrize('case', CASES)
def test_fg_ari_matches_sklearn(case, gaps):
    g = torch.Generator().manual_seed(hash((case, gaps)) % 2**31)
    for blocky in (False, True):
        pred, true = random_case(g, *case, gaps=gaps, blocky=blocky)
        v, im = video_fg_ari(pred, true), image_fg_ari(pred, true)
        assert v.dtype == torch.float64 and v.shape == case[:1] and im.shape == case[:2]
        P, Tn = pred.numpy(), true.numpy()
        ref_v = torch.tensor([ref_fg_ari(P[b], Tn[b]) for b in range(case[0])], dtype=torch.float64)
        ref_i = torch.tensor([[ref_fg_ari(P[b, t], Tn[b, t]) for t in range(case[1])] for b in range(case[0])], dtype=torch.float64)
        torch.testing.assert_close(v, ref_v, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(im, ref_i, rtol=1e-9, atol=1e-9)

@pytest.mark.parametrize('case', CASES)
def test_mbo_matches_loop_reference(case):
    g = torch.Generator().manual_seed(7 + hash(case) % 1000)
    for gaps in (False, True):
        pred, true = random_case(g, *case, gaps=gaps, blocky=True)
        P, Tn = pred.numpy(), true.numpy()
        ref_v = torch.tensor([ref_mbo(P[b], Tn[b]) for b in range(case[0])], dtype=torch.float64)
        ref_i = torch.tensor([[ref_mbo(P[b, t], Tn[b, t]) for t in range(case[1])] for b in range(case[0])], dtype=torch.float64)
        torch.testing.assert_close(video_mbo(pred, true), ref_v, equal_nan=True, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(image_mbo(pred, true), ref_i, equal_nan=True, rtol=1e-12, atol=1e-12)

def test_contingency_matches_onehot_and_chunking():
    g = torch.Generator().manual_seed(3)
    pred, true = random_case(g, 3, 4, 10, 11, 6, 5)
    tab = contingency(pred, true)
    torch.testing.assert_close(tab, onehot_tables(pred, true))
    torch.testing.assert_close(contingency(pred, true, chunk_elems=1), tab)            # one video per chunk
    torch.testing.assert_close(contingency(pred, true, per_frame=True).reshape(3, 4, 6, 5).sum(1), tab)
    big_p, big_t = pred * 10_000, true * 3_000                                          # compacted ids
    torch.testing.assert_close(contingency(big_p, big_t)[:, :, :], tab)

# ---------------------------------------------------------------- degenerate cases and known answers
def test_degenerate_fg_ari():
    true = torch.zeros(2, 3, 6, 6, dtype=torch.long); true[:, :, :3] = 7; true[:, :, 3:, :2] = 200
    pred = true.clone()
    relabelled = torch.where(true == 7, 4, torch.where(true == 200, 0, 9))
    torch.testing.assert_close(video_fg_ari(relabelled, true), torch.ones(2, dtype=torch.float64))  # perfect, relabelled
    one_slot = torch.zeros_like(true)
    torch.testing.assert_close(video_fg_ari(one_slot, true), torch.zeros(2, dtype=torch.float64))    # all one slot: 0
    single = (true != 0).long() * 3                                                                   # a single object
    torch.testing.assert_close(video_fg_ari(one_slot, single), torch.ones(2, dtype=torch.float64))   # one true cluster: 1
    empty = torch.zeros_like(true)
    torch.testing.assert_close(video_fg_ari(pred, empty), torch.ones(2, dtype=torch.float64))        # reference rule
    assert video_fg_ari(pred, empty, empty=float('nan')).isnan().all()
    assert image_fg_ari(pred, empty, empty=float('nan')).isnan().all()
    # one foreground pixel: denominator 0 -> 1
    t1 = torch.zeros(1, 1, 4, 4, dtype=torch.long); t1[0, 0, 1, 1] = 5
    torch.testing.assert_close(video_fg_ari(torch.randint(0, 3, (1, 1, 4, 4)), t1), torch.ones(1, dtype=torch.float64))
    # mixed batch: empty video next to a full one
    mix = true.clone(); mix[1] = 0
    r = video_fg_ari(one_slot, mix, empty=float('nan'))
    assert r[0].item() == 0.0 and r[1].isnan()

def test_degenerate_mbo():
    true = torch.zeros(1, 2, 4, 4, dtype=torch.long); true[..., :2, :2] = 3; true[..., 2:, 2:] = 9
    pred = torch.zeros_like(true)                        # one slot over everything
    torch.testing.assert_close(video_mbo(pred, true), torch.tensor([8 / 32], dtype=torch.float64))
    more = torch.where(true == 3, 1, torch.where(true == 9, 2, 0)); more[..., 0, 3] = 5   # more slots than objects
    torch.testing.assert_close(video_mbo(more, true), torch.ones(1, dtype=torch.float64))
    fewer = (true != 0).long()                             # fewer slots than objects: one slot for both
    torch.testing.assert_close(video_mbo(fewer, true), torch.tensor([0.5], dtype=torch.float64))
    assert video_mbo(pred, torch.zeros_like(true)).isnan().all()
    im = image_mbo(pred, torch.cat([true[:, :1], torch.zeros_like(true[:, :1])], 1))
    torch.testing.assert_close(im[0, 0], torch.tensor(4 / 16, dtype=torch.float64)); assert im[0, 1].isnan()

def test_bad_input():
    p = torch.zeros(1, 2, 4, 4, dtype=torch.long)
    for fn in (video_fg_ari, image_fg_ari, video_mbo, image_mbo, davis_jandf):
        with pytest.raises(TypeError, match='integer ids'): fn(p.float(), p)
        with pytest.raises(TypeError, match='integer ids'): fn(p, p.bool())
        with pytest.raises(ValueError, match='>= 0'): fn(p, p - 1)
        with pytest.raises(ValueError, match='same shape'): fn(p, p[:, :, :3])
        with pytest.raises(ValueError, match=r'\(B,T,H,W\)'): fn(p[0], p[0])
    with pytest.raises(ValueError, match='grid_hw'): masks_to_ids(torch.rand(1, 1, 3, 10), (3, 3), (6, 6))
    with pytest.raises(ValueError, match='rounding'): boundary_tolerance((10, 10), 0.02, 'floor')
    with pytest.raises(ValueError, match='n_clusters'): kmeans(torch.rand(1, 5, 2), 6)

def test_fg_ari_large_video_exact_special_cases():
    "At MOVi size pair counts are ~1e13: the zero-denominator rule must not depend on float rounding"
    true = torch.zeros(1, 24, 336, 336, dtype=torch.uint8); true[..., 1:, :] = 4         # one object, 2.7M pixels
    pred = torch.full_like(true, 9)
    torch.testing.assert_close(video_fg_ari(pred, true), torch.ones(1, dtype=torch.float64))
    fg = (true != 0).numpy()
    rng = np.random.default_rng(0)
    p2 = torch.from_numpy(rng.integers(0, 11, true.shape)).to(torch.uint8)
    t2 = torch.from_numpy(rng.integers(1, 11, true.shape)).to(torch.uint8) * torch.from_numpy(fg).to(torch.uint8)
    ref = adjusted_rand_score(t2.numpy()[fg], p2.numpy()[fg])
    assert abs(video_fg_ari(p2, t2).item() - ref) < 1e-9

def test_uint8_and_int32_ids():
    g = torch.Generator().manual_seed(0)
    pred, true = random_case(g, 2, 2, 5, 5, 4, 3)
    ref = video_fg_ari(pred, true)
    torch.testing.assert_close(video_fg_ari(pred.to(torch.int32), true.to(torch.uint8)), ref)

# ---------------------------------------------------------------- masks_to_ids and evaluate_masks
def test_masks_to_ids_matches_dense():
    torch.manual_seed(0)
    m = torch.randn(2, 3, 5, 12).softmax(2)
    ids = masks_to_ids(m, (3, 4), (9, 10), chunk_elems=1)    # one frame per chunk
    dense = torch.nn.functional.interpolate(m.reshape(6, 5, 3, 4), size=(9, 10), mode='bilinear').argmax(1).reshape(2, 3, 9, 10)
    assert torch.equal(ids, dense) and ids.dtype == torch.long
    ties = torch.full((1, 1, 3, 4), 1 / 3)                    # ties go to the lowest slot
    assert (masks_to_ids(ties, (2, 2), (4, 4)) == 0).all()

def test_evaluate_masks_and_accumulator():
    torch.manual_seed(1)
    m = torch.randn(3, 4, 6, 16).softmax(2)
    true = torch.randint(0, 4, (3, 4, 8, 8)); true[2] = 0
    out = evaluate_masks(m, true, (4, 4))
    ids = masks_to_ids(m, (4, 4), (8, 8))
    torch.testing.assert_close(out['video_fg_ari'], video_fg_ari(ids, true))
    torch.testing.assert_close(out['image_fg_ari'], image_fg_ari(ids, true))
    torch.testing.assert_close(out['video_mbo'], video_mbo(ids, true), equal_nan=True)
    torch.testing.assert_close(out['image_mbo'], image_mbo(ids, true), equal_nan=True)
    acc = MetricAccumulator()
    acc.update({'video_mbo': out['video_mbo'][:2]}).update({'video_mbo': out['video_mbo'][2:]})
    s = acc.summary()['video_mbo']
    assert s['n'] == 2 and s['skipped'] == 1
    assert abs(s['mean'] - out['video_mbo'][:2].mean().item()) < 1e-12
    assert math.isnan(MetricAccumulator().update({'x': torch.tensor([float('nan')])}).compute()['x'])

# ---------------------------------------------------------------- J&F
def test_or_dilate_matches_binary_dilation():
    g = torch.Generator().manual_seed(0)
    bits = (torch.rand(3, 13, 17, generator=g) < 0.03).long() | ((torch.rand(3, 13, 17, generator=g) < 0.02).long() << 5)
    for r in (0, 1, 2, 3, 5, 7):
        d = or_dilate_disk(bits, r)
        for bit in (0, 5):
            plane = ((bits >> bit) & 1).bool().numpy()
            ref = np.stack([ndimage.binary_dilation(x, disk(r)) if r else x for x in plane])
            assert np.array_equal(((d >> bit) & 1).bool().numpy(), ref), (r, bit)

def test_boundary_tolerance():
    assert boundary_tolerance((480, 854)) == 20                       # round(0.02 * 979.7)
    assert boundary_tolerance((480, 854), 0.008, 'ceil') == 8         # DAVIS toolkit default
    assert boundary_tolerance((336, 336)) == round(0.02 * math.hypot(336, 336))
    assert boundary_tolerance((10, 10), 3) == 3

@pytest.mark.parametrize('n_true,n_pred,bound_th', [(3, 4, 2), (4, 2, 1), (2, 6, 3), (5, 5, 0.02)])
def test_jandf_matches_toolkit_loop(n_true, n_pred, bound_th):
    g = torch.Generator().manual_seed(n_true * 10 + n_pred)
    pred, true = random_case(g, 2, 3, 16, 20, n_true, n_pred, blocky=True)
    true[1, 1] = 0                                                     # a frame without objects
    true[0, 2] = torch.where(true[0, 2] == 1, 0, true[0, 2])           # object 1 leaves in the last frame
    pred[0, 2] = torch.where(pred[0, 2] == 1, 0, pred[0, 2])           # and so does slot 1: empty-both pairs (J=F=1)
    res = davis_jandf(pred, true, bound_th=bound_th)
    r = boundary_tolerance((16, 20), bound_th)
    for b in range(2):
        J, Fm = ref_jandf(pred[b].numpy(), true[b].numpy(), r)
        assert abs(res['J'][b].item() - J) < 1e-12 and abs(res['F'][b].item() - Fm) < 1e-12
        assert abs(res['J&F'][b].item() - (J + Fm) / 2) < 1e-12
    res2 = davis_jandf(pred, true, bound_th=bound_th, chunk_elems=1)   # one frame per chunk
    for k in ('J', 'F', 'J&F'): torch.testing.assert_close(res2[k], res[k])

@pytest.mark.parametrize('n_true,n_pred', [(16, 20), (31, 40)])   # one int64 word; two separate words (> 63 masks)
def test_jandf_many_masks(n_true, n_pred):
    g = torch.Generator().manual_seed(n_pred)
    pred, true = random_case(g, 1, 1, 12, 14, n_true, n_pred)
    K, G = len(pred.unique()), len(true.unique()) - 1
    assert (K + G > 63) == (n_true > 16)
    res = davis_jandf(pred, true, bound_th=1)
    J, Fm = ref_jandf(pred[0].numpy(), true[0].numpy(), 1)
    assert abs(res['J'][0].item() - J) < 1e-12 and abs(res['F'][0].item() - Fm) < 1e-12

def test_jandf_known_answers():
    true = torch.zeros(2, 2, 30, 30, dtype=torch.long); true[0, :, 5:15, 5:15] = 3; true[0, :, 18:28, 2:12] = 8
    pred = torch.where(true == 3, 0, torch.where(true == 8, 5, 2))
    res = davis_jandf(pred, true, bound_th=2)
    test = lambda k, v: torch.testing.assert_close(res[k][0], torch.tensor(v, dtype=torch.float64))
    test('J', 1.0); test('F', 1.0); test('J&F', 1.0)
    assert res['J'][1].isnan() and res['J&F'][1].isnan()                # no object in video 1
    assert res['J_obj'].shape == (2, 2) and not res['J_obj'][0].isnan().any()
    # fewer proposals than objects: one slot over everything -> one object is matched to an empty proposal
    one = torch.zeros_like(true)
    res = davis_jandf(one, true, bound_th=2)
    iou = 100 / 900
    assert abs(res['J'][0].item() - iou / 2) < 1e-12                 # matched IoU 100/900, padded object 0
    # object absent in one frame, matched to an empty proposal: J = F = 1 in that frame
    t2 = torch.zeros(1, 2, 20, 20, dtype=torch.long); t2[0, 0, 2:8, 2:8] = 1; t2[0, :, 10:18, 10:18] = 2
    p2 = (t2 == 2).long()                                              # 2 proposals for 2 objects
    res = davis_jandf(p2, t2, bound_th=1)
    J_ref, F_ref = ref_jandf(p2[0].numpy(), t2[0].numpy(), 1)
    assert abs(res['J'][0].item() - J_ref) < 1e-12 and abs(res['F'][0].item() - F_ref) < 1e-12

# ---------------------------------------------------------------- k-means floor
def test_kmeans_floor_deterministic_and_recovers_clusters():
    torch.manual_seed(0)
    B, T, h, C = 3, 2, 6, 8
    ids = torch.randint(0, 4, (B, T, h, h))
    feats = (torch.randn(4, C) * 4)[ids.flatten(2)] + 0.05 * torch.randn(B, T, h * h, C)
    a = kmeans_floor(feats, ids, (h, h), 4, seed=3); b = kmeans_floor(feats, ids, (h, h), 4, seed=3)
    assert torch.equal(a['assign'], b['assign'])
    torch.testing.assert_close(a['video_fg_ari'], torch.ones(B, dtype=torch.float64))
    torch.testing.assert_close(a['video_mbo'], torch.ones(B, dtype=torch.float64))
    assert a['assign'].shape == (B, T, h * h)
