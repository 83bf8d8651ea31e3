"Authors' checkpoints: the layout written out from their module tree, strict loads at the paper shapes, round trips, bad files"
import argparse, os
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import pytest
import torch
from srl_nb.core import get_preset
from srl_nb.model import SRLModel
from srl_nb.convert import (authors_layout, authors_state_dict_to_srl_nb, srl_nb_state_dict_to_authors,
                            load_authors_checkpoint, save_authors_checkpoint, load_authors_state_dict,
                            check_authors_state_dict, read_checkpoint_file, CheckpointError, KEY_MAP)


def authors_keys(C, S, D, N, hidden=1024, dec_layers=3, depth=12, pos_rows=1370, patch=14):
    """The authors' state dict names and shapes, written out by hand from hynnsk/SRL's module tree
    (srl/models.py ObjectCentricModel; encoders.FrameEncoder + TimmExtractor; groupers.SlotAttention;
    networks.TransformerEncoder; decoders.MLPDecoder; projector.Projector), independently of `authors_layout`"""
    k = {'initializer.slots': (1, S, D)}                        # FixedLearnedInit
    bb = 'encoder.module.backbone.model.'                       # MapOverTime(FrameEncoder(TimmExtractor(...)))
    k.update({bb + 'cls_token': (1, 1, C), bb + 'pos_embed': (1, pos_rows, C),
              bb + 'patch_embed.proj.weight': (C, 3, patch, patch), bb + 'patch_embed.proj.bias': (C,)})
    for i in range(depth):
        for name, shape in [('norm1.weight', (C,)), ('norm1.bias', (C,)), ('attn.qkv.weight', (3 * C, C)),
                            ('attn.qkv.bias', (3 * C,)), ('attn.proj.weight', (C, C)), ('attn.proj.bias', (C,)),
                            ('ls1.gamma', (C,)), ('norm2.weight', (C,)), ('norm2.bias', (C,)),
                            ('mlp.fc1.weight', (4 * C, C)), ('mlp.fc1.bias', (4 * C,)),
                            ('mlp.fc2.weight', (C, 4 * C)), ('mlp.fc2.bias', (C,)), ('ls2.gamma', (C,))]:
            k[f'{bb}blocks.{i}.{name}'] = shape
    ot = 'encoder.module.output_transform.layers.'              # two_layer_mlp(layer_norm=True): 0 LN, 1 Lin, 2 ReLU, 3 Lin
    k.update({ot + '0.weight': (C,), ot + '0.bias': (C,), ot + '1.weight': (2 * C, C), ot + '1.bias': (2 * C,),
              ot + '3.weight': (D, 2 * C), ot + '3.bias': (D,)})
    c = 'processor.module.corrector.'                           # ScanOverTime(LatentProcessor(corrector=SlotAttention))
    k.update({c + 'to_k.weight': (D, D), c + 'to_v.weight': (D, D), c + 'to_q.weight': (D, D),
              c + 'gru.weight_ih': (3 * D, D), c + 'gru.weight_hh': (3 * D, D), c + 'gru.bias_ih': (3 * D,),
              c + 'gru.bias_hh': (3 * D,), c + 'mlp.layers.0.weight': (D,), c + 'mlp.layers.0.bias': (D,),
              c + 'mlp.layers.1.weight': (4 * D, D), c + 'mlp.layers.1.bias': (4 * D,),
              c + 'mlp.layers.3.weight': (D, 4 * D), c + 'mlp.layers.3.bias': (D,),
              c + 'norm_features.weight': (D,), c + 'norm_features.bias': (D,),
              c + 'norm_slots.weight': (D,), c + 'norm_slots.bias': (D,)})
    p = 'processor.module.predictor.blocks.0.'                  # nn.TransformerEncoderLayer, self_attn replaced
    k.update({p + 'self_attn.qkv.weight': (3 * D, D), p + 'self_attn.qkv.bias': (3 * D,),
              p + 'self_attn.out_proj.weight': (D, D), p + 'self_attn.out_proj.bias': (D,),
              p + 'linear1.weight': (4 * D, D), p + 'linear1.bias': (4 * D,), p + 'linear2.weight': (D, 4 * D),
              p + 'linear2.bias': (D,), p + 'norm1.weight': (D,), p + 'norm1.bias': (D,),
              p + 'norm2.weight': (D,), p + 'norm2.bias': (D,)})
    k['decoder.module.pos_emb'] = (1, 1, N, D)                  # MapOverTime(MLPDecoder)
    dims = [D] + [hidden] * dec_layers + [C + 1]
    for j in range(dec_layers + 1):
        k[f'decoder.module.mlp.layers.{2 * j}.weight'] = (dims[j + 1], dims[j])
        k[f'decoder.module.mlp.layers.{2 * j}.bias'] = (dims[j + 1],)
    k['projector.projector.weight'] = (D, C)
    k['projector2.projector.weight'] = (D, D)
    return k


PAPER = {'movi_c': dict(C=384, S=11, D=64, N=576), 'movi_e': dict(C=768, S=15, D=128, N=576),
         'ytvis2021': dict(C=768, S=7, D=64, N=1369)}


@pytest.mark.parametrize('name', list(PAPER))
def test_layout_matches_the_module_tree(name):
    "authors_layout == the hand-written list, and == the authors' names of srl_nb's own model (built on meta)"
    cfg = get_preset(name)
    want = authors_keys(**PAPER[name])
    assert len(want) == 219
    assert authors_layout(cfg) == want
    with torch.device('meta'): m = SRLModel.from_config(cfg, with_backbone=False)
    ours = {k: tuple(v.shape) for k, v in srl_nb_state_dict_to_authors(m.state_dict()).items()}
    assert ours == {k: v for k, v in want.items() if '.backbone.' not in k}


def test_key_map_is_a_bijection_on_the_model():
    cfg = get_preset('movi_c', resolution=28, n_slots=3, slot_dim=8, decoder_hidden=16, reg_rounds=2, pretrained=False)
    sd = SRLModel.from_config(cfg).state_dict()
    a = srl_nb_state_dict_to_authors(sd)
    assert {k: tuple(v.shape) for k, v in a.items()} == authors_keys(C=384, S=3, D=8, N=4, hidden=16)
    assert len(set(a)) == len(sd)
    back = authors_state_dict_to_srl_nb(a)
    assert list(back) == list(sd) and all(back[k] is sd[k] for k in sd)
    # every prefix of the map is used by the model, and no two lines claim one tensor
    for ours, theirs in KEY_MAP:
        assert any(k == ours or (ours.endswith('.') and k.startswith(ours)) for k in sd), ours
    with pytest.raises(CheckpointError, match='no counterpart'):
        authors_state_dict_to_srl_nb({**a, 'encoder.module.pos_embed.weight': torch.zeros(1)})


def _random_authors(layout, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=g) * 0.05 for k, s in layout.items()}


@pytest.mark.parametrize('name,frames', [('movi_c', 2), ('ytvis2021', 2)])
def test_paper_shapes_load_roundtrip_forward(name, frames, tmp_path):
    "A Lightning file in the authors' layout at the paper shapes: strict load, identity round trips, a forward pass"
    sd = _random_authors(authors_keys(**PAPER[name]))
    torch.save({'epoch': 1, 'global_step': 100_000, 'pytorch-lightning_version': '1.9.5', 'state_dict': sd,
                'optimizer_states': [], 'lr_schedulers': []}, tmp_path / 'a.ckpt')
    m = load_authors_checkpoint(tmp_path / 'a.ckpt', name)
    ours = m.state_dict()
    conv = authors_state_dict_to_srl_nb(sd)
    assert set(conv) == set(ours)
    for k, v in conv.items(): assert torch.equal(ours[k], v), k
    assert 'random-init' not in m.backbone.weights_id and 'a.ckpt' in m.backbone.label
    # srl_nb -> authors -> srl_nb is the identity
    rt = authors_state_dict_to_srl_nb(srl_nb_state_dict_to_authors(ours))
    assert all(rt[k] is ours[k] for k in ours)
    if name == 'movi_c':   # and so is saving and reading back (the ViT-B file is 350 MB: once is enough)
        save_authors_checkpoint(m, tmp_path / 'b.ckpt')
        back = read_checkpoint_file(tmp_path / 'b.ckpt')['state_dict']
        assert set(back) == set(sd)
        for k in sd: assert torch.equal(back[k], sd[k]), k
    N, S, C = PAPER[name]['N'], PAPER[name]['S'], PAPER[name]['C']
    res = get_preset(name).data.resolution
    with torch.no_grad():   # ViT-S/14 at 336 px from pixels; the ViT-B/14 at 518 px costs seconds, so from features
        out = m(video=torch.randn(1, frames, 3, res, res)) if name == 'movi_c' else m(features=torch.randn(1, frames, N, C))
    assert out['dec_masks'].shape == (1, frames, S, N) and torch.isfinite(out['recon']).all()
    # the same tensors against the other paper preset: one error naming the right one
    other = 'ytvis2021' if name == 'movi_c' else 'movi_c'
    with pytest.raises(CheckpointError, match=f"fit preset '{name}'"):
        check_authors_state_dict(sd, get_preset(other), 'a.ckpt')


def test_bad_files(tmp_path):
    cfg = get_preset('movi_c', resolution=28, n_slots=3, slot_dim=8, decoder_hidden=16, reg_rounds=2)
    sd = _random_authors(authors_layout(cfg))
    torch.save({'state_dict': sd}, tmp_path / 'ok.ckpt')
    raw = (tmp_path / 'ok.ckpt').read_bytes()
    (tmp_path / 'trunc.ckpt').write_bytes(raw[: len(raw) // 3])
    (tmp_path / 'empty.ckpt').write_bytes(b'')
    (tmp_path / 'text.ckpt').write_text('not a checkpoint\n')
    torch.save({'optimizer_states': [{'state': {}}], 'lr_schedulers': []}, tmp_path / 'optim.ckpt')
    torch.save({'state_dict': sd, 'hyper_parameters': argparse.Namespace(lr=1.0)}, tmp_path / 'pickled.ckpt')
    other = {k.replace('processor.module.', 'grouper.'): v for k, v in sd.items()}            # another code base
    torch.save({'state_dict': other}, tmp_path / 'other.ckpt')
    nop = {k: v for k, v in sd.items() if not k.startswith('projector')}                      # no SRL projectors
    torch.save({'state_dict': nop}, tmp_path / 'noproj.ckpt')
    cases = {'trunc.ckpt': 'truncated, corrupt', 'empty.ckpt': 'truncated, corrupt', 'text.ckpt': 'truncated, corrupt',
             'none.ckpt': 'no checkpoint file', 'optim.ckpt': 'optimizer or training state only',
             'pickled.ckpt': r"\['argparse.Namespace'\].*trust_pickle=True",
             'other.ckpt': r'29 missing.*29 unexpected.*another architecture',
             'noproj.ckpt': r'2 missing: projector.projector.weight, projector2.projector.weight'}
    for name, pattern in cases.items():
        with pytest.raises(CheckpointError, match=pattern): load_authors_checkpoint(tmp_path / name, cfg)
    m = load_authors_checkpoint(tmp_path / 'pickled.ckpt', cfg, trust_pickle=True)     # the explicit opt-in
    assert torch.equal(m.scan.init.slots, sd['initializer.slots'])
    # a failed load into an existing model changes nothing
    before = {k: v.clone() for k, v in m.state_dict().items()}
    bad = {**_random_authors(authors_layout(cfg), seed=1), 'decoder.module.pos_emb': torch.zeros(1, 1, 9, 8)}
    with pytest.raises(CheckpointError, match=r'pos_emb: checkpoint \(1, 1, 9, 8\), expected \(1, 1, 4, 8\)'):
        load_authors_state_dict(m, bad)
    for k, v in m.state_dict().items(): assert torch.equal(before[k], v), k
    good = _random_authors(authors_layout(cfg), seed=2)
    load_authors_state_dict(m, good)
    assert torch.equal(m.decoder.pos.table, good['decoder.module.pos_emb'])
    with pytest.raises(CheckpointError, match='not tensors'):
        check_authors_state_dict({**sd, 'initializer.slots': [1, 2]}, cfg)


def test_read_any_checkpoint_tells_the_formats_apart(tmp_path):
    "srl_nb's own checkpoints (numpy RNG state inside) and the authors' both read weights-only; anything else is refused"
    import random
    import numpy as np
    from srl_nb.convert import read_any_checkpoint
    cfg = get_preset('movi_c', resolution=28, n_slots=3, slot_dim=8, decoder_hidden=16, reg_rounds=2)
    torch.save({'config': cfg.to_dict(), 'model': {}, 'rng': [dict(python=random.getstate(), numpy=np.random.get_state(),
                torch=torch.get_rng_state())]}, tmp_path / 'ours.ckpt')
    sd = _random_authors(authors_layout(cfg))
    torch.save({'state_dict': sd, 'pytorch-lightning_version': '1.9.5'}, tmp_path / 'theirs.ckpt')
    assert read_any_checkpoint(tmp_path / 'ours.ckpt')[0] == 'srl_nb'
    kind, got = read_any_checkpoint(tmp_path / 'theirs.ckpt')
    assert kind == 'authors' and set(got) == set(sd)
    torch.save({'state_dict': sd, 'cls': argparse.ArgumentParser}, tmp_path / 'code.ckpt')
    with pytest.raises(CheckpointError, match='argparse.ArgumentParser'): read_any_checkpoint(tmp_path / 'code.ckpt')


def test_evaluate_authors_checkpoint_equals_the_model(tmp_path):
    "srl_eval's path for an authors' checkpoint scores exactly what the model it holds scores, and says what it read"
    import json
    from srl_nb.synthetic import build_synthetic
    from srl_nb.convert import authors_config
    from srl_nb.core import apply_overrides
    from srl_nb.data import val_loader
    from srl_nb.evaluate import evaluate, evaluate_checkpoint
    build_synthetic(tmp_path / 'data', 'easy', n_train=2, n_val=2, seed=0, overrides={'n_frames': 3, 'size': 48})
    torch.manual_seed(0)
    model = SRLModel.from_config(authors_config('movi_c')).eval()
    save_authors_checkpoint(model, tmp_path / 'theirs.ckpt')
    data = dict(dataset='synthetic', synthetic_config='easy', data_dir=str(tmp_path / 'data'), val_batch_size=1, num_workers=0)
    res = evaluate_checkpoint(tmp_path / 'theirs.ckpt', preset='movi_c', max_videos=2, out_dir=tmp_path / 'eval',
                              device='cpu', overrides=data)
    assert res['format'] == 'authors' and res['preset'] == 'movi_c' and res['n_videos'] == 2
    assert "authors' checkpoint theirs.ckpt sha256=" in res['backbone']
    assert res['protocol']['fg_empty'] == get_preset('movi_c').data.fg_empty
    cfg = apply_overrides(authors_config('movi_c'), use_feature_cache=False, max_val_videos=2, **data)
    direct = evaluate(model, val_loader(cfg, 'validation'), cfg, device='cpu')
    for k in ('dec_video_fg_ari', 'dec_video_mbo', 'enc_video_fg_ari', 'enc_image_mbo'):
        assert res[k] == pytest.approx(direct[k], abs=1e-12), k
    assert json.loads((tmp_path / 'eval' / 'metrics_validation.json').read_text())['format'] == 'authors'
    with pytest.raises(CheckpointError, match='name the preset'):
        evaluate_checkpoint(tmp_path / 'theirs.ckpt', out_dir=tmp_path / 'eval', overrides=data)
