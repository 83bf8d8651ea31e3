"""The GPU benchmark's command and its rules (tiny sizes on the CPU), and tests/gpu_check.sh in its CPU mode.
Set SRL_SLOW=1 to add the compiled-model check (minutes on a 2-core CPU)."""
import json, os, subprocess, sys, time
from pathlib import Path
import pytest, torch
import srl_nb.bench as B

ROOT = Path(__file__).resolve().parents[1]
slow = pytest.mark.skipif(not os.environ.get('SRL_SLOW'), reason='compiles the model on the CPU (minutes); set SRL_SLOW=1')
ENV = {**os.environ, 'HF_HUB_OFFLINE': '1', 'TF_CPP_MIN_LOG_LEVEL': '2', 'OMP_NUM_THREADS': '1',
       'PYTHONPATH': str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', '')}

def test_cli_tiny_cpu(tmp_path):
    "The command at tiny size on the CPU: every row measured (compiled rows skipped), outputs written"
    r = subprocess.run([sys.executable, '-m', 'srl_nb.bench', '--device', 'cpu', '--tiny', '--out', str(tmp_path)],
                       capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / 'bench.json').read_text())
    rows = res['rows']
    assert len(rows) == 2 + len(B.default_rows(True))
    assert len((tmp_path / 'bench.jsonl').read_text().splitlines()) == len(rows)
    for row in rows:
        assert row['status'] == 'ok' or row['status'].startswith('skipped: compile'), row
        assert row['name'] in r.stdout                                    # printed as measured
    timed = [row for row in rows if 'steps_per_s' in row]
    assert len(timed) == len([x for x in B.default_rows(True) if not x.compile])
    assert all(row['steps_per_s'] > 0 and row['gflop_step'] > 0 and row['host_syncs'] == 0 for row in timed)
    dense = {row['name']: row for row in timed if row.get('contrast') == 'dense'}
    for row in timed:                                                      # the model FLOPs are the dense step's
        if row['name'].endswith('dense'): assert row['gflop_step'] == row['model_gflop_step']
        elif row['name'].endswith('streamed'): assert row['gflop_step'] > row['model_gflop_step']
    md = (tmp_path / 'bench.md').read_text()
    assert '| row | status | steps/s |' in md and 'srl_stage3' in md and '/ movi_c baseline' in md

@pytest.mark.skipif(torch.cuda.is_available(), reason='this machine has a GPU')
def test_cli_without_cuda(tmp_path):
    "Asking for CUDA where there is none ends with a clear message and status 2, nothing written"
    r = subprocess.run([sys.executable, '-m', 'srl_nb.bench', '--out', str(tmp_path / 'b')],
                       capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 2 and 'needs a CUDA GPU' in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path / 'b').exists()

def test_budget_cuts_a_row_and_skips_the_rest(tmp_path, monkeypatch):
    "A row still running when the budget ends is recorded as cut; the rows after it as skipped"
    def slow_row(row, bench, peak): time.sleep(30)
    monkeypatch.setattr(B, 'run_row', slow_row)
    rows = [B.Row('movi_c', 'baseline', 2), B.Row('movi_c', 'srl_stage3', 2)]
    t0 = time.perf_counter()
    recs = B.run_bench(tmp_path, 'cpu', tiny=True, budget_s=3, rows=rows, loaders=False, echo=lambda s: None)
    assert time.perf_counter() - t0 < 20
    assert [r['status'].split(':')[0] for r in recs] == ['cut', 'skipped']
    assert [json.loads(l)['status'].split(':')[0] for l in (tmp_path / 'bench.jsonl').read_text().splitlines()] == ['cut', 'skipped']

def test_out_of_memory_row_is_recorded(tmp_path, monkeypatch):
    "An out-of-memory step ends its row as OOM; the next rows still run"
    call = B.TrainStep.__call__
    def step(self, batch):
        if self.cfg.data.batch_size >= 4: raise torch.OutOfMemoryError('CUDA out of memory. Tried to allocate 70.00 GiB')
        return call(self, batch)
    monkeypatch.setattr(B.TrainStep, '__call__', step)
    rows = [B.Row('ytvis2021', 'srl_stage3', 4, contrast='dense'), B.Row('movi_c', 'baseline', 2)]
    recs = B.run_bench(tmp_path, 'cpu', tiny=True, budget_s=300, rows=rows, loaders=False, echo=lambda s: None)
    assert [r['status'] for r in recs] == ['OOM', 'ok']
    assert 'out of memory' in recs[0]['error'] and recs[1]['steps_per_s'] > 0
    assert '| OOM |' in (tmp_path / 'bench.md').read_text()

@slow
def test_compiled_step_matches_eager():
    "torch.compile of the model gives the eager losses at tiny size (CPU; inductor needs minutes to compile here)"
    c, st = B.terms_config(B.bench_config('movi_c', tiny=True, amp='fp32'), 'srl_stage3')
    vids = B.synthetic_videos(4, tiny=True)
    batches = [B.host_batch(vids, 2, 4, seed=i) for i in range(3)]
    losses = {}
    for compiled in (False, True):
        torch.manual_seed(0)
        step = B.TrainStep(B.bench_model(c), c, st, 'cpu', compile=compiled)
        losses[compiled] = torch.stack([step(b) for b in batches])
    torch.testing.assert_close(losses[True], losses[False], rtol=1e-4, atol=1e-5)

@pytest.mark.skipif(torch.cuda.is_available(), reason='this machine has a GPU')
def test_gpu_check_refuses_without_cuda(tmp_path):
    "tests/gpu_check.sh stops at once, with a message and status 2, where torch sees no GPU"
    r = subprocess.run(['bash', str(ROOT / 'tests' / 'gpu_check.sh'), str(tmp_path / 'out')], capture_output=True, text=True,
                       env={k: v for k, v in ENV.items() if k != 'SRL_GPU_CHECK_TINY'}, timeout=300)
    assert r.returncode == 2 and 'no CUDA GPU here' in r.stderr
    assert not (tmp_path / 'out').exists()

@slow
def test_gpu_check_tiny_on_cpu(tmp_path):
    "tests/gpu_check.sh end to end in its CPU mode: benchmark rows, training check passed, summary written"
    r = subprocess.run(['bash', str(ROOT / 'tests' / 'gpu_check.sh'), str(tmp_path)], capture_output=True, text=True,
                       env={**ENV, 'SRL_GPU_CHECK_TINY': '1'}, timeout=1800)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    tc = json.loads((tmp_path / 'train' / 'train_check.json').read_text())
    assert tc['ok'] and all(tc['checks'].values()) and len(tc['checks']) == 8
    assert 'training check: PASSED' in (tmp_path / 'summary.txt').read_text()
    assert (tmp_path / 'bench' / 'bench.md').exists()
