"""The DAG drawing: columns follow the dependencies, every node is drawn, and only ran nodes link."""
import re

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
