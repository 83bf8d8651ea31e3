"Notebook 11a (DAVIS transfer) through papermill on its demo: parameters injected, tables consistent, metrics in range."
import json
from pathlib import Path
import pandas as pd, pytest

ROOT = Path(__file__).resolve().parents[1]

def test_papermill_transfer_notebook_demo(tmp_path):
    pm = pytest.importorskip('papermill')
    out = tmp_path / 'run'
    pm.execute_notebook(str(ROOT / 'nbs' / '11a_transfer.ipynb'), str(tmp_path / 'out.ipynb'),
                        parameters=dict(data_dir=str(tmp_path / 'data'), out_dir=str(out), seed=2, max_videos=1),
                        cwd=str(ROOT / 'nbs'), kernel_name='python3', progress_bar=False)
    assert json.loads((out / 'ytvis_demo' / 'config.json').read_text())['seed'] == 2          # the injected seed trained the model
    m = json.loads((out / 'davis_metrics.json').read_text())
    assert m['demo'] and m['split'] == 'val' and sorted(m['metrics']) == ['crop', 'resize']
    per_video, per_object = pd.read_csv(out / 'davis_per_video.csv'), pd.read_csv(out / 'davis_per_object.csv')
    assert sorted(per_video.fit) == ['crop', 'resize'] and per_video.video.nunique() == 1    # max_videos=1 for both fits
    for fit, s in m['metrics'].items():
        assert s['videos'] == 1 and s['objects'] == per_video.objects[per_video.fit == fit].item()
        for k, v in s.items(): assert 0 <= v <= 1 or k in ('videos', 'objects') or (k.endswith('fg_ari') and -1 <= v <= 1), (k, v)
        for tol in ('0.02 round', '0.008 ceil'):        # a video's J and F are the means over its objects
            o, v = per_object[(per_object.fit == fit) & (per_object.tol == tol)], per_video[per_video.fit == fit].iloc[0]
            assert len(o) == v.objects
            assert abs(o.J.mean() - v[f'J [{tol}]']) < 1e-9 and abs(o.F.mean() - v[f'F [{tol}]']) < 1e-9
            assert abs(s[f'J&F per object [{tol}]'] - (o.J.mean() + o.F.mean()) / 2) < 1e-9
    assert (out / 'davis_masks.png').stat().st_size > 5000
