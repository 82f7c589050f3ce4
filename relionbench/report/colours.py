"""The colour of each layout and build of a stage, the same in its figures
(relionbench.report.figures), its step bars (relionbench.report.stepbars) and the legend that
names them on the page."""

PALETTE = ('#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2',
           '#7f7f7f', '#bcbd22', '#17becf')
"""matplotlib's default colour cycle, C0 to C9."""


def colours(values):
    """{(build, case): colour} of a stage's layouts and builds, as relionbench.report.figures draws
    them and the page names them."""
    kinds = values[['environ', 'case']].drop_duplicates()
    keys = sorted(zip(kinds.environ, kinds.case))
    return {key: PALETTE[n % 10] for n, key in enumerate(keys)}


def layout(build, case):
    """A layout's name: the build and the case without its stage."""
    return f'{build} {case.split("/", 1)[-1]}'
