"""A simulated Ray cluster for the tests: ``python ray_cluster.py N`` starts N nodes of one
CPU each (``ray.cluster_utils.Cluster``), prints the address and the node ids, and shuts the
cluster down when its stdin closes. Run it with ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` so
that every node listens on loopback only."""

import logging
import sys

import ray
from ray.cluster_utils import Cluster

nodes = int(sys.argv[1]) if len(sys.argv) > 1 else 2
head = {"num_cpus": 1, "include_dashboard": False, "node_ip_address": "127.0.0.1"}
cluster = Cluster(initialize_head=True, head_node_args=head)
for _ in range(nodes - 1):
    cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
cluster.wait_for_nodes()
ray.init(address=cluster.address, logging_level=logging.ERROR, log_to_driver=False)
ids = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
ray.shutdown()
print(cluster.address, flush=True)
print(" ".join(ids), flush=True)
sys.stdin.read()
cluster.shutdown()
