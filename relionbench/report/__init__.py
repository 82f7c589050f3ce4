"""``relionbench report``: tables and plots of the suite's results in one folder.

``index.html`` opens with the summary (relionbench.report.summary: one row per check, its verdict,
time and resolution against reference, worst first, each linking to its stage). Then per
system and check: the GPU scaling, CPU-optimised against plain and the builds side by side
(tables and plots; a stage whose builds disagree on the science beyond 2 Fourier shells says
DIFFERS), and per stage the step times of its latest runs against their bands
(relionbench.report.stepbars), its history panels with the changes of level marked
(relionbench.report.figures) and a table laid out like the published results (one column per run).
The tables are also written as Markdown and CSV.
The page needs nothing from the network.
"""

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
from jinja2 import Environment

from relionbench import workflows
from relionbench.constants import CPU_ALTCPU, CPU_PLAIN, GPU
from relionbench.report import stepbars, summary
from relionbench.report.workers import Workers
from relionbench.results import sidebyside
from relionbench.science import metrics

PALETTE = ('#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2',
           '#7f7f7f', '#bcbd22', '#17becf')
"""matplotlib's default colour cycle, C0 to C9."""
PLOT_COLUMNS = ('run', 'time', 'system', 'partition', 'environ', 'check', 'stage', 'case',
                'variant', 'scale', 'result', 'fail_phase', 'gpus', 'jobid', 'dataset_id')


def write(results, out, last=10, workers=None):
    """Write the report for ``results`` (relionbench.results.Results) into ``out``. The
    figures are drawn by ``workers`` (a Workers, best started before the results are read;
    by default one started here) while this process writes the tables."""
    out = Path(out)
    (out / 'csv').mkdir(parents=True, exist_ok=True)
    (out / 'plots').mkdir(exist_ok=True)
    runs = results.runs
    values = results.values.merge(runs[list(PLOT_COLUMNS)], on='run')
    by_stage = dict(iter(values.groupby(['system', 'check', 'stage'], sort=False)))
    before, digests, futures = _digests(out / 'plots'), {}, {}
    with workers or Workers() as pool:
        verdicts = pool.submit(summary.table, results)     # a worker has ruptures imported

        def draw(figure, data, name):
            digests[name] = digest = _digest(figure, data)
            if before.get(name) != digest or not (out / 'plots' / name).exists():
                futures[name] = pool.submit(_draw, figure, data, out / 'plots' / name)

        for (system, check, stage), mine in sorted(by_stage.items(), key=lambda i: -len(i[1])):
            draw('panels', mine, f'{_slug(system, check, stage)}_history.svg')
        overviews = {}
        for system, check in sorted({key[:2] for key in by_stage}):
            mine = pd.concat([v for key, v in by_stage.items() if key[:2] == (system, check)])
            for title, table, figure in OVERVIEWS:
                overviews[system, check, title] = table(mine)
                draw(figure, overviews[system, check, title], f'{_slug(title, system, check)}.svg')
        sections, markdown = _tables(runs, by_stage, overviews, out, last)
        drawn = {name: f.result() for name, f in futures.items()}
        verdicts = verdicts.result()
    written = {out / 'plots' / name for name in digests
               if drawn.get(name, name in before and before[name] == digests[name])}
    (out / 'plots' / DIGESTS).write_text(json.dumps(
        {name: digest for name, digest in digests.items() if out / 'plots' / name in written}))
    for section in sections:        # drop the plots that had nothing to show
        section['plots'] = [p for p in section['plots'] if out / p['src'] in written]
        for stage in section['stages']:
            stage['figures'] = [f for f in stage['figures'] if out / f in written]
    shown = verdicts.drop(columns=['anchor'])
    shown.to_csv(out / 'csv' / 'summary.csv', index=False)
    markdown[2:2] = ['## Summary', '', shown.to_markdown(index=False), '']
    (out / 'tables.md').write_text('\n'.join(markdown))
    counts = verdicts.verdict.value_counts()
    header = {'runs': len(runs), 'checks': len(verdicts),
              'counts': [(v, int(counts.get(v, 0))) for v in summary.ORDER],
              'first': _when(runs.time.min()), 'last': _when(runs.time.max())}
    index = out / 'index.html'
    index.write_text(PAGE.render(sections=sections, header=header, last=last,
                                 verdicts=verdicts.to_dict('records'),
                                 columns=[c for c in verdicts if c not in HIDDEN]))
    return index


HIDDEN = ('anchor', 'began', 'date')
"""Summary columns not shown as cells of their own (began is shown in why)."""


def _tables(runs, by_stage, overviews, out, last):
    """Per system and check: a section for index.html, with a table per stage (also written as
    CSV), and the same tables as Markdown lines."""
    sections, markdown = [], ['# RELION benchmark results', '']
    for (system, check), check_runs in runs.groupby(['system', 'check'], sort=True):
        section = {'title': f'{check} on {system}', 'stages': [], 'plots': []}
        markdown += [f'## {section["title"]}', '']
        for title, _, _ in OVERVIEWS:
            table = overviews.get((system, check, title))      # none: no run logged values
            if table is not None and not table.empty:
                section['plots'].append({'title': title, 'table': _html_table(table, False),
                                         'src': f'plots/{_slug(title, system, check)}.svg'})
                markdown += [f'### {title}', '', table.to_markdown(index=False), '']
        for stage in workflows.stage_order(check, check_runs.stage.unique()):
            stage_runs = check_runs[check_runs.stage == stage]
            slug = _slug(system, check, stage)
            mine = by_stage.get((system, check, stage))
            palette = colours(mine) if mine is not None else {}
            table = run_table(stage_runs.tail(last), mine)
            table.to_csv(out / 'csv' / f'{slug}.csv')
            section['stages'].append({
                'name': stage, 'shown': min(last, len(stage_runs)), 'total': len(stage_runs),
                'table': _html_table(table), 'csv': f'csv/{slug}.csv',
                'anchor': summary.anchor(system, check, stage),
                'colours': [(layout(*key), colour) for key, colour in palette.items()],
                'bars': stepbars.bars(mine, palette, layout) if mine is not None else [],
                'figures': [f'plots/{slug}_history.svg']})
            markdown += [f'### {stage}', '', table.to_markdown(), '']
        sections.append(section)
    return sections, markdown


DIGESTS = 'digests.json'
"""{figure file: digest of what it shows}: a report into the same folder redraws only the
figures whose data (or relionbench/report/figures.py) changed."""
_PLOTS = (Path(__file__).with_name('figures.py').read_bytes())


def _digests(folder):
    try:
        return json.loads((folder / DIGESTS).read_text())
    except (OSError, ValueError):
        return {}


def _digest(figure, data):
    """What a figure shows: its name, its data and the code that draws it."""
    rows = pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes()
    return hashlib.sha1(figure.encode() + _PLOTS + rows).hexdigest()


def colours(values):
    """{(build, case): colour} of a stage's layouts and builds, as relionbench.report.figures draws
    them and the page names them."""
    kinds = values[['environ', 'case']].drop_duplicates()
    keys = sorted(zip(kinds.environ, kinds.case))
    return {key: PALETTE[n % 10] for n, key in enumerate(keys)}


def layout(build, case):
    """A layout's name: the build and the case without its stage."""
    return f'{build} {case.split("/", 1)[-1]}'


def _draw(figure, data, path):
    from relionbench.report import figures
    return figures.draw(figure, data, path)


# -- tables ----------------------------------------------------------------------------------

def run_table(runs, values):
    """One column per run: its layout and provenance, then every metric it logged."""
    shown = values[values.run.isin(runs.run)] if values is not None else pd.DataFrame(
        columns=['run', 'metric', 'value', 'unit', 'metric_result'])
    cells = {run: dict(zip(map(metrics.label, v.metric),
                           map(_cell, v.value, v.unit, v.metric_result)))
             for run, v in shown.groupby('run', sort=False)}
    columns = {}
    for run in runs.itertuples():
        label = run.jobid if run.jobid else _when(run.time)
        while label in columns:
            label += "'"
        columns[label] = {**_run_rows(run), **cells.get(run.run, {})}
    return pd.DataFrame(columns)


def _run_rows(run):
    result = 'pass' if run.result == 'pass' else f'FAILED ({run.fail_phase or "?"})'
    return {'system': run.system, 'partition': run.partition, 'variant': run.variant,
            'nodes': _int(run.nodes), 'GPUs': run.gpus or '',
            'tasks x threads': f'{_int(run.tasks)} x {_int(run.threads)}',
            'job id': run.jobid or '', 'date': _when(run.time), 'result': result,
            'RELION': f'{run.relion_version} {run.relion_build}'.strip(),
            'image': run.container_image or 'native'}


def _cell(value, unit, result):
    if pd.isna(value):
        return ''
    text = f'{value:.6g} {unit}'.strip()
    return f'{text} ✗' if result == 'fail' else text


def _html_table(table, index=True):
    """The table as HTML, with missed references and failed runs marked for the style sheet."""
    text = table.to_html(classes='runs', na_rep='', border=0, index=index)
    text = text.replace('<td>FAILED', '<td class="fail">FAILED')
    return re.sub(r'<td>([^<]* ✗)</td>', r'<td class="miss">\1</td>', text)


def gpu_table(values):
    """Per stage and GPU count (latest passing run of each): total time, speed-up over the
    fewest GPUs, and parallel efficiency (speed-up over the ideal)."""
    data = _latest_totals(values[values.variant == GPU]).sort_values(['stage', 'gpus'])
    first = data.groupby('stage').value.transform('first')
    fewest = data.groupby('stage').gpus.transform('first')
    table = pd.DataFrame({'stage': data.stage, 'GPUs': data.gpus, 'seconds': data.value,
                          'speed-up': first / data.value})
    table['efficiency'] = table['speed-up'] / (data.gpus / fewest)
    counts = table.groupby('stage').GPUs.transform('size')
    return table[counts > 1].round(3).reset_index(drop=True)


def cpu_table(values):
    """Per stage and layout (latest passing run of each): total time with the plain build
    and with the AVX-512 ALTCPU build, and the speed-up between them."""
    data = _latest_totals(values[values.variant.isin([CPU_ALTCPU, CPU_PLAIN])])
    wide = data.pivot_table(index=['stage', 'scale'], columns='variant', values='value',
                            sort=False)
    if CPU_ALTCPU not in wide or CPU_PLAIN not in wide:
        return pd.DataFrame()
    wide = wide[[CPU_PLAIN, CPU_ALTCPU]].dropna()
    wide['speed-up'] = wide[CPU_PLAIN] / wide[CPU_ALTCPU]
    return wide.reset_index().round(3)


def _latest_totals(values):
    """total_seconds of the latest passing run of each stage, variant and scale."""
    rows = values[(values.metric == 'total_seconds') & (values.result == 'pass')]
    return rows.sort_values('time').groupby(['stage', 'variant', 'scale'], sort=False).tail(1)


def builds_table(values):
    """Builds side by side per stage (relionbench.results.sidebyside), latest run of each."""
    return sidebyside.table(values).drop(columns=['check'], errors='ignore')


OVERVIEWS = (('GPU scaling', gpu_table, 'gpu_scaling'),
             ('CPU-optimised vs plain', cpu_table, 'cpu_vs_plain'),
             ('Builds side by side', builds_table, 'builds_side_by_side'))
"""Overview tables per system and check, and the figure (relionbench.report.figures) of each."""


# -- helpers ----------------------------------------------------------------------------------

def _slug(*parts):
    return '_'.join(re.sub(r'[^A-Za-z0-9.-]+', '-', str(p)) for p in parts)


def _when(time):
    return '' if pd.isna(time) else time.strftime('%Y-%m-%d %H:%M')


def _int(value):
    return '' if value is None or pd.isna(value) else str(int(value))


PAGE = Environment(autoescape=True).from_string('''<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>RELION benchmark results</title>
<link rel="icon" href="data:,">
<style>
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; font-size: 12px; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
table.summary { font-size: 11px; }
table.summary td { white-space: nowrap; }
table.runs tbody th, table.summary td.name { text-align: left; }
tr.FAILED td.verdict, td.fail { background: #f8c0c0; }
tr.MISSED td.verdict, td.miss { background: #fde2b0; }
tr.REGRESSED td.verdict { background: #fff3a0; }
tr.passed td.verdict { background: #d4f0d4; }
table.summary td.why { text-align: left; white-space: normal; min-width: 16em; }
span.count { padding: 1px 6px; margin-right: 4px; }
span.FAILED { background: #f8c0c0; } span.MISSED { background: #fde2b0; }
span.REGRESSED { background: #fff3a0; } span.passed { background: #d4f0d4; }
img { max-width: 100%; }
table.bars { margin: 0.5em 0; }
table.bars caption { text-align: left; font-size: 12px; }
table.bars th, table.bars td.layout { text-align: left; }
table.bars td.bar { width: 320px; }
table.bars td.bar div { position: relative; height: 12px; }
table.bars span { position: absolute; left: 0; top: 1px; height: 10px; }
table.bars i { position: absolute; top: 5px; height: 2px; background: #000; }
table.bars b { position: absolute; top: 0; height: 12px; width: 2px; margin-left: -1px;
               background: #000; }
p.legend { font-size: 12px; }
</style></head><body>
<h1>RELION benchmark results</h1>
<p>{{ header.checks }} check{{ 's' if header.checks != 1 }},
{{ header.runs }} run{{ 's' if header.runs != 1 }} from {{ header.first }} to
{{ header.last }} (UTC):
{% for verdict, count in header.counts %}<span class="count {{ verdict }}">{{ count }}
{{ verdict }}</span>{% endfor %}</p>
<table class="summary"><thead><tr>
{% for column in columns %}<th>{{ column }}</th>{% endfor %}</tr></thead><tbody>
{% for row in verdicts %}<tr class="{{ row.verdict }}">{% for column in columns %}
{% if column == 'check' %}<td class="name"><a href="#{{ row.anchor }}">{{ row.check }}</a></td>
{% elif column == 'why' %}<td class="why">{{ row.why }}{% if row.began %}; began
{{ row.began }}{% endif %}</td>
{% else %}<td class="{{ column.split()[0] }}">{{ row[column] }}</td>{% endif %}{% endfor %}</tr>
{% endfor %}</tbody></table>
<p>Times: the latest run against its reference (x ratio, and the band). Resolutions: Fourier
shells from the reference, + finer. Regressions are against the check's own history; the
run a change of level began with is named. Tables as <a href="tables.md">Markdown</a> and
CSV (in csv/). ✗ marks a missed reference.</p>
{% for section in sections %}
<h2>{{ section.title }}</h2>
{% for plot in section.plots %}<h3>{{ plot.title }}</h3>
{{ plot.table | safe }}<p><img src="{{ plot.src }}" alt="{{ plot.title }}"></p>{% endfor %}
{% for stage in section.stages %}
<h3 id="{{ stage.anchor }}">{{ stage.name }}</h3>
{% if stage.figures %}<p class="legend">{% for name, colour in stage.colours %}
<span style="color:{{ colour }}">&#9632;</span> {{ name }}&nbsp; {% endfor %}</p>{% endif %}
{% if stage.bars %}<table class="bars"><caption>Step times of the latest run of each layout:
the band as a line, the reference as a tick</caption>
{% for group in stage.bars %}{% for row in group.rows %}<tr>{% if loop.first %}
<th rowspan="{{ group.rows | length }}">{{ group.step }}</th>{% endif %}
<td class="layout">{{ row.layout }}</td><td class="bar"><div>
<span style="width:{{ row.width or 0 }}%;background:{{ row.colour }}"></span>
{% if row.high is not none %}<i style="left:{{ row.low }}%;width:{{ row.high - row.low }}%"></i>
{% endif %}{% if row.ref is not none %}<b style="left:{{ row.ref }}%"></b>{% endif %}
</div></td><td>{{ row.text }}</td></tr>
{% endfor %}{% endfor %}</table>{% endif %}
{% for figure in stage.figures %}<p><img src="{{ figure }}" alt="{{ stage.name }} history"></p>
{% endfor %}
<p>Latest {{ stage.shown }} of {{ stage.total }} runs (<a href="{{ stage.csv }}">CSV</a>).</p>
{{ stage.table | safe }}
{% endfor %}
{% endfor %}
</body></html>
''')
