"""What runs where: the graph of a training program and its split into a data part and a training part.

``capture`` turns a pipeline and a model into one :class:`~stoker.graph.ir.Graph`; ``analysis``
says which nodes hold state; ``cut`` chooses, by measured cost, which stateless model nodes move
to the data side; ``split`` builds the two executable halves; :func:`~stoker.graph.partition.partition`
ties them together into a :class:`~stoker.graph.plan.Plan`. Nothing here starts a process: the
data service (:mod:`stoker.data`) runs the data half.
"""
