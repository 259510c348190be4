"""The DAG laid out by Graphviz's dot: ranks follow the dependencies, every edge runs from its tail's box to its
head's; without dot, or when it fails or hangs, the error says what to do."""
import shutil
import stat

import pytest

from components.reports import dag_layout

DAG = {'ExampleGen': [], 'StatisticsGen': ['ExampleGen'], 'SchemaGen': ['StatisticsGen'],
       'Transform': ['ExampleGen', 'SchemaGen'], 'Trainer': ['Transform'], 'Pusher': ['Trainer', 'ExampleGen']}


def _fake_dot(folder, script):
  """A `dot` on PATH that runs the given shell script instead of Graphviz's."""
  path = folder / 'dot'
  path.write_text('#!/bin/sh\n' + script + '\n')
  path.chmod(path.stat().st_mode | stat.S_IXUSR)
  return str(folder)


def _on_border(point, centre, tolerance=2):
  """Whether point lies on the border of the node box centred at centre."""
  dx, dy = abs(point[0] - centre[0]), abs(point[1] - centre[1])
  half_width, half_height = dag_layout.NODE_WIDTH / 2, dag_layout.NODE_HEIGHT / 2
  inside_outer = dx <= half_width + tolerance and dy <= half_height + tolerance
  return inside_outer and (dx >= half_width - tolerance or dy >= half_height - tolerance)


def test_each_node_is_ranked_below_everything_it_depends_on_and_each_edge_joins_the_two_boxes():
  laid_out = dag_layout.layout(DAG)
  assert list(laid_out.centres) == list(DAG)
  half_height = dag_layout.NODE_HEIGHT / 2
  for node, parents in DAG.items():
    for parent in parents:
      assert laid_out.centres[node][1] - half_height > laid_out.centres[parent][1] + half_height, (node, parent)
  assert sorted((edge.tail, edge.head) for edge in laid_out.edges) == sorted(
      (parent, node) for node, parents in DAG.items() for parent in parents)
  for edge in laid_out.edges:
    assert _on_border(edge.spline[0], laid_out.centres[edge.tail]), edge
    assert _on_border(edge.tip, laid_out.centres[edge.head]), edge
  right = max(x for x, _ in laid_out.centres.values()) + dag_layout.NODE_WIDTH / 2
  assert right <= laid_out.width and laid_out.height > 0


def test_names_that_are_dot_syntax_are_node_names():
  laid_out = dag_layout.layout({'a "quoted" \\ name': [], 'b': ['a "quoted" \\ name']})
  assert set(laid_out.centres) == {'a "quoted" \\ name', 'b'}


def test_without_dot_the_error_says_to_install_debian_s_graphviz(monkeypatch, tmp_path):
  monkeypatch.setenv('PATH', str(tmp_path))
  with pytest.raises(dag_layout.LayoutUnavailable, match=r'apt-get install graphviz'):
    dag_layout.layout(DAG)


def test_a_dot_that_fails_is_named_with_its_last_error_line(monkeypatch, tmp_path):
  monkeypatch.setenv('PATH', _fake_dot(tmp_path, 'echo "Warning: x" >&2; echo "Error: syntax error" >&2; exit 1'))
  with pytest.raises(dag_layout.LayoutUnavailable, match=r'could not lay out the DAG: Error: syntax error$'):
    dag_layout.layout(DAG)


def test_a_dot_that_hangs_is_stopped_at_the_timeout(monkeypatch, tmp_path):
  monkeypatch.setenv('PATH', _fake_dot(tmp_path, f'exec {shutil.which("sleep")} 60'))
  monkeypatch.setattr(dag_layout, 'DOT_TIMEOUT_S', 0.5)
  with pytest.raises(dag_layout.LayoutUnavailable, match=r'within 0.5 s'):
    dag_layout.layout(DAG)
