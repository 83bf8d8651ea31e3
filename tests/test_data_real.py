"YouTube-VIS 2021 and DAVIS 2017 readers on small datasets written in the real formats."
import json, shutil
from pathlib import Path
import numpy as np, pytest, torch
from PIL import Image
from pycocotools import mask as mask_util
from srl_nb.core import get_preset
from srl_nb.data import train_loader, val_loader, DataError, VideoDataset
import srl_nb.ytvis as ytvis
from srl_nb.ytvis import YTVISSource, write_tiny_ytvis, decode_segmentation
from srl_nb.davis import DAVISSource, davis_loader, write_tiny_davis, read_palette_png

@pytest.fixture(scope='module')
def yt_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp('yt'); write_tiny_ytvis(d, n_videos=7, n_frames=(5, 9), hw=(40, 64), seed=1); return d

@pytest.fixture
def yt_copy(yt_dir, tmp_path):
    shutil.copytree(yt_dir / 'ytvis2021', tmp_path / 'ytvis2021'); return tmp_path

def test_rle_forms_and_polygons_agree():
    m = np.zeros((12, 10), np.uint8, order='F'); m[2:7, 3:9] = 1
    r = mask_util.encode(m)
    comp = {'size': [12, 10], 'counts': r['counts'].decode()}
    flat = m.ravel(order='F'); edges = np.flatnonzero(np.diff(np.r_[0, flat, 1 - flat[-1]]))
    unc = {'size': [12, 10], 'counts': np.diff(np.r_[0, edges]).tolist()}
    for seg in (comp, unc): assert np.array_equal(decode_segmentation(seg, 12, 10), m.astype(bool))
    poly = decode_segmentation([[3, 2, 9, 2, 9, 7, 3, 7]], 12, 10)
    assert (poly & m.astype(bool)).sum() / (poly | m.astype(bool)).sum() > 0.7
    assert decode_segmentation(None, 12, 10) is None
    with pytest.raises(ValueError, match='RLE size'): decode_segmentation({'size': [5, 5], 'counts': comp['counts']}, 12, 10)

def test_ytvis_split_ids_and_frames(yt_dir):
    js = json.loads((yt_dir / 'ytvis2021/train/instances.json').read_text())
    tr, va = YTVISSource(yt_dir, 'train', n_val=3), YTVISSource(yt_dir, 'val', n_val=3)
    assert [v['id'] for v in tr.videos] == [v['id'] for v in js['videos'][:4]]     # last 3 held out
    assert [v['id'] for v in va.videos] == [v['id'] for v in js['videos'][4:]]
    for src in (tr, va):
        for i in range(src.n_videos):
            f, ids = src.frames(i), src.ids(i)
            assert f.shape == (src.n_frames[i], 40, 64, 3) and f.dtype == np.uint8
            assert ids.shape == f.shape[:3] and ids.dtype == np.uint8
            an = src.anns[i]
            for t in range(len(ids)):
                # independent painting of the same annotations, in order: id k+1 where annotation k is present
                exp = np.zeros((40, 64), np.uint8)
                for k, a in enumerate(an):
                    s = a['segmentations'][t]
                    if s is None: continue
                    if isinstance(s, list): m = mask_util.decode(mask_util.merge(mask_util.frPyObjects(s, 40, 64)))
                    elif isinstance(s['counts'], list): m = mask_util.decode(mask_util.frPyObjects(s, 40, 64))
                    else: m = mask_util.decode({'size': s['size'], 'counts': s['counts'].encode()})
                    exp[m.astype(bool)] = k + 1
                assert np.array_equal(ids[t], exp)
            assert ids.max() <= len(an)
    # null entries: object 2 of a video is absent every third frame, and its id is then missing
    i = next(i for i in range(tr.n_videos) if len(tr.anns[i]) >= 2)
    assert not (tr.ids(i)[2] == 2).any() and (tr.ids(i)[0] == 2).any()

def test_ytvis_loaders_crop_flip_determinism(yt_dir):
    cfg = get_preset('ytvis2021', data_dir=str(yt_dir), resolution=28, batch_size=2, num_workers=0, seed=4, ytvis_val_videos=3)
    a, b = list(train_loader(cfg)), list(train_loader(cfg))
    assert len(a) == 2
    for x, y in zip(a, b): assert all(torch.equal(x[k], y[k]) for k in x)
    for x in a:
        assert x['video'].shape == (2, 4, 3, 28, 28) and (x['start'] % 4 == 0).all()
    v = list(val_loader(cfg))
    assert len(v) == 3 and all(x['video'].shape[0] == 1 and x['segmentations'].shape[-2:] == (28, 28) for x in v)
    # the training crop is one window for the whole clip, shared by frames and ids
    src = YTVISSource(yt_dir, 'train', n_val=3)
    ds = VideoDataset(src, 28, 'short_side_crop', seed=4, with_ids=True)
    c = ds[(1, 0, 4, True, 0)]
    full = VideoDataset(src, 28, 'short_side', with_ids=True, multiple=1).load(1, 0, 4, flip=True)
    W = full['video'].shape[-1]
    hits = [x for x in range(W - 27) if torch.allclose(full['video'][..., x:x + 28], c['video'], atol=1e-5)]
    assert hits and torch.equal(full['segmentations'][..., hits[0]:hits[0] + 28], c['segmentations'])
    assert not torch.equal(ds[(1, 0, 4, True, 0)]['video'], ds[(1, 0, 4, True, 1)]['video']) or W == 28

def test_ytvis_bad_inputs(yt_copy, tmp_path):
    with pytest.raises(DataError, match='JPEGImages.*Unpack'): YTVISSource(tmp_path / 'nothing')
    d = yt_copy / 'ytvis2021/train'
    js = json.loads((d / 'instances.json').read_text())
    # a frame file missing
    fn = js['videos'][0]['file_names'][1]; (d / 'JPEGImages' / fn).rename(d / 'moved.jpg')
    with pytest.raises(DataError, match=r'1 frame files .*missing.*' + fn.split('/')[0]): YTVISSource(yt_copy, n_val=2)
    (d / 'moved.jpg').rename(d / 'JPEGImages' / fn)
    # a corrupt JPEG
    (d / 'JPEGImages' / fn).write_bytes(b'\xff\xd8 not a jpeg')
    src = YTVISSource(yt_copy, n_val=2)
    with pytest.raises(DataError, match=f'{fn}.*corrupt'): src.frames(0)
    # annotations that do not match the frames
    js['annotations'][0]['segmentations'] = js['annotations'][0]['segmentations'][:-1]
    (d / 'instances.json').write_text(json.dumps(js))
    with pytest.raises(DataError, match='segmentations.*do not match the frames'): YTVISSource(yt_copy, n_val=2)
    (d / 'instances.json').write_text('{"videos": [')
    with pytest.raises(DataError, match='not valid JSON'): YTVISSource(yt_copy, n_val=2)

def test_ytvis_frame_size_mismatch(yt_copy):
    d = yt_copy / 'ytvis2021/train'; js = json.loads((d / 'instances.json').read_text())
    js['videos'][0]['height'] = 50; (d / 'instances.json').write_text(json.dumps(js))
    with pytest.raises(DataError, match='40x64.*50x64.*do not match'): YTVISSource(yt_copy, n_val=2).frames(0)

@pytest.fixture
def davis_dir(tmp_path):
    write_tiny_davis(tmp_path, n_videos=3, n_frames=4, hw=(48, 80), seed=2); return tmp_path

def test_davis_ids_and_resolutions(davis_dir):
    src = DAVISSource(davis_dir, 'val')
    assert src.names == ['video0', 'video1', 'video2'] and list(src.n_frames) == [4, 4, 4]
    ids = src.ids(1); raw = np.array(Image.open(davis_dir / 'davis2017/Annotations_unsupervised/480p/video1/00002.png'))
    assert ids.dtype == np.uint8 and np.array_equal(ids[2], raw) and ids.max() >= 1
    b = list(davis_loader(davis_dir, resolution=28))
    assert len(b) == 3 and b[0]['video'].shape == (1, 4, 3, 28, 42) and b[0]['segmentations'].dtype == torch.long
    c = next(iter(davis_loader(davis_dir, resolution=28, aug='short_side_crop')))
    assert c['video'].shape == (1, 4, 3, 28, 28) and c['segmentations'].shape == (1, 4, 28, 28)
    # ids resized nearest-exact: same label set, background kept
    assert set(b[1]['segmentations'].unique().tolist()) <= set(np.unique(ids).tolist())

def test_davis_bad_inputs(davis_dir, tmp_path):
    with pytest.raises(DataError, match='Unpack DAVIS'): DAVISSource(tmp_path / 'none')
    ann = davis_dir / 'davis2017/Annotations_unsupervised/480p/video0'
    (ann / '00003.png').unlink()
    with pytest.raises(DataError, match='4 frames.*3 annotations.*do not match'): DAVISSource(davis_dir)
    Image.fromarray(np.zeros((48, 80), np.uint8), mode='L').resize((40, 24)).save(ann / '00003.png')
    with pytest.raises(DataError, match='00003.png is 24x40 but its frame is 48x80'): DAVISSource(davis_dir).ids(0)
    (ann / '00003.png').write_bytes(b'garbage')
    with pytest.raises(DataError, match='00003.png is corrupt'): DAVISSource(davis_dir).ids(0)
    Image.fromarray(np.zeros((48, 80, 3), np.uint8)).save(ann / '00003.png')
    with pytest.raises(DataError, match="mode RGB; expected a palette"): DAVISSource(davis_dir).ids(0)
    with pytest.raises(DataError, match='ImageSets/2017/test-dev.txt'): DAVISSource(davis_dir, 'test-dev')
