"""``relionbench report``: tables and plots of the suite's results in one folder.

``index.html`` opens with the summary (relionbench.report.summary: one row per check, its verdict,
time and resolution against reference, worst first, each linking to its stage). Then per
system and check: the GPU scaling, CPU-optimised against plain and the builds side by side
(relionbench.report.tables, drawn by relionbench.report.figures; a stage whose builds disagree
on the science beyond 2 Fourier shells says DIFFERS), and per stage the step times of its
latest runs against their bands (relionbench.report.stepbars), its history panels with the
changes of level marked (relionbench.report.figures, relionbench.report.svgpanels) and a table
laid out like the published results (one column per run). The tables are also written as
Markdown and CSV. The page needs nothing from the network.

The modules: page (``write``: the folder and index.html, from templates/report.html), tables,
colours (one colour per layout, the same in figures, bars and legend), digests (which figures
need drawing again), figures, svgpanels and stepbars (drawing), summary, workers (the
processes that draw).
"""

from relionbench.report.page import write

__all__ = ['write']
