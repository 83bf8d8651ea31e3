"""The documentation site and the README.

The site is built offline (`srl_nb.docsite.build_site`) and opened in headless Chromium through the Chrome
DevTools protocol: every page loads without console errors, every navigation link resolves (fragments
included), figures are present and decoded, no code cell is cut at its edge, equations are typeset by the KaTeX
the build installs with npm (no system package), no page cites a file outside the repository, and the API docs
show each exported function and class with its signature, docstring and parameter docs. The README must be what the index notebook renders to, and its
commands must match the Makefile and the run notebooks.
"""
import base64, functools, http.server, inspect, json, os, re, shlex, shutil, subprocess, tempfile, threading, time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from srl_nb import docsite

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
CHROMIUM = '/usr/bin/chromium'
SCREENSHOT = ROOT/'_docs'/'screenshot_index.png'


# ---------------------------------------------------------------- browser machinery
@pytest.fixture(scope='session')
def chromium():
    "Debian's chromium, installed with apt-get when missing"
    exe = shutil.which('chromium') or CHROMIUM
    missing = [] if Path(exe).exists() else ['chromium']
    if missing:
        if os.geteuid() != 0:
            pytest.fail(f'{missing} missing and this is not root: run `apt-get update && apt-get install -y {" ".join(missing)}`')
        env = {**os.environ, 'DEBIAN_FRONTEND': 'noninteractive'}
        subprocess.run(['apt-get', 'update', '-qq'], check=True, env=env, timeout=900)
        subprocess.run(['apt-get', 'install', '-y', '-qq', *missing], check=True, env=env, timeout=1800)
        exe = CHROMIUM
    return exe


class Browser:
    "Headless Chromium driven over the DevTools protocol (one page target, events collected per navigation)"
    def __init__(self, exe):
        import websocket
        self.profile = tempfile.mkdtemp(prefix='srl_chromium_')
        self.proc = subprocess.Popen(
            [exe, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
             '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-extensions',
             f'--user-data-dir={self.profile}', '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0',
             '--window-size=1280,1000', 'about:blank'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file, t0 = Path(self.profile)/'DevToolsActivePort', time.time()
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if self.proc.poll() is not None: raise RuntimeError(f'chromium exited with {self.proc.returncode}')
            if time.time() - t0 > 60: raise TimeoutError('chromium did not open its DevTools port within 60 s')
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        import urllib.request
        targets = json.loads(urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list', timeout=30).read())
        page = next(t for t in targets if t['type'] == 'page')
        self.ws = websocket.create_connection(page['webSocketDebuggerUrl'], timeout=60, suppress_origin=True)
        self.next_id, self.events = 0, []
        for domain in ('Page', 'Runtime', 'Log'): self.call(f'{domain}.enable')

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({'id': self.next_id, 'method': method, 'params': params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get('id') == self.next_id:
                if 'error' in msg: raise RuntimeError(f'{method}: {msg["error"]}')
                return msg.get('result', {})
            if 'method' in msg: self.events.append(msg)

    def wait_for(self, event, timeout=60):
        t0 = time.time()
        while not any(e['method'] == event for e in self.events):
            if time.time() - t0 > timeout: raise TimeoutError(f'{event} not received within {timeout} s')
            msg = json.loads(self.ws.recv())
            if 'method' in msg: self.events.append(msg)

    def visit(self, url):
        "Load `url`; return the console errors, uncaught exceptions and failed loads it produced"
        self.events = []
        res = self.call('Page.navigate', url=url)
        if res.get('errorText'): return [f'navigation failed: {res["errorText"]}']
        self.wait_for('Page.loadEventFired')
        self.evaluate('new Promise(r => setTimeout(r, 100))')   # let late console messages arrive
        errors = []
        for e in self.events:
            m, p = e['method'], e['params']
            if m == 'Runtime.exceptionThrown': errors.append(f'exception: {p["exceptionDetails"].get("text")}')
            elif m == 'Runtime.consoleAPICalled' and p['type'] in ('error', 'assert'):
                errors.append('console.error: ' + ' '.join(str(a.get('value', a.get('description'))) for a in p['args']))
            elif m == 'Log.entryAdded' and p['entry']['level'] == 'error':
                errors.append(f'log: {p["entry"]["text"]} {p["entry"].get("url", "")}')
        return errors

    def evaluate(self, expr):
        res = self.call('Runtime.evaluate', expression=expr, returnByValue=True, awaitPromise=True)
        if 'exceptionDetails' in res: raise RuntimeError(f'evaluating {expr[:80]}: {res["exceptionDetails"]}')
        return res['result'].get('value')

    def screenshot(self, path):
        data = self.call('Page.captureScreenshot', format='png')['data']
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(base64.b64decode(data))

    def close(self):
        try: self.ws.close()
        finally:
            self.proc.terminate()
            try: self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired: self.proc.kill()
            shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope='session')
def browser(chromium):
    b = Browser(chromium)
    yield b
    b.close()


class Server:
    "The site folder served over HTTP on 127.0.0.1 only"
    def __init__(self, folder):
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}/'
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
    def close(self): self.httpd.shutdown(); self.httpd.server_close()

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


PAGE_STATE = """JSON.stringify({
  title: document.title,
  h1: (document.querySelector('h1.srl-title') || {}).textContent || null,
  subtitle: (document.querySelector('p.srl-description') || {}).textContent || null,
  nav: [...document.querySelectorAll('nav.srl-sidebar a')].map(a => [a.getAttribute('href'), a.textContent.trim()]),
  sections: [...document.querySelectorAll('nav.srl-sidebar .srl-section-title')].map(d => d.textContent.trim()),
  links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
  imgs: [...document.images].map(i => ({src: i.getAttribute('src').slice(0, 40), ok: i.complete && i.naturalWidth > 0})),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  math: document.querySelectorAll('main .katex').length,
  math_errors: document.querySelectorAll('main .katex-error').length,
  output_tables: document.querySelectorAll('main .jp-OutputArea-output table').length,
  // elements that hide what overflows them while holding something wider (KaTeX's hidden MathML is meant so)
  clipped: [...document.querySelectorAll('main *')].filter(e => !e.closest('.katex-mathml') &&
      ['hidden', 'clip'].includes(getComputedStyle(e).overflowX) && e.scrollWidth > e.clientWidth + 1)
    .map(e => `${e.className}: ${e.textContent.slice(0, 60)}`),
  // the text a reader sees outside code and typeset math: TeX left in it was not typeset
  prose: (() => { const m = document.querySelector('main').cloneNode(true);
      m.querySelectorAll('.katex, pre, code, script, style, .jp-InputArea').forEach(e => e.remove()); return m.textContent; })(),
  text: document.body.innerText
})"""

RAW_TEX = re.compile(r'\$[^$\n]{1,80}\$|\\(?:frac|mathcal|mathbb|mathrm|sum|lambda|tau|alpha|cdot|operatorname)\b')
MATH_SRC = re.compile(r'\$\$|(?<![\\`$])\$[^\s$`][^$\n]*\$')       # $...$ or $$ in a notebook's markdown
# a file a page names is outside the repository when it is a path of some machine (temporary folders the examples
# create aside), or a .md file the repository neither holds nor writes
FILE_REF = re.compile(r'(?<![\w/.-])(?:\.\./|/(?:work|root|home|usr|opt)/)[\w./-]+|[\w./-]*\w\.md\b')


def crawl(browser, server, pages):
    "Visit every page of a site; return {href: state} and fail on console errors"
    states, problems = {}, []
    for p in pages:
        errors = browser.visit(server.url + p['href'])
        problems += [f'{p["href"]}: {e}' for e in errors]
        states[p['href']] = json.loads(browser.evaluate(PAGE_STATE))
    assert not problems, 'console errors:\n' + '\n'.join(problems)
    return states


def check_links(states, pages, base):
    "Every link inside the site leads to a page of the site, and every fragment to an element of that page"
    bad = []
    for href, st in states.items():
        for link in st['links']:
            u = urlsplit(urljoin(base + href, link))
            if not (u.scheme + '://' + u.netloc + '/') == base: continue       # external (source code, papers)
            target = u.path.lstrip('/') or 'index.html'
            if target not in states: bad.append(f'{href}: {link} -> no page {target}'); continue
            if u.fragment and u.fragment not in states[target]['ids']: bad.append(f'{href}: {link} -> no #{u.fragment}')
    assert not bad, 'broken links:\n' + '\n'.join(bad)


def expected_notebooks(nbs):
    "Notebooks a site must have pages for, found independently of the builder (nbdev's skip rules)"
    return sorted(p.relative_to(nbs).as_posix() for p in nbs.rglob('*.ipynb')
                  if not any(part.startswith(('_', '.')) for part in p.relative_to(nbs).parts))


# ---------------------------------------------------------------- the project's site
@pytest.fixture(scope='module')
def site(tmp_path_factory, chromium):
    "The project's site, rendered from committed outputs (the quick build; `make docs` executes notebooks)"
    out = tmp_path_factory.mktemp('site')
    t0 = time.time()
    pages = docsite.build_site(out, execute=False, n_workers=2, katex='npm')
    print(f'site built in {time.time() - t0:.1f} s: {len(pages)} pages')
    server = Server(out)
    yield out, pages, server
    server.close()


def test_site_has_a_page_per_notebook(site):
    out, pages, _ = site
    test = sorted(p['src'] for p in pages)
    assert test == expected_notebooks(NBS), f'pages {test} != notebooks {expected_notebooks(NBS)}'
    assert pages[0] == {'src': 'index.ipynb', 'href': 'index.html', 'title': 'srl_nb', 'section': None}
    assert len({p['href'] for p in pages}) == len(pages)
    assert json.loads((out/'site.json').read_text())['pages'] == pages


def test_site_in_browser(site, browser):
    out, pages, server = site
    states = crawl(browser, server, pages)
    browser.visit(server.url + 'index.html')
    browser.screenshot(SCREENSHOT)
    assert SCREENSHOT.stat().st_size > 10_000
    want_nav = [[p['href'], p['title']] for p in pages]
    want_sections = list(dict.fromkeys(p['section'] for p in pages if p['section']))
    for href, st in states.items():
        page = next(p for p in pages if p['href'] == href)
        assert st['h1'] == page['title'] and st['title'] == page['title'], (href, st['h1'], st['title'])
        assert st['nav'] == want_nav, f'{href}: sidebar {st["nav"]} != {want_nav}'
        assert st['sections'] == want_sections
        assert all(i['ok'] for i in st['imgs']), f'{href}: images not loaded {st["imgs"]}'
        assert len(st['text']) > 200, f'{href}: almost empty page'
    check_links(states, pages, server.url)
    # the index carries the results tables and the citation
    text = states['index.html']['text']
    for s in ('SRL (paper)', '74.3 / 34.5', docsite.NOT_RUN, 'seong2026synergistic', 'make test', 'papermill'):
        assert s in text, s
    # figures: a page shows at least as many images as its notebook has image outputs committed
    for p in pages:
        nb = json.loads((NBS/p['src']).read_text())
        n_img = sum(any(k.startswith('image/') for k in o.get('data', {})) for c in nb['cells']
                    for o in c.get('outputs', []) if 'include: false' not in ''.join(c['source']))
        assert len(states[p['href']]['imgs']) >= n_img, f'{p["href"]}: {n_img} figures in the notebook, fewer on the page'


def test_site_reads_cleanly(site, browser):
    """A figure or a table output on every page, subtitles without literal backticks, no code cell cut at its edge, every equation typeset by the npm KaTeX,
    no file cited outside the repository"""
    out, pages, server = site
    npm = docsite.npm_katex_dir()
    for f in docsite.KATEX_FILES:                      # the site's KaTeX is the copy the build installed with npm
        assert (out/'katex'/f).read_bytes() == (npm/f).read_bytes(), f
    repo = set(subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split())
    names = {Path(f).name for f in repo}
    code = '\n'.join((ROOT/f).read_text() for f in repo if f.startswith('srl_nb/') and f.endswith('.py'))
    clipped, untypeset, cited, bare, ticks = [], [], [], [], []
    for p in pages:
        browser.visit(server.url + p['href'])
        st = json.loads(browser.evaluate(PAGE_STATE))
        clipped += [f'{p["href"]}: {c}' for c in st['clipped']]
        if not st['imgs'] and not st['output_tables']: bare.append(p['href'])
        if '`' in (st['subtitle'] or ''): ticks.append(f'{p["href"]}: {st["subtitle"][:80]}')
        md = ''.join(''.join(c['source']) for c in json.loads((NBS/p['src']).read_text())['cells'] if c['cell_type'] == 'markdown')
        md = re.sub(r'```.*?```|`[^`]*`', '', md, flags=re.S)
        if MATH_SRC.search(md) and st['math'] == 0: untypeset.append(f'{p["href"]}: equations in the notebook, none typeset')
        if st['math_errors']: untypeset.append(f'{p["href"]}: {st["math_errors"]} KaTeX errors')
        untypeset += [f'{p["href"]}: raw TeX {t!r}' for t in RAW_TEX.findall(st['prose'])[:3]]
        for ref in sorted(set(FILE_REF.findall(st['text']))):
            if ref.startswith(('/', '../')) or (Path(ref).name not in names and Path(ref).name not in code): cited.append(f'{p["href"]}: {ref}')
    assert not bare, f'pages without a figure or a table output: {bare}'
    assert not ticks, 'literal backticks in subtitles:\n' + '\n'.join(ticks)
    assert not clipped, 'code cut at the edge:\n' + '\n'.join(clipped[:20])
    assert not untypeset, '\n'.join(untypeset[:20])
    assert not cited, 'files outside the repository:\n' + '\n'.join(cited[:20])


def _api_symbols():
    "Top-level exported functions and classes, by page: {href: [(name, object)]}"
    import importlib
    from srl_nb._modidx import d
    out = {}
    for mod, syms in d['syms'].items():
        m = importlib.import_module(mod)
        for full, (doc_link, _) in syms.items():
            name = full[len(mod) + 1:]
            if '.' in name or name.startswith('_'): continue     # methods and private helpers get no show_doc
            obj = getattr(m, name)
            if inspect.isfunction(obj) or inspect.isclass(obj): out.setdefault(doc_link.split('#')[0], []).append((name, obj))
    return out


def _squash(s): return re.sub(r'[\s`*]+', '', s)


def test_api_docs_rendered(site):
    "Every exported function and class has a section with nbdev's anchor holding what nbdev's show_doc writes"
    from bs4 import BeautifulSoup
    from nbdev.showdoc import show_doc
    out, pages, _ = site
    hrefs = {p['href'] for p in pages}
    symbols = _api_symbols()
    assert symbols, 'no exported symbols found in srl_nb._modidx'
    n = 0
    for href, objs in symbols.items():
        assert href in hrefs, f'{href} (API docs of {[n for n, _ in objs]}) is not a page of the site'
        soup = BeautifulSoup((out/href).read_text(), 'html.parser')
        for name, obj in objs:
            h = soup.find(id=name.lower())
            assert h is not None and h.name in ('h2', 'h3', 'h4'), f'{href}: no heading #{name.lower()}'
            nxt, chunk, tables = h.find_next(re.compile('^h[1-4]$')), [], 0
            for el in h.next_elements:
                if el is nxt: break
                if isinstance(el, str): chunk.append(el)
                elif el.name == 'table': tables += 1
            text = _squash(''.join(chunk))
            md = show_doc(obj)._repr_markdown_()
            sig = re.search(r'```python\n(.*?)```', md, flags=re.S)
            assert sig, f'nbdev gave no signature for {name}'
            assert re.search(rf'(def|class){re.escape(name)}\(', text), f'{href}#{name.lower()}: no signature'
            try: sig_obj = inspect.signature(obj)
            except ValueError: sig_obj = None   # an exception class without its own __init__ has no Python signature
            params = [p for p in (sig_obj.parameters.values() if sig_obj else []) if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            missing = [p.name for p in params if _squash(f'{p.name}') not in text]
            assert not missing, f'{href}#{name.lower()}: parameters {missing} not shown'
            # nbdev reads parameter comments from the source while processing; for functions they are shown
            # (a class defined in a notebook shell has no source file, so its field comments are not)
            if inspect.isfunction(obj):
                for comment in re.findall(r'#\s*([^\n]+)', sig.group(1)):
                    assert _squash(comment) in text, f'{href}#{name.lower()}: parameter doc {comment!r} not shown'
            doc = re.search(r'^\*(.+)\*$', md, flags=re.M)
            if doc: assert _squash(re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', doc.group(1))) in text, f'{href}#{name.lower()}: docstring missing'
            if re.search(r'^\|.*\|$', md, flags=re.M): assert tables, f'{href}#{name.lower()}: parameter table not rendered'
            n += 1
    print(f'{n} exported functions and classes documented')


# ---------------------------------------------------------------- figures, options, unknown notebooks
def _nb(*cells):
    def cell(c):
        kind, src = c
        d = {'cell_type': kind, 'metadata': {}, 'source': src}
        if kind == 'code': d.update(outputs=[], execution_count=None)
        return d
    return json.dumps({'cells': [cell(c) for c in cells], 'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'python3', 'language': 'python'}},
                       'nbformat': 4, 'nbformat_minor': 5})


@pytest.fixture(scope='module')
def probe_site(tmp_path_factory, chromium):
    "A two-notebook site, executed: a markdown image, a matplotlib figure, cell options, an unknown notebook"
    from PIL import Image
    nbs = tmp_path_factory.mktemp('probe_nbs')
    (nbs/'images').mkdir()
    Image.new('RGB', (40, 30), (200, 60, 30)).save(nbs/'images'/'dot.png')
    (nbs/'index.ipynb').write_text(_nb(('markdown', '# Probe\n\n> A probe site.'),
                                       ('markdown', '![a dot](images/dot.png)\n\nSee [the extra page](extra.html#a-figure). '
                                                    'Inline $e^{i\\pi} + 1 = 0$ and displayed:\n\n$$L = \\operatorname{mean}_i \\tfrac12 x_i$$')))
    (nbs/'50_extra.ipynb').write_text(_nb(
        ('markdown', '# Extra page\n\n> Not in any known section.'),
        ('code', 'import matplotlib.pyplot as plt'),
        ('markdown', '## A figure'),
        ('code', '#| echo: false\nfig, ax = plt.subplots(figsize=(2, 2), dpi=50); ax.plot([0, 1], [1, 0]); plt.show()'),
        ('code', '#| slow\nraise RuntimeError("a slow cell ran")'),
        ('code', '#| include: false\nprint("SHOULD-NOT-APPEAR")'),
        ('code', '#| output: asis\nprint("**asis-bold**")'),
        ('code', 'x_visible = 40 + 2\nx_visible')))
    out = tmp_path_factory.mktemp('probe_site')
    pages = docsite.build_site(out, nbs_path=nbs, execute=True, n_workers=2, timeout=120)
    server = Server(out)
    yield nbs, out, pages, server
    server.close()


def test_probe_site(probe_site, browser):
    nbs, out, pages, server = probe_site
    assert [(p['src'], p['section']) for p in pages] == [('index.ipynb', None), ('50_extra.ipynb', 'Other')]
    extra = pages[1]['href']
    states = crawl(browser, server, pages)
    check_links(states, pages, server.url)
    idx, ext = states['index.html'], states[extra]
    assert ext['sections'] == ['Other'] and ext['h1'] == 'Extra page'
    assert len(idx['imgs']) == 1 and idx['imgs'][0]['ok'] and (out/'images'/'dot.png').is_file()
    assert len(ext['imgs']) == 1 and ext['imgs'][0]['ok'] and ext['imgs'][0]['src'].startswith('data:image/png')
    assert 'a-figure' in ext['ids']
    assert idx['math'] == 2 and ext['math'] == 0, 'KaTeX typesets the two equations of the index'
    assert (out/'katex'/'katex.min.js').is_file()
    assert 'SHOULD-NOT-APPEAR' not in ext['text'], 'include: false should drop the cell'
    assert 'raise RuntimeError("a slow cell ran")' in ext['text'], 'a slow cell is shown'
    assert 'RuntimeError: a slow cell ran' not in ext['text'] and 'Traceback' not in ext['text'], 'a slow cell is not run'
    assert '42' in ext['text'] and 'x_visible = 40 + 2' in ext['text']
    assert 'plt.subplots' not in ext['text'], 'echo: false should hide the code'
    html = (out/extra).read_text()
    assert '<strong>asis-bold</strong>' in html, 'output: asis should render printed markdown'


def test_execution_failure_is_reported(tmp_path):
    (tmp_path/'index.ipynb').write_text(_nb(('markdown', '# Broken\n\n> fails'), ('code', 'x = 1'), ('code', '1/0')))
    with pytest.raises(Exception, match='ZeroDivisionError|index.ipynb'):
        docsite.build_site(tmp_path/'site', nbs_path=tmp_path, execute=True, n_workers=1, timeout=60)


# ---------------------------------------------------------------- README, sidebar, commands
def test_readme_in_sync_with_index():
    problems = docsite.check_readme()
    assert not problems, '\n'.join(problems) + '\nrun `make docs` (or `python -m srl_nb.docsite readme`) and commit'


def test_sidebar_in_sync():
    have, want = (NBS/'sidebar.yml').read_text(), docsite.sidebar_yml(NBS)
    assert have == want, f'nbs/sidebar.yml is stale: run `make docs` (or `python -m srl_nb.docsite sidebar`)\n{want}'
    listed = re.findall(r'^\s+- (\S+\.ipynb)$', have, flags=re.M)
    assert sorted(listed) == expected_notebooks(NBS)


def _readme_commands():
    text = (ROOT/'README.md').read_text()
    blocks = re.findall(r'```sh\n(.*?)```', text, flags=re.S)
    return [shlex.split(line.split('#')[0]) for b in blocks for line in b.splitlines() if line.split('#')[0].strip()]


def test_readme_make_targets_exist():
    cmds = [c for c in _readme_commands() if c[0] == 'make']
    assert {c[1] for c in cmds} >= {'train', 'test'}, cmds
    for c in cmds:
        r = subprocess.run(['make', '-n', *c[1:]], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f'`make -n {" ".join(c[1:])}` failed: {r.stderr}'


def _papermill_commands():
    return [c for c in _readme_commands() if c[0] == 'papermill']

def test_readme_has_the_run_commands():
    "The README shows at least the MOVi and the YouTube-VIS run notebooks through papermill"
    assert {c[1] for c in _papermill_commands()} >= {'nbs/10_train_movi.ipynb', 'nbs/11_train_ytvis.ipynb'}, _papermill_commands()

@pytest.mark.parametrize('i', range(len(_papermill_commands())))
def test_readme_papermill_commands(i):
    "Each papermill command names an existing run notebook and only parameters of its `parameters` cell"
    c = _papermill_commands()[i]
    nb_path = ROOT/c[1]
    if not nb_path.exists(): pytest.skip(f'{c[1]} is not in this checkout yet')
    params = [c[j + 1] for j, a in enumerate(c) if a == '-p']
    nb = json.loads(nb_path.read_text())
    cells = [c_ for c_ in nb['cells'] if 'parameters' in c_.get('metadata', {}).get('tags', [])]
    assert len(cells) == 1, f'{c[1]}: expected one cell tagged `parameters`, found {len(cells)}'
    names = {n.id for node in __import__('ast').parse(''.join(cells[0]['source'])).body
             for n in getattr(node, 'targets', [getattr(node, 'target', None)]) if hasattr(n, 'id')}
    assert set(params) <= names, f'{c[1]}: README passes {params}, the parameters cell defines {sorted(names)}'
