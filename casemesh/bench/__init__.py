"""``casemesh bench``: the mesh's throughput and latency beside what its parts can do on their own."""
