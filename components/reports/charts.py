"""All SVG drawing: the run's DAG, bar and line charts for the inspection UI (one run's curves, or several runs'
overlaid), and the confusion matrix of the Evaluator's report. Inline SVG only: no script, no remote asset, so
every page renders offline."""
import html
from typing import Dict, List, Sequence, Tuple

from components.reports import dag_layout

STATE_COLOURS = {'COMPLETE': '#cdeccf', 'CACHED': '#d6e4f5', 'FAILED': '#f6c9c9', 'RUNNING': '#fdf0c2',
                 'NEW': '#fdf0c2', 'ABANDONED': '#e6d4f0', 'NOT RUN': '#eeeeee'}
SERIES_COLOURS = ('#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b')


def _edge_path(edge: dag_layout.Edge) -> str:
  start, *controls = edge.spline
  curves = ' '.join(f'C{_xy(controls[index])} {_xy(controls[index + 1])} {_xy(controls[index + 2])}'
                    for index in range(0, len(controls) - 2, 3))
  return f'M{_xy(start)} {curves} L{_xy(edge.tip)}'


def _xy(point: dag_layout.Point) -> str:
  return f'{point[0]:.1f},{point[1]:.1f}'


def dag_svg(layout: dag_layout.Layout, states: Dict[str, str], durations: Dict[str, float],
            links: Dict[str, str]) -> str:
  """The DAG as dot laid it out; each node a link showing its state and duration, coloured by state. The
  drawing scales down to the width of its container (viewBox, max-width), so it never needs a scroll bar."""
  width, height = dag_layout.NODE_WIDTH, dag_layout.NODE_HEIGHT
  margin = 2  # room for the outermost boxes' strokes
  view_width, view_height = layout.width + 2 * margin, layout.height + 2 * margin
  parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="dag" viewBox="{-margin} {-margin} {view_width:g} '
           f'{view_height:g}" width="{view_width:g}" height="{view_height:g}" style="max-width:100%;height:auto" '
           f'font-family="sans-serif" font-size="12">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#777"/></marker></defs>']
  for edge in layout.edges:
    parts.append(f'<path class="dag-edge" data-tail="{html.escape(edge.tail)}" data-head="{html.escape(edge.head)}" '
                 f'd="{_edge_path(edge)}" fill="none" stroke="#777" marker-end="url(#arrow)"/>')
  for node, (centre_x, centre_y) in layout.centres.items():
    x, y = centre_x - width / 2, centre_y - height / 2
    state = states.get(node, 'NOT RUN')
    duration = f'{durations[node]:.1f} s' if node in durations else ''
    fill = STATE_COLOURS.get(state, '#fff')
    box = (f'<rect x="{x:g}" y="{y:g}" width="{width}" height="{height}" rx="6" fill="{fill}" stroke="#555"/>'
           f'<text x="{x + 8:g}" y="{y + 18:g}" font-weight="bold">{html.escape(node[:20])}</text>'
           f'<text x="{x + 8:g}" y="{y + 36:g}">{html.escape(state.lower())}</text>'
           f'<text x="{x + width - 8:g}" y="{y + 36:g}" text-anchor="end">{duration}</text>')
    if node in links:
      box = f'<a href="{html.escape(links[node])}" class="dag-node" data-node="{html.escape(node)}">{box}</a>'
    else:
      box = f'<g class="dag-node" data-node="{html.escape(node)}">{box}</g>'
    parts.append(box)
  parts.append('</svg>')
  return '\n'.join(parts)


def bar_chart(items: Sequence[Tuple[str, float]], title: str) -> str:
  """Horizontal bars, one per (label, count), with the count written at the bar's end."""
  bar_height, label_width, bar_width = 18, 140, 320
  largest = max([count for _, count in items] + [1])
  parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_width + bar_width + 70}" '
           f'height="{len(items) * (bar_height + 4) + 10}" font-family="sans-serif" font-size="12" '
           f'role="img" aria-label="{html.escape(title)}">']
  for index, (label, count) in enumerate(items):
    y = 5 + index * (bar_height + 4)
    length = bar_width * count / largest
    name = html.escape(str(label)[:22])
    parts.append(f'<text x="{label_width - 6}" y="{y + 13}" text-anchor="end">{name}</text>'
                 f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" fill="#6b9bd1"/>'
                 f'<text x="{label_width + length + 4}" y="{y + 13}">{count:g}</text>')
  parts.append('</svg>')
  return '\n'.join(parts)


Points = List[Tuple[int, float]]  # (step, value): a curve, one point per epoch
# Dash patterns that tell a run's series apart where colour tells the runs apart: solid, dashed, dotted, ...
SERIES_DASHES = ('', '6,4', '2,3', '8,3,2,3')


def line_chart(series: Dict[str, Points], title: str) -> str:
  """One line per series over epochs (x: step + 1), with axes, their ranges and a legend."""
  lines = [(SERIES_COLOURS[index % len(SERIES_COLOURS)], '', values)
           for index, values in enumerate(series.values())]
  legend = [(f'{name} (last {values[-1][1]:.4f})', colour, '')
            for name, (colour, _, values) in zip(series, lines)]
  return _plot(lines, legend, title)


def runs_line_chart(runs: Dict[str, Dict[str, Points]], title: str) -> str:
  """Several runs' curves of one metric on shared axes: one colour per run, one dash pattern per series (train,
  validation), and a legend of both."""
  series_names = sorted({name for series in runs.values() for name in series})
  dashes = {name: SERIES_DASHES[index % len(SERIES_DASHES)] for index, name in enumerate(series_names)}
  colours = {run: SERIES_COLOURS[index % len(SERIES_COLOURS)] for index, run in enumerate(runs)}
  lines = [(colours[run], dashes[name], values) for run, series in runs.items() for name, values in series.items()]
  legend = ([(f'run {run}', colours[run], '') for run in runs]
            + [(name, '#555', dashes[name]) for name in series_names])
  return _plot(lines, legend, title)


def _plot(lines: Sequence[Tuple[str, str, Points]], legend: Sequence[Tuple[str, str, str]], title: str) -> str:
  """Lines (colour, dash pattern, points) on shared axes, with a legend entry (text, colour, dash) per row;
  '' when there is no point to draw."""
  width, height, left, bottom, top = 460, 220, 50, 30, 24
  points = [point for _, _, values in lines for point in values]
  if not points:
    return ''
  low, high = min(value for _, value in points), max(value for _, value in points)
  high = high if high > low else low + 1
  last_step = max(max(step for step, _ in points), 1)
  plot_width, plot_height = width - left - 10, height - top - bottom

  def xy(step: int, value: float) -> str:
    x = left + plot_width * step / last_step
    return f'{x:.1f},{top + plot_height * (1 - (value - low) / (high - low)):.1f}'

  def dash(pattern: str) -> str:
    return f' stroke-dasharray="{pattern}"' if pattern else ''

  parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 18 * len(legend)}" '
           f'font-family="sans-serif" font-size="11" role="img" aria-label="{html.escape(title)}">',
           f'<text x="{left}" y="14" font-weight="bold">{html.escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{plot_width}" height="{plot_height}" fill="none" stroke="#bbb"/>',
           f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{high:.3g}</text>',
           f'<text x="{left - 4}" y="{top + plot_height}" text-anchor="end">{low:.3g}</text>',
           f'<text x="{left}" y="{top + plot_height + 14}">epoch 1</text>',
           f'<text x="{left + plot_width}" y="{top + plot_height + 14}" text-anchor="end">'
           f'epoch {last_step + 1}</text>']
  for colour, pattern, values in lines:
    parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash(pattern)} '
                 f'points="{" ".join(xy(step, value) for step, value in values)}"/>')
  for index, (text, colour, pattern) in enumerate(legend):
    legend_y = height + 4 + 18 * index
    parts.append(f'<line x1="{left}" y1="{legend_y + 2}" x2="{left + 14}" y2="{legend_y + 2}" stroke="{colour}" '
                 f'stroke-width="3"{dash(pattern)}/>'
                 f'<text x="{left + 18}" y="{legend_y + 6}">{html.escape(text)}</text>')
  parts.append('</svg>')
  return '\n'.join(parts)


def confusion_matrix_svg(counts: List[List[float]], labels: Sequence[str]) -> str:
  """The confusion matrix as a heat map: rows are true classes, columns predicted, counts in the cells."""
  cell, margin = 44, 110
  size = margin + cell * len(labels)
  largest = max([max(row) for row in counts] + [1.0])
  parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size + 10}" height="{size + 10}" '
           f'font-family="sans-serif" font-size="11">',
           f'<text x="{margin}" y="14">predicted class</text>',
           f'<text x="12" y="{margin}" transform="rotate(-90 12 {margin})" text-anchor="end">true class</text>']
  for index, label in enumerate(labels):
    name = html.escape(label[:12])
    parts.append(f'<text x="{margin + cell * index + cell / 2}" y="{margin - 8}" text-anchor="middle" '
                 f'transform="rotate(-45 {margin + cell * index + cell / 2} {margin - 8})">{name}</text>')
    parts.append(f'<text x="{margin - 8}" y="{margin + cell * index + cell / 2 + 4}" '
                 f'text-anchor="end">{name}</text>')
  for true_index, row in enumerate(counts):
    for predicted_index, count in enumerate(row):
      shade = count / largest
      red, green, blue = (int(255 - shade * 200), int(255 - shade * 140), 255) \
          if true_index == predicted_index else (255, int(255 - shade * 200), int(255 - shade * 200))
      x, y = margin + cell * predicted_index, margin + cell * true_index
      parts.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="rgb({red},{green},{blue})" '
                   f'stroke="#ccc"/>')
      parts.append(f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle">{count:.0f}</text>')
  parts.append('</svg>')
  return '\n'.join(parts)
