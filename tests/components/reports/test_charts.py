"""The SVG drawings: the DAG's columns follow the dependencies, every node is drawn and only ran nodes link;
several runs' curves share a chart, a colour per run; the confusion matrix has a cell per pair of classes."""
import re
import xml.etree.ElementTree as ElementTree

from components.reports import charts

DAG = {'ExampleGen': [], 'StatisticsGen': ['ExampleGen'], 'SchemaGen': ['StatisticsGen'],
       'Transform': ['ExampleGen', 'SchemaGen'], 'Trainer': ['Transform'], 'Pusher': ['Trainer']}


def _node_x(svg, node):
  group = re.search(rf'data-node="{node}"><rect x="(\d+)"', svg)
  return int(group.group(1))


def test_each_node_sits_right_of_everything_it_depends_on():
  svg = charts.dag_svg(DAG, {}, {}, {})
  for node, parents in DAG.items():
    for parent in parents:
      assert _node_x(svg, node) > _node_x(svg, parent), (node, parent)
  assert svg.count('<line ') == sum(len(parents) for parents in DAG.values())


def test_states_durations_and_links_show_for_the_nodes_that_ran():
  svg = charts.dag_svg(DAG, {'ExampleGen': 'COMPLETE', 'StatisticsGen': 'FAILED'},
                       {'ExampleGen': 2.0, 'StatisticsGen': 1.25}, {'ExampleGen': '/runs/r/nodes/ExampleGen'})
  assert '<a href="/runs/r/nodes/ExampleGen" class="dag-node" data-node="ExampleGen">' in svg
  assert svg.count('<a href=') == 1
  assert '>failed</text>' in svg and '>1.2 s</text>' in svg
  assert svg.count('>not run</text>') == 4


def test_confusion_matrix_is_an_svg_with_a_cell_per_class_pair():
  svg = charts.confusion_matrix_svg([[5.0, 1.0], [0.0, 7.0]], ['cat', 'd<o>g'])
  root = ElementTree.fromstring(svg)
  namespace = '{http://www.w3.org/2000/svg}'
  assert len(root.findall(f'{namespace}rect')) == 4
  texts = [element.text for element in root.findall(f'{namespace}text')]
  assert {'5', '1', '0', '7', 'cat', 'd<o>g'} <= set(texts)


def test_runs_curves_share_one_chart_a_colour_per_run_and_a_dash_pattern_per_series():
  svg = charts.runs_line_chart({'run-a': {'train': [(0, 0.5), (1, 0.7)], 'validation': [(0, 0.4), (1, 0.6)]},
                                'run-b': {'train': [(0, 0.6), (1, 0.8), (2, 0.9)]}}, 'accuracy')
  root = ElementTree.fromstring(svg)
  namespace = '{http://www.w3.org/2000/svg}'
  lines = [(line.get('stroke'), line.get('stroke-dasharray')) for line in root.findall(f'{namespace}polyline')]
  run_a, run_b = charts.SERIES_COLOURS[:2]
  assert lines == [(run_a, None), (run_a, charts.SERIES_DASHES[1]), (run_b, None)]
  texts = [element.text for element in root.findall(f'{namespace}text')]
  assert {'run run-a', 'run run-b', 'train', 'validation', 'epoch 3'} <= set(texts)
  assert charts.runs_line_chart({'run-a': {}}, 'accuracy') == ''
