"Synthetic tfds set -> validated cache -> torch loaders: shapes, ids, clip alignment, flips, determinism, resume."
import json, os, shutil, subprocess, sys, textwrap
from pathlib import Path
import numpy as np, pytest, torch
import torch.nn.functional as F
from srl_nb.core import get_preset
from srl_nb.synthetic import build_synthetic, render_videos, get_synth_config, synthetic_name
from srl_nb.data import (clip_plan, prepare_cache, open_cache, split_arrays, train_loader, val_loader, make_loader,
                         DataError, VideoDataset, CacheSource, IMAGENET_MEAN, IMAGENET_STD, tfds_dir)

N_TRAIN, N_VAL, SIZE = 10, 3, 28   # SIZE: a multiple of the patch size, so resolution=SIZE is a valid config

@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp('synth')
    build_synthetic(d, 'easy', n_train=N_TRAIN, n_val=N_VAL, seed=3, overrides={'size': SIZE})   # 24 frames
    return d

def cfg_for(d, **kw):
    base = dict(data_dir=str(d), resolution=SIZE, batch_size=4, val_batch_size=2, num_workers=0)
    return get_preset('synthetic', **{**base, **kw})

def ref_clip(frames, res, flip):
    "Plain reference of the training transform: bicubic resize, clamp, flip, ImageNet normalisation"
    x = torch.from_numpy(np.array(frames)).permute(0, 3, 1, 2).float() / 255
    if x.shape[-1] != res: x = F.interpolate(x, size=(res, res), mode='bicubic', align_corners=False, antialias=True).clamp(0, 1)
    if flip: x = x.flip(-1)
    return (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

# --- clip plan ------------------------------------------------------------------------------------------

def test_clip_plan_aligned_pure_and_complete():
    nf = np.array([24, 24, 7, 3, 12, 24])
    p = clip_plan(5, 2, 6, nf, 4, hflip_prob=0.5)
    assert sorted(p.order.tolist()) == [0, 1, 2, 4, 5]               # video 3 (3 frames) gives no clip
    assert (p.starts % 4 == 0).all() and (p.starts + 4 <= nf[p.order]).all()
    assert all(np.array_equal(a, b) for a, b in zip(p, clip_plan(5, 2, 6, nf, 4, 0.5)))
    assert not all(np.array_equal(a, b) for a, b in zip(p, clip_plan(6, 2, 6, nf, 4, 0.5)))
    assert not clip_plan(0, 0, 50, 24, 4, 0.0).flips.any() and clip_plan(0, 0, 50, 24, 4, 1.0).flips.all()
    big = clip_plan(0, 0, 4000, 24, 4, 0.5)
    assert abs(big.flips.mean() - 0.5) < 0.05
    assert np.bincount(big.starts // 4, minlength=6).min() > 500        # every chunk gets drawn

# --- tfds build and cache -------------------------------------------------------------------------------

def test_tfds_schema_and_read_back_in_child(data_dir):
    "Read the built set with tfds exactly like a local MOVi copy (in a child process) and check the schema"
    code = textwrap.dedent(f"""
        import json, numpy as np, tensorflow_datasets as tfds
        b = tfds.builder_from_directory({tfds_dir(data_dir, synthetic_name('easy'))!r})
        ex = next(iter(tfds.as_numpy(b.as_dataset(split='validation', shuffle_files=False))))
        print(json.dumps({{'splits': {{k: v.num_examples for k, v in b.info.splits.items()}},
            'video': [list(ex['video'].shape), str(ex['video'].dtype)],
            'seg': [list(ex['segmentations'].shape), str(ex['segmentations'].dtype)],
            'n': int(ex['metadata']['num_instances']), 'ids': np.unique(ex['segmentations']).tolist()}}))""")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out['splits'] == {'train': N_TRAIN, 'validation': N_VAL}
    assert out['video'] == [[24, SIZE, SIZE, 3], 'uint8'] and out['seg'] == [[24, SIZE, SIZE, 1], 'uint8']
    assert out['ids'][0] == 0 and out['ids'] == list(range(out['n'] + 1))   # 0 = background, id = instance + 1
    assert 'tensorflow' not in sys.modules

def test_cache_equals_generator_and_validates(data_dir):
    cfg = cfg_for(data_dir)
    a = split_arrays(cfg, 'train')
    ref = render_videos(get_synth_config('easy', size=SIZE), N_TRAIN, 'train', seed=3)
    assert a['video'].shape == (N_TRAIN, 24, SIZE, SIZE, 3) and a['video'].dtype == np.uint8
    assert a['ids'].shape == (N_TRAIN, 24, SIZE, SIZE) and a['ids'].dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(a['video']), ref['video'])    # same videos, same (file) order
    np.testing.assert_array_equal(np.asarray(a['ids']), ref['segmentations'][..., 0])
    np.testing.assert_array_equal(np.asarray(a['num_instances']), ref['num_instances'])
    for i in range(N_TRAIN): assert np.asarray(a['ids'][i]).max() <= a['num_instances'][i]
    assert 'tensorflow' not in sys.modules

def test_cache_rejects_corrupt_and_half_written(data_dir, tmp_path):
    src = prepare_cache(synthetic_name('easy'), data_dir, 'validation')
    c = open_cache(src, verify=True)
    assert c['meta']['n_videos'] == N_VAL and c['meta']['shapes']['video'] == [N_VAL, 24, SIZE, SIZE, 3]
    bad = tmp_path / 'c1'; shutil.copytree(src, bad)
    v = np.load(bad / 'video.npy', mmap_mode='r+'); v[1, 5, 3, 3, 0] ^= 0xFF; v.flush(); del v
    open_cache(bad)                                                       # cheap checks pass ...
    with pytest.raises(DataError, match='checksum'): open_cache(bad, verify=True)   # ... the checksum does not
    half = tmp_path / 'c2'; shutil.copytree(src, half)
    with open(half / 'ids.npy', 'r+b') as f: f.truncate(1000)
    with pytest.raises(DataError, match=str(half)): open_cache(half)
    nometa = tmp_path / 'c3'; shutil.copytree(src, nometa); (nometa / 'meta.json').unlink()
    with pytest.raises(DataError, match='no cache'): open_cache(nometa)

def test_missing_dataset_and_unknown_name(tmp_path, data_dir):
    with pytest.raises(DataError, match=r'movi_c/128x128/1\.0\.0/dataset_info\.json.*README'):
        prepare_cache('movi_c/128x128:1.0.0', tmp_path, 'train')
    with pytest.raises(DataError, match='synthetic_movi/easy'):           # misplaced: lists what data_dir holds
        prepare_cache('movi_e/128x128:1.0.0', data_dir, 'train')
    with pytest.raises(ValueError, match='dataset'): get_preset('synthetic', dataset='movi_x')
    with pytest.raises(DataError, match="split 'test'"): prepare_cache(synthetic_name('easy'), data_dir, 'test')

def test_corrupt_record_raises_naming_shards(data_dir, tmp_path):
    d = tmp_path / 'dd'; shutil.copytree(data_dir / 'synthetic_movi', d / 'synthetic_movi')
    shard = sorted((d / 'synthetic_movi/easy/1.0.0').glob('*-validation.tfrecord*'))[0]
    b = bytearray(shard.read_bytes()); b[len(b) // 2:len(b) // 2 + 64] = bytes(64); shard.write_bytes(bytes(b))
    with pytest.raises(DataError, match='validation.*failed.*shard files'):
        prepare_cache(synthetic_name('easy'), d, 'validation')
    assert not list((d / 'srl_cache').glob('**/meta.json'))             # nothing half-written was published

# --- loaders --------------------------------------------------------------------------------------------

def test_train_batches_match_reference_transform(data_dir):
    cfg = cfg_for(data_dir, resolution=42)
    tl = train_loader(cfg)
    raw = split_arrays(cfg, 'train')['video']
    plan = clip_plan(cfg.seed, 0, N_TRAIN, 24, 4, cfg.data.hflip_prob)
    assert len(tl) == N_TRAIN // 4
    for k, b in enumerate(tl):
        assert set(b) == {'video', 'video_idx', 'start', 'flip'}
        assert b['video'].shape == (4, 4, 3, 42, 42) and b['video'].dtype == torch.float32
        assert b['video_idx'].dtype == torch.long and b['start'].dtype == torch.long and b['flip'].dtype == torch.bool
        np.testing.assert_array_equal(b['video_idx'].numpy(), plan.order[4 * k:4 * k + 4])
        np.testing.assert_array_equal(b['start'].numpy(), plan.starts[4 * k:4 * k + 4])
        assert (b['start'] % 4 == 0).all()
        for j in range(4):
            i, s, f = int(b['video_idx'][j]), int(b['start'][j]), bool(b['flip'][j])
            torch.testing.assert_close(b['video'][j], ref_clip(raw[i, s:s + 4], 42, f))
    assert tl.state_dict() == {'epoch': 1, 'batch': 0}
    assert 'tensorflow' not in sys.modules

def test_flip_moves_video_and_ids_together(data_dir):
    "Flat-coloured objects: with ids flipped like the frames, every id still selects one colour"
    src = CacheSource(prepare_cache(synthetic_name('easy'), data_dir, 'train'))
    ds = VideoDataset(src, SIZE, with_ids=True)
    a, b = ds.load(2, 8, 4, flip=False), ds.load(2, 8, 4, flip=True)
    torch.testing.assert_close(b['video'], a['video'].flip(-1)); assert torch.equal(b['segmentations'], a['segmentations'].flip(-1))
    for out in (a, b):
        v, ids = out['video'].permute(0, 2, 3, 1), out['segmentations']
        for k in ids.unique()[1:]:
            assert v[ids == k].std(0).max() < 0.05                         # one flat colour per object
    mis = b['segmentations'].flip(-1) if not torch.equal(b['segmentations'], b['segmentations'].flip(-1)) else None
    if mis is not None:                                                     # un-flipped ids would mix colours
        v = b['video'].permute(0, 2, 3, 1)
        assert max(v[mis == k].std(0).max() for k in mis.unique()[1:]) > 0.05

def test_determinism_workers_and_resume(data_dir):
    cfg = cfg_for(data_dir, batch_size=2, seed=7)
    tl = train_loader(cfg); run = []
    for _ in range(2): run += list(tl)                                    # two epochs, 5 batches each
    assert tl.state_dict() == {'epoch': 2, 'batch': 0}
    again = train_loader(cfg); again_run = list(again) + list(again)
    for x, y in zip(run, again_run):
        assert all(torch.equal(x[k], y[k]) for k in x)
    w = train_loader(cfg_for(data_dir, batch_size=2, seed=7, num_workers=2))
    for x, y in zip(run, list(w)): assert all(torch.equal(x[k], y[k]) for k in x)
    other = list(train_loader(cfg_for(data_dir, batch_size=2, seed=8)))
    assert not all(torch.equal(x['video_idx'], y['video_idx']) for x, y in zip(run, other))
    # resume after 3 batches of epoch 1 (an interrupted run): the rest is identical
    r = train_loader(cfg); it = iter(r)
    for _ in range(len(r)): next(it)
    it = iter(r); [next(it) for _ in range(3)]
    sd = r.state_dict(); assert sd == {'epoch': 1, 'batch': 3}
    res = train_loader(cfg, state=sd); rest = list(res)
    assert len(rest) == 2
    for x, y in zip(rest, run[5 + 3:]): assert all(torch.equal(x[k], y[k]) for k in x)
    assert res.state_dict() == {'epoch': 2, 'batch': 0}

def test_val_full_videos_and_nearest_ids(data_dir):
    cfg = cfg_for(data_dir, resolution=56)
    raw = split_arrays(cfg, 'validation')
    batches = list(val_loader(cfg))
    assert [tuple(b['video'].shape) for b in batches] == [(2, 24, 3, 56, 56), (1, 24, 3, 56, 56)]
    b = batches[0]
    assert set(b) == {'video', 'segmentations', 'video_idx'} and b['segmentations'].dtype == torch.long
    assert b['segmentations'].shape == (2, 24, 56, 56)
    ids = torch.from_numpy(np.array(raw['ids'][0])).long()
    src_px = ((torch.arange(56) + 0.5) * SIZE / 56).floor().long()      # nearest-exact source pixel of each output pixel
    exp = ids[:, src_px][:, :, src_px]
    assert torch.equal(b['segmentations'][0], exp)                       # nearest-exact: every pixel from one source pixel
    torch.testing.assert_close(b['video'][1], ref_clip(raw['video'][1], 56, False))
    assert set(b['segmentations'].unique().tolist()) <= set(range(int(raw['num_instances'][:2].max()) + 1))
    assert make_loader(cfg, 'train').state_dict() == {'epoch': 0, 'batch': 0}

def test_max_videos_and_too_few(data_dir):
    cfg = cfg_for(data_dir, max_train_videos=6, max_val_videos=2, batch_size=3)
    tl = train_loader(cfg); assert len(tl) == 2 and all(int(b['video_idx'].max()) < 6 for b in tl)
    assert sum(len(b['video_idx']) for b in val_loader(cfg)) == 2
    with pytest.raises(ValueError, match='fewer than batch_size'): train_loader(cfg_for(data_dir, max_train_videos=3, batch_size=4))

def test_no_tensorflow_in_training_process(data_dir):
    "A fresh process that builds both loaders from the cache and iterates never loads TensorFlow"
    code = textwrap.dedent(f"""
        import sys
        from srl_nb.core import get_preset
        from srl_nb.data import train_loader, val_loader
        cfg = get_preset('synthetic', data_dir={str(data_dir)!r}, resolution=28, batch_size=2, num_workers=1)
        for b in train_loader(cfg): pass
        next(iter(val_loader(cfg)))
        assert 'tensorflow' not in sys.modules and 'tensorflow_datasets' not in sys.modules
        print('ok')""")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip().endswith('ok'), r.stderr[-2000:]
