"Trainer: exact resume, feature-cache path, checkpoint compatibility, TensorBoard events, DDP on CPU (gloo), the papermill run notebooks."
import json, os, subprocess, sys, textwrap
from pathlib import Path
import pytest, torch
from srl_nb.core import get_preset
from srl_nb.train import train, read_log, read_tensorboard
from srl_nb.schedule import LOSS_NAMES, stage_index
from srl_nb.checkpoint import load_checkpoint
from srl_nb.streams import make_train_stream
from srl_nb.synthetic import build_synthetic

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp('data')
    build_synthetic(d, 'easy', n_train=6, n_val=2, seed=0, overrides={'n_frames': 8, 'size': 64})
    return d

def tiny(data_dir, **kw):
    base = dict(data_dir=str(data_dir), resolution=56, n_slots=3, slot_dim=16, decoder_hidden=32, batch_size=2,
                val_batch_size=2, reg_rounds=1, denoise_topk=2, max_steps=8, reg_end=3, deblur_start=5,
                denoise_start=5, val_every=4, ckpt_every=2, log_every=1, warmup_steps=2, contrast_block=8,
                use_feature_cache=False)
    return get_preset('synthetic', **{**base, **kw})

def _strip(log): return [{k: v for k, v in r.items() if k != 'steps_per_s'} for r in log]

def _weights(p): return torch.load(p, weights_only=False)['model']

def test_resume_is_exact(data_dir, tmp_path):
    "2k steps in one go == k steps, a kill, resume, k more: same weights, same log"
    cfg = tiny(data_dir)
    train(cfg, tmp_path / 'full', progress=False)
    train(cfg, tmp_path / 'cut', progress=False, stop_at=5)       # killed after step 5, last checkpoint at 4
    assert max(r['step'] for r in read_log(tmp_path / 'cut' / 'log.jsonl')) == 4  # logged past the checkpoint
    train(cfg, tmp_path / 'cut', resume=True, progress=False)
    a, b = _weights(tmp_path / 'full' / 'final.ckpt'), _weights(tmp_path / 'cut' / 'final.ckpt')
    assert a.keys() == b.keys()
    for k in a: assert torch.equal(a[k], b[k]), k
    assert _strip(read_log(tmp_path / 'full' / 'log.jsonl')) == _strip(read_log(tmp_path / 'cut' / 'log.jsonl'))
    # a different run really is different: the test can fail
    train(tiny(data_dir, seed=1), tmp_path / 'other', progress=False)
    c = _weights(tmp_path / 'other' / 'final.ckpt')
    assert any(not torch.equal(a[k], c[k]) for k in a)

def test_checkpoint_from_other_config_fails(data_dir, tmp_path):
    train(tiny(data_dir, max_steps=2, warmup_steps=1, ckpt_every=2), tmp_path / 'r', progress=False)
    with pytest.raises(ValueError, match='model.slot_dim: checkpoint 16, requested 32'):
        train(tiny(data_dir, max_steps=2, warmup_steps=1, slot_dim=32), tmp_path / 'r', resume=True, progress=False)
    with pytest.raises(ValueError, match='data.resolution'):
        load_checkpoint(tmp_path / 'r' / 'last.ckpt', tiny(data_dir, max_steps=2, warmup_steps=1, resolution=42))
    with pytest.raises(FileNotFoundError, match='no checkpoint'):
        load_checkpoint(tmp_path / 'nothing.ckpt')
    torch.save({'weights': 1}, tmp_path / 'bad.ckpt')
    with pytest.raises(ValueError, match='not an srl_nb checkpoint'):
        load_checkpoint(tmp_path / 'bad.ckpt')

def test_tensorboard_events(data_dir, tmp_path):
    "The event file holds every logged term, the stage, every validation metric and a mask overlay per validation; it changes no weight"
    cfg = tiny(data_dir)
    train(cfg, tmp_path / 'on', progress=False)
    ea, log = read_tensorboard(tmp_path / 'on' / 'tb'), read_log(tmp_path / 'on' / 'log.jsonl')
    steps, vals = [r for r in log if 'split' not in r], [r for r in log if r.get('split') == 'val']
    def same(tag, recs, key):   # the tag's (step, value) events are the log's records, value for value (float32)
        ev = ea.Scalars(tag)
        assert [e.step for e in ev] == [r['step'] for r in recs], tag
        assert [e.value for e in ev] == pytest.approx([r[key] for r in recs], rel=1e-6, nan_ok=True), tag
    logged = {k for r in steps for k in r} & set(LOSS_NAMES)
    assert logged == set(LOSS_NAMES)                                   # the tiny schedule visits every objective
    for k in logged: same(f'loss/{k}', [r for r in steps if k in r], k)
    same('loss/total', steps, 'loss')
    for k in ('lr', 'grad_norm', 'steps_per_s'): same(f'train/{k}', steps, k)
    same('train/stage', [dict(step=r['step'], stage=stage_index(cfg, r['step'])) for r in steps], 'stage')
    names = [(e.step, e.tensor_proto.string_val[0].decode()) for e in ea.Tensors('train/stage_name/text_summary')]
    assert names == [(0, 'stage 1: base+reg'), (3, 'stage 2: base'), (5, 'stage 3: base+deblur+denoise')]
    metrics = [k for k in vals[0] if k not in ('step', 'split')]
    assert len(metrics) > 20 and 'dec_video_fg_ari' in metrics and 'diag_grad_hf' in metrics
    for k in metrics: same(f'val/{k}', vals, k)
    imgs = ea.Images('val/masks')
    assert [e.step for e in imgs] == [r['step'] for r in vals] and all(e.width > 100 and e.height > 100 for e in imgs)
    train(cfg, tmp_path / 'off', progress=False, tensorboard=False)
    assert not (tmp_path / 'off' / 'tb').exists()
    a, b = _weights(tmp_path / 'on' / 'final.ckpt'), _weights(tmp_path / 'off' / 'final.ckpt')
    for k in a: assert torch.equal(a[k], b[k]), k

def test_feature_cache_path_matches_pixels(data_dir, tmp_path):
    "The cached-feature stream serves the clips of the pixel stream, and its features are the backbone's"
    from srl_nb.model import SRLModel
    cfg = tiny(data_dir, use_feature_cache=True)
    model = SRLModel.from_config(cfg)
    fs = make_train_stream(cfg, backbone=model.backbone)
    ps = make_train_stream(tiny(data_dir))
    for _ in range(4):   # crosses an epoch boundary (6 videos, batch 2)
        f, p = next(fs), next(ps)
        for k in ('video_idx', 'start', 'flip'): assert torch.equal(f[k], p[k])
        with torch.no_grad(): direct = model.backbone(p['video'])
        torch.testing.assert_close(f['features'], direct, atol=3e-3, rtol=3e-3)   # fp16 storage
    res = train(cfg, tmp_path / 'cached', progress=False)
    assert res['step'] == cfg.schedule.max_steps and res['last_val']['n_videos'] == 2
    # retraining from scratch with the same seed reproduces the run: same weights, same log (timings aside)
    train(cfg, tmp_path / 'again', progress=False)
    a, b = _weights(tmp_path / 'cached' / 'final.ckpt'), _weights(tmp_path / 'again' / 'final.ckpt')
    for k in a: assert torch.equal(a[k], b[k]), k
    assert _strip(read_log(tmp_path / 'cached' / 'log.jsonl')) == _strip(read_log(tmp_path / 'again' / 'log.jsonl'))

def test_stream_position_and_ranks(data_dir):
    "Ranks read disjoint clips whose union is one global batch; a restored position continues the sequence"
    from srl_nb.distributed import Dist
    cfg = tiny(data_dir, batch_size=1)
    s0, s1 = (make_train_stream(cfg, Dist(r, 2)) for r in (0, 1))
    whole = make_train_stream(tiny(data_dir, batch_size=2))
    for _ in range(3):
        a, b, w = next(s0), next(s1), next(whole)
        assert torch.equal(torch.cat([a['video_idx'], b['video_idx']]), w['video_idx'])
    st = whole.state_dict(); nxt = [next(whole)['video_idx'] for _ in range(4)]
    again = make_train_stream(tiny(data_dir, batch_size=2)); again.load_state_dict(st)
    assert all(torch.equal(next(again)['video_idx'], v) for v in nxt)

DDP_WORKER = textwrap.dedent('''
    import sys, json, torch, torch.distributed as dist
    from pathlib import Path
    from srl_nb.core import Config
    from srl_nb.train import train
    from srl_nb.distributed import init_dist, finish_dist
    cfg = Config.from_dict(json.loads(sys.argv[1])); out = sys.argv[2]; stop = int(sys.argv[3]); resume = sys.argv[4] == '1'
    d = init_dist()
    res = train(cfg, out, resume=resume, progress=False, stop_at=stop or None)
    s = torch.stack([p.double().sum() for p in res['model'].parameters()]).sum().reshape(1)   # this rank's live weights
    g = [torch.zeros(1, dtype=torch.float64) for _ in range(d.world)]
    dist.all_gather(g, s)
    if d.rank == 0: Path(out, 'ranks.json').write_text(json.dumps([x.item() for x in g]))
    finish_dist()
''')

def _launch(script, *args):
    "Run `script` on two CPU ranks through torchrun; fail with the ranks' stderr unless it exits 0"
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', '')}
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', '29517',
                        str(script), *map(str, args)], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]

def _torchrun(tmp_path, cfg, out, stop=0, resume=False):
    w = tmp_path / 'ddp_worker.py'; w.write_text(DDP_WORKER)
    _launch(w, cfg.to_json(), out, stop, '1' if resume else '0')

def test_ddp_gloo_two_processes(data_dir, tmp_path):
    "Two CPU ranks: steps run, ranks stay in sync, a stopped DDP run resumes to the uninterrupted result"
    cfg = tiny(data_dir, batch_size=1, max_steps=4, ckpt_every=2, val_every=4)
    _torchrun(tmp_path, cfg, tmp_path / 'full')
    sums = json.loads((tmp_path / 'full' / 'ranks.json').read_text())
    assert len(sums) == 2 and sums[0] == sums[1]
    log = read_log(tmp_path / 'full' / 'log.jsonl')
    assert [r['step'] for r in log if 'split' not in r] == [0, 1, 2, 3]      # rank 0 alone writes the log
    assert [r['n_videos'] for r in log if r.get('split') == 'val'] == [2]     # validation reduced over ranks
    assert len(list((tmp_path / 'full' / 'tb').glob('events.*'))) == 1        # and rank 0 alone writes TensorBoard events
    _torchrun(tmp_path, cfg, tmp_path / 'cut', stop=2)
    _torchrun(tmp_path, cfg, tmp_path / 'cut', resume=True)
    a, b = _weights(tmp_path / 'full' / 'final.ckpt'), _weights(tmp_path / 'cut' / 'final.ckpt')
    for k in a: assert torch.equal(a[k], b[k]), k

EXIT_RACE_WORKER = textwrap.dedent('''
    import sys, torch, torch.nn as nn, torch.distributed as dist
    from srl_nb.distributed import init_dist, finish_dist
    d = init_dist()
    net = nn.parallel.DistributedDataParallel(nn.Linear(3, 2)); net(torch.randn(4, 3)).sum().backward()
    g = [torch.zeros(1) for _ in range(d.world)]; dist.all_gather(g, torch.ones(1))
    sys.setswitchinterval(100)   # the main thread keeps the GIL: a gloo thread freeing the gathered tensors must wait
    finish_dist()
''')

def test_finish_dist_survives_exit_race(tmp_path):
    "Workers leave cleanly right after a collective; this script ending in destroy_process_group and a normal exit instead aborted (SIGABRT) in 3 of 15 runs here"
    w = tmp_path / 'race.py'; w.write_text(EXIT_RACE_WORKER)
    for _ in range(3): _launch(w)

def test_train_processes_and_config_file(data_dir, tmp_path):
    "Notebooks' n_gpus path: two gloo processes through torchrun from Python; the run equals the launcher's DDP run"
    from srl_nb.cli import train_processes, train_cli
    cfg = tiny(data_dir, batch_size=1, max_steps=4, ckpt_every=2, val_every=4)
    res = train_processes(cfg, tmp_path / 'pair', 2, progress=False, tensorboard=False)
    assert res['step'] == 4 and res['last_val']['n_videos'] == 2
    assert json.loads((tmp_path / 'pair' / 'config.json').read_text()) == json.loads(cfg.to_json())
    assert {(r['world'], r['micro_batch']) for r in read_log(tmp_path / 'pair' / 'log.jsonl') if 'split' not in r} == {(2, 1)}
    _torchrun(tmp_path, cfg, tmp_path / 'ref')                     # the same config through the DDP worker of the test above
    a, b = (torch.load(tmp_path / r / 'final.ckpt', weights_only=False)['model'] for r in ('pair', 'ref'))
    for k in a: torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    with pytest.raises(SystemExit):
        train_cli(['--config', str(tmp_path / 'none.json'), '--out-dir', str(tmp_path / 'x')])

def test_papermill_run_notebook(data_dir, tmp_path):
    "Notebook 10 through papermill with tiny parameters: the injected values are the ones used"
    pm = pytest.importorskip('papermill')
    out = tmp_path / 'run'
    params = dict(data_dir=str(data_dir), out_dir=str(out), max_steps=3, seed=7, use_deblur=False,
                  overrides=dict(resolution=56, n_slots=3, slot_dim=16, decoder_hidden=32, batch_size=2,
                                 val_batch_size=2, reg_rounds=1, denoise_topk=2, warmup_steps=1, val_every=3,
                                 ckpt_every=3, log_every=1, max_val_videos=2, use_feature_cache=False))
    pm.execute_notebook(str(ROOT / 'nbs' / '10_train_movi.ipynb'), str(tmp_path / 'out.ipynb'), parameters=params,
                        cwd=str(ROOT / 'nbs'), kernel_name='python3', progress_bar=False)
    cfg = json.loads((out / 'config.json').read_text())
    assert (cfg['seed'], cfg['schedule']['max_steps'], cfg['loss']['use_deblur'], cfg['model']['n_slots']) == (7, 3, False, 3)
    assert [r['step'] for r in read_log(out / 'log.jsonl') if 'split' not in r] == [0, 1, 2]
    m = json.loads((out / 'metrics_validation.json').read_text())
    assert -1 <= m['dec_video_fg_ari'] <= 1 and (out / 'masks_validation.png').stat().st_size > 0   # an ARI: chance is 0, below is possible
    printed = ''.join(''.join(o.get('text', '')) for c in json.loads((tmp_path / 'out.ipynb').read_text())['cells'] for o in c.get('outputs', []))
    assert 'step 1/3 (33%) | base+reg | loss' in printed and 'step 3/3 (100%)' in printed and 'ETA' in printed   # the progress lines
    assert 'validation at step 3: dec_video_fg_ari' in printed
    for f in ('loss_curves.png', 'val_curves.png', 'kmeans_floor.json', 'grid_ceiling.json'): assert (out / f).stat().st_size > 0, f
    from srl_nb.cli import run_summary
    text = run_summary(out)
    assert 'k-means floor' in text and 'loss_curves.png' in text and 'tensorboard --logdir' in text

def test_papermill_study_notebook(data_dir, tmp_path):
    "Notebook 12 through papermill with two tiny SRL configurations, VideoSAUR, STEVE and a tiny sensitivity sweep: tables and figures written, finished runs are reused"
    pm = pytest.importorskip('papermill')
    import pandas as pd
    params = dict(preset='synthetic', data_dir=str(data_dir), out_root=str(tmp_path / 'study'), seeds=[0],
                  methods=['slotcontrast', 'srl', 'videosaur', 'steve'], max_steps=2, results_csv=str(tmp_path / 'results.csv'), cost_steps=1,
                  overrides=dict(resolution=56, n_slots=3, slot_dim=16, decoder_hidden=32, batch_size=2, val_batch_size=2,
                                 reg_rounds=1, denoise_topk=2, warmup_steps=1, reg_end=1, deblur_start=1, denoise_start=1,
                                 val_every=2, ckpt_every=2, log_every=1),     # the preset's feature cache, built by the notebook
                  sweep_preset='synthetic', sweep_max_steps=4, sweep_root=str(tmp_path / 'sweep'), sweep_csv=str(tmp_path / 'sweep' / 'results.csv'),
                  sweep_axes=dict(warmup_ends=[0.5], contrast_starts=[0.75], n_slots=[3, 4]),
                  sweep_overrides=dict(resolution=56, n_slots=3, slot_dim=16, decoder_hidden=32, batch_size=2, val_batch_size=2,
                                       reg_rounds=1, denoise_topk=2, val_every=4, ckpt_every=4, log_every=1))
    run = lambda p=params: pm.execute_notebook(str(ROOT / 'nbs' / '12_study.ipynb'), str(tmp_path / 'out.ipynb'), parameters=p,
                                               cwd=str(ROOT / 'nbs'), kernel_name='python3', progress_bar=False)
    run()
    cells = json.loads((tmp_path / 'out.ipynb').read_text())['cells']
    costs = next(''.join(o['data']['text/plain']) for c in cells if 'def timed_configs' in ''.join(c['source']) for o in c['outputs'] if 'data' in o)
    timed = [l.split()[1:3] for l in costs.splitlines()[1:]]    # each configuration's first steps, SRL's third stage too
    assert timed == [['slotcontrast', 'first'], ['srl', 'first'], ['srl', 'third'], ['videosaur', 'first'], ['steve', 'first']], costs
    res = pd.read_csv(tmp_path / 'results.csv')
    assert sorted(res['method']) == ['kmeans', 'slotcontrast', 'srl', 'steve', 'videosaur']
    assert res[['fg_ari', 'mbo']].notna().all().all() and (tmp_path / 'results.png').exists()
    assert res.loc[res['method'] != 'kmeans', ['enc_fg_ari', 'enc_mbo']].notna().all().all()   # every system's slot-attention masks
    curves = pd.read_csv(tmp_path / 'curves.csv')          # every validation of every run, with the cycle measurements
    assert sorted(set(curves['method'])) == ['slotcontrast', 'srl', 'steve', 'videosaur'] and len(curves) == 4
    srl_curves = curves[curves['method'].isin(['slotcontrast', 'srl'])]
    assert srl_curves[['diag_enc_isolated', 'diag_dec_contrast', 'diag_agree_ari', 'diag_grad_hf_ratio']].notna().all().all()
    for f in ('learning_curves.png', 'cycle_curves.png', 'masks_slotcontrast.png', 'masks_srl.png', 'slot_slot.png'):
        assert (tmp_path / f).stat().st_size > 1000, f
    srl = json.loads((tmp_path / 'study' / 'srl' / 'seed0' / 'config.json').read_text())['loss']
    base = json.loads((tmp_path / 'study' / 'slotcontrast' / 'seed0' / 'config.json').read_text())['loss']
    assert (srl['use_reg'], srl['use_deblur'], srl['use_denoise']) == (True, True, True)
    assert (base['use_reg'], base['use_deblur'], base['use_denoise']) == (False, False, False)
    for m, arch in (('videosaur', 'videosaur'), ('steve', 'steve')):   # the other systems on the same videos and steps
        cfg = json.loads((tmp_path / 'study' / m / 'seed0' / 'config.json').read_text())
        assert (cfg['model']['arch'], cfg['name'], cfg['schedule']['max_steps']) == (arch, f'{arch}_synthetic', 2)
        assert cfg['data']['synthetic_config'] == json.loads((tmp_path / 'study' / 'srl' / 'seed0' / 'config.json').read_text())['data']['synthetic_config']
    for m in ('slotcontrast', 'srl', 'videosaur', 'steve'):                 # each run's output and wall time are kept in its folder
        assert '"out_dir"' in (tmp_path / 'study' / m / 'seed0' / 'train.out').read_text()   # the run's summary
        assert json.loads((tmp_path / 'study' / m / 'seed0' / 'timing.json').read_text())['train_s'] > 0
    sweep = pd.read_csv(tmp_path / 'sweep' / 'results.csv')   # the sensitivity sweep: 4 SRL runs, 2 baseline runs, 2 floors
    assert sorted(sweep['method']) == ['kmeans'] * 2 + ['slotcontrast'] * 2 + ['srl'] * 4
    runs = sweep[sweep['method'] != 'kmeans']
    assert (runs['steps'] == 4).all() and runs[['dec_video_fg_ari', 'dec_video_mbo']].notna().all().all()
    assert sorted(sweep.loc[sweep['method'] == 'kmeans', 'n_slots']) == [3, 4] and sorted(set(runs['n_slots'])) == [3, 4]
    srl = runs[runs['method'] == 'srl']
    assert sorted(srl['warmup_end']) == [0, 0, 0, 0.5] and sorted(srl['contrast_start']) == [0.25, 0.25, 0.25, 0.75]
    for name in runs['name']:                         # each a child process of srl_train with the sweep's config
        cfg = json.loads((tmp_path / 'sweep' / name / 'config.json').read_text())
        assert cfg['schedule']['max_steps'] == 4 and cfg['model']['slot_dim'] == 16, name
        assert json.loads((tmp_path / 'sweep' / name / 'timing.json').read_text())['train_s'] > 0
    for f in ('ratios.png', 'slots.png'): assert (tmp_path / 'sweep' / f).stat().st_size > 1000, f
    for m in ('slotcontrast', 'srl', 'videosaur', 'steve'):  # each run kept beside the table as its config, log and wall time
        kept, run_dir = tmp_path / 'runs' / m / 'seed0', tmp_path / 'study' / m / 'seed0'
        assert sorted(os.listdir(kept)) == ['config.json', 'environment.json', 'log.jsonl', 'timing.json'], m
        assert all((kept / f).read_text() == (run_dir / f).read_text() for f in os.listdir(kept)), m
    stamp = (tmp_path / 'study' / 'srl' / 'seed0' / 'final.ckpt').stat().st_mtime
    stamps = {n: (tmp_path / 'sweep' / n / 'final.ckpt').stat().st_mtime for n in runs['name']}
    for f in (tmp_path / 'study' / 'videosaur' / 'seed0').glob('*.ckpt'): f.unlink()   # a run kept without its checkpoints
    log_stamp = (tmp_path / 'study' / 'videosaur' / 'seed0' / 'log.jsonl').stat().st_mtime
    run()                                             # re-running reuses finished runs and reproduces the tables
    assert (tmp_path / 'study' / 'srl' / 'seed0' / 'final.ckpt').stat().st_mtime == stamp
    assert (tmp_path / 'study' / 'videosaur' / 'seed0' / 'log.jsonl').stat().st_mtime == log_stamp   # not trained again
    assert stamps == {n: (tmp_path / 'sweep' / n / 'final.ckpt').stat().st_mtime for n in runs['name']}
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / 'sweep' / 'results.csv'), sweep)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / 'results.csv').drop(columns='train_s'), res.drop(columns='train_s'))
    redraw = {**params, 'out_root': str(tmp_path / 'runs'), 'results_csv': str(tmp_path / 'redraw' / 'results.csv'), 'sweep_preset': '',
              'cost_steps': 0}
    run(redraw)                                       # the tables and curves again from the kept logs alone, nothing trained
    assert not list((tmp_path / 'runs').rglob('*.ckpt'))
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / 'redraw' / 'results.csv'), pd.read_csv(tmp_path / 'results.csv'))
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / 'redraw' / 'curves.csv'), curves)
    other = {**params, 'overrides': {**params['overrides'], 'n_slots': 4}}   # the same folders, another setting
    with pytest.raises(pm.PapermillExecutionError, match='differs from the requested'): run(other)
    assert (tmp_path / 'study' / 'srl' / 'seed0' / 'final.ckpt').stat().st_mtime == stamp

def test_papermill_study_notebook_from_pixels(data_dir, tmp_path):
    "Notebook 12 without a feature cache: the first run prepares the data alone, the other seeds follow"
    pm = pytest.importorskip('papermill')
    import pandas as pd
    params = dict(preset='synthetic', data_dir=str(data_dir), out_root=str(tmp_path / 'study'), seeds=[0, 1], methods=['slotcontrast'],
                  max_steps=2, results_csv=str(tmp_path / 'results.csv'), cost_steps=0,
                  overrides=dict(resolution=56, n_slots=3, slot_dim=16, decoder_hidden=32, batch_size=2, val_batch_size=2,
                                 warmup_steps=1, val_every=2, ckpt_every=2, log_every=1, use_feature_cache=False),
                  sweep_preset='', threads=3, cpu_capability='default')   # no sweep; three threads and torch's plain kernels (not defaults)
    pm.execute_notebook(str(ROOT / 'nbs' / '12_study.ipynb'), str(tmp_path / 'out.ipynb'), parameters=params,
                        cwd=str(ROOT / 'nbs'), kernel_name='python3', progress_bar=False)
    res = pd.read_csv(tmp_path / 'results.csv')
    assert sorted(zip(res['method'], res['seed'])) == [('kmeans', 0), ('kmeans', 1), ('slotcontrast', 0), ('slotcontrast', 1)]
    for s in (0, 1):
        cfg = json.loads((tmp_path / 'study' / 'slotcontrast' / f'seed{s}' / 'config.json').read_text())
        assert cfg['seed'] == s and cfg['data']['use_feature_cache'] is False
        log = read_log(tmp_path / 'study' / 'slotcontrast' / f'seed{s}' / 'log.jsonl')
        assert {r['threads'] for r in log if 'split' not in r} == {3}       # the study's `threads`, as each run's log says
        env = json.loads((tmp_path / 'study' / 'slotcontrast' / f'seed{s}' / 'environment.json').read_text())
        assert [e['cpu_capability'] for e in env] == ['DEFAULT'], env       # and its `cpu_capability`
    with pytest.raises(pm.PapermillExecutionError, match="cpu_capability='avx3'"):
        pm.execute_notebook(str(ROOT / 'nbs' / '12_study.ipynb'), str(tmp_path / 'bad.ipynb'), parameters={**params, 'cpu_capability': 'avx3'},
                            cwd=str(ROOT / 'nbs'), kernel_name='python3', progress_bar=False)

def test_papermill_ytvis_notebook_demo(tmp_path):
    "Notebook 11 on its demo defaults: YTVIS-format training, held-out validation and DAVIS transfer, end to end"
    pm = pytest.importorskip('papermill')
    out = tmp_path / 'run'
    pm.execute_notebook(str(ROOT / 'nbs' / '11_train_ytvis.ipynb'), str(tmp_path / 'out.ipynb'),
                        parameters=dict(data_dir=str(tmp_path / 'data'), out_dir=str(out), seed=3),
                        cwd=str(ROOT / 'nbs'), kernel_name='python3', progress_bar=False)
    cfg = json.loads((out / 'config.json').read_text())
    assert (cfg['data']['dataset'], cfg['data']['ytvis_val_videos'], cfg['seed']) == ('ytvis2021', 4, 3)
    m = json.loads((out / 'metrics_validation.json').read_text())
    assert m['n_videos'] == 4
    dv = json.loads((out / 'metrics_davis2017.json').read_text())
    assert 0 <= dv['dec_J&F'] <= 1 and dv['split'] == 'davis2017' and (out / 'masks_davis2017.png').exists()


def test_masks_over_training(data_dir, tmp_path):
    "plot_masks_over_training draws each checkpoint's masks with FG-ARI scores that match the metric on its own"
    import shutil
    import matplotlib; matplotlib.use('Agg')
    from srl_nb.diagnosis import plot_masks_over_training
    from srl_nb.data import val_loader
    from srl_nb.metrics import masks_to_ids, image_fg_ari
    from srl_nb.core import apply_overrides
    cfg, out, ckpts = tiny(data_dir), tmp_path / 'run', {}
    for s in (2, 4):
        train(cfg, out, resume=True, stop_at=s, progress=False, tensorboard=False)
        ckpts[s] = tmp_path / f'step{s}.ckpt'; shutil.copyfile(out / 'last.ckpt', ckpts[s])
    fig = plot_masks_over_training(ckpts, t=1)
    axs = fig.axes
    assert len(axs) == 6 and [a.get_title() for a in axs[1:3]] == ['step 2', 'step 4']
    model, c = load_checkpoint(ckpts[4]); model.eval()
    item = val_loader(apply_overrides(c, use_feature_cache=False), 'validation').dataset[0]
    with torch.no_grad(): o = model(video=item['video'][None])
    ids = masks_to_ids(o['dec_masks'][:, 1:2].float(), (c.grid, c.grid), tuple(item['video'].shape[-2:]))
    want = float(image_fg_ari(ids, item['segmentations'][None, 1:2]))
    assert axs[5].get_xlabel() == f'FG-ARI {want:.2f}', (axs[5].get_xlabel(), want)
    with pytest.raises(ValueError, match='frames'): plot_masks_over_training(ckpts, t=99)
    with pytest.raises(ValueError, match='at least one'): plot_masks_over_training({})
