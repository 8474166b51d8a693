"""The sandbox node: pods as local processes (see node.py), with logs and port-forward.

Public API: ``Node`` (used by the cluster and the API server's pods/log and pods/portforward
handlers) and ``register_image`` (make an image name runnable, e.g. a scaffolded project).
"""

from aksmcp_tui.sandbox.node.catalog import register_image
from aksmcp_tui.sandbox.node.node import Node
from aksmcp_tui.sandbox.node.worker import PID_ANNOTATION_PREFIX, PORT_ANNOTATION_PREFIX

__all__ = ["PID_ANNOTATION_PREFIX", "PORT_ANNOTATION_PREFIX", "Node", "register_image"]
