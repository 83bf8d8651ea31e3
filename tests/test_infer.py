"srl_infer: an mp4 and a frame folder end to end (frame counts, overlay colours follow the slot ids), and one-line errors."
import json, subprocess, sys
from pathlib import Path
import numpy as np, pytest, torch
from PIL import Image
from srl_nb.core import get_preset
from srl_nb.model import SRLModel
from srl_nb.checkpoint import atomic_save, model_state, backbone_id
from srl_nb.infer import infer_cli, open_frames, moving_squares, VideoWriter, slot_palette

ROOT = Path(__file__).resolve().parents[1]
ALPHA = 0.5

@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp('ck')
    cfg = get_preset('synthetic', resolution=56, n_slots=4, slot_dim=16, decoder_hidden=32, reg_rounds=1, predictor_heads=2,
                     alpha_zero_init=False)                  # untrained: random alpha logits, so several slots show
    torch.manual_seed(3)
    m = SRLModel.from_config(cfg)
    atomic_save(dict(config=cfg.to_dict(), model=model_state(m), backbone=backbone_id(m)), d / 'tiny.ckpt')
    return d / 'tiny.ckpt'

@pytest.fixture(scope='module')
def mp4(tmp_path_factory):
    p = tmp_path_factory.mktemp('v') / 'squares.mp4'
    w = VideoWriter(p, fps=6)
    for f in moving_squares(14, hw=(60, 84), n_squares=4, seed=1): w.write(f)
    w.close()
    return p

def _decode(p): return np.stack(list(open_frames(p)[0]))

def test_mp4_end_to_end_colours_follow_ids(ckpt, mp4, tmp_path):
    out = tmp_path / 'out'
    assert infer_cli([str(mp4), '--ckpt', str(ckpt), '--out', str(out), '--chunk', '5', '--alpha', str(ALPHA), '--no-progress']) == 0
    pngs = sorted((out / 'ids').glob('*.png'))
    ov = _decode(out / 'overlay.mp4')
    assert len(pngs) == len(ov) == 14 and json.loads((out / 'summary.json').read_text())['frames'] == 14
    assert (out / 'tracks.png').stat().st_size > 5000
    pal = slot_palette(4)
    im = Image.open(pngs[0]); assert im.mode == 'P'
    np.testing.assert_array_equal(np.array(im.getpalette()[:12]).reshape(4, 3), pal)   # the PNGs carry the overlay's colours
    ids = np.stack([np.array(Image.open(p)) for p in pngs])                             # (T, 60, 60): the centred square
    view = _decode(mp4)[:, :, 12:72]
    assert ids.shape == view.shape[:3] and len(np.unique(ids)) >= 2
    # interior pixels (3x3 neighbourhood of one id): away from the chroma blur of H.264's 4:2:0 at colour edges
    pad = np.pad(ids, ((0, 0), (1, 1), (1, 1)), mode='edge')
    inner = np.all([pad[:, 1 + dy:61 + dy, 1 + dx:61 + dx] == ids for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
    expected = ALPHA * view + (1 - ALPHA) * pal[ids]
    err = np.abs(ov.astype(float) - expected)[inner]
    assert np.median(err) <= 2 and np.percentile(err, 95) <= 16, (np.median(err), np.percentile(err, 95))
    # each id region's colour, with the frame taken out, is its own slot's palette colour and no other's
    tint = (ov.astype(float) - ALPHA * view) / (1 - ALPHA)
    checked = 0
    for t in range(len(ids)):
        for s in np.unique(ids[t]):
            sel = inner[t] & (ids[t] == s)
            if sel.sum() < 30: continue
            mean = tint[t][sel].mean(0)
            assert np.linalg.norm(pal - mean, axis=1).argmin() == s, (t, s, mean)
            checked += 1
    assert checked >= 14

def test_frame_folder(ckpt, tmp_path):
    d = tmp_path / 'frames'; d.mkdir()
    for t, f in enumerate(moving_squares(9, hw=(40, 32), seed=2)): Image.fromarray(f).save(d / f'{t}.jpg', quality=95)
    out = tmp_path / 'out'
    assert infer_cli([str(d), '--ckpt', str(ckpt), '--out', str(out), '--fit', 'resize', '--fps', '3', '--no-progress']) == 0
    assert len(list((out / 'ids').glob('*.png'))) == len(_decode(out / 'overlay.mp4')) == 9
    s = json.loads((out / 'summary.json').read_text())
    assert (s['frames'], s['fps'], s['view_hw']) == (9, 3.0, [40, 32])                 # 'resize' keeps the whole frame

@pytest.mark.parametrize('case,msg', [
    ('missing', 'no such video file'), ('garbage', 'cannot read video'), ('grey', '1 channel(s) (mode L)'),
    ('short', 'trained on clips of 4 frames'), ('no_ckpt', 'no checkpoint at'), ('bad_ckpt', 'cannot load checkpoint'),
    ('authors_no_preset', '--authors-ckpt needs --preset')])
def test_user_errors_are_one_line(ckpt, tmp_path, capsys, case, msg):
    v, ck, extra = tmp_path / 'v', str(ckpt), []
    if case == 'missing': v = tmp_path / 'nope.mp4'
    elif case == 'garbage': v = tmp_path / 'x.mp4'; v.write_bytes(b'\x00not a video' * 50)
    elif case in ('grey', 'short'):
        v.mkdir(); fr = moving_squares(2 if case == 'short' else 5, hw=(32, 32))
        for t, f in enumerate(fr): Image.fromarray(f[..., 0] if case == 'grey' else f).save(v / f'{t}.png')
    else:
        v.mkdir()
        for t, f in enumerate(moving_squares(5, hw=(32, 32))): Image.fromarray(f).save(v / f'{t}.png')
        if case == 'no_ckpt': ck = str(tmp_path / 'none.ckpt')
        if case == 'bad_ckpt': ck = str(tmp_path / 'bad.ckpt'); Path(ck).write_bytes(b'truncated')
    args = [str(v), '--ckpt', ck, '--out', str(tmp_path / 'o'), '--no-progress']
    if case == 'authors_no_preset': args = [str(v), '--authors-ckpt', ck, '--out', str(tmp_path / 'o')]
    assert infer_cli(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('srl_infer: error:') and msg in err and '\n' not in err, err

def test_console_script_error_has_no_traceback(tmp_path):
    exe = Path(sys.executable).parent / 'srl_infer'
    cmd = [str(exe)] if exe.exists() else [sys.executable, '-c', 'from srl_nb.infer import main; main()']
    r = subprocess.run(cmd + [str(tmp_path / 'missing.webm'), '--ckpt', 'x.ckpt'], capture_output=True, text=True)
    assert r.returncode == 2 and 'Traceback' not in r.stderr and r.stderr.strip().count('\n') == 0, r.stderr
    assert 'no such video file' in r.stderr

def test_authors_checkpoint(tmp_path, monkeypatch, capsys):
    "--authors-ckpt: the file's weights (backbone included) give the ids of the model that wrote it; a wrong preset is one line"
    from srl_nb import core
    from srl_nb.convert import save_authors_checkpoint, authors_config
    from srl_nb.infer import infer_video
    monkeypatch.setitem(core.PRESETS, 'tiny_ref', lambda: core.apply_overrides(core.get_preset('movi_c'), name='tiny_ref',
                                    resolution=56, n_slots=3, slot_dim=16, decoder_hidden=32, reg_rounds=1, predictor_heads=2))
    cfg = authors_config('tiny_ref')
    torch.manual_seed(5)
    m = SRLModel.from_config(cfg, backbone_seed=7).eval()           # a backbone other than the default random init
    ck = save_authors_checkpoint(m, tmp_path / 'authors.ckpt')
    v = tmp_path / 'v'; v.mkdir()
    for t, f in enumerate(moving_squares(5, hw=(36, 36), seed=4)): Image.fromarray(f).save(v / f'{t}.png')
    ref = infer_video(v, m, cfg, tmp_path / 'ref', progress=False)
    assert infer_cli([str(v), '--authors-ckpt', str(ck), '--preset', 'tiny_ref', '--out', str(tmp_path / 'o'), '--no-progress']) == 0
    for t in range(5):
        a, b = (np.array(Image.open(d / 'ids' / f'{t:05d}.png')) for d in (tmp_path / 'ref', tmp_path / 'o'))
        np.testing.assert_array_equal(a, b)
    capsys.readouterr()
    assert infer_cli([str(v), '--authors-ckpt', str(ck), '--preset', 'movi_c', '--out', str(tmp_path / 'x'), '--no-progress']) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("srl_infer: error: cannot load the authors' checkpoint") and '\n' not in err, err
