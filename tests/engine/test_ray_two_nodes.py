"""A two-node Ray cluster (ray.cluster_utils.Cluster, one CPU a node): two runs
spread over both nodes, and their folders come back to the driver's. The nodes
share this machine's disk, so what shows that nothing relies on it is the design:
a task gets only bytes and trains in a temporary folder of its own."""

import pytest

from spacy_hamr.engine import Ledger, make_executor, run_specs

from .conftest import copy_inputs, tiny_specs

pytest.importorskip("ray")
pytestmark = pytest.mark.slow


def test_runs_spread_over_two_nodes_and_come_back_to_the_drivers_folders(tiny_folder, tmp_path):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        folder = copy_inputs(tiny_folder, tmp_path)
        job = tiny_specs(folder, seeds=(0, 1))
        said = []
        records = run_specs(
            job, make_executor(threads=1, ray_address=cluster.address, say=said.append), Ledger(folder / "ledger.jsonl")
        )
        assert "2 node(s), 2 CPUs" in said[0]
        assert len({record["node"] for record in records.values()}) == 2
        for spec in job:
            assert (spec.output / "model-best" / "meta.json").exists()
            assert str(folder) not in spec.config  # the task gets the config as text, no driver path in it
    finally:
        cluster.shutdown()
