"The authors' data and evaluation protocol, one decision per test: flips, empty frames, the YTVIS resize chain and subset, antialiasing"
import os
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from srl_nb.core import get_preset
from srl_nb.data import val_loader, train_loader, VideoDataset, to_float, normalize, clip_plan
from srl_nb.ytvis import YTVISSource, write_tiny_ytvis, authors_val_positions
from srl_nb.metrics import FG_EMPTY, evaluate_masks


@pytest.fixture(scope='module')
def yt_dir(tmp_path_factory):
    "YTVIS-format data: 2 training videos + 300 held out, 40 x 64 frames (landscape, as YouTube-VIS)"
    d = tmp_path_factory.mktemp('yt')
    write_tiny_ytvis(d, n_videos=302, n_frames=(4, 4), hw=(40, 64), seed=3)
    return d


def test_ytvis_trains_without_flips():
    "ytvis2021.yaml sets no h_flip_prob; MOVi flips half the clips"
    yt, mc = get_preset('ytvis2021'), get_preset('movi_c')
    assert yt.data.hflip_prob == 0.0 and mc.data.hflip_prob == 0.5
    assert not clip_plan(yt.seed, 0, 500, 24, 4, yt.data.hflip_prob).flips.any()
    assert 0.4 < clip_plan(mc.seed, 0, 500, 24, 4, mc.data.hflip_prob).flips.mean() < 0.6


def test_empty_frames_skipped_on_ytvis_scored_one_on_movi():
    true = torch.zeros(1, 2, 28, 28, dtype=torch.long); true[0, 0, 4:20, 4:20] = 1       # frame 1 holds no object
    masks = torch.rand(1, 2, 3, 4)                                                         # 2x2 grid, 3 slots
    one = evaluate_masks(masks, true, (2, 2), FG_EMPTY[get_preset('movi_c').data.fg_empty])
    skip = evaluate_masks(masks, true, (2, 2), FG_EMPTY[get_preset('ytvis2021').data.fg_empty])
    assert one['image_fg_ari'][0, 1].item() == 1.0 and torch.isnan(skip['image_fg_ari'][0, 1])
    assert one['image_fg_ari'][0, 0] == skip['image_fg_ari'][0, 0]                          # frames with objects agree
    empty_video = torch.zeros_like(true)
    assert evaluate_masks(masks, empty_video, (2, 2), FG_EMPTY['one'])['video_fg_ari'].item() == 1.0
    assert torch.isnan(evaluate_masks(masks, empty_video, (2, 2), FG_EMPTY['skip'])['video_fg_ari']).all()


def test_ytvis_resize_chain(yt_dir):
    "Stored at short side 320 nearest-exact, then bicubic without antialiasing; validation: centred square, then resized"
    raw = YTVISSource(yt_dir, 'val', n_val=300)
    stored = YTVISSource(yt_dir, 'val', n_val=300, store_side=320)
    fr, ids = raw.frames(0), raw.ids(0)                                          # (T, 40, 64, 3), (T, 40, 64)
    s = stored.frames(0)
    assert s.shape[1:3] == (320, 512) and s.dtype == np.uint8                     # 64 * 320 / 40 = 512
    near = F.interpolate(torch.from_numpy(fr).permute(0, 3, 1, 2).float(), size=(320, 512), mode='nearest-exact')
    assert torch.equal(torch.from_numpy(s).permute(0, 3, 1, 2).float(), near)
    assert set(np.unique(stored.ids(0))) <= set(np.unique(ids))
    # the preset's validation input, by hand: stored frames -> centred 320 square (columns 96..416) -> bicubic 56
    cfg = get_preset('ytvis2021', data_dir=str(yt_dir), resolution=56, num_workers=0, val_batch_size=1,
                     ytvis_val_subset='all')
    b = next(iter(val_loader(cfg)))
    x = to_float(s)[..., 96:416]
    want = normalize(F.interpolate(x, size=(56, 56), mode='bicubic', align_corners=False).clamp(0, 1))
    torch.testing.assert_close(b['video'][0], want, rtol=0, atol=1e-5)
    want_ids = F.interpolate(torch.from_numpy(stored.ids(0))[:, None, :, 96:416].float(), size=(56, 56),
                             mode='nearest-exact')[:, 0].long()
    assert torch.equal(b['segmentations'][0], want_ids)
    # the previous single antialiased resize of the raw frame is different
    old = VideoDataset(raw, 56, 'short_side_crop', with_ids=True)[0]['video']
    assert (old - b['video'][0]).abs().max() > 0.05
    # training clips: long side rounded down (56 * 512 / 320 = 89.6 -> 89), random 56 crop
    t = next(iter(train_loader(get_preset('ytvis2021', data_dir=str(yt_dir), resolution=56, num_workers=0, batch_size=2,
                                          ytvis_val_videos=300))))
    assert t['video'].shape == (2, 4, 3, 56, 56)


def test_ytvis_val_subset(yt_dir):
    "The preset scores the 210 held-out videos the authors' 2-GPU validation reads"
    assert get_preset('ytvis2021').data.ytvis_val_subset == 'authors_2gpu'
    cfg = get_preset('ytvis2021', data_dir=str(yt_dir), resolution=28, num_workers=0, val_batch_size=1)
    held_out = YTVISSource(yt_dir, 'val', n_val=300)
    ds = val_loader(cfg).dataset
    assert len(ds) == 210
    scored = ds.source.videos
    want = [held_out.videos[p]['id'] for p in list(range(205)) + list(range(210, 215))]
    assert [v['id'] for v in scored] == want
    assert len(val_loader(get_preset('ytvis2021', data_dir=str(yt_dir), resolution=28, num_workers=0,
                                     ytvis_val_subset='all')).dataset) == 300
    assert authors_val_positions(world=1) == list(range(210))


def test_movi_resize_without_antialiasing():
    "Paper presets resize 128 -> 336 like the authors' transform (no antialias); the synthetic presets keep theirs"
    assert get_preset('movi_c').data.resize_antialias is False and get_preset('synthetic').data.resize_antialias is True

    class One:
        variable_size, n_videos, n_frames = False, 1, np.array([2])
        def __init__(self, fr): self.fr = fr
        def frames(self, i, t0=0, t1=None): return self.fr[t0:t1]
        def ids(self, i, t0=0, t1=None): return np.zeros(self.fr.shape[:3], np.uint8)[t0:t1]
    fr = np.random.default_rng(0).integers(0, 256, (2, 128, 128, 3), dtype=np.uint8)
    got = VideoDataset(One(fr), 336, 'resize', antialias=get_preset('movi_c').data.resize_antialias)[0]['video']
    x = to_float(fr)
    torch.testing.assert_close(got, normalize(F.interpolate(x, size=(336, 336), mode='bicubic', align_corners=False).clamp(0, 1)))
    aa = normalize(F.interpolate(x, size=(336, 336), mode='bicubic', align_corners=False, antialias=True).clamp(0, 1))
    assert (got - aa).abs().max() > 0.01
