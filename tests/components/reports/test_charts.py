"""The SVG drawings: the DAG is drawn where dot laid it out and scales to its container, every node is drawn
and only ran nodes link; several runs' curves share a chart, a colour per run; the confusion matrix has a cell
per pair of classes."""
import re
import xml.etree.ElementTree as ElementTree

from components.reports import charts
from components.reports import dag_layout

# Two steps as dot lays them out: boxes centred at these points, one edge with a single Bezier segment.
LAYOUT = dag_layout.Layout(
    width=150, height=140, centres={'ExampleGen': (75, 27), 'StatisticsGen': (75, 113)},
    edges=[dag_layout.Edge('ExampleGen', 'StatisticsGen', [(75, 54), (75, 65), (75, 70), (75, 76)], (75, 86))])


def test_each_node_is_a_box_where_dot_put_it_and_each_edge_follows_dot_s_spline():
  svg = charts.dag_svg(LAYOUT, {}, {}, {})
  assert re.findall(r'data-node="(\w+)"><rect x="([\d.]+)" y="([\d.]+)"', svg) == [
      ('ExampleGen', '0', '0'), ('StatisticsGen', '0', '86')]
  assert re.findall(r'<path class="dag-edge" data-tail="(\w+)" data-head="(\w+)" d="([^"]+)"', svg) == [
      ('ExampleGen', 'StatisticsGen', 'M75.0,54.0 C75.0,65.0 75.0,70.0 75.0,76.0 L75.0,86.0')]


def test_the_dag_scales_down_to_its_container_s_width():
  root = ElementTree.fromstring(charts.dag_svg(LAYOUT, {}, {}, {}))
  assert root.get('viewBox') == '-2 -2 154 144' and root.get('width') == '154'
  assert 'max-width:100%' in root.get('style') and 'height:auto' in root.get('style')


def test_states_durations_and_links_show_for_the_nodes_that_ran():
  svg = charts.dag_svg(LAYOUT, {'ExampleGen': 'COMPLETE', 'StatisticsGen': 'FAILED'},
                       {'ExampleGen': 2.0, 'StatisticsGen': 1.25}, {'ExampleGen': '/runs/r/nodes/ExampleGen'})
  assert '<a href="/runs/r/nodes/ExampleGen" class="dag-node" data-node="ExampleGen">' in svg
  assert svg.count('<a href=') == 1
  assert '>failed</text>' in svg and '>1.2 s</text>' in svg
  assert f'fill="{charts.STATE_COLOURS["FAILED"]}"' in svg
  assert charts.dag_svg(LAYOUT, {}, {}, {}).count('>not run</text>') == 2


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
