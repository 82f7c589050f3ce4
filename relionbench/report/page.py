"""The report's page: ``write`` reads nothing itself; it has the figures drawn in worker
processes (those whose digest changed, relionbench.report.digests) while it writes the tables
(relionbench.report.tables) as CSV and Markdown, then renders ``index.html`` from
templates/report.html."""

import re
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader

from relionbench import workflows
from relionbench.report import stepbars, summary
from relionbench.report.colours import colours, layout
from relionbench.report.digests import Digests
from relionbench.report.tables import OVERVIEWS, PLOT_COLUMNS, html_table, run_table, when
from relionbench.report.workers import Workers, draw_figure

PAGE = Environment(loader=FileSystemLoader(Path(__file__).with_name('templates')),
                   autoescape=True).get_template('report.html')
HIDDEN = ('anchor', 'began', 'date')
"""Summary columns not shown as cells of their own (began is shown in why)."""


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
    digests, futures = Digests(out / 'plots'), {}
    with workers or Workers() as pool:
        verdicts = pool.submit(summary.table, results)     # a worker has ruptures imported

        def draw(figure, data, name):
            if digests.stale(name, figure, data):
                futures[name] = pool.submit(draw_figure, figure, data, out / 'plots' / name)

        for (system, check, stage), mine in sorted(by_stage.items(), key=lambda i: -len(i[1])):
            draw('panels', mine, f'{_slug(system, check, stage)}_history.svg')
        overviews = {}
        for system, check in sorted({key[:2] for key in by_stage}):
            mine = pd.concat([v for key, v in by_stage.items() if key[:2] == (system, check)])
            for title, table, figure in OVERVIEWS:
                overviews[system, check, title] = table(mine)
                draw(figure, overviews[system, check, title], f'{_slug(title, system, check)}.svg')
        sections, markdown = _sections(runs, by_stage, overviews, out, last)
        drawn = {name: f.result() for name, f in futures.items()}
        verdicts = verdicts.result()
    written = digests.save(drawn)
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
              'first': when(runs.time.min()), 'last': when(runs.time.max())}
    index = out / 'index.html'
    index.write_text(PAGE.render(sections=sections, header=header, last=last,
                                 verdicts=verdicts.to_dict('records'),
                                 columns=[c for c in verdicts if c not in HIDDEN]))
    return index


def _sections(runs, by_stage, overviews, out, last):
    """Per system and check: a section for index.html, with a table per stage (also written as
    CSV), and the same tables as Markdown lines."""
    sections, markdown = [], ['# RELION benchmark results', '']
    for (system, check), check_runs in runs.groupby(['system', 'check'], sort=True):
        section = {'title': f'{check} on {system}', 'stages': [], 'plots': []}
        markdown += [f'## {section["title"]}', '']
        for title, _, _ in OVERVIEWS:
            table = overviews.get((system, check, title))      # none: no run logged values
            if table is not None and not table.empty:
                section['plots'].append({'title': title, 'table': html_table(table, False),
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
                'table': html_table(table), 'csv': f'csv/{slug}.csv',
                'anchor': summary.anchor(system, check, stage),
                'colours': [(layout(*key), colour) for key, colour in palette.items()],
                'bars': stepbars.bars(mine, palette, layout) if mine is not None else [],
                'figures': [f'plots/{slug}_history.svg']})
            markdown += [f'### {stage}', '', table.to_markdown(), '']
        sections.append(section)
    return sections, markdown


def _slug(*parts):
    return '_'.join(re.sub(r'[^A-Za-z0-9.-]+', '-', str(p)) for p in parts)
