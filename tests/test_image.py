"Image mode: the image objective and its gradients against the trainer's video objective at T = 1; image FG-ARI / mBO against a plain reference of DINOSAUR's COCO metrics."
import math
import pytest, torch
import torch.nn.functional as F
from srl_nb.core import get_preset
from srl_nb.model import SRLModel
from srl_nb.image import image_forward, image_losses, image_scores, as_clip
from srl_nb.train import compute_losses
from srl_nb.schedule import stage_weights

def _cfg(**kw):
    return get_preset('coco', feat_dim=12, n_slots=4, slot_dim=8, predictor_heads=2, decoder_hidden=16, reg_rounds=2,
                      denoise_topk=3, resolution=56, contrast_block=7, max_steps=100, warmup_steps=1, reg_end=10,
                      deblur_start=20, denoise_start=5, **kw)

@pytest.mark.parametrize('step', [0, 7, 30])   # stage 1 (regulariser), regulariser + denoising, deblurring + denoising
def test_image_objective_equals_video_objective_at_one_frame(step):
    torch.manual_seed(step)
    cfg = _cfg()
    m = SRLModel(12, 4, 4, 8, predictor_heads=2, decoder_hidden=16, enc_pos_embed='soft_input', dec_pos_embed='relative')
    feats = torch.randn(3, 16, 12)
    w = stage_weights(cfg, step)
    ti, terms_i = image_losses(image_forward(m, features=feats), cfg, w)
    gi = torch.autograd.grad(ti, [p for p in m.parameters()], allow_unused=True)
    tv, terms_v = compute_losses(m(features=feats[:, None]), cfg, step)
    gv = torch.autograd.grad(tv, [p for p in m.parameters()], allow_unused=True)
    assert terms_v.pop('slot_slot').item() == 0.0                  # the term the image mode leaves out adds nothing
    assert terms_i.keys() == terms_v.keys() and len(terms_i) == 1 + sum(bool(w[k]) for k in ('reg', 'deblur', 'denoise'))
    for k in terms_i: torch.testing.assert_close(terms_i[k], terms_v[k], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(ti, tv, rtol=1e-6, atol=1e-7)
    names = [n for n, _ in m.named_parameters()]
    for n, a, b in zip(names, gi, gv):
        if n.startswith('scan.predictor'):                          # no predictor step: no gradient in either mode
            assert a is None and (b is None or b.abs().max() == 0), n; continue
        if a is None or b is None: assert a is None and b is None, n; continue
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7, msg=n)

def _dinosaur_reference(pred_ids, inst_masks):
    "Plain one-hot version of DINOSAUR's ImageARI / ImageIoU (ignore_overlaps, matching 'overlap') for one image"
    t = torch.stack(inst_masks, -1).flatten(0, 1).double() if inst_masks else torch.zeros(pred_ids.numel(), 0, dtype=torch.float64)
    p = F.one_hot(pred_ids.flatten(), int(pred_ids.max()) + 1).double()                # (P, K)
    if t.shape[1] == 0: return math.nan, math.nan
    over = t.sum(1) > 1
    t[over] = 0
    Nt = t.T @ p                                                                         # contingency over scored pixels
    a, b, n = Nt.sum(1), Nt.sum(0), Nt.sum()
    rindex, aindex, bindex = (Nt * (Nt - 1)).sum(), (a * (a - 1)).sum(), (b * (b - 1)).sum()
    exp = aindex * bindex / max(n * (n - 1), 1)
    den = (aindex + bindex) / 2 - exp
    ari = 1.0 if den == 0 else ((rindex - exp) / den).item()
    p2 = p.clone(); p2[over] = 0                                                        # IoU: overlaps out of pred too
    inter = t.T @ p2; union = t.sum(0)[:, None] + p2.sum(0)[None] - inter
    iou = torch.where(union > 0, inter / union.clamp(min=1), torch.zeros_like(inter))
    active = t.sum(0) > 0
    mbo = (iou.max(1).values * active).sum() / active.sum()
    return ari, mbo.item()

def test_image_scores_match_reference():
    g = torch.Generator().manual_seed(0)
    B, H, W, S, grid = 6, 16, 16, 5, 4
    masks = torch.rand(B, S, grid * grid, generator=g) ** 4                            # peaked random soft masks
    true, ign, refs = torch.zeros(B, H, W, dtype=torch.long), torch.zeros(B, H, W, dtype=torch.bool), []
    from srl_nb.metrics import masks_to_ids
    pred = masks_to_ids(masks[:, None], (grid, grid), (H, W))[:, 0]
    for i in range(B):
        K = 0 if i == 4 else int(torch.randint(1, 5, (1,), generator=g))              # image 4: no instance
        inst = []
        for _ in range(K):
            y, x = torch.randint(0, H - 4, (2,), generator=g).tolist(); h, w = torch.randint(3, 9, (2,), generator=g).tolist()
            m = torch.zeros(H, W, dtype=torch.bool); m[y:y + h, x:x + w] = True; inst.append(m)
        seen = torch.zeros(H, W, dtype=torch.long)
        for k, m in enumerate(inst): true[i][m] = k + 1; seen += m
        ign[i] = seen > 1; true[i][seen > 1] = 0
        refs.append(_dinosaur_reference(pred[i], inst))
    assert ign.any() and sum(math.isnan(r[0]) for r in refs) == 1
    r = image_scores(masks, true, (grid, grid), ign)
    for i, (ari, mbo) in enumerate(refs):
        if math.isnan(ari): assert r['fg_ari'][i].isnan() and r['mbo'][i].isnan(); continue
        assert r['fg_ari'][i].item() == pytest.approx(ari, abs=1e-12), i
        assert r['mbo'][i].item() == pytest.approx(mbo, abs=1e-12), i
    # a single batch with a large id range takes the renumbering path of `contingency`: same scores
    big = true.clone(); big[big > 0] += 10 ** 6          # 6 x 1e6 x 5 table cells: over the dense limit
    r2 = image_scores(masks, big, (grid, grid), ign)
    torch.testing.assert_close(r2['fg_ari'], r['fg_ari'], equal_nan=True); torch.testing.assert_close(r2['mbo'], r['mbo'], equal_nan=True)
