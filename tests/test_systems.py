"VideoSAUR and STEVE: the shared modules keep their defaults, presets pinned to the authors' settings, parameter counts."
import math, pytest, torch
import torch.nn.functional as F
from torch import nn
from srl_nb.core import get_preset, PRESETS, system_on_synthetic
from srl_nb.slots import SlotAttention, Predictor, SlotScan, FixedSlotInit
from srl_nb.videosaur import VideoSAURModel, videosaur_param_count
from srl_nb.steve import STEVEModel, steve_param_count

# ---- the shared modules: the new switches are off by default; behaviour and checkpoint layout unchanged ----

def test_slot_attention_default_unchanged():
    "Default SlotAttention = SlotContrast's: GRU on the normalised slots, residual MLP after every iteration"
    torch.manual_seed(0)
    B, N, S, D, Din = 2, 7, 3, 8, 5
    sa = SlotAttention(Din, D)
    assert sorted(sa.state_dict()) == sorted([
        'norm_features.weight', 'norm_features.bias', 'norm_slots.weight', 'norm_slots.bias', 'to_q.weight', 'to_k.weight',
        'to_v.weight', 'gru.weight_ih', 'gru.weight_hh', 'gru.bias_ih', 'gru.bias_hh', 'mlp.layers.0.weight',
        'mlp.layers.0.bias', 'mlp.layers.1.weight', 'mlp.layers.1.bias', 'mlp.layers.3.weight', 'mlp.layers.3.bias'])
    s0, x = torch.randn(B, S, D), torch.randn(B, N, Din)
    z = F.layer_norm(x, (Din,), sa.norm_features.weight, sa.norm_features.bias)
    k, v, s = z @ sa.to_k.weight.T, z @ sa.to_v.weight.T, s0
    for _ in range(3):
        sh = F.layer_norm(s, (D,), sa.norm_slots.weight, sa.norm_slots.bias)
        a = torch.softmax((sh @ sa.to_q.weight.T) @ k.transpose(1, 2) / math.sqrt(D), 1)
        w = (a + 1e-8) / (a + 1e-8).sum(-1, keepdim=True)
        s = sa.gru((w @ v).reshape(-1, D), sh.reshape(-1, D)).reshape(B, S, D)
        h = F.layer_norm(s, (D,), sa.mlp.layers[0].weight, sa.mlp.layers[0].bias)
        s = s + sa.mlp.layers[3](torch.relu(sa.mlp.layers[1](h)))
    out = sa(s0, x, 3)
    torch.testing.assert_close(out['slots'], s)
    torch.testing.assert_close(out['masks'], a)

def test_predictor_default_unchanged():
    "Default Predictor = SlotContrast's block: biases, pre-norm residual from the raw input, logits times sqrt(head_dim)"
    torch.manual_seed(0)
    pr = Predictor(8, 4)
    assert sorted(pr.state_dict()) == sorted(['norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias', 'qkv.weight', 'qkv.bias',
                                              'out_proj.weight', 'out_proj.bias', 'ffn.0.weight', 'ffn.0.bias', 'ffn.2.weight', 'ffn.2.bias'])
    x = torch.randn(3, 5, 8)
    h = F.layer_norm(x, (8,), pr.norm1.weight, pr.norm1.bias)
    q, k, v = (h @ pr.qkv.weight.T + pr.qkv.bias).reshape(3, 5, 3, 4, 2).permute(2, 0, 3, 1, 4)
    a = torch.softmax(q @ k.transpose(-1, -2) * math.sqrt(2), -1) @ v                    # the reference's scaling
    y = x + (a.transpose(1, 2).reshape(3, 5, 8) @ pr.out_proj.weight.T + pr.out_proj.bias)
    torch.testing.assert_close(pr(x), y + pr.ffn(F.layer_norm(y, (8,), pr.norm2.weight, pr.norm2.bias)))

def test_slot_scan_default_unchanged():
    "Default SlotScan builds the fixed initialiser, the default grouper and predictor: the same parameter names as before"
    scan = SlotScan(6, 3, 8)
    assert isinstance(scan.init, FixedSlotInit) and scan.init.slots.shape == (1, 3, 8)
    assert sorted({k.split('.')[0] for k in scan.state_dict()}) == ['grouper', 'init', 'predictor']
    assert sorted(scan.state_dict()) == sorted(['init.slots'] + [f'grouper.{k}' for k in SlotAttention(6, 8).state_dict()]
                                               + [f'predictor.{k}' for k in Predictor(8).state_dict()])
    torch.manual_seed(0); z = torch.randn(2, 3, 4, 6)
    a, b = scan(z), scan(z)
    torch.testing.assert_close(a['slots'], b['slots'])                                     # no sampling by default

# ---- presets, value for value ----

VIDEOSAUR = {   # martius-lab/videosaur configs/videosaur/*.yml
    'common': {'model.arch': 'videosaur', 'data.clip_frames': 4, 'data.hflip_prob': 0.5, 'data.val_batch_size': 16,
               'data.num_workers': 8, 'model.feat_dim': 768, 'model.pretrained': True, 'model.slot_init': 'sampled',
               'model.grouper_mlp': False, 'model.n_iters_first': 3, 'model.n_iters': 2, 'model.predictor_heads': 4,
               'model.predictor_ffn_factor': 4, 'model.predictor_scale_quirk': True, 'model.decoder': 'slot_mixer',
               'model.mixer_heads': 4, 'model.decoder_hidden': 1024, 'loss.w_time_sim': 0.1, 'loss.time_sim_threshold': 0.0,
               'loss.time_sim_target': 'keys', 'loss.w_slot_slot': 0.0, 'loss.use_reg': False, 'loss.use_deblur': False,
               'loss.use_denoise': False, 'schedule.max_steps': 100_000, 'schedule.val_every': 1_000, 'schedule.log_every': 500,
               'optim.warmup_steps': 2_500, 'optim.decay_rate': 0.5, 'optim.grad_clip': 0.05, 'optim.clip_norm': 'l2',
               'optim.amp': 'fp32', 'optim.beta1': 0.9, 'optim.beta2': 0.999, 'optim.weight_decay': 0.0},
    'videosaur_movi_c': {'data.dataset': 'movi_c', 'model.n_slots': 11},                   # movi_c.yml
    'videosaur_movi_e': {'data.dataset': 'movi_e', 'model.n_slots': 15},                   # movi_e.yml
    'movi': {'data.resolution': 224, 'data.train_aug': 'resize', 'model.backbone': 'vit_base_patch8_224.dino',
             'model.patch_size': 8, 'model.slot_dim': 128, 'model.mixer_blocks': 2, 'model.decoder_layers': 3,
             'loss.w_rec': 0.0, 'loss.time_sim_temperature': 0.075, 'data.batch_size': 128, 'data.global_batch': 128, 'optim.lr': 4e-4},
    'videosaur_ytvis2021': {'data.dataset': 'ytvis2021', 'data.resolution': 224, 'data.train_aug': 'short_side_crop',   # ytvis.yml
             'model.backbone': 'vit_base_patch16_224.dino', 'model.patch_size': 16, 'model.n_slots': 7, 'model.slot_dim': 64,
             'model.mixer_blocks': 3, 'model.decoder_layers': 2, 'loss.w_rec': 1.0, 'loss.time_sim_temperature': 0.25,
             'data.batch_size': 128, 'data.global_batch': 128, 'optim.lr': 4e-4},
    'videosaur_ytvis2021_dinov2': {'data.dataset': 'ytvis2021', 'data.resolution': 518, 'data.train_aug': 'short_side_crop',  # ytvis_dinov2.yml
             'model.backbone': 'vit_base_patch14_dinov2', 'model.patch_size': 14, 'model.n_slots': 7, 'model.slot_dim': 64,
             'model.mixer_blocks': 3, 'model.decoder_layers': 2, 'loss.w_rec': 1.0, 'loss.time_sim_temperature': 0.15,
             'data.batch_size': 64, 'data.global_batch': 64, 'optim.lr': 2e-4},
}
STEVE = {   # singhgautam/steve train.py defaults
    'model.arch': 'steve', 'data.resolution': 128, 'data.clip_frames': 3, 'data.hflip_prob': 0.0, 'data.batch_size': 24,
    'data.global_batch': 24, 'data.num_workers': 4, 'model.backbone': 'none', 'model.pretrained': False, 'model.decoder': 'transformer',
    'model.feat_dim': 192, 'model.patch_size': 2, 'model.n_slots': 15, 'model.slot_dim': 192, 'model.n_iters_first': 2,
    'model.n_iters': 2, 'model.slot_init': 'sampled', 'model.grouper_mlp': True, 'model.grouper_hidden': 192,
    'model.predictor_heads': 4, 'model.predictor_scale_quirk': False, 'steve.vocab_size': 4096, 'steve.dvae_hidden': 64,
    'steve.cnn_hidden': 64, 'steve.dec_blocks': 8, 'steve.dec_heads': 4, 'steve.dec_dropout': 0.1, 'steve.tau_start': 1.0,
    'steve.tau_final': 0.1, 'steve.tau_steps': 30_000, 'steve.gumbel_hard': False, 'steve.lr_dvae': 3e-4, 'steve.lr_dec': 3e-4,
    'steve.lr_half_life': 250_000, 'steve.eval_clip_frames': 6, 'optim.lr': 1e-4, 'optim.warmup_steps': 30_000,
    'optim.grad_clip': 0.05, 'optim.clip_norm': 'inf', 'optim.amp': 'fp32', 'schedule.max_steps': 200_000,
    'loss.w_slot_slot': 0.0, 'loss.use_reg': False, 'loss.use_deblur': False, 'loss.use_denoise': False}

def _get(cfg, key):
    sec, name = key.split('.')
    return getattr(getattr(cfg, sec), name)

def _check(cfg, want):
    for key, w in want.items():
        got = _get(cfg, key)
        assert got == w and type(got) is type(w), f'{cfg.name} {key}: {got!r} != {w!r}'

@pytest.mark.parametrize('name', ['videosaur_movi_c', 'videosaur_movi_e', 'videosaur_ytvis2021', 'videosaur_ytvis2021_dinov2'])
def test_videosaur_presets(name):
    cfg = get_preset(name)
    _check(cfg, {**VIDEOSAUR['common'], **(VIDEOSAUR['movi'] if 'movi' in name else {}), **VIDEOSAUR[name]})
    assert cfg.n_patches == {'videosaur_ytvis2021': 196, 'videosaur_ytvis2021_dinov2': 1369}.get(name, 784)

@pytest.mark.parametrize('name,dataset', [('steve_movi_c', 'movi_c'), ('steve_movi_e', 'movi_e')])
def test_steve_presets(name, dataset):
    cfg = get_preset(name)
    _check(cfg, {**STEVE, 'data.dataset': dataset})
    assert cfg.grid == 64 and cfg.data.resolution // 4 == 32          # slot-attention grid, dVAE token grid

def test_synthetic_systems_share_the_setting():
    "The CPU presets keep the synthetic preset's videos, steps, batches and clips"
    s = get_preset('synthetic')
    for name in ('videosaur_synthetic', 'steve_synthetic'):
        c = get_preset(name)
        assert (c.data.dataset, c.data.synthetic_config, c.data.batch_size, c.data.clip_frames, c.schedule.max_steps) == \
               (s.data.dataset, s.data.synthetic_config, s.data.batch_size, s.data.clip_frames, s.schedule.max_steps)
    v = get_preset('videosaur_synthetic')
    assert (v.data, v.model.n_slots, v.model.slot_dim, v.model.decoder_hidden, v.model.enc_pos_embed, v.model.dec_pos_embed) == \
           (s.data, s.model.n_slots, s.model.slot_dim, s.model.decoder_hidden, s.model.enc_pos_embed, s.model.dec_pos_embed)
    long = system_on_synthetic('steve', get_preset('synthetic_long'))
    assert (long.data.clip_frames, long.schedule.max_steps, long.steve.tau_steps) == (24, 12_000, 1_800)

@pytest.mark.parametrize('kw,msg', [
    (dict(decoder='transformer'), "does not fit model.arch='videosaur'"),
    (dict(decoder='slotmixer'), "model.decoder='slotmixer' is not one of"),
    (dict(arch='stave'), "model.arch='stave' is not one of"),
    (dict(use_feature_cache=True), "time_sim_target='keys' needs"),
    (dict(clip_frames=1), 'data.clip_frames must be >= 2'),
    (dict(w_time_sim=0.0, w_rec=0.0), 'one of them > 0'),
    (dict(w_slot_slot=0.25), 'needs them off'),
    (dict(backbone='none'), "STEVE encodes pixels")])
def test_videosaur_bad_values(kw, msg):
    with pytest.raises(ValueError, match=msg.replace('(', r'\(').replace(')', r'\)')): get_preset('videosaur_movi_c', **kw)

@pytest.mark.parametrize('kw,msg', [
    (dict(decoder='slot_mixer'), "does not fit model.arch='steve'"),
    (dict(eval_clip_frames=0), 'steve.eval_clip_frames must be >= 1'),
    (dict(resolution=126, patch_size=1), 'multiple of 4'),
    (dict(patch_size=8), "STEVE's CNN stride"),
    (dict(backbone='vit_small_patch14_dinov2'), 'STEVE encodes pixels'),
    (dict(use_feature_cache=True), 'use_feature_cache must be False'),
    (dict(tau_final=2.0), 'tau_final <= tau_start')])
def test_steve_bad_values(kw, msg):
    with pytest.raises(ValueError, match=msg): get_preset('steve_movi_c', **kw)

def test_srl_presets_keep_their_arch():
    for n in ('movi_c', 'movi_e', 'ytvis2021', 'synthetic'):
        c = get_preset(n)
        assert (c.model.arch, c.model.decoder, c.model.slot_init, c.model.grouper_mlp, c.optim.clip_norm) == ('srl', 'mlp', 'fixed', True, 'l2')
    with pytest.raises(ValueError, match="does not fit model.arch='srl'"): get_preset('movi_c', decoder='slot_mixer')

# ---- trainable parameters: formula == built model == pinned (the reference modules give the same totals) ----

PARAMS = {'videosaur_movi_c': 6_341_648, 'videosaur_movi_e': 6_341_648, 'videosaur_ytvis2021': 4_693_636,
          'videosaur_ytvis2021_dinov2': 5_971_033, 'videosaur_synthetic': 486_145,
          'steve_movi_c': 8_668_803, 'steve_movi_e': 8_668_803, 'steve_synthetic': 414_435}

@pytest.mark.parametrize('name', list(PARAMS))
def test_parameter_counts(name):
    cfg = get_preset(name)
    if cfg.model.arch == 'videosaur': counts, model = videosaur_param_count(cfg), VideoSAURModel.from_config(cfg, with_backbone=False)
    else: counts, model = steve_param_count(cfg), STEVEModel.from_config(cfg)
    assert counts['total'] == PARAMS[name]
    assert model.trainable_parameters() == PARAMS[name]


# ---- the trainer runs every system: the same loop, logs, checkpoints, resume and evaluation ----

@pytest.fixture(scope='module')
def tiny_videos(tmp_path_factory):
    from srl_nb.synthetic import build_synthetic
    d = tmp_path_factory.mktemp('systems')
    build_synthetic(d, 'easy', n_train=4, n_val=2, seed=0, overrides={'n_frames': 6, 'size': 64})
    return d

def _tiny(preset, d):
    "A few-step run of `preset` on 4 tiny synthetic videos (pixels in, 56 px, a 4x4 grid)"
    return get_preset(preset, data_dir=str(d), resolution=56, n_slots=3, slot_dim=16, batch_size=2, val_batch_size=2,
                      global_batch=None, use_feature_cache=False, max_steps=4, val_every=2, ckpt_every=2, log_every=1,
                      warmup_steps=2, amp='fp32')

@pytest.mark.parametrize('preset,terms', [('videosaur_synthetic', {'time_sim'}), ('steve_synthetic', {'dvae_mse', 'token_ce'})])
def test_train_runs_and_resumes_each_system(tiny_videos, tmp_path, preset, terms):
    from srl_nb.train import train, read_log
    from srl_nb.checkpoint import load_checkpoint
    from srl_nb.systems import system_of
    cfg = _tiny(preset, tiny_videos)
    res = train(cfg, tmp_path / 'run', progress=False)
    assert res['step'] == 4
    from srl_nb.train import read_tensorboard
    tags = read_tensorboard(tmp_path / 'run' / 'tb').Tags()['scalars']
    assert {f'loss/{t}' for t in terms} <= set(tags), tags                   # the system's own terms reach TensorBoard
    log = read_log(tmp_path / 'run' / 'log.jsonl')
    steps = [r for r in log if 'split' not in r]
    assert [r['step'] for r in steps] == [0, 1, 2, 3]
    assert all(terms <= set(r) and math.isfinite(r['loss']) for r in steps)
    vals = [r for r in log if r.get('split') == 'val']
    assert len(vals) == 2 and all(-1 <= r['dec_video_fg_ari'] <= 1 and 0 <= r['dec_video_mbo'] <= 1 for r in vals)   # an ARI: chance is 0, below is possible
    assert not any(k.startswith('diag_') for r in vals for k in r)         # the cycle measurements are SRL's
    if preset == 'steve_synthetic':                                       # STEVE: three groups, their own rates
        assert all({'lr_dvae', 'lr_encoder', 'lr_decoder'} <= set(r) for r in steps)
        assert all('steve_fg_ari' in r for r in vals)                     # and STEVE's own evaluation protocol
    from srl_nb.core import apply_overrides
    from srl_nb.streams import make_train_stream
    assert make_train_stream(cfg).n_batches == 2  # so that step 3 is inside the second epoch
    for stop in (2, 3):                           # stopped where an epoch ends and inside one (the loader starts again)
        train(apply_overrides(cfg, ckpt_every=1), tmp_path / f'cut{stop}', progress=False, tensorboard=False, stop_at=stop)
        train(cfg, tmp_path / f'cut{stop}', resume=True, progress=False, tensorboard=False)
        a, b = (torch.load(tmp_path / r / 'final.ckpt', weights_only=False)['model'] for r in ('run', f'cut{stop}'))
        for k in a: torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=lambda m: f'stopped at {stop}: {k}: {m}')
    model, c2 = load_checkpoint(tmp_path / 'run' / 'final.ckpt')
    assert type(model) is type(system_of(cfg).build(cfg)) and c2.model.arch == cfg.model.arch
