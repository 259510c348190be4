"""The run's DAG laid out in layers by Graphviz's `dot` (Debian's graphviz), for charts.dag_svg to draw.

dot ranks the nodes, orders each rank to keep edges from crossing, and routes every edge as a spline around the
boxes it passes. Only the inspection UI draws the DAG: the pipeline itself runs without Graphviz.
"""
import dataclasses
import json
import shutil
import subprocess
from typing import Dict, List, Tuple

# Every node is a box this size, in the SVG's units (dot's points); the label is drawn inside it by charts.py.
NODE_WIDTH, NODE_HEIGHT = 150, 54
# Top to bottom: this pipeline's DAG (10 to 13 steps) is 8 or more ranks deep but 3 or 4 boxes wide, about 620
# units, so it fits a page with its labels at full size; left to right it is about 1,350 wide and would have to
# shrink to fit a 1280 px page.
_GRAPH_ATTRIBUTES = 'rankdir=TB nodesep=0.3 ranksep=0.3 splines=true'
_POINTS_PER_INCH = 72
DOT_TIMEOUT_S = 20  # dot lays out a DAG this size in milliseconds; a hung dot must not hang the page

Point = Tuple[float, float]


class LayoutUnavailable(Exception):
  """dot is missing, failed or did not finish: the UI shows this message instead of the DAG."""


@dataclasses.dataclass(frozen=True)
class Edge:
  tail: str
  head: str
  spline: List[Point]  # a start point, then three points (two controls and an end) per cubic Bezier segment
  tip: Point  # where the arrowhead points, on the head's box


@dataclasses.dataclass(frozen=True)
class Layout:
  """Positions with y growing downwards, as in SVG; every node is a NODE_WIDTH x NODE_HEIGHT box."""
  width: float
  height: float
  centres: Dict[str, Point]  # every node's, in the order given
  edges: List[Edge]


def _dot_source(nodes: List[str], upstream: Dict[str, List[str]]) -> str:
  """The DAG in dot's language, each node named by its position in nodes (so no name needs quoting)."""
  index = {node: position for position, node in enumerate(nodes)}
  lines = [f'digraph dag {{ graph [{_GRAPH_ATTRIBUTES}];',
           f'node [shape=box fixedsize=true width={NODE_WIDTH / _POINTS_PER_INCH:.4f} '
           f'height={NODE_HEIGHT / _POINTS_PER_INCH:.4f} label=""];']
  lines += [f'n{position};' for position in range(len(nodes))]
  lines += [f'n{index[parent]} -> n{index[node]};' for node, parents in upstream.items() for parent in parents]
  return '\n'.join(lines + ['}'])


def _point(text: str) -> Point:
  x, y = text.split(',')
  return float(x), float(y)


def _edge(tail: str, head: str, position: str) -> Edge:
  """An edge from dot's `pos`: 'e,x,y' (where the arrowhead points), then the spline's points."""
  tip, *spline = position.split()
  return Edge(tail, head, [_point(point) for point in spline], _point(tip.removeprefix('e,')))


def _parse_layout(dot_json: str, nodes: List[str]) -> Layout:
  """dot's `-y -Tjson` output (y already flipped to grow downwards) for _dot_source(nodes, ...) as a Layout."""
  graph = json.loads(dot_json)
  left, bottom, right, top = (float(value) for value in graph['bb'].split(','))
  names = {node['_gvid']: nodes[int(node['name'][1:])] for node in graph.get('objects', [])}
  centres = {names[node['_gvid']]: _point(node['pos']) for node in graph.get('objects', [])}
  return Layout(width=right - left, height=abs(bottom - top), centres={node: centres[node] for node in nodes},
                edges=[_edge(names[edge['tail']], names[edge['head']], edge['pos'])
                       for edge in graph.get('edges', [])])


def layout(upstream: Dict[str, List[str]]) -> Layout:
  """Runs dot on the DAG. Raises LayoutUnavailable, saying what to do, where dot is missing or fails."""
  dot = shutil.which('dot')
  if dot is None:
    raise LayoutUnavailable("The DAG is drawn by Graphviz's dot, which is not installed: install Debian's "
                            "graphviz (apt-get install graphviz).")
  # Every node given or named as a parent, in the order given.
  nodes = list(dict.fromkeys(list(upstream) + [parent for parents in upstream.values() for parent in parents]))
  try:
    finished = subprocess.run([dot, '-y', '-Tjson'], input=_dot_source(nodes, upstream), capture_output=True, text=True,
                              timeout=DOT_TIMEOUT_S, check=False)
  except subprocess.TimeoutExpired as error:
    raise LayoutUnavailable(f"Graphviz's dot ({dot}) did not lay out the DAG within {DOT_TIMEOUT_S} s.") from error
  if finished.returncode != 0:
    reason = (finished.stderr.strip().splitlines() or [f'exit status {finished.returncode}'])[-1]
    raise LayoutUnavailable(f"Graphviz's dot ({dot}) could not lay out the DAG: {reason}")
  return _parse_layout(finished.stdout, nodes)
