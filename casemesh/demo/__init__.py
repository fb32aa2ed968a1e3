"""``casemesh demo``: the whole mesh in one process, driven through a scripted working day."""
