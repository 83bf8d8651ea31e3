"Pin every value of the paper presets to the authors' configs (hynnsk/SRL configs/srl/*.yaml)."
import json, pytest
from srl_nb.core import get_preset, Config, PRESETS, presets_table, apply_overrides

COMMON = {  # identical in the three paper presets
    'data.clip_frames': 4, 'data.batch_size': 64, 'data.global_batch': 128, 'data.resize_antialias': False,
    'data.ytvis_store_side': 320, 'optim.val_amp': True, 'loss.denoise_sim_dtype': 'amp',
    'model.pretrained': True, 'model.patch_size': 14, 'model.n_iters_first': 3, 'model.n_iters': 2,
    'model.predictor_heads': 4, 'model.predictor_ffn_factor': 4, 'model.decoder_hidden': 1024,
    'model.decoder_layers': 3, 'model.enc_pos_embed': 'none', 'model.dec_pos_embed': 'learned', 'model.alpha_zero_init': False,
    'loss.w_rec': 1.0, 'loss.w_slot_slot': 0.25, 'loss.w_reg': 0.1, 'loss.w_deblur': 0.1, 'loss.w_denoise': 0.1,
    'loss.use_reg': True, 'loss.use_deblur': True, 'loss.use_denoise': True, 'loss.slot_contrast': 'srl',
    'loss.temperature': 0.1, 'loss.base_temperature': 0.07, 'loss.group_frames': 4,
    'optim.lr': 8e-4, 'optim.beta1': 0.9, 'optim.beta2': 0.999, 'optim.eps': 1e-8, 'optim.weight_decay': 0.0,
    'optim.warmup_steps': 2500, 'optim.decay_rate': 0.5, 'optim.grad_clip': 0.05, 'optim.amp': 'fp16',
}
SPEC = {
    'movi_c': {'data.dataset': 'movi_c', 'data.resolution': 336, 'data.train_aug': 'resize', 'data.hflip_prob': 0.5,
               'data.fg_empty': 'one', 'data.ytvis_val_subset': 'all', 'data.crop_geometry': 'resize_first',
               'model.backbone': 'vit_small_patch14_dinov2', 'model.feat_dim': 384,
               'model.n_slots': 11, 'model.slot_dim': 64, 'schedule.max_steps': 100_000,
               'schedule.reg_start': 0, 'schedule.reg_end': 10_000, 'loss.reg_rounds': 5,
               'schedule.deblur_start': 20_000, 'schedule.denoise_start': 20_000, 'loss.denoise_topk': 8},
    'movi_e': {'data.dataset': 'movi_e', 'data.resolution': 336, 'data.train_aug': 'resize', 'data.hflip_prob': 0.5,
               'data.fg_empty': 'one', 'data.ytvis_val_subset': 'all', 'data.crop_geometry': 'resize_first',
               'model.backbone': 'vit_base_patch14_dinov2', 'model.feat_dim': 768,
               'model.n_slots': 15, 'model.slot_dim': 128, 'schedule.max_steps': 300_000,
               'schedule.reg_start': 2_500, 'schedule.reg_end': 30_000, 'loss.reg_rounds': 7,
               'schedule.deblur_start': 60_000, 'schedule.denoise_start': 60_000, 'loss.denoise_topk': 24},
    'ytvis2021': {'data.dataset': 'ytvis2021', 'data.resolution': 518, 'data.train_aug': 'short_side_crop',
               'data.hflip_prob': 0.0, 'data.fg_empty': 'skip', 'data.ytvis_val_subset': 'authors_2gpu', 'data.crop_geometry': 'authors',
               'model.backbone': 'vit_base_patch14_dinov2', 'model.feat_dim': 768,
               'model.n_slots': 7, 'model.slot_dim': 64, 'schedule.max_steps': 100_000,
               'schedule.reg_start': 0, 'schedule.reg_end': 10_000, 'loss.reg_rounds': 3,
               'schedule.deblur_start': 20_000, 'schedule.denoise_start': 0, 'loss.denoise_topk': 16},
}
PATCHES = {'movi_c': 576, 'movi_e': 576, 'ytvis2021': 1369}

def _get(cfg, key):
    sec, name = key.split('.')
    return getattr(getattr(cfg, sec), name)

@pytest.mark.parametrize('name', list(SPEC))
def test_paper_preset_values(name):
    cfg = get_preset(name)
    for key, want in {**COMMON, **SPEC[name]}.items():
        got = _get(cfg, key)
        assert got == want and type(got) is type(want), f'{name} {key}: {got!r} != the authors\' {want!r}'
    assert cfg.n_patches == PATCHES[name]

@pytest.mark.parametrize('name', list(PRESETS))
def test_round_trip(name):
    cfg = get_preset(name)
    assert Config.from_dict(json.loads(cfg.to_json())) == cfg
    assert get_preset(name) is not get_preset(name)  # fresh objects: mutating one cannot leak

def test_overrides_flat_and_dotted():
    a = get_preset('synthetic', n_slots=4, **{'optim.lr': 1e-3}, seed=5)
    assert (a.model.n_slots, a.optim.lr, a.seed, a.name) == (4, 1e-3, 5, 'synthetic')
    assert get_preset('synthetic').model.n_slots != 4

def test_unknown_names_list_valid():
    with pytest.raises(KeyError, match="valid presets"): get_preset('movi')
    with pytest.raises(KeyError, match="n_slots"): get_preset('movi_c', nslots=3)
    with pytest.raises(KeyError, match="unknown data key"): Config.from_dict({'data': {'resolutoin': 3}})

@pytest.mark.parametrize('kw,msg', [(dict(resolution=100), 'multiple of model.patch_size'),
                                    (dict(clip_frames=6), 'multiple of loss.group_frames'),
                                    (dict(dataset='kitti'), 'is not one of'),
                                    (dict(reg_rounds=11), 'must be < model.n_slots'),
                                    (dict(reg_start=5, reg_end=4), 'reg_start <= reg_end'),
                                    (dict(warmup_steps=100_000), 'warmup_steps'),
                                    (dict(global_batch=100), 'positive multiple of data.batch_size=64'),
                                    (dict(global_batch=0), 'positive multiple'),
                                    (dict(fg_empty='nan'), 'is not one of'),
                                    (dict(ytvis_val_subset='first210'), 'is not one of'),
                                    (dict(denoise_sim_dtype='bf8'), 'is not one of')])
def test_bad_values(kw, msg):
    with pytest.raises(ValueError, match=msg): get_preset('movi_c', **kw)

def test_table_lists_every_field():
    df = presets_table()
    assert list(df.columns) == ['movi_c', 'movi_e', 'ytvis2021']
    assert df.loc['model.n_slots'].tolist() == ['11', '15', '7']
    n_fields = sum(len(v) for k, v in get_preset('movi_c').to_dict().items() if isinstance(v, dict)) + 1
    assert len(df) == n_fields

def test_configs_written_before_global_batch_still_load():
    "n_devices (never read) is dropped; such a run stepped on one micro-batch per process, which global_batch=None means"
    old = get_preset('movi_c').to_dict()
    old['data'].pop('global_batch'); old['data']['n_devices'] = 2
    cfg = Config.from_dict(old)
    assert cfg.data.global_batch is None and cfg.data.batch_size == 64
