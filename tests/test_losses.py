"""Objectives of `srl_nb.losses`: hand-computed values, independent loop implementations, and the streamed
deblurring/denoising contrast against the dense references (values and gradients, float64, ties and
degenerate cases). Set SRL_SLOW=1 to add the paper-scale checks."""
import math, os, subprocess, sys
import pytest
import torch
import torch.nn.functional as F

from srl_nb.losses import (feature_reconstruction_loss, slot_slot_contrastive_loss, slotcontrast_temporal_loss,
                           slot_redundancy_loss, choose_redundant_slots, deblur_contrastive_loss,
                           denoise_contrastive_loss, deblur_contrastive_loss_dense, denoise_contrastive_loss_dense)

LAM = 0.1 / 0.07
slow = pytest.mark.skipif(not os.environ.get('SRL_SLOW'), reason='paper-scale check; set SRL_SLOW=1')


def rel_err(a, b):
    "max |a-b| / max |b| (absolute when b is all zero)"
    d = (a - b).abs().max().item()
    s = b.abs().max().item()
    return d / s if s > 0 else d


def assert_rel(a, b, tol=1e-6):
    assert a.shape == b.shape, (a.shape, b.shape)
    e = rel_err(a.double(), b.double())
    assert e < tol, f"relative error {e:.3g} >= {tol}"


# ---------------------------------------------------------------- reconstruction

def test_reconstruction_by_hand():
    recon = torch.tensor([[[[1., -1], [0, 2]]], [[[3., 0], [0, 0]]]], requires_grad=True)  # (2,1,2,2)
    target = torch.tensor([[[[0., 0], [0, 0]]], [[[1., 0], [0, 1]]]], requires_grad=True)
    loss = feature_reconstruction_loss(recon, target)
    assert math.isclose(loss.item(), (1 + 1 + 0 + 4 + 4 + 0 + 0 + 1) / 8, rel_tol=1e-7)
    loss.backward()
    assert target.grad is None
    torch.testing.assert_close(recon.grad, 2 * (recon - target).detach() / 8)


def test_reconstruction_errors_and_half():
    with pytest.raises(ValueError, match='expected 4 dims'): feature_reconstruction_loss(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match='expected the shape of recon'):
        feature_reconstruction_loss(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 5))
    r, t = torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4)
    for dt in (torch.float16, torch.bfloat16):
        out = feature_reconstruction_loss(r.to(dt), t.to(dt))
        assert out.dtype == torch.float32
        torch.testing.assert_close(out, F.mse_loss(r.to(dt).float(), t.to(dt).float()))


# ---------------------------------------------------------------- slot-slot contrast

def slot_slot_loops(slots, tau=0.1, tau_base=0.07):
    "The paper's L_sc, written anchor by anchor with python loops"
    B, T, S, D = slots.shape
    x = F.normalize(slots.double(), dim=-1)
    items = [(b, s, t) for b in range(B) for s in range(S) for t in range(T)]
    total = 0.
    for (b, s, t) in items:
        den, pos = [], []
        for (b2, s2, t2) in items:
            if (b2, s2, t2) == (b, s, t): continue
            same = (b2, s2) == (b, s)
            if same and abs(t2 - t) >= 2: continue
            logit = (x[b, t, s] @ x[b2, t2, s2]).item() / tau
            den.append(logit)
            if same and abs(t2 - t) == 1: pos.append(logit)
        lse = math.log(sum(math.exp(v) for v in den))
        total += -(tau / tau_base) * (sum(p - lse for p in pos) / len(pos) if pos else 0.)
    return total / len(items)


def test_slot_slot_by_hand():
    # two constant orthogonal tracks, three frames (worked out in 07a_losses)
    slots = torch.tensor([[1., 0], [0, 1]]).expand(1, 3, 2, 2)
    end, mid = 10 - math.log(math.exp(10) + 3), 10 - math.log(2 * math.exp(10) + 3)
    assert math.isclose(slot_slot_contrastive_loss(slots).item(), -LAM * (2 * end + mid) / 3, rel_tol=1e-6)
    # two frames, two clips of one slot each: anchor (clip 0, t0): positive 10, others 0, 0 (other clip)
    slots = torch.tensor([[1., 0], [0, 1]])[:, None, None].expand(2, 2, 1, 2)
    assert math.isclose(slot_slot_contrastive_loss(slots, 0.2, 0.1).item(),
                        -2 * (5 - math.log(math.exp(5) + 2)), rel_tol=1e-6)


@pytest.mark.parametrize('shape', [(1, 4, 3, 5), (2, 3, 2, 4), (3, 2, 1, 6), (2, 1, 3, 4)])
def test_slot_slot_matches_loops(shape):
    torch.manual_seed(sum(shape))
    slots = torch.randn(*shape, dtype=torch.float64)
    assert_rel(slot_slot_contrastive_loss(slots, 0.2, 0.05), torch.tensor(slot_slot_loops(slots, 0.2, 0.05), dtype=torch.float64))


def test_slot_slot_single_frame_is_zero_and_grad_flows():
    assert slot_slot_contrastive_loss(torch.randn(2, 1, 3, 4)).item() == 0.
    slots = torch.randn(2, 4, 3, 8, requires_grad=True)
    slot_slot_contrastive_loss(slots).backward()
    assert torch.isfinite(slots.grad).all() and slots.grad.abs().sum() > 0
    assert slot_slot_contrastive_loss(slots.detach().half()).dtype == torch.float32


def test_slot_slot_prefers_consistent_tracks():
    torch.manual_seed(3)
    base = torch.randn(2, 1, 6, 16)
    consistent = base + 0.05 * torch.randn(2, 4, 6, 16)
    shuffled = torch.stack([consistent[:, t, torch.randperm(6)] for t in range(4)], 1)
    assert slot_slot_contrastive_loss(consistent) < slot_slot_contrastive_loss(shuffled)


def slotcontrast_loops(slots, tau=0.1):
    B, T, S, D = slots.shape
    x = F.normalize(slots.double(), dim=-1)
    flat = [[x[b, t, s] for b in range(B) for s in range(S)] for t in range(T)]
    total, n = 0., 0
    for t in range(T - 1):
        for j, a in enumerate(flat[t + 1]):
            logits = [(c @ a).item() / tau for c in flat[t]]
            total += -(logits[j] - math.log(sum(math.exp(v) for v in logits)))
            n += 1
    return total / n


def test_slotcontrast_by_hand_and_loops():
    slots = torch.tensor([[[1., 0], [1, 0]], [[1, 0], [0, 1]]])[None]
    assert math.isclose(slotcontrast_temporal_loss(slots).item(), math.log(2), rel_tol=1e-6)
    for shape in [(2, 3, 2, 5), (1, 4, 3, 3)]:
        torch.manual_seed(len(shape) + shape[0])
        s = torch.randn(*shape, dtype=torch.float64)
        assert_rel(slotcontrast_temporal_loss(s, 0.3), torch.tensor(slotcontrast_loops(s, 0.3), dtype=torch.float64))
    with pytest.raises(ValueError, match='T >= 2'): slotcontrast_temporal_loss(torch.randn(1, 1, 2, 3))


# ---------------------------------------------------------------- slot regulariser

def choose_loops(P, slots, k):
    "The paper's L_reg choice, with python loops"
    B, T, S, N = P.shape
    out = []
    for b in range(B):
        x = F.normalize(slots[b, -1].double(), dim=-1)
        kl = [sum((P[b, t, s] * (torch.log(P[b, t, s] + 1e-8) + math.log(N))).sum().item() for t in range(T)) / T
              for s in range(S)]
        banned, row = set(), []
        for _ in range(k):
            best, pair = -math.inf, None
            for i in range(S):
                for j in range(i + 1, S):
                    if i in banned or j in banned: continue
                    v = (x[i] @ x[j]).item()
                    if pair is None or v > best: best, pair = v, (i, j)
            if pair is None: row.append(-1); continue
            i, j = pair
            c = i if kl[i] <= kl[j] else j
            row.append(c); banned.add(c)
        out.append(row)
    return out


def reg_loss_loops(P, slots, k):
    B, T, S, N = P.shape
    idx = choose_loops(P, slots, k)
    total = 0.
    for b in range(B):
        valid = [c for c in idx[b] if c >= 0]
        for t in range(T):
            kls = [(P[b, t, c] * (torch.log(P[b, t, c] + 1e-8) + math.log(N))).sum().item() for c in valid]
            total += sum(kls) / max(len(valid), 1)
    return total / (B * T)


def test_regulariser_by_hand():
    slots = torch.tensor([[1., 0], [0, 1], [1, .01]]).expand(1, 2, 3, 2)
    P = torch.tensor([[[1., 0, 0, 0], [.5, .5, 0, 0], [.25, .25, .25, .25]],
                      [[1., 0, 0, 0], [1, 0, 0, 0], [.5, 0, .5, 0]]])[None]
    assert choose_redundant_slots(P, slots, 2).tolist() == [[2, 1]]
    kl = lambda ps: sum(p * (math.log(p + 1e-8) + math.log(4)) for p in ps)
    by_hand = ((kl([.25] * 4) + kl([.5, .5])) / 2 + (kl([.5, .5]) + kl([1.])) / 2) / 2
    assert math.isclose(slot_redundancy_loss(P, slots, 2).item(), by_hand, rel_tol=1e-6)


@pytest.mark.parametrize('B,T,S,N,k', [(3, 2, 5, 7, 2), (2, 4, 7, 9, 3), (4, 1, 4, 3, 3), (2, 3, 3, 5, 4)])
def test_regulariser_matches_loops(B, T, S, N, k):
    torch.manual_seed(B * 100 + S)
    P = (3 * torch.randn(B, T, S, N, dtype=torch.float64)).softmax(-1)
    slots = torch.randn(B, T, S, 6, dtype=torch.float64)
    assert choose_redundant_slots(P, slots, k).tolist() == choose_loops(P, slots, k)
    assert_rel(slot_redundancy_loss(P, slots, k), torch.tensor(reg_loss_loops(P, slots, k), dtype=torch.float64))


def test_regulariser_ties_and_degenerate():
    # every slot identical: pair ties go to (0,1) then (1,2)..., kl ties keep i
    P = torch.full((2, 3, 4, 5), .2, dtype=torch.float64)
    slots = torch.ones(2, 3, 4, 2, dtype=torch.float64)
    assert choose_redundant_slots(P, slots, 3).tolist() == [[0, 1, 2]] * 2 == choose_loops(P, slots, 3)
    assert slot_redundancy_loss(P, slots, 3).abs().item() < 1e-7          # uniform maps: KL 0
    # n_rounds beyond S-1: the extra rounds are -1 and the mean covers only valid choices
    P = (2 * torch.randn(1, 2, 3, 4, dtype=torch.float64)).softmax(-1)
    s = torch.randn(1, 2, 3, 2, dtype=torch.float64)
    idx = choose_redundant_slots(P, s, 4)
    assert idx[0, 2:].tolist() == [-1, -1] and idx.dtype == torch.long and idx.shape == (1, 4)
    assert_rel(slot_redundancy_loss(P, s, 4), torch.tensor(reg_loss_loops(P, s, 4), dtype=torch.float64))
    # a slot that owns nothing (all mass elsewhere) is handled by the 1e-8
    P = torch.zeros(1, 1, 3, 4, dtype=torch.float64); P[0, 0, :, 0] = 1; P[0, 0, 2] = .25
    assert torch.isfinite(slot_redundancy_loss(P, torch.randn(1, 1, 3, 2, dtype=torch.float64), 2))
    with pytest.raises(ValueError, match='expected S=3'):
        choose_redundant_slots(torch.rand(1, 2, 3, 4), torch.rand(1, 2, 4, 5), 1)


def test_regulariser_gradient():
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    slots = torch.randn(2, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    f = lambda lg: slot_redundancy_loss(lg.softmax(-1), slots, 2)
    assert torch.autograd.gradcheck(f, (logits,))
    f(logits).backward()
    assert slots.grad is None
    out = slot_redundancy_loss(logits.detach().softmax(-1).half(), slots.detach().bfloat16(), 2)
    assert out.dtype == torch.float32


# ---------------------------------------------------------------- deblur / denoise: by hand

def test_deblur_by_hand():
    e = torch.eye(2)[None, None]
    same = torch.tensor([[1., 1], [0, 0]])[None, None]
    lp_ii, lp_ij = 10 - math.log(math.exp(10) + 1), -math.log(math.exp(10) + 1)
    for lean in (False, True):
        out = deblur_contrastive_loss(e, e, same, group_frames=1, lean=lean)
        assert math.isclose(out.item(), LAM * (-lp_ii - (lp_ii + lp_ij) / 2) / 2, rel_tol=1e-6)
    # two frames in one group: frame 1 copies frame 0, so each token has a twin key with the same logit
    u = torch.eye(2).expand(1, 2, 2, 2)                                     # (1,T=2,N=2,2)
    m = torch.eye(2).expand(1, 2, 2, 2)                                     # patch n in slot n
    lp_self = 10 - math.log(2 * math.exp(10) + 2)                           # self and twin both logit 10
    for lean in (False, True):
        out = deblur_contrastive_loss(u, u, m, group_frames=2, lean=lean, block_size=3)
        assert math.isclose(out.item(), LAM * (-lp_self - lp_self) / 2, rel_tol=1e-6)


def test_denoise_by_hand_with_tie():
    # float64: the semi-positive terms are about 1e-5, below float32's resolution of logits near 10
    z = torch.tensor([[1., 0], [1, 0], [0, 1]], dtype=torch.float64)[None, None]
    f = torch.tensor([[1., 0, 0], [0, 1, 0], [.9, 0, .1]], dtype=torch.float64)[None, None]
    dm = torch.tensor([[1., 1, 0], [0, 0, 1]], dtype=torch.float64)[None, None]
    def lq(i, j):
        den = sum(math.exp(10 * (z[0, 0, i] @ z[0, 0, k]).item()) for k in range(3) if k != i)
        return 10 * (z[0, 0, i] @ z[0, 0, j]).item() - math.log(den)
    pos = [lq(0, 2), (lq(1, 0) + lq(1, 2)) / 2, lq(2, 0)]                 # row 1: a tie, both kept
    semi = [lq(0, 1), lq(1, 0), 0.]
    by_hand = sum(-LAM * (p + s) / 2 for p, s in zip(pos, semi)) / 3
    for lean in (False, True):
        assert math.isclose(denoise_contrastive_loss(z, f, dm, 2, 1, lean=lean).item(), by_hand, rel_tol=1e-6)
    # K*g = 1: the only top-1 neighbour is the token itself, so P_i is empty and contributes 0
    by_hand = sum(-LAM * (0 + s) / 2 for s in semi) / 3
    for lean in (False, True):
        assert math.isclose(denoise_contrastive_loss(z, f, dm, 1, 1, lean=lean).item(), by_hand, rel_tol=1e-6)


# ---------------------------------------------------------------- lean == dense

def _inputs(B, T, N, D, C, S, seed, kind='random'):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)
    rp, tp, fp = r(B, T, N, D), r(B, T, N, D), r(B, T, N, D)
    bf, em, dm = r(B, T, N, C), r(B, T, S, N).softmax(2), r(B, T, S, N).softmax(2)
    if kind == 'onehot':          # backbone features with many exact ties in the top-K
        bf = F.one_hot(torch.randint(0, 3, (B, T, N), generator=g), C).double() * (1 + torch.rand(B, T, N, 1, generator=g, dtype=torch.float64))
    elif kind == 'constant':      # every backbone feature identical: all cosines tie
        bf = torch.ones(B, T, N, C, dtype=torch.float64)
    elif kind == 'one_slot':      # every patch goes to one slot, in both masks
        em = torch.zeros(B, T, S, N, dtype=torch.float64); em[:, :, 1] = 1
        dm = em.clone()
    elif kind == 'argmax_ties':   # masks tie between slots; slot S-1 never wins
        em = torch.full((B, T, S, N), 1. / S, dtype=torch.float64)
        dm = torch.zeros(B, T, S, N, dtype=torch.float64)
        dm[:, :, 0, ::2] = .5; dm[:, :, 1, ::2] = .5; dm[:, :, 1, 1::2] = 1
    elif kind == 'duplicates':    # frames repeat: identical tokens, identical logits
        rp, tp, fp, bf = (x[:, :1].expand_as(x).clone() for x in (rp, tp, fp, bf))
    return rp, tp, fp, bf, em, dm


CASES = [  # B, T, N, D, C, S, g, K, kind
    (2, 4, 6, 5, 7, 3, 2, 2, 'random'), (1, 4, 9, 4, 6, 4, 4, 3, 'random'), (3, 2, 5, 3, 4, 2, 1, 2, 'random'),
    (1, 8, 7, 6, 5, 3, 4, 1, 'random'), (2, 4, 6, 5, 7, 3, 2, 6, 'random'),          # K*g = g*N: all tokens
    (2, 4, 6, 5, 3, 3, 2, 2, 'onehot'), (1, 4, 10, 4, 3, 3, 4, 2, 'onehot'),
    (2, 2, 5, 4, 3, 2, 2, 3, 'constant'), (2, 4, 6, 5, 7, 3, 2, 2, 'one_slot'),
    (2, 4, 6, 5, 7, 4, 4, 1, 'argmax_ties'), (1, 4, 6, 5, 7, 3, 4, 2, 'duplicates'),
]


@pytest.mark.parametrize('B,T,N,D,C,S,g,K,kind', CASES)
def test_lean_matches_dense(B, T, N, D, C, S, g, K, kind):
    rp, tp, fp, bf, em, dm = _inputs(B, T, N, D, C, S, seed=B * 1000 + N * 10 + K, kind=kind)
    L = g * N
    for tau, tau_b in [(0.1, 0.07), (0.5, 0.2)]:
        rp_, fp_ = rp.clone().requires_grad_(), fp.clone().requires_grad_()
        ref = deblur_contrastive_loss_dense(rp_, tp, em, g, tau, tau_b)
        (g_ref,) = torch.autograd.grad(ref, rp_)
        ref2 = denoise_contrastive_loss_dense(fp_, bf, dm, K, g, tau, tau_b)
        (g_ref2,) = torch.autograd.grad(ref2, fp_)
        for bs in sorted({1, 3, L - 1, L, L + 1, 2 * L, 10 * L} - {0}):
            out = deblur_contrastive_loss(rp_, tp, em, g, tau, tau_b, lean=True, block_size=bs)
            (g_out,) = torch.autograd.grad(out, rp_)
            assert_rel(out, ref); assert_rel(g_out, g_ref)
            out2 = denoise_contrastive_loss(fp_, bf, dm, K, g, tau, tau_b, lean=True, block_size=bs)
            (g_out2,) = torch.autograd.grad(out2, fp_)
            assert_rel(out2, ref2); assert_rel(g_out2, g_ref2)


def test_lean_gradcheck():
    "The hand-written backward against finite differences, independent of the dense reference"
    rp, tp, fp, bf, em, dm = _inputs(1, 4, 4, 3, 5, 3, seed=7, kind='onehot')
    rp.requires_grad_(); fp.requires_grad_()
    assert torch.autograd.gradcheck(lambda x: deblur_contrastive_loss(x, tp, em, 2, block_size=3), (rp,))
    assert torch.autograd.gradcheck(lambda x: denoise_contrastive_loss(x, bf, dm, 2, 2, block_size=5), (fp,))


def test_targets_get_no_gradient():
    rp, tp, fp, bf, em, dm = _inputs(1, 2, 4, 3, 5, 2, seed=1)
    for x in (rp, tp, fp, bf, em, dm): x.requires_grad_()
    for lean in (False, True):
        (deblur_contrastive_loss(rp, tp, em, 2, lean=lean) + denoise_contrastive_loss(fp, bf, dm, 2, 2, lean=lean)).backward()
        assert tp.grad is None and bf.grad is None and em.grad is None and dm.grad is None
        assert rp.grad.abs().sum() > 0 and fp.grad.abs().sum() > 0


@pytest.mark.parametrize('dt', [torch.float16, torch.bfloat16])
def test_half_inputs(dt):
    rp, tp, fp, bf, em, dm = (x.float() for x in _inputs(2, 4, 6, 5, 7, 3, seed=2))
    h = [x.to(dt) for x in (rp, tp, fp, bf, em, dm)]
    for lean in (False, True):
        hp = h[0].clone().requires_grad_(); hf = h[2].clone().requires_grad_()
        out = deblur_contrastive_loss(hp, h[1], h[4], 2, lean=lean)
        out2 = denoise_contrastive_loss(hf, h[3], h[5], 2, 2, lean=lean)
        assert out.dtype == out2.dtype == torch.float32
        torch.testing.assert_close(out, deblur_contrastive_loss_dense(*(x.float() for x in (h[0], h[1], h[4])), 2))
        torch.testing.assert_close(out2, denoise_contrastive_loss_dense(h[2].float(), h[3].float(), h[5].float(), 2, 2))
        (out + out2).backward()
        assert hp.grad.dtype == dt and torch.isfinite(hp.grad.float()).all() and torch.isfinite(hf.grad.float()).all()


def test_contrast_errors():
    rp, tp, fp, bf, em, dm = _inputs(1, 4, 4, 3, 5, 2, seed=1)
    for lean in (False, True):
        with pytest.raises(ValueError, match='group_frames=3 must divide the number of frames T=4'):
            deblur_contrastive_loss(rp, tp, em, 3, lean=lean)
        with pytest.raises(ValueError, match='group_frames=3 must divide the number of frames T=4'):
            denoise_contrastive_loss(fp, bf, dm, 1, 3, lean=lean)
        with pytest.raises(ValueError, match=r'must be in \[1, g\*N=8\]'):
            denoise_contrastive_loss(fp, bf, dm, 5, 2, lean=lean)
        with pytest.raises(ValueError, match='enc_masks: expected N=4'):
            deblur_contrastive_loss(rp, tp, em[..., :3], 2, lean=lean)
        with pytest.raises(ValueError, match='target_proj: expected D=3'):
            deblur_contrastive_loss(rp, tp[..., :2], em, 2, lean=lean)
        with pytest.raises(ValueError, match='temperatures must be > 0'):
            deblur_contrastive_loss(rp, tp, em, 2, 0., lean=lean)
    with pytest.raises(ValueError, match='block_size must be >= 1'):
        denoise_contrastive_loss(fp, bf, dm, 1, 2, block_size=0)


def test_semantics_pull_and_push():
    "Deblurring is lower when reconstructions match their own features; denoising when z follows the labels"
    torch.manual_seed(0)
    B, T, N, D, S = 1, 4, 16, 8, 3
    tp = torch.randn(B, T, N, D)
    labels = torch.randint(0, S, (B, T, N))
    m = F.one_hot(labels, S).permute(0, 1, 3, 2).float()
    assert deblur_contrastive_loss(tp + 0.1 * torch.randn_like(tp), tp, m) < deblur_contrastive_loss(torch.randn_like(tp), tp, m)
    protos = torch.randn(S, D)
    z_good = protos[labels] + 0.1 * torch.randn(B, T, N, D)
    bf = F.one_hot(labels, 5).float() + 0.1 * torch.randn(B, T, N, 5)
    assert denoise_contrastive_loss(z_good, bf, m, 2) < denoise_contrastive_loss(torch.randn(B, T, N, D), bf, m, 2)


@slow
@pytest.mark.parametrize('N,C,K', [(576, 384, 8), (1369, 768, 16)])
def test_lean_matches_dense_paper_scale(N, C, K):
    "One clip of 4 frames at MOVi-C and YouTube-VIS patch counts, float64"
    rp, tp, fp, bf, em, dm = _inputs(1, 4, N, 64, C, 7, seed=N)
    rp.requires_grad_(); fp.requires_grad_()
    ref = deblur_contrastive_loss_dense(rp, tp, em); (g_ref,) = torch.autograd.grad(ref, rp)
    out = deblur_contrastive_loss(rp, tp, em, block_size=1000); (g_out,) = torch.autograd.grad(out, rp)
    assert_rel(out, ref); assert_rel(g_out, g_ref)
    ref = denoise_contrastive_loss_dense(fp, bf, dm, K); (g_ref,) = torch.autograd.grad(ref, fp)
    out = denoise_contrastive_loss(fp, bf, dm, K, block_size=1000); (g_out,) = torch.autograd.grad(out, fp)
    assert_rel(out, ref); assert_rel(g_out, g_ref)


def test_autocast_keeps_float32():
    "Under mixed precision every objective still computes in float32 and matches the float32 value"
    torch.manual_seed(0)
    rp, tp, fp, bf, em, dm = (x.float() for x in _inputs(1, 4, 5, 4, 6, 3, seed=4))
    slots, P = torch.randn(2, 4, 3, 8), torch.randn(2, 4, 3, 5).softmax(-1)
    calls = [lambda: feature_reconstruction_loss(bf, bf.flip(2)), lambda: slot_slot_contrastive_loss(slots),
             lambda: slotcontrast_temporal_loss(slots), lambda: slot_redundancy_loss(P, slots, 2),
             lambda: deblur_contrastive_loss(rp, tp, em, 2), lambda: deblur_contrastive_loss(rp, tp, em, 2, lean=False),
             lambda: denoise_contrastive_loss(fp, bf, dm, 2, 2), lambda: denoise_contrastive_loss(fp, bf, dm, 2, 2, lean=False)]
    for f in calls:
        ref = f()
        with torch.autocast('cpu', dtype=torch.bfloat16): out = f()
        assert out.dtype == torch.float32
        torch.testing.assert_close(out, ref)


def test_import_order():
    "Each loss module can be imported first, and srl_nb.losses re-exports all the objectives"
    code = ("import importlib, sys; importlib.import_module(sys.argv[1]); from srl_nb.losses import *; "
            "print(deblur_contrastive_loss.__module__, slot_redundancy_loss.__module__)")
    for first in ('srl_nb.contrast', 'srl_nb.losses_reg', 'srl_nb.losses'):
        out = subprocess.run([sys.executable, '-c', code, first], capture_output=True, text=True, check=True)
        assert out.stdout.split() == ['srl_nb.contrast', 'srl_nb.losses_reg']
