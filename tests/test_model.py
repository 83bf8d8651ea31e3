"Model tests: pinned parameter counts, weight loading from local files, presets, the feature cache, bad input"
import json, os
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import numpy as np
import pytest
import torch
import timm
from srl_nb.core import get_preset
from srl_nb.encoder import (FrozenBackbone, FeatureCache, CachedClipDataset, WeightsNotFoundError, preprocess_frames,
                            create_vit)
from srl_nb.model import SRLModel, OUTPUT_KEYS
import srl_nb.model as M


def hand_count(C, D, S, N, hidden=1024, layers=3, heads_ffn=4):
    "Trainable parameters of the authors' model, layer by layer"
    init = S * D                                           # learned (1, S, D) slots
    encoder = (2 * C                                       # LayerNorm(C)
               + C * 2 * C + 2 * C                         # Linear(C, 2C)
               + 2 * C * D + D)                            # Linear(2C, D)
    slot_attn = (2 * D                                     # LayerNorm on inputs
                 + 2 * D                                   # LayerNorm on slots
                 + 3 * D * D                               # q, k, v, no bias
                 + 3 * D * D + 3 * D * D + 3 * D + 3 * D   # GRUCell(D, D): W_ih, W_hh, b_ih, b_hh
                 + 2 * D                                   # residual MLP: LayerNorm(D)
                 + D * 4 * D + 4 * D                       # Linear(D, 4D)
                 + 4 * D * D + D)                          # Linear(4D, D)
    predictor = (2 * D + 2 * D                             # two LayerNorms
                 + D * 3 * D + 3 * D                       # qkv with bias
                 + D * D + D                               # out projection
                 + D * heads_ffn * D + heads_ffn * D       # FFN in
                 + heads_ffn * D * D + D)                  # FFN out
    decoder = (N * D                                       # learned position table (1, 1, N, D)
               + D * hidden + hidden                       # Linear(D, 1024)
               + (layers - 1) * (hidden * hidden + hidden) # Linear(1024, 1024) x 2
               + hidden * (C + 1) + (C + 1))               # Linear(1024, C+1): features + alpha logit
    projectors = C * D + D * D                             # Proj1 (C->D), Proj2 (D->D), no bias
    return init + encoder + slot_attn + predictor + decoder + projectors


@pytest.mark.parametrize('name,C,D,S,N', [('movi_c', 384, 64, 11, 576), ('movi_e', 768, 128, 15, 576),
                                          ('ytvis2021', 768, 64, 7, 1369)])
def test_param_counts_pinned(name, C, D, S, N):
    cfg = get_preset(name)
    assert (cfg.model.feat_dim, cfg.model.slot_dim, cfg.model.n_slots, cfg.n_patches) == (C, D, S, N)
    m = SRLModel.from_config(cfg, with_backbone=False)
    assert m.trainable_parameters() == hand_count(C, D, S, N)


def test_output_keys_are_the_contract():
    assert OUTPUT_KEYS == ('features', 'encoded', 'slots', 'enc_masks', 'patch_attn', 'dec_masks', 'recon',
                           'recon_proj', 'target_proj', 'feat_proj')
    assert (M.FEATURES, M.ENCODED, M.SLOTS, M.ENC_MASKS, M.PATCH_ATTN, M.DEC_MASKS, M.RECON, M.RECON_PROJ,
            M.TARGET_PROJ, M.FEAT_PROJ) == OUTPUT_KEYS


@pytest.fixture(scope='module')
def standin(tmp_path_factory):
    "A randomly initialised ViT-S/14 DINOv2 saved as timm safetensors and as an original-DINOv2 .pth"
    from safetensors.torch import save_file
    d = tmp_path_factory.mktemp('weights')
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        src = timm.create_model('vit_small_patch14_dinov2', pretrained=False, num_classes=0, dynamic_img_size=True)
    with torch.no_grad():  # make LayerScale and norms non-trivial so that every tensor is checked
        for n, p in src.named_parameters():
            if 'gamma' in n or 'norm' in n: p.add_(torch.randn_like(p) * 0.1)
    sd = {k: v.contiguous() for k, v in src.state_dict().items()}
    save_file(sd, str(d / 'standin.safetensors'))
    orig = dict(sd, mask_token=torch.zeros(1, src.embed_dim))  # the original DINOv2 layout carries a mask token
    torch.save(orig, d / 'standin.pth')
    return src, d


@pytest.mark.parametrize('fname', ['standin.safetensors', 'standin.pth'])
def test_local_weights_load_exactly(standin, fname):
    src, d = standin
    bb = FrozenBackbone('vit_small_patch14_dinov2', resolution=28, weights_path=str(d / fname), seed=99)
    ref = src.state_dict()
    got = bb.vit.state_dict()
    for k, v in ref.items():
        if k.startswith('norm.'): continue  # the final norm is replaced by Identity (features before it)
        assert torch.equal(got[k], v), k
    assert bb.weights_id.startswith('file sha256=')
    x = torch.randn(2, 3, 28, 28)
    src.eval()
    with torch.no_grad():
        h = src  # features before the final norm, CLS dropped
        toks = h.blocks(h.norm_pre(h._pos_embed(h.patch_embed(x))))[:, 1:]
    torch.testing.assert_close(bb(x), toks)


def test_missing_pretrained_weights_error(monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    with pytest.raises(WeightsNotFoundError, match='weights_path'):
        FrozenBackbone('vit_small_patch14_dinov2', resolution=28, pretrained=True)
    with pytest.raises(WeightsNotFoundError, match='nope.safetensors'):
        FrozenBackbone('vit_small_patch14_dinov2', resolution=28, weights_path='/tmp/nope.safetensors')
    with pytest.raises(ValueError, match='no pretrained weights'):
        FrozenBackbone('random_patch14', resolution=28, pretrained=True)


def test_random_init_is_seeded():
    a = create_vit('vit_small_patch14_dinov2', seed=3)[0]
    with torch.no_grad(): a.patch_embed.proj.weight.zero_()  # a returned copy can be changed freely
    b = create_vit('vit_small_patch14_dinov2', seed=3)[0].state_dict()
    c = create_vit('vit_small_patch14_dinov2', seed=4)[0].state_dict()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        plain = timm.create_model('vit_small_patch14_dinov2', num_classes=0, dynamic_img_size=True).state_dict()
    assert set(plain) == set(b) and all(torch.equal(plain[k], b[k]) for k in plain)
    assert not torch.equal(b['patch_embed.proj.weight'], c['patch_embed.proj.weight'])


def test_random_patch14_matches_seeded_vit():
    rp = FrozenBackbone('random_patch14', resolution=56, seed=0)
    full = FrozenBackbone('vit_small_patch14_dinov2', resolution=56, seed=0)
    x = torch.randn(2, 3, 56, 56)
    cos = torch.nn.functional.cosine_similarity(rp(x), full(x), dim=-1)
    assert cos.min() > 0.999
    # the patch backbone is exactly patch embedding + (resampled) position embedding of that model
    v = full.vit
    ref = v._pos_embed(v.patch_embed(x))[:, 1:]
    torch.testing.assert_close(rp(x), ref)
    assert 'RANDOM-INIT' in rp.label


def test_random_backbone_seed_is_fixed_across_run_seeds():
    a = SRLModel.from_config(get_preset('synthetic', seed=0, resolution=28))
    b = SRLModel.from_config(get_preset('synthetic', seed=7, resolution=28))
    assert a.backbone.weights_id == b.backbone.weights_id == 'random-init seed=0'
    assert torch.equal(a.backbone.vit.patch_embed.proj.weight, b.backbone.vit.patch_embed.proj.weight)


def test_every_preset_builds_and_config_flags():
    for name in ('movi_c', 'movi_e', 'ytvis2021', 'synthetic'):
        m = SRLModel.from_config(get_preset(name), with_backbone=False)
        assert m.trainable_parameters() > 0
    cfg = get_preset('movi_c', predictor_scale_quirk=False, decoder_hidden=32, decoder_layers=2, enc_pos_embed='soft',
                     dec_pos_embed='fourier')
    m = SRLModel.from_config(cfg, with_backbone=False)
    assert m.scan.predictor.scale_quirk is False
    assert [l.out_features for l in m.decoder.mlp.layers if isinstance(l, torch.nn.Linear)] == [32, 32, 385]
    assert m.enc_pos is not None and m.decoder.pos.kind == 'fourier'
    si = SRLModel.from_config(get_preset('synthetic', enc_pos_embed='soft_input', resolution=28), with_backbone=False)
    assert si.enc_pos.proj.out_features == 384                     # added to the backbone features, before the encoder
    f = torch.randn(2, 3, 4, 384)
    torch.manual_seed(0); out = si(features=f)
    torch.testing.assert_close(out['encoded'], si.encoder(f + si.enc_pos.proj(si.enc_pos.coords)))
    with pytest.raises(ValueError, match="'none', 'soft' or 'soft_input'"):
        SRLModel(384, 2, 3, 8, enc_pos_embed='sine')
    ref = SRLModel.from_config(get_preset('movi_c'), with_backbone=False)
    assert ref.enc_pos is None and ref.decoder.pos.table.shape == (1, 1, 576, 64)
    assert ref.scan.predictor.scale_quirk is True


def test_model_shapes_any_T_and_backbone_mismatch():
    cfg = get_preset('synthetic', resolution=28, n_slots=3, slot_dim=8, decoder_hidden=16, backbone='random_patch14')
    m = SRLModel.from_config(cfg)
    for T in (1, 4, 24):
        out = m(video=torch.randn(2, T, 3, 28, 28))
        assert out['slots'].shape == (2, T, 3, 8) and out['recon'].shape == (2, T, 4, 384)
    bb = FrozenBackbone('random_patch14', resolution=42)
    with pytest.raises(ValueError, match='3x3 grid'):
        SRLModel(384, 2, 3, 8, backbone=bb)
    m2 = SRLModel.from_config(cfg, with_backbone=False)
    with pytest.raises(ValueError, match='with_backbone=False'):
        m2(video=torch.randn(1, 2, 3, 28, 28))
    with pytest.raises(TypeError, match='float'):
        m2(features=torch.zeros(1, 2, 4, 384, dtype=torch.int64))


def test_model_grad_flow_reference_config():
    cfg = get_preset('movi_c', resolution=28, n_slots=3, slot_dim=8, decoder_hidden=16, reg_rounds=2, pretrained=False)
    m = SRLModel.from_config(cfg)
    out = m(video=torch.randn(2, 4, 3, 28, 28))
    (out['recon'].pow(2).mean() + out['recon_proj'].pow(2).mean() + out['target_proj'].pow(2).mean()
     + out['feat_proj'].pow(2).mean() + out['slots'].pow(2).mean() + out['patch_attn'].pow(2).mean()).backward()
    missing = [n for n, p in m.named_parameters() if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)]
    assert missing == []
    assert all(p.grad is None and not p.requires_grad for p in m.backbone.parameters())
    assert out['target_proj'].grad_fn is not None and out['features'].grad_fn is None


def test_feature_cache_roundtrip_and_refusals(tmp_path):
    bb = FrozenBackbone('random_patch14', resolution=28)
    vids = np.random.default_rng(0).integers(0, 256, (4, 6, 16, 16, 3), dtype=np.uint8)
    mm = np.lib.format.open_memmap(tmp_path / 'frames.npy', mode='w+', dtype=np.uint8, shape=vids.shape)
    mm[:] = vids; mm.flush()
    src = np.load(tmp_path / 'frames.npy', mmap_mode='r')
    cache = FeatureCache.build(tmp_path / 'cache', src, bb, 'toy', 'train')
    assert cache.features.dtype == np.float16 and cache.features.shape == (4, 2, 6, 4, 384)
    for flip in (False, True):
        direct = bb(preprocess_frames(vids[2], 28, flip=flip))  # (T, N, C)
        torch.testing.assert_close(cache.get(2, 0, 6, flip), direct, atol=1e-2, rtol=2e-3)
    assert not torch.allclose(cache.get(2, 0, 6, False), cache.get(2, 0, 6, True))
    with pytest.raises(IndexError, match='out of range'):
        cache.get(0, 4, 4)
    key = json.loads((cache.path / 'key.json').read_text())
    assert key['complete'] is True and key['weights'] == 'random-init seed=0' and key['n_frames'] == 6
    # a different backbone gets its own folder; opening the wrong one with its key raises, naming the fields
    bb2 = FrozenBackbone('random_patch14', resolution=28, seed=1)
    k2 = FeatureCache.make_key(bb2, src, 'toy', 'train')
    with pytest.raises(ValueError, match=r"weights: expected 'random-init seed=1', found 'random-init seed=0'"):
        FeatureCache(cache.path, expected=k2)
    with pytest.raises(ValueError, match='n_videos'):
        FeatureCache(cache.path, expected=FeatureCache.make_key(bb, src[:3], 'toy', 'train'))
    changed = np.array(src); changed[-1, 0, 0, 0] ^= 1  # one pixel of the last video differs: stale
    with pytest.raises(ValueError, match='frames_sha1'):
        FeatureCache(cache.path, expected=FeatureCache.make_key(bb, changed, 'toy', 'train'))
    assert FeatureCache.build(tmp_path / 'cache', changed, bb, 'toy', 'train').path != cache.path
    # an incomplete cache is refused
    key['complete'] = False
    (cache.path / 'key.json').write_text(json.dumps(key))
    with pytest.raises(RuntimeError, match='incomplete'):
        FeatureCache(cache.path)
    with pytest.raises(FileNotFoundError, match='key.json'):
        FeatureCache(tmp_path / 'nowhere')


def test_cached_dataset_follows_plan_and_feeds_model(tmp_path):
    bb = FrozenBackbone('random_patch14', resolution=28)
    vids = np.random.default_rng(1).integers(0, 256, (3, 8, 28, 28, 3), dtype=np.uint8)
    cache = FeatureCache.build(tmp_path, vids, bb, 'toy', 'val')
    ds = CachedClipDataset(cache, 4, video_idx=[2, 1, 0], starts=[4, 0, 2], flips=[True, False, True])
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch['features'].shape == (3, 4, 4, 384) and batch['features'].dtype == torch.float32
    assert batch['video_idx'].tolist() == [2, 1, 0] and batch['start'].tolist() == [4, 0, 2]
    assert batch['flip'].tolist() == [True, False, True]
    torch.testing.assert_close(batch['features'][0], cache.get(2, 4, 4, True))
    with pytest.raises(ValueError, match='equal lengths'):
        ds.set_plan([0, 1], [0], [False, False])
    cfg = get_preset('synthetic', resolution=28, n_slots=3, slot_dim=8, decoder_hidden=16, backbone='random_patch14')
    m = SRLModel.from_config(cfg, with_backbone=False)
    assert m(features=batch['features'])['dec_masks'].shape == (3, 4, 3, 4)


def test_preprocess_and_backbone_errors():
    with pytest.raises(TypeError, match='uint8'):
        preprocess_frames(np.zeros((2, 8, 8, 3), np.float32), 14)
    bb = FrozenBackbone('random_patch14', resolution=28)
    with pytest.raises(ValueError, match=r'expects frames of 28x28 pixels .* found 30x30'):
        bb(torch.randn(1, 3, 30, 30))
    with pytest.raises(ValueError, match='not a multiple of the patch size'):
        FrozenBackbone('random_patch14', resolution=30)
