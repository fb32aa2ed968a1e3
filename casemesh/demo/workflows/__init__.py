"""The demo's workflows, one module per business area; each is a function of a :class:`Mesh`."""
